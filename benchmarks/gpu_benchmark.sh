#!/usr/bin/env bash
# The throughput table on an accelerator, in one command (about 8 minutes on an H100; each step is
# capped, 9 minutes in all):
#   bash benchmarks/gpu_benchmark.sh [path/to/peer_bench.py] [output folder]
# Runs, most important first:
#   1. LeNet-5 cohorts of 1024 on the study's compiled step: lowerings x dtypes (the levers), then
#      conv2 as the Pallas implicit GEMM (im2col/pallas) against im2col at 1024 and 4096 networks;
#   2. the PyTorch peers on the same card: one network at a time, torch.func.vmap, All-CNN eager;
#   3. the plain-JAX peer (peer_bench.py's im2col, bf16) at 1024 networks;
#   4. where LeNet-5's step spends its time: the slowest XLA ops of one traced call;
#   5. All-CNN batch 256 with cuDNN, one network and an 8-network learning-rate cohort, bf16 and fp32;
#   6. the 8-network cohort stepped one network at a time (dense cuDNN convolutions, no grouped ones);
#   7. All-CNN with im2col; 8. the cohort size and evaluation batch the study runner picks here.
# Rows go to OUTDIR/benchmark.jsonl, OUTDIR/profile.jsonl and OUTDIR/peer_bench_*.json as they are
# measured, the log to OUTDIR/gpu_benchmark.log. Uses python3 as found (the lent GPU machines have
# jax, flax, optax and absl).
# First run, 2026-11-28 (H100): docs/gpu/ and docs/performance.md.
set -uo pipefail
cd "$(dirname "$0")/.."
PEER=${1:-benchmarks/peer_bench.py}
OUTDIR=${2:-${OUT:-/tmp/gpu_benchmark}}
PY=${PYTHON:-python3}
mkdir -p "$OUTDIR"
ROWS="$OUTDIR/benchmark.jsonl"
exec > >(tee -a "$OUTDIR/gpu_benchmark.log") 2>&1
export PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2
# cap SECONDS CMD...: run CMD for at most SECONDS (SIGINT first, so Python's finally blocks still
# write what was measured), dropping absl/XLA info lines.
cap() { local s=$1; shift; echo "\$ $*"; timeout -s INT -k 10 "$s" "$@" 2>&1 | grep -v '^[WI][0-9]'; }
BENCH=(-m launch.benchmark --seconds=2.5 --json_out="$ROWS")
peer() {  # peer CAP PYTHON-STATEMENTS: run statements with peer_bench imported as p, saving its rows
  cap "$1" $PY -c "
import json, os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath('$PEER')))
import jax.numpy as jnp
import peer_bench as p
try:
    $2
except KeyboardInterrupt:
    print('stopped at its time cap; rows so far are saved')
finally:
    json.dump(p.RESULTS, open('$OUTDIR/peer_bench_' + str(os.getpid()) + '.json', 'w'), indent=1)
"
}

nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv,noheader 2>/dev/null
$PY -c "import jax, flax, optax; print('jax', jax.__version__, 'flax', flax.__version__, jax.devices())"

cap 80 $PY "${BENCH[@]}" --num_networks=1024 --conv_impl=im2col,taps/im2col --compute_dtype=bfloat16,float32
cap 60 $PY "${BENCH[@]}" --num_networks=1024,4096 --conv_impl=im2col/pallas,im2col --compute_dtype=bfloat16

if [ -f "$PEER" ]; then
  # torch shares the card with the peer's jax arrays: no preallocation, so torch has room
  XLA_PYTHON_CLIENT_PREALLOCATE=false peer 95 "p.torch_benches()"
  peer 45 "p.bench_jax_lenet('im2col', jnp.bfloat16, 1024)"
else
  echo "peer benchmark not found at $PEER: pass its path"
fi

cap 45 $PY -m launch.benchmark --seconds=1 --num_networks=1024 --compute_dtype=bfloat16 --profile_top=20 \
  --json_out="$OUTDIR/profile.jsonl"
cap 100 $PY "${BENCH[@]}" --model=allcnn --num_networks=1,8 --conv_impl=xla --compute_dtype=bfloat16,float32
cap 45 $PY "${BENCH[@]}" --model=allcnn --num_networks=8 --conv_impl=xla --compute_dtype=bfloat16 --networks_per_vmap=1
cap 40 $PY "${BENCH[@]}" --model=allcnn --num_networks=1,8 --conv_impl=im2col --compute_dtype=bfloat16

cap 30 $PY -c "
import jax.numpy as jnp
from imbalance_jax import sizing, train
from imbalance_jax.models import get_model
model = get_model('lenet5', conv_impl='auto', dtype=jnp.bfloat16)
foot = sizing.measured_footprint(model, train.TrainHParams(), (60000, 28, 28, 1), 60000, 50)
free = sizing.free_device_bytes()
size = sizing.cohort_size_for(foot.fixed, foot.per_network, free, 22500)
print(f'cohort sizing, LeNet-5 bf16 on this card: {foot.per_network / 2**20:.1f} MiB per network, '
      f'{foot.fixed / 2**20:.0f} MiB fixed, {free / 2**30:.1f} GiB free -> cohorts of {size} for the 22,500 '
      f'grid, evaluation batch {sizing.eval_batch_for(foot, free, size, 1000)}')
"
echo "rows: $ROWS"
