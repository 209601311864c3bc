#!/usr/bin/env bash
# The next card job (at most JOB_SECONDS, default 530 s; the evidence step about 230 s of it): LeNet-5's lowerings toward 4M images/s, saves that do
# not stop training, the paper's MNIST evidence at its own 10,000 iterations, and grain's input pipeline.
#   bash benchmarks/gpu_card_job.sh MNIST_IDX_DIR [OUTDIR]
#   SMALL=1 bash benchmarks/gpu_card_job.sh MNIST_IDX_DIR /tmp/card_job   # a CPU smoke run, tiny sizes
# Carry .whl (benchmarks/lent_machine.sh: ml_collections, grain, tensorboard wheels) and the MNIST IDX
# folder in an ignored folder of the repository. Steps, each capped, in this order:
#   1. launch.benchmark, LeNet-5 at N = 1,024, bf16: im2col (today's best), conv2 as the Pallas kernel with its
#      unpadded input-gradient kernel, and both convolutions as Pallas kernels; then the profile of the fastest;
#   2. benchmarks/save_overlap.py at 1,024 networks: how long a save blocks training, in the background and not;
#   3. the evidence (benchmarks/gpu_mnist_docs.sh): the paper's MNIST protocol on MNIST, 10,000 iterations,
#      5 repetitions of 12 settings, the 5 trained methods and the balanced reference, then Fig. 7's reduced
#      ratios at rho = 1000; its results, curves and reports come back for docs/mnist;
#   4. grain's streamed pipeline on the card's host (8 and 16 workers) against ResNet-10's 22k images/s;
#   5. the PyTorch peer (torch.func.vmap over 256 LeNet-5) on the same card, for the README's table.
set -uo pipefail
cd "$(dirname "$0")/.."
DATA=${1:?usage: bash benchmarks/gpu_card_job.sh MNIST_IDX_DIR [OUTDIR]}
OUTDIR=${2:-${OUT:-/tmp/card_job}}
SMALL=${SMALL:-0}
PY=${PYTHON:-python3}
JOB=/tmp/card_job_files
rm -rf "$JOB" && mkdir -p "$JOB" "$OUTDIR"
exec > >(tee -a "$JOB/card_job.log") 2>&1
export PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2
END=$((SECONDS + ${JOB_SECONDS:-530}))
pack() { cp "$JOB/card_job.log" "$OUTDIR/" 2>/dev/null; tar czf "$OUTDIR/card_job.tgz" -C /tmp card_job_files; }
trap pack EXIT
if [ "$SMALL" = 1 ]; then
  N=4; SAVE_N=8; PIPE=(--images=64 --batch_size=16 --workers=2 --seconds=1); PEER_ARG=--small; STUDY_CAP=600
  TINY=(--steps_per_call=1 --data_size=256 --batch_size=8); PAUSE=1  # interpret-mode Pallas is slow on a CPU
else
  N=1024; SAVE_N=1024; PIPE=(--images=3000 --batch_size=256 --workers=8,16 --seconds=3); PEER_ARG=; STUDY_CAP=170
  TINY=(); PAUSE=5
fi
source benchmarks/lent_machine.sh
source benchmarks/job_lib.sh  # cap, peers
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null
nproc

B=(-m launch.benchmark --seconds=2 --compute_dtype=bfloat16 --num_networks=$N "${TINY[@]}")
cap 80 $PY "${B[@]}" --conv_impl=im2col,im2col/pallas,pallas/pallas --json_out="$JOB/benchmark.jsonl"
cap 35 $PY "${B[@]}" --seconds=1 --conv_impl=pallas/pallas --profile_top=15 --json_out="$JOB/profile.jsonl"
cap 25 $PY benchmarks/save_overlap.py --networks=$SAVE_N --saves=2 --train_seconds=$PAUSE | tee "$JOB/save_overlap.txt"
SMALL=$SMALL CAP=$STUDY_CAP bash benchmarks/gpu_mnist_docs.sh "$DATA" "$JOB"
cap 50 $PY benchmarks/input_pipeline.py "${PIPE[@]}" --folder=/tmp/jpegs --json_out="$JOB/input_pipeline.jsonl"
rm -rf /tmp/jpegs
if $PY -c "import torch" 2>/dev/null; then peers 40 "$JOB/peer_bench.json" $PEER_ARG; else echo "no torch here: no peer rows"; fi
echo "job done in $SECONDS s"
