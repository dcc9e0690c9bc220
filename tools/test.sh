#!/usr/bin/env bash
# Command 2 of the README: every test, in order. CI (.ci/run) runs exactly this.
#
#   1. unit tests of labs_py (the labs' specs, against the solution unless LAB_IMPL=starter; the house
#      rules: import-linter layers, ruff, one home for each fact, tests/test_architecture.py; the
#      planner's search on a local Ray instance, with the optional extra requirements-ray.txt)
#   2. nbval on every chapter under notebooks/ (live mode, outputs of checked cells compared)
#   3. a fresh build of the book with warnings as errors
#   4. the browser test: the built site in headless Chromium with the network off
#   5. the live test: a chapter run in a real Jupyter (notebook 7, .venv-live), a slider dragged,
#      no raw MyST left in its rendered markdown
#   6. the real vLLM prefill/decode pair smoke test, in its own .venv-pair (tools/pair_smoke.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export PYTHONHASHSEED=0

tools/setup.sh --env-only
# the optional Ray extra: tests/plan/test_ray.py runs the planner's search on a local Ray instance,
# and must run here, not skip (LABS_PY_REQUIRE_RAY=1 turns a missing Ray into a failure)
echo "[test] installing the optional Ray extra (requirements-ray.txt) ..."
.venv/bin/python -m pip install --disable-pip-version-check --quiet -r requirements-ray.txt
export LABS_PY_REQUIRE_RAY=1
# the real pair's environment (.venv-pair) before the unit tests: tests/pair/test_source_guide.py reads
# the pinned vLLM's source from it, and step 6 reuses it
bash tools/pair_env.sh

if ! command -v chromium >/dev/null && [ -z "${CHROMIUM:-}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "[test] installing Debian's chromium for the browser test (apt-get install chromium) ..."
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
  else
    echo "[test] the browser test needs Chromium: install Debian's chromium (sudo apt-get install chromium) or set CHROMIUM=/path/to/chromium" >&2
    exit 1
  fi
fi

declare -a names times
run() {
  local name=$1; shift
  printf '\n[test %s] %s\n' "$name" "$*"
  local t0=$(date +%s)
  "$@"
  names+=("$name"); times+=($(( $(date +%s) - t0 )))
}

run "1/6 unit tests" python -m pytest tests -m "not browser and not pair and not live" -q
# nbval runs the live panels without their background prefetch: CI has no reader to wait for
run "2/6 nbval" env LABS_PY_PREFETCH=0 python -m pytest notebooks --nbval-lax --nbval-current-env \
    --nbval-sanitize-with tools/nbval_sanitize.cfg -p no:cacheprovider -q
run "3/6 book build" tools/build.sh
run "4/6 browser" python -m pytest tests/browser -m browser -q
run "5/6 live Jupyter" bash -c 'tools/live.sh --install-only && python -m pytest tests/live -m live -q'
run "6/6 real pair smoke" bash tools/pair_smoke.sh

printf '\n[test] all passed\n'
for i in "${!names[@]}"; do printf '  %-18s %4d s\n' "${names[$i]}" "${times[$i]}"; done
echo "  screenshots of every page and figure: _build/screenshots/"
