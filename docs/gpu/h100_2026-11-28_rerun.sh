#!/usr/bin/env bash
# Second, short H100 job: the same-job torch peers, the LeNet-5 baseline, its profile, All-CNN networks_per_vmap=1.
set -uo pipefail
OUTDIR=$1; PY=python3; ROWS=$OUTDIR/benchmark.jsonl
exec > >(tee -a "$OUTDIR/rerun.log") 2>&1
export PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2
cap() { local s=$1; shift; echo "\$ $*"; timeout -s INT -k 5 "$s" "$@" 2>&1 | grep -v '^[WI][0-9]'; }
nvidia-smi --query-gpu=name --format=csv,noheader
cap 45 $PY -m launch.benchmark --seconds=2.5 --json_out=$ROWS --num_networks=1024 --conv_impl=im2col --compute_dtype=bfloat16
XLA_PYTHON_CLIENT_PREALLOCATE=false cap 90 $PY -c "
import json, sys
sys.path.insert(0, '.bench')
import peer_bench as p
try:
    p.torch_benches()
except KeyboardInterrupt:
    print('stopped at its cap')
finally:
    json.dump(p.RESULTS, open('$OUTDIR/peer_bench.json', 'w'), indent=1)
"
cap 50 $PY -m launch.benchmark --seconds=2.5 --json_out=$ROWS --model=allcnn --num_networks=8 --conv_impl=xla --compute_dtype=bfloat16 --networks_per_vmap=1
cap 45 $PY -m launch.benchmark --seconds=1 --num_networks=1024 --compute_dtype=bfloat16 --profile_top=20 --json_out=$OUTDIR/profile.jsonl
