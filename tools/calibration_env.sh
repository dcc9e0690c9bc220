#!/usr/bin/env bash
# Create (or reuse) .venv-calibration: NVIDIA's aiconfigurator, pinned in requirements-calibration.txt.
# It is needed only to re-make labs_py/data/steptime_reference.json and to run benchmarks/plan_bench.py
# side by side with aiconfigurator; the book and its tests never import it.
#
#   bash tools/calibration_env.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv-calibration/bin/python ]; then
  echo "[calibration-env] creating .venv-calibration with $($PY --version 2>&1)"
  "$PY" -m venv .venv-calibration
fi
echo "[calibration-env] installing requirements-calibration.txt (aiconfigurator and its databases, ~1 GB) ..."
.venv-calibration/bin/python -m pip install --disable-pip-version-check --quiet -r requirements-calibration.txt
.venv-calibration/bin/python -c "import importlib.metadata as m; print('[calibration-env] ready: aiconfigurator', m.version('aiconfigurator'))"
