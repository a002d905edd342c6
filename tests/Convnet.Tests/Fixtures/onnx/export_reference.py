"""Exports PyTorch's version of the reference network to ONNX, with its outputs on fixed inputs.

Run by the import tests (Saving/OnnxImportTests) at test time, so no binary fixture is kept in git:

    /usr/bin/python3 export_reference.py OUT_DIR [--seed 1] [--images 32] [--softmax] [--bn]

writes OUT_DIR/reference.onnx and OUT_DIR/reference.json: {"pixels": [[0-255 ints, H*W*C per
image, in HWC order as a Kaggle CSV row holds them]], "probabilities": [[10 floats per image]]}.

The network is Conv32k3-ReLU-MaxPool2-Conv64k3-ReLU-MaxPool2-Flatten-Dense128-ReLU-Dense10 on
1x28x28 images (torch's NCHW), initialised by torch from --seed; the ONNX graph ends in the logits
unless --softmax (convnet's import appends a Softmax when absent), and --bn puts a BatchNorm2d with
random statistics after each convolution. Opset 13, a dynamic batch dimension. The pixels are
scaled to 0-1 before the network, as convnet's data path does (byte / 255 in float32).

Needs Debian's python3-torch and python3-onnx (apt-get install -y python3-torch python3-onnx).
"""
import argparse
import json
import os

import numpy as np
import torch
from torch import nn


def reference_network(softmax: bool, bn: bool) -> nn.Sequential:
    def block(cin, cout):
        layers = [nn.Conv2d(cin, cout, 3), nn.ReLU()]
        if bn:
            layers.append(nn.BatchNorm2d(cout))
        return layers + [nn.MaxPool2d(2)]

    layers = block(1, 32) + block(32, 64) + [
        nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10)]
    if softmax:
        layers.append(nn.Softmax(dim=1))
    return nn.Sequential(*layers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out_dir")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--softmax", action="store_true")
    parser.add_argument("--bn", action="store_true")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    net = reference_network(args.softmax, args.bn)
    if args.bn:
        # Statistics other than the initial 0 and 1, so that the import must carry them.
        with torch.no_grad():
            for m in net.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.running_mean.uniform_(-0.2, 0.2)
                    m.running_var.uniform_(0.5, 2.0)
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.uniform_(-0.1, 0.1)
    net.eval()

    rng = np.random.default_rng(args.seed)
    pixels = rng.integers(0, 256, size=(args.images, 28, 28, 1), dtype=np.uint8)
    x = torch.from_numpy(pixels.astype(np.float32) / np.float32(255)).permute(0, 3, 1, 2).contiguous()
    with torch.no_grad():
        logits = net(x)
        probabilities = logits if args.softmax else torch.softmax(logits, dim=1)

    os.makedirs(args.out_dir, exist_ok=True)
    torch.onnx.export(
        net, x[:1], os.path.join(args.out_dir, "reference.onnx"),
        input_names=["input"], output_names=["output"],
        dynamic_axes={"input": {0: "N"}, "output": {0: "N"}},
        opset_version=13, do_constant_folding=True)
    with open(os.path.join(args.out_dir, "reference.json"), "w") as f:
        json.dump({
            "pixels": pixels.reshape(args.images, -1).tolist(),
            "probabilities": probabilities.numpy().astype(float).tolist(),
        }, f)


if __name__ == "__main__":
    main()
