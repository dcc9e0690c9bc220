#!/usr/bin/env bash
# Present the chapters live: Jupyter (notebook 7) with the book's package, in its own .venv-live.
# The chapters' controls become ipywidgets sliders that recompute with labs_py and replot in place;
# jupyterlab-myst renders the markdown cells' MyST (roles, math, directives), offline.
#   tools/live.sh                 install (if needed) and open Jupyter on 127.0.0.1:8888
#   tools/live.sh --install-only  install only (tools/test.sh uses this for the live Jupyter test)
set -euo pipefail
cd "$(dirname "$0")/.."
install_only=0
if [ "${1:-}" = "--install-only" ]; then install_only=1; shift; fi
[ -x .venv-live/bin/python ] || python3 -m venv .venv-live
echo "[live] installing Jupyter and the book's package into .venv-live (requirements-live.txt) ..."
.venv-live/bin/python -m pip install --disable-pip-version-check --quiet -r requirements-live.txt -e . \
  2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
[ "$install_only" = 1 ] && exit 0
root_flag=()
[ "$(id -u)" = 0 ] && root_flag=(--allow-root)  # containers often run as root; Jupyter refuses it otherwise
echo "[live] opening the chapters on http://127.0.0.1:${PORT:-8888}/ (Ctrl-C to stop)"
exec .venv-live/bin/jupyter notebook --ip 127.0.0.1 --port "${PORT:-8888}" --notebook-dir notebooks "${root_flag[@]}" "$@"
