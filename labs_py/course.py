"""The course's own figures: the examples its labs state, and the measurements it reports.

The book comes from a course on disaggregated serving (labs 15-01, 15-02 and
15-03, the Week 16 lab, and study notes on DistServe; see the references page).
Where a chapter uses one of the course's stated examples, it takes it from here,
named and cited, never typed again. The course's *measurements* (the Week 16
tables, lab 15-02's 2xL4 capture) are data: :func:`measurements` reads them from
``labs_py/data/course.json``, where each table says where it was read.
"""

from __future__ import annotations

from typing import Any

from labs_py.core import catalog

MIB = 2**20

# --------------------------------------------------------------------------- lab 15-03, the disaggregation trade
#: The running example of lab 15-03: a 2,048-token prompt on Llama-3.1-8B ...
EXAMPLE_PROMPT_TOKENS = 2048
#: ... leaves 256 MiB of KV behind (128 KiB per token) ...
EXAMPLE_PAYLOAD_BYTES = 256 * MIB
#: ... after about 205 ms of prefill, the lab's stated budget for the toll to hide in.
EXAMPLE_PREFILL_S = 0.205
#: A clean decode step of the lab's interference example, seconds.
EXAMPLE_DECODE_STEP_S = 0.010
#: A prefill chunk riding along with it, seconds: the worst ITL is 35 ms, 3.5x a clean step.
EXAMPLE_CHUNK_S = 0.025
#: The lab's fast fabric ("InfiniBand-class"), Gb/s: about 11 ms for the payload.
EXAMPLE_FAST_LINK_GBPS = 200.0
#: The lab's slow link (10 GbE), Gb/s: about 215 ms for the payload.
EXAMPLE_SLOW_LINK_GBPS = 10.0
#: The lab's verdict thresholds on the penalty (toll / prefill): under 6% on the fast fabric, over 100% on 10 GbE.
EXAMPLE_FAST_PENALTY_BELOW = 0.06
EXAMPLE_SLOW_PENALTY_ABOVE = 1.0
#: Llama-3.1-70B ships this many times the payload of the 8B for the same prompt.
EXAMPLE_70B_PAYLOAD_RATIO = 2.5

#: Where each document of the course is cited (keys of ``book/references.bib``).
CITATIONS: dict[str, str] = {
    "lab15-01": "course-lab15-01",
    "lab15-02": "course-lab15-02",
    "lab15-03": "course-lab15-03",
    "week16": "course-week16",
    "distserve-notes": "course-distserve-notes",
}


def measurements(table: str) -> dict[str, Any]:
    """One measured table of the course (``"week16_serving"``, ``"week16_standalone_prefill"``,
    ``"lab15_02_capture"``), with its ``source`` and its ``rows`` or figures.

    Taught in: disaggregation_trade, real_pair.
    """
    data = catalog.load("course")
    if table not in data["tables"]:
        raise catalog.unknown("course table", table, sorted(data["tables"]))
    return data["tables"][table]
