"""The real vLLM pair: runs only where .venv-pair exists and LABS_PAIR_SMOKE=1 asks for it.

``bash tools/pair_smoke.sh`` runs the same check directly; this wrapper lets
``pytest -m pair`` drive it.
"""

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.pair
@pytest.mark.skipif(
    not (REPO / ".venv-pair" / "bin" / "python").exists(),
    reason="real pair skipped: .venv-pair missing (bash tools/pair_env.sh creates it)",
)
@pytest.mark.skipif(
    os.environ.get("LABS_PAIR_SMOKE") != "1",
    reason="real pair skipped: set LABS_PAIR_SMOKE=1 (takes about 2 minutes on 2 cores)",
)
def test_real_pair_smoke():
    r = subprocess.run(
        ["bash", "tools/pair_smoke.sh"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    assert "PASSED" in r.stdout
