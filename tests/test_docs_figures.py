"""The figures typed into docs/simulator.md are the chapters' own outputs, not numbers that go stale.

The chapters' checked outputs are recomputed by nbval on every run; this test holds the maintainer
doc to them, so a recalibration that moves a chapter's number fails here until the doc follows.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "simulator.md").read_text(encoding="utf-8")


def _outputs(chapter: str) -> str:
    nb = json.loads(
        (ROOT / "notebooks" / f"{chapter}.ipynb").read_text(encoding="utf-8")
    )
    return "\n".join(
        "".join(o.get("text", ""))
        for c in nb["cells"]
        if c["cell_type"] == "code"
        for o in c.get("outputs", [])
    )


GOODPUT = _outputs("goodput_and_split")

#: docs/simulator.md's fleet table row -> the chapter's row label.
ROWS = {
    "2x colocated, chunk 512 (stall-free)": "2x colocated, chunk 512",
    "2x colocated, no chunking (stalling)": "2x colocated, no chunking",
    "1P1D @ 200 Gb/s": "1P1D @ 200 Gb/s",
}


@pytest.mark.parametrize("doc_row, chapter_row", ROWS.items())
def test_the_goodput_table_matches_the_chapter(doc_row, chapter_row):
    cells = (
        re.search(rf"^\| {re.escape(doc_row)} \|(.+)\|$", DOC, re.M).group(1).split("|")
    )
    tpot, every_gap, loose, thru = (float(re.sub(r"[*/s ]", "", c)) for c in cells)
    m = re.search(
        rf"^{re.escape(chapter_row)}\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$",
        GOODPUT,
        re.M,
    )
    gap_c, tpot_c, loose_c, thru_c = (float(x) for x in m.groups())
    # the doc rounds to three significant figures
    assert (every_gap, tpot, loose, thru) == pytest.approx(
        (gap_c, tpot_c, loose_c, thru_c), rel=0.006
    )


def test_the_pd_ratios_and_the_toy_example_match_the_chapter():
    assert "3 GPUs, 4096/32 tokens → 2P1D; 256/512 → 1P2D" in DOC
    assert re.search(r"long prompts: 4,096 in, 32 out: best 2P1D", GOODPUT)
    assert re.search(r"long answers: 256 in, 512 out: best 1P2D", GOODPUT)
    published, simulated = re.search(
        r"2P1D per GPU over colocated: published ([\d.]+)x, simulated ([\d.]+)x",
        GOODPUT,
    ).groups()
    assert f"{simulated}x simulated against {published}x" in DOC.replace("\n  ", " ")
