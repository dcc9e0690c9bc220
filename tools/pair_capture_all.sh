#!/usr/bin/env bash
# Re-make every committed capture of the real pair (840 s measured on a quiet 2-core machine; more if other
# programs keep the machine busy: each run first waits for a quiet machine).
#
#   bash tools/pair_capture_all.sh            # everything
#   bash tools/pair_capture_all.sh pair-1each rate   # one capture (same as the python command)
#   PAIR_FROM_STEP=7 bash tools/pair_capture_all.sh  # resume at step 7
#
# One capture on its own:  .venv-pair/bin/python -m labs_py.pair capture TOPOLOGY WORKLOAD
# One drill on its own:    .venv-pair/bin/python -m labs_py.pair drill NAME
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
bash tools/pair_env.sh
PY=.venv-pair/bin/python
$PY -m labs_py.pair build-model
if [[ $# -eq 2 ]]; then
  exec $PY -m labs_py.pair capture "$1" "$2"
fi
T0=$SECONDS
step=0
FROM=${PAIR_FROM_STEP:-1}
run() { step=$((step + 1)); [[ $step -lt $FROM ]] && return 0; echo "[pair-capture-all $((SECONDS - T0))s] ($step/20) $*"; $PY -m labs_py.pair "$@"; }
run capture single-1core rate
run capture single-2core rate
run capture pair-1each rate
run capture single-1core sweep
run capture single-2core sweep
run capture pair-1each sweep
run capture single-1core mixed
run capture single-2core mixed
run capture pair-1each mixed
run capture pair-1p2d mixed
run bench-crosscheck
run drill kill-decode
run drill kill-prefill
run drill forget-kv-params
run drill mismatch
run capture single-1core-unconfined mixed
run capture pair-1each-unconfined mixed
# the pair across a real link: network namespaces, a veth shaped with tc (root, ip, tc; nft for the drop drill)
run capture pair-netns link-sweep
run drill link-down
run drill link-drop
echo "[pair-capture-all] done in $((SECONDS - T0)) s"
