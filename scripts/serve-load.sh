#!/usr/bin/env bash
# The Serving figures of docs/benchmarks.md: 16 loopback clients against the server, pool of model
# copies (one per core, 1 thread each) then one copy with every core's thread behind a lock, for
# pictures one at a time (a 200×200 PNG of a 7) and batches of 16. Usage: scripts/serve-load.sh [REQUESTS]
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-8000}
dotnet build tests/Convnet.Tests -c Release -v quiet -nologo >/dev/null
CONVNET_SERVE_LOAD=$requests dotnet test tests/Convnet.Tests -c Release --no-build \
  --filter "FullyQualifiedName~Convnet.Tests.Serve.ServeLoadTests" --logger "console;verbosity=detailed" \
  | grep -E '^ *(pool|lock|batch)' | sed 's/^ *//'
