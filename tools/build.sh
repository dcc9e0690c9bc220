#!/usr/bin/env bash
# Build the book from scratch, with warnings as errors. Every chapter is executed during the build.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
start=$(date +%s)
echo "building the book: every chapter runs (jupyter-book build --all -W -n --keep-going) ..."
# --all: a fresh build, so no page is left stale by a cached environment
if ! jupyter-book build . --all -W -n --keep-going > _build.log 2>&1; then
  grep -E "WARNING|ERROR|Error|error" _build.log | grep -v "IPKernelApp" | tail -40 >&2
  echo "build: FAILED (full log: _build.log; notebook tracebacks: _build/html/reports/)" >&2
  exit 1
fi
grep -E "reading sources|build succeeded" _build.log | tail -2 | sed 's/\x1b\[[0-9;]*m//g'
echo "build: done in $(( $(date +%s) - start )) s -> _build/html/index.html"
