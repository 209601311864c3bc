#!/usr/bin/env bash
# The next card job (about 9 minutes): grain's input pipeline on the card's host, then the paper's
# MNIST protocol for docs/mnist/.
#   bash benchmarks/gpu_grain_and_mnist_docs.sh MNIST_IDX_DIR [OUTDIR]
#   SMALL=1 bash benchmarks/gpu_grain_and_mnist_docs.sh MNIST_IDX_DIR /tmp/out   # a CPU smoke run
# 1. benchmarks/input_pipeline.py over synthetic ImageNet-sized JPEGs with 8 and 16 workers: threads
#    (BatchStream), grain (GrainStream, stream.loader='grain') and a bare process pool, next to the
#    ResNet-10 step's 22,243 images/s measured on 2026-11-30 (at most 80 s);
# 2. benchmarks/gpu_mnist_docs.sh with 235 s per study (the grid, then Fig. 7).
# Carry .whl (ml_collections and grain's wheels: benchmarks/lent_machine.sh) and the MNIST IDX folder.
set -uo pipefail
cd "$(dirname "$0")/.."
DATA=${1:?usage: bash benchmarks/gpu_grain_and_mnist_docs.sh MNIST_IDX_DIR [OUTDIR]}
OUTDIR=${2:-${OUT:-/tmp/gpu_next}}
mkdir -p "$OUTDIR"
source benchmarks/lent_machine.sh
export PYTHONUNBUFFERED=1
if [ "${SMALL:-0}" = 1 ]; then PIPE=(--images=64 --batch_size=16 --workers=2 --seconds=1); else
  PIPE=(--images=3000 --batch_size=256 --workers=8,16 --seconds=3); fi
nproc
timeout -s INT -k 10 80 $PY benchmarks/input_pipeline.py "${PIPE[@]}" --folder=/tmp/jpegs \
  --json_out="$OUTDIR/input_pipeline.jsonl" 2>&1 | tee "$OUTDIR/input_pipeline.log" | grep -v '^[IW][0-9]'
rm -rf /tmp/jpegs
CAP=${CAP:-235} bash benchmarks/gpu_mnist_docs.sh "$DATA" "$OUTDIR"
