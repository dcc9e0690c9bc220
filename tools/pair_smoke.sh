#!/usr/bin/env bash
# The real prefill/decode pair smoke test, in one command (54 s measured on 2 cores when
# .venv-pair exists; add about 2 minutes to create it on a fresh clone):
#
#   bash tools/pair_smoke.sh
#
# Creates or reuses .venv-pair (tools/pair_env.sh), builds the tiny model, starts a single
# instance, a prefill and a decode instance and the proxy on 127.0.0.1, checks that greedy
# outputs through the pair equal the single instance's token for token, checks decode's
# /metrics (local_compute = 0, external_kv_transfer = prompt tokens), stops everything and
# checks that no process is left; then, as root with ip and tc, the pair in network namespaces over a
# veth shaped to 0.25 Gb/s (wire time within 25% of its price, no namespace left). Exit status 0
# only if all of that held.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
T0=$SECONDS
bash tools/pair_env.sh
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" .venv-pair/bin/python -m labs_py.pair smoke
echo "[pair-smoke] total $((SECONDS - T0)) s"
