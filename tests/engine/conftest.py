"""Report how many random cases the engine's property tests ran (see ``tests/engine/cases.py``)."""

from __future__ import annotations

import json
import os

from tests.engine.cases import CASES, PROFILE, STEPS


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not CASES:
        return
    total = sum(CASES.values())
    tr = terminalreporter
    tr.section(
        f"engine property tests: {total} random cases (hypothesis profile engine-{PROFILE})"
    )
    for name, n in sorted(CASES.items()):
        extra = f", {STEPS[name]} state-machine steps" if STEPS[name] else ""
        tr.write_line(f"{n:6d}  {name}{extra}")
    path = os.environ.get("ENGINE_CASES_REPORT")
    if path:
        with open(path, "w") as fh:
            json.dump(
                {
                    "profile": PROFILE,
                    "total_cases": total,
                    "cases": dict(CASES),
                    "steps": dict(STEPS),
                },
                fh,
                indent=2,
            )
