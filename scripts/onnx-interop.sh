#!/usr/bin/env bash
# The ONNX import's closing measurement (README, ONNX > Import): PyTorch trains the reference network
# briefly on MNIST and exports it; convnet imports it and predicts the 10,000 test images; the two
# predicted classes are compared image by image, and both scored against the true labels.
#   scripts/onnx-interop.sh [DATA_DIR (default data)] [OUT_DIR (default onnx-interop)] [EPOCHS (default 1)]
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-data}
out=${2:-onnx-interop}
epochs=${3:-1}
mkdir -p "$out"
/usr/bin/python3 scripts/onnx_interop.py "$data/train.csv" "$data/test.csv" "$out" --epochs "$epochs"
convnet() { dotnet run -c Release --project src/Convnet.Cli -- "$@"; }
convnet import "$out/reference.onnx" --out "$out/imported.safetensors"
convnet predict "$data/test.csv" --model "$out/imported.safetensors" --out "$out/convnet.csv" --threads 1
same=$(paste -d, "$out/pytorch.csv" "$out/convnet.csv" | tail -n +2 | awk -F, '$2 == $4' | wc -l)
total=$(($(wc -l < "$out/pytorch.csv") - 1))
echo "same class as PyTorch: $same of $total test images"
if [ -f "$data/test_labels.csv" ]; then
  echo "PyTorch:"; convnet evaluate --submission "$out/pytorch.csv" --labels "$data/test_labels.csv" | head -1
  echo "convnet (imported):"; convnet evaluate --submission "$out/convnet.csv" --labels "$data/test_labels.csv" | head -1
fi
