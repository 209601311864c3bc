#!/usr/bin/env bash
# The throughput table on an accelerator, in one command (about 5-8 minutes on an H100):
#   bash launch/gpu_benchmark.sh [path/to/peer_bench.py]
# Runs the project's benchmark (LeNet-5 cohorts in fp32 and bf16, All-CNN single and 8-network
# cohorts) and then the PyTorch / plain-JAX peers on the same card, so ratios can be quoted.
# Uses python3 as found (the lent GPU machines have jax, flax, optax and absl installed).
set -uo pipefail
cd "$(dirname "$0")/.."
PEER=${1:-../shared/bench/peer_bench.py}
PY=${PYTHON:-python3}
run() { echo "\$ $*"; timeout 150 "$@" 2>&1 | grep -v '^[WI][0-9]'; }
run $PY -m launch.benchmark --num_networks=256,1024,2048 --compute_dtype=float32 --seconds=4
run $PY -m launch.benchmark --num_networks=256,1024,2048 --compute_dtype=bfloat16 --seconds=4
run $PY -m launch.benchmark --model=allcnn --num_networks=1,8 --compute_dtype=float32 --seconds=4
run $PY -m launch.benchmark --model=allcnn --num_networks=1,8 --compute_dtype=bfloat16 --seconds=4
if [ -f "$PEER" ]; then
  run $PY "$PEER"
else
  echo "peer benchmark not found at $PEER: copy ../shared/bench into the repo (an ignored folder) and pass its path"
fi
