#!/usr/bin/env bash
# Throughput, second round, in one job of at most JOB_SECONDS (default 530 s): what a card does with
# the real study, not only with the benchmark.
#   bash benchmarks/gpu_job.sh MNIST_IDX_DIR [OUTDIR]
#   bash benchmarks/gpu_job.sh /path/to/mnist /tmp/gpu_job SMALL=1   # a CPU smoke run, tiny sizes
# Steps, each capped, in this order (later steps get what time is left):
#   1. LeNet-5 cohorts of 1024 and 4096 on the study's step, bf16: im2col (the measured best), then
#      conv2 as the Pallas implicit GEMM (Triton on NVIDIA) with its two Pallas gradient kernels
#      (im2col/pallas) and with XLA's gradients (im2col/pallas_fwd);
#   2. the real study: one repetition of the paper's MNIST grid on MNIST itself (90 imbalanced sets x
#      5 trained methods = 450 LeNet-5, 10,000 iterations, bf16), train + evaluate + results + report,
#      timed end to end; curves off (Fig. 8 is CIFAR-10's);
#   3. ResNet-10, batch 256 at 224x224, one network, bf16: the step rate;
#   4. the streamed input pipeline over synthetic ImageNet-sized JPEGs on every core (threads: the
#      study's BatchStream; grain: its GrainStream; processes: a bare process pool);
#   5. the PyTorch peers (one network at a time, torch.func.vmap, All-CNN eager);
#   6. if time is left: the profile of the step with the Pallas kernels.
# Everything lands in OUTDIR (rows as JSON lines as they are measured, the log, the study's results,
# report and figures) and is packed into OUTDIR/gpu_job.tgz at the end.
set -uo pipefail
cd "$(dirname "$0")/.."
DATA=${1:?usage: bash benchmarks/gpu_job.sh MNIST_IDX_DIR [OUTDIR]}
OUTDIR=${2:-${OUT:-/tmp/gpu_job}}
SMALL=${SMALL:-0}
PY=${PYTHON:-python3}
JOB=/tmp/gpu_job_files
rm -rf "$JOB" && mkdir -p "$JOB" "$OUTDIR"
ROWS=$JOB/benchmark.jsonl
exec > >(tee -a "$JOB/gpu_job.log") 2>&1
export PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2
END=$((SECONDS + ${JOB_SECONDS:-530}))
pack() { cp "$JOB/gpu_job.log" "$OUTDIR/" 2>/dev/null; tar czf "$OUTDIR/gpu_job.tgz" -C /tmp gpu_job_files; }
trap pack EXIT
if [ "$SMALL" = 1 ]; then
  N=4,8; N_BIG=8; ITER=20; RESNET=(--batch_size=2 --data_size=8 --steps_per_call=1); IMAGES=64; BATCH=16; PEER_ARG=--small
  GRID=(--config.imbalance.step_rhos="(10,1000)" --config.imbalance.step_mus="(0.5,)" --config.imbalance.linear_rhos="(10,)")
else
  N=1024,4096; N_BIG=1024; ITER=10000; RESNET=(--batch_size=256 --data_size=1024 --steps_per_call=10); IMAGES=3000
  BATCH=256; PEER_ARG=; GRID=()
fi
source benchmarks/lent_machine.sh  # the carried wheels of what the lent machine lacks
source benchmarks/job_lib.sh  # cap, peers

nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv,noheader 2>/dev/null
nproc
$PY -c "import jax, flax, optax, orbax.checkpoint, ml_collections, importlib.metadata as m
print('jax', jax.__version__, 'flax', flax.__version__, 'optax', optax.__version__,
      'orbax', m.version('orbax-checkpoint'), jax.devices())"

B=(-m launch.benchmark --seconds=2 --compute_dtype=bfloat16 --json_out="$ROWS")
cap 45 $PY "${B[@]}" --num_networks=$N --conv_impl=im2col
cap 80 $PY "${B[@]}" --num_networks=$N --conv_impl=im2col/pallas,im2col/pallas_fwd

study() {  # the real study; prints its wall time
  local t0=$SECONDS
  cap "$1" $PY -m launch.study --config=configs/mnist.py --workdir="$JOB/mnist" --config.dataset="idx:$DATA" \
    --config.imbalance.repetitions=1 --config.compute_dtype=bfloat16 --config.train.iterations=$ITER \
    --config.curve_every=0 --config.steps_per_call=$((ITER < 500 ? ITER : 500)) "${GRID[@]}"
  local rc=$?
  echo "study wall time: $((SECONDS - t0)) s, exit $rc"
}
study 280
if [ ! -f "$JOB/mnist/results.csv" ] && [ -d .whl ]; then
  echo "no results with this machine's packages: again with the project's pinned flax/optax/orbax wheels"
  $PY -m pip install -q --no-index --no-deps --no-compile --target /tmp/pinned .whl/*.whl && \
    PYTHONPATH=/tmp/pinned${PYTHONPATH:+:$PYTHONPATH} study 250
fi
rm -rf "$JOB"/mnist/cohorts "$JOB"/mnist/jax_cache  # checkpoints and compiled programs stay behind

cap 60 $PY "${B[@]}" --model=resnet10 --num_networks=1 "${RESNET[@]}"
cap 45 $PY benchmarks/input_pipeline.py --images=$IMAGES --batch_size=$BATCH --workers=8,16 --seconds=3 \
  --folder=/tmp/jpegs --json_out="$JOB/input_pipeline.jsonl"
peers 60 "$JOB/peer_bench.json" $PEER_ARG
cap 40 $PY -m launch.benchmark --seconds=1 --num_networks=$N_BIG --compute_dtype=bfloat16 --conv_impl=im2col/pallas \
  --profile_top=15 --json_out="$JOB/profile.jsonl"
echo "job done in $SECONDS s"
