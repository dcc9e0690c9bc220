#!/usr/bin/env bash
# Command 1 of the README: install everything the book needs, then build the book.
#
#   tools/setup.sh             install into .venv (Python) and node_modules (MathJax), then build _build/html
#   tools/setup.sh --env-only  install only (tools/test.sh uses this)
#
# Idempotent: run it again after a pull; it installs only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

env_only=0
[ "${1:-}" = "--env-only" ] && env_only=1
step() { printf '\n[setup %s] %s\n' "$1" "$2"; }

PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      PY=$candidate; break
    fi
  done
fi
if [ -z "$PY" ]; then
  echo "setup: Python 3.11 is required (the pinned packages are built for it); set PYTHON=/path/to/python3.11" >&2
  exit 1
fi

step 1/3 "Python environment in .venv (pinned in requirements.txt)"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --disable-pip-version-check --quiet -r requirements.txt -e . 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
echo "  installed: $(.venv/bin/python -m pip list --format=freeze 2>/dev/null | wc -l) packages"

step 2/3 "MathJax for the site (npm ci, pinned in package-lock.json)"
if ! command -v npm >/dev/null; then
  echo "setup: npm is required to install the site's own copy of MathJax (Debian: apt-get install npm)" >&2
  exit 1
fi
if [ ! -f node_modules/mathjax/es5/tex-mml-chtml.js ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
echo "  MathJax $(node -p 'require("./node_modules/mathjax/package.json").version')"

if [ "$env_only" = 1 ]; then
  exit 0
fi

step 3/3 "Build the book"
tools/build.sh
cat <<MSG

The book is built: $(pwd)/_build/html/index.html
Serve it on this machine with
    .venv/bin/python -m http.server 8000 --bind 127.0.0.1 --directory _build/html
and open http://127.0.0.1:8000/ in a browser. Everything it needs is in _build/html (no CDN).
MSG
