"""The chapters are stored in canonical form, and nbval really holds them to their checked outputs."""

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from labs_py.book.notebooks import CHECK_MARKER, canonical, is_check_cell

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_chapters():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_in_canonical_form(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata.kernelspec.name == "python3", (
        "nbval and the book build run the python3 kernel"
    )
    assert nbformat.writes(canonical(nb)) == nbformat.writes(nb), (
        f"{path.name} is not in canonical form; run: .venv/bin/python tools/nb_refresh.py {path.relative_to(ROOT)}"
    )
    checked = [c for c in nb.cells if is_check_cell(c)]
    assert checked, (
        f"{path.name} has no {CHECK_MARKER} cell: nothing it prints is checked"
    )
    assert all(c.outputs for c in checked), (
        "every checked cell stores the output nbval compares against"
    )
    assert "widgets" not in nb.metadata, (
        "saved widget state would pull widget JavaScript from a CDN"
    )


def test_nbval_fails_when_a_checked_output_changes(tmp_path):
    """Tamper with one stored number and nbval must notice (otherwise the check cells check nothing)."""
    nb = json.loads(NOTEBOOKS[0].read_text())
    cell = next(
        c
        for c in nb["cells"]
        if c["cell_type"] == "code"
        and c["source"]
        and "".join(c["source"]).startswith(CHECK_MARKER)
        and c["outputs"]
    )
    out = cell["outputs"][0]
    text = "".join(out.get("text") or out["data"]["text/plain"])
    tampered = text.replace("1", "7", 1) if "1" in text else text + "x"
    if "text" in out:
        out["text"] = tampered
    else:
        out["data"]["text/plain"] = tampered
    target = tmp_path / NOTEBOOKS[0].name
    target.write_text(json.dumps(nb))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(target),
            "--nbval-lax",
            "--nbval-current-env",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
        ],
        cwd=ROOT / "notebooks",
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0, (
        "nbval passed a notebook whose checked output was tampered with"
    )
    assert "1 failed" in result.stdout, result.stdout[-2000:]
