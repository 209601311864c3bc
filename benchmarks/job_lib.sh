# Sourced by the GPU jobs (after setting END, the job's last second, and PY): a capped step, and the PyTorch peers.
# cap SECONDS CMD...: run CMD for at most SECONDS and never past the job's end (SIGINT first, so Python's
# finally blocks and the study's interrupt handler still save), dropping absl's warning lines.
cap() {
  local s=$1; shift
  local left=$((END - SECONDS - 15))
  if [ "$left" -lt 10 ]; then echo "skipped (no time left): $*"; return; fi
  [ "$s" -gt "$left" ] && s=$left
  echo "\$ [cap ${s}s, $((END - SECONDS))s left] $*"
  timeout -s INT -k 10 "$s" "$@" 2>&1 | grep --line-buffered -v '^W[0-9]'
}
# peers SECONDS OUT_JSON [--small]: benchmarks/peer_bench.py's PyTorch rows, those done by the cap kept.
peers() {
  XLA_PYTHON_CLIENT_PREALLOCATE=false cap "$1" $PY -c "
import json, sys
sys.argv.append('${3:-}')
sys.path.insert(0, 'benchmarks')
import peer_bench as p
try:
    p.torch_benches()
except KeyboardInterrupt:
    print('stopped at its cap; rows so far are saved')
finally:
    json.dump(p.RESULTS, open('$2', 'w'), indent=1)
"
}
