#!/usr/bin/env bash
# The paper's protocol on MNIST itself, sized for one card job (about 7 minutes on an H200): the
# evidence for docs/mnist/.
#   bash benchmarks/gpu_mnist_docs.sh MNIST_IDX_DIR [OUTDIR]
#   SMALL=1 bash benchmarks/gpu_mnist_docs.sh MNIST_IDX_DIR /tmp/out   # a CPU smoke run, tiny sizes
# 1. the grid: step rho in {10, 100, 1000} x mu in {0.2, 0.5, 0.8}, linear rho in {10, 100, 1000},
#    5 repetitions, the paper's trained methods and the balanced reference, 10,000 iterations, bf16
#    (305 LeNet-5);
# 2. Fig. 7: rho = 1000, mu in {0.2, 0.5, 0.8}, 5 repetitions, oversampling and undersampling to the
#    reduced ratios 2, 10 and 100 (90 LeNet-5; the baseline and full sampling are the grid's).
# Each study's results.csv, per_class.csv, curves.csv, report.md, figures and log are packed into
# OUTDIR/mnist_docs.tgz (checkpoints stay behind).
set -uo pipefail
cd "$(dirname "$0")/.."
DATA=${1:?usage: bash benchmarks/gpu_mnist_docs.sh MNIST_IDX_DIR [OUTDIR]}
OUTDIR=${2:-${OUT:-/tmp/mnist_docs}}
PY=${PYTHON:-python3}
JOB=/tmp/mnist_docs
rm -rf "$JOB" && mkdir -p "$JOB" "$OUTDIR"
exec > >(tee -a "$JOB/job.log") 2>&1
export PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2
pack() { rm -rf "$JOB"/*/cohorts "$JOB"/*/jax_cache; cp "$JOB/job.log" "$OUTDIR/"; tar czf "$OUTDIR/mnist_docs.tgz" -C /tmp mnist_docs; }
trap pack EXIT
source benchmarks/lent_machine.sh  # the carried wheels of what the lent machine lacks
if [ "${SMALL:-0}" = 1 ]; then
  SIZE=(--config.train.iterations=20 --config.steps_per_call=10 --config.curve_every=10 --config.imbalance.repetitions=2
        --config.train_per_class=100 --config.test_per_class=20 --config.checkpoint_every=0)
  CAP=600
else
  SIZE=(--config.train.iterations=10000 --config.imbalance.repetitions=5 --config.compute_dtype=bfloat16
        --config.curve_every=1000)
  CAP=${CAP:-270}  # seconds per study
fi
study() {  # study NAME CONFIG OVERRIDES...
  local name=$1 config=$2; shift 2
  local t0=$SECONDS
  timeout -s INT -k 10 "$CAP" $PY -m launch.study --config="$config" --workdir="$JOB/$name" \
    --config.dataset="idx:$DATA" "${SIZE[@]}" "$@" 2>&1 | grep --line-buffered -v '^W[0-9]'
  echo "$name: $((SECONDS - t0)) s"
}
study grid configs/mnist.py --config.imbalance.step_rhos="(10,100,1000)" --config.imbalance.step_mus="(0.2,0.5,0.8)" \
  --config.imbalance.linear_rhos="(10,100,1000)"
# Fig. 7's reduced ratios only: its baseline and full sampling at rho = 1000 are the grid's (launch.report --union)
study fig7 configs/mnist_fig7.py --config.imbalance.step_mus="(0.2,0.5,0.8)" \
  --config.methods="('oversampling_to_2','oversampling_to_10','oversampling_to_100','undersampling_to_2','undersampling_to_10','undersampling_to_100')"
$PY -m launch.report --workdir="$JOB/grid" --workdir="$JOB/fig7" --union --out="$JOB/union" 2>&1 | tail -1
echo "done in $SECONDS s"
