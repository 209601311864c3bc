#!/usr/bin/env bash
# The throughput measurements of docs/performance.md in one job on an accelerator: named steps, each capped
# in seconds and never past the job's end (JOB_SECONDS, default 530), most important first.
#   bash benchmarks/gpu_job.sh OUTDIR [STEP...]            # without steps: all but the last two, in order
#   MNIST=path/to/mnist-idx bash benchmarks/gpu_job.sh OUTDIR study evidence
#   SMALL=1 bash benchmarks/gpu_job.sh OUTDIR lenet sizing  # CPU smoke sizes
#   DRY_RUN=1 bash benchmarks/gpu_job.sh OUTDIR             # print each step's commands, run nothing
# Steps (cap in seconds):
#   devices (15)         the accelerator, host cores and package versions
#   lenet (120)          launch.benchmark, LeNet-5 cohorts of 1,024 and 4,096, bf16: im2col, im2col/pallas,
#                        pallas/pallas; and im2col in fp32
#   lenet_profile (60)   the slowest XLA ops of one call of LeNet-5's step, im2col and pallas/pallas
#   resnet10 (60)        ResNet-10, batch 256 at 224x224, one network, bf16
#   allcnn (100)         All-CNN, batch 256, cuDNN: one network (bf16, fp32), an 8-network cohort stepped
#                        one network at a time (bf16), and the same cohort vmapped with im2col (bf16)
#   sizing (30)          the cohort size and evaluation batch the study picks for LeNet-5 here
#   save_overlap (30)    benchmarks/save_overlap.py: how long a save of 1,024 networks blocks training
#   input_pipeline (60)  benchmarks/input_pipeline.py: the streamed ImageNet pipeline, 8 and 16 workers
#   peers (100)          benchmarks/peer_bench.py: PyTorch (one network, torch.func.vmap, All-CNN) and
#                        the plain-JAX LeNet-5 cohort
#   study (280)          needs MNIST: one repetition of the paper's MNIST grid (450 LeNet-5, 10,000
#                        iterations, bf16), train + evaluate + report, timed end to end
#   lenet_variants (60)  not run by default: benchmarks/lenet_variants.py, plain-JAX variants of the vmapped
#                        LeNet-5 step (conv and pool lowerings, dtypes)
#   evidence (540)       needs MNIST, not run by default: docs/mnist's protocol, 12 settings x 5 repetitions
#                        of the trained methods and the balanced reference, then Fig. 7's reduced ratios at
#                        rho = 1000, and their union's report
# Rows land in OUTDIR as they are measured (benchmark.jsonl, profile.jsonl, input_pipeline.jsonl,
# peer_bench.json, save_overlap.txt), with the log (job.log) and each study's workdir less its checkpoints.
# PYTHON (default python3) runs the steps; PYTHON="uv run python" uses the project's environment.
set -uo pipefail
cd "$(dirname "$0")/.."
STEPS=(devices lenet lenet_profile resnet10 allcnn sizing save_overlap input_pipeline peers study lenet_variants evidence)
DEFAULT=(devices lenet lenet_profile resnet10 allcnn sizing save_overlap input_pipeline peers study)
fail() { echo "error: $*" >&2; exit 2; }
OUTDIR=${1:-}
[ -n "$OUTDIR" ] && [ "${OUTDIR#-}" = "$OUTDIR" ] || fail "give the output folder first: bash benchmarks/gpu_job.sh OUTDIR [STEP...]"
shift
CHOSEN=("$@")
[ ${#CHOSEN[@]} -gt 0 ] || CHOSEN=("${DEFAULT[@]}")
for s in "${CHOSEN[@]}"; do
  [[ " ${STEPS[*]} " == *" $s "* ]] || fail "unknown step '$s'; use some of: ${STEPS[*]}"
done
PY=${PYTHON:-python3}
SMALL=${SMALL:-0}
DRY_RUN=${DRY_RUN:-0}
MNIST=${MNIST:-}
END=$((SECONDS + ${JOB_SECONDS:-530}))
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
[ "$DRY_RUN" = 1 ] || exec > >(tee -a "$OUTDIR/job.log") 2>&1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2

if [ "$SMALL" = 1 ]; then
  # Pallas runs interpreted on a CPU, minutes per call: the smoke run measures the XLA lowerings only
  N=4,8; N_ONE=8; FAST=(--data_size=300 --steps_per_call=2 --batch_size=8); ITER=20; SAVE_N=8; PAUSE=1
  LOWERINGS=im2col,taps/im2col; PROFILED=im2col
  RESNET=(--batch_size=2 --data_size=8 --steps_per_call=1); ALLCNN=(--batch_size=8 --data_size=64 --steps_per_call=1)
  PIPE=(--images=64 --batch_size=16 --workers=2 --seconds=1); PEER_SMALL=True
  GRID=(--config.imbalance.step_rhos="(10,1000)" --config.imbalance.step_mus="(0.5,)" --config.imbalance.linear_rhos="(10,)")
  EVIDENCE=(--config.train.iterations=20 --config.steps_per_call=10 --config.curve_every=10
            --config.imbalance.repetitions=2 --config.train_per_class=100 --config.test_per_class=20
            --config.checkpoint_every=0)
else
  N=1024,4096; N_ONE=1024; FAST=(); ITER=10000; SAVE_N=1024; PAUSE=5
  LOWERINGS=im2col,im2col/pallas,pallas/pallas; PROFILED=im2col,pallas/pallas
  RESNET=(--batch_size=256 --data_size=1024 --steps_per_call=10); ALLCNN=()
  PIPE=(--images=3000 --batch_size=256 --workers=8,16 --seconds=3); PEER_SMALL=False; GRID=()
  EVIDENCE=(--config.train.iterations=10000 --config.imbalance.repetitions=5 --config.compute_dtype=bfloat16
            --config.curve_every=1000)
fi

# cap SECONDS CMD...: run CMD for at most SECONDS and never past the job's end (SIGINT first, so Python's
# finally blocks and the study's interrupt handler still save what was measured), dropping absl's warnings.
cap() {
  local s=$1; shift
  local left=$((END - SECONDS - 15))
  if [ "$DRY_RUN" = 1 ]; then echo "\$ [cap ${s}s] $*"; return; fi
  if [ "$left" -lt 10 ]; then echo "skipped (no time left): $*"; return; fi
  [ "$s" -gt "$left" ] && s=$left
  echo "\$ [cap ${s}s, $((END - SECONDS))s left] $*"
  timeout -s INT -k 10 "$s" "$@" 2>&1 | grep --line-buffered -v '^W[0-9]'
}
BENCH=(-m launch.benchmark --seconds=2 --json_out="$OUTDIR/benchmark.jsonl" "${FAST[@]}")
needs_mnist() {
  [ -n "$MNIST" ] && return 0
  echo "skipped: MNIST=path/to/mnist-idx-folder is not set"; return 1
}
# mnist_study CAP NAME CONFIG OVERRIDES...: a study on MNIST in OUTDIR/NAME, its checkpoints removed after.
mnist_study() {
  local s=$1 name=$2 config=$3; shift 3
  local t0=$SECONDS
  cap "$s" $PY -m launch.study --config="$config" --workdir="$OUTDIR/$name" --config.dataset="idx:$MNIST" "$@"
  echo "$name: wall time $((SECONDS - t0)) s"
  rm -rf "$OUTDIR/$name/cohorts" "$OUTDIR/$name/jax_cache"
}

step_devices() {
  cap 15 bash -c "nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv,noheader 2>/dev/null; nproc"
  cap 15 $PY -c "import jax, flax, optax, importlib.metadata as m
print('jax', jax.__version__, 'flax', flax.__version__, 'optax', optax.__version__,
      'orbax', m.version('orbax-checkpoint'), jax.devices())"
}
step_lenet() {
  cap 120 $PY "${BENCH[@]}" --num_networks=$N --conv_impl=$LOWERINGS --compute_dtype=bfloat16
  cap 40 $PY "${BENCH[@]}" --num_networks=$N_ONE --conv_impl=im2col --compute_dtype=float32
}
step_lenet_profile() {
  cap 60 $PY -m launch.benchmark --seconds=1 --num_networks=$N_ONE --compute_dtype=bfloat16 "${FAST[@]}" \
    --conv_impl=$PROFILED --profile_top=15 --json_out="$OUTDIR/profile.jsonl"
}
step_resnet10() {
  cap 60 $PY "${BENCH[@]}" --model=resnet10 --num_networks=1 --compute_dtype=bfloat16 "${RESNET[@]}"
}
step_allcnn() {
  cap 50 $PY "${BENCH[@]}" --model=allcnn --num_networks=1 --conv_impl=xla --compute_dtype=bfloat16,float32 \
    "${ALLCNN[@]}"
  cap 30 $PY "${BENCH[@]}" --model=allcnn --num_networks=8 --conv_impl=xla --compute_dtype=bfloat16 \
    --networks_per_vmap=1 "${ALLCNN[@]}"
  cap 20 $PY "${BENCH[@]}" --model=allcnn --num_networks=8 --conv_impl=im2col --compute_dtype=bfloat16 "${ALLCNN[@]}"
}
step_sizing() {
  cap 30 $PY -c "
import jax.numpy as jnp
from imbalance_jax import sizing, train
from imbalance_jax.models import get_model
model = get_model('lenet5', conv_impl='auto', dtype=jnp.bfloat16)
foot = sizing.measured_footprint(model, train.TrainHParams(), (60000, 28, 28, 1), 60000, 50)
free = sizing.free_device_bytes()
size = sizing.cohort_size_for(foot.fixed, foot.per_network, free, 22500)
print(f'cohort sizing, LeNet-5 bf16 here: {foot.per_network / 2**20:.1f} MiB per network, '
      f'{foot.fixed / 2**20:.0f} MiB fixed, {free / 2**30:.1f} GiB free -> cohorts of {size} for the 22,500 '
      f'grid, evaluation batch {sizing.eval_batch_for(foot, free, size, 1000)}')
"
}
step_save_overlap() {
  cap 30 $PY benchmarks/save_overlap.py --networks=$SAVE_N --saves=2 --train_seconds=$PAUSE \
    | tee "$OUTDIR/save_overlap.txt"
}
step_input_pipeline() {
  local folder
  folder=$(mktemp -d)
  cap 60 $PY benchmarks/input_pipeline.py "${PIPE[@]}" --folder="$folder" --json_out="$OUTDIR/input_pipeline.jsonl"
  rm -rf "$folder"
}
step_peers() {
  # torch shares the device with the peer's JAX arrays: no preallocation, so torch has room
  XLA_PYTHON_CLIENT_PREALLOCATE=false cap 100 $PY -c "
import json, sys
sys.path.insert(0, 'benchmarks')
import jax.numpy as jnp
import peer_bench as p
p.configure(small=$PEER_SMALL)
try:
    try:
        p.torch_benches()
    except ImportError as e:
        print('no PyTorch here (uv sync --extra torch):', e)
    p.bench_jax_lenet('im2col', jnp.bfloat16, 8 if $PEER_SMALL else 1024)
except KeyboardInterrupt:
    print('stopped at its cap; the rows so far are saved')
finally:
    json.dump(p.RESULTS, open('$OUTDIR/peer_bench.json', 'w'), indent=1)
"
}
step_lenet_variants() {
  cap 60 $PY benchmarks/lenet_variants.py $([ "$SMALL" = 1 ] && echo --small)
}
step_study() {
  needs_mnist || return 0
  mnist_study 280 study configs/mnist.py --config.imbalance.repetitions=1 --config.compute_dtype=bfloat16 \
    --config.train.iterations=$ITER --config.curve_every=0 --config.steps_per_call=$((ITER < 500 ? ITER : 500)) \
    "${GRID[@]}"
}
step_evidence() {
  needs_mnist || return 0
  mnist_study 270 evidence_grid configs/mnist.py "${EVIDENCE[@]}" --config.imbalance.step_rhos="(10,100,1000)" \
    --config.imbalance.step_mus="(0.2,0.5,0.8)" --config.imbalance.linear_rhos="(10,100,1000)"
  # Fig. 7's reduced ratios only: its baseline and full sampling at rho = 1000 are the grid's (launch.report --union)
  mnist_study 270 evidence_fig7 configs/mnist_fig7.py:reduced_only "${EVIDENCE[@]}" \
    --config.imbalance.step_mus="(0.2,0.5,0.8)"
  cap 60 $PY -m launch.report --workdir="$OUTDIR/evidence_grid" --workdir="$OUTDIR/evidence_fig7" --union \
    --out="$OUTDIR/evidence_union"
}

for s in "${CHOSEN[@]}"; do
  echo "== $s"
  "step_$s"
done
echo "job done in $SECONDS s"
