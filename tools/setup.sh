#!/usr/bin/env bash
# Command 1 of the README: install everything the book needs, then build the book.
#
#   tools/setup.sh             install into .venv (Python packages, MathJax among them), then build _build/html
#   tools/setup.sh --env-only  install only (tools/test.sh uses this)
#
# Idempotent: run it again after a pull; it installs only what changed.
# Needs Python 3.11 with its venv module; run as root on Debian/Ubuntu, it installs them with apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

env_only=0
[ "${1:-}" = "--env-only" ] && env_only=1
step() { printf '\n[setup %s] %s\n' "$1" "$2"; }

# apt_install PKG...: install Debian packages when running as root with apt-get (updating the package
# lists once if the first try fails); returns 1, installing nothing, otherwise
apt_install() {
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || return 1
  echo "setup: installing $* (apt-get install) ..."
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; }
}

find_python() {
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      echo "$candidate"; return 0
    fi
  done
  return 1
}

PY=${PYTHON:-}
if [ -z "$PY" ]; then
  PY=$(find_python) || { apt_install python3.11 python3.11-venv && PY=$(find_python); } || PY=
fi
if [ -z "$PY" ]; then
  echo "setup: Python 3.11 with venv is required (the pinned packages are built for it): install it" \
       "(Debian: sudo apt-get install python3.11 python3.11-venv) or set PYTHON=/path/to/python3.11" >&2
  exit 1
fi

step 1/2 "Python environment in .venv (pinned in requirements.txt; MathJax and axe-core come with it)"
if [ ! -x .venv/bin/python ]; then
  # Debian's own Python makes a venv only with its venv package (ensurepip) installed
  if ! "$PY" -c 'import ensurepip, venv' 2>/dev/null && ! apt_install python3.11-venv; then
    echo "setup: $PY has no venv module: install it (Debian: sudo apt-get install python3.11-venv)" >&2
    exit 1
  fi
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --disable-pip-version-check --quiet -r requirements.txt -e . 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
echo "  installed: $(.venv/bin/python -m pip list --format=freeze 2>/dev/null | wc -l) packages"

if [ "$env_only" = 1 ]; then
  exit 0
fi

step 2/2 "Build the book"
tools/build.sh
cat <<MSG

The book is built: $(pwd)/_build/html/index.html
Serve it on this machine with
    .venv/bin/python -m http.server 8000 --bind 127.0.0.1 --directory _build/html
and open http://127.0.0.1:8000/ in a browser. Everything it needs is in _build/html (no CDN).
MSG
