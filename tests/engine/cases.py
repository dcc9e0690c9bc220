"""Count the random cases the engine's property tests run, for the closing note.

Each property test calls :func:`record` once per example it executes (generated
examples, and the shrinking of any failure); the stateful machine records one
case per run and the steps it took. ``tests/engine/conftest.py`` prints the
totals at the end of the session and, if ``ENGINE_CASES_REPORT`` names a file,
writes them there as JSON.
"""

from __future__ import annotations

import os
from collections import Counter

from hypothesis import settings

CASES: Counter[str] = Counter()
STEPS: Counter[str] = Counter()

#: ``ci`` (default): derandomised, so CI runs the same cases in the same time.
#: ``thorough``: ten times the examples, fresh randomness; for a long local run.
settings.register_profile(
    "engine-ci", max_examples=40, deadline=None, derandomize=True, print_blob=True
)
settings.register_profile(
    "engine-thorough", max_examples=400, deadline=None, print_blob=True
)
PROFILE = os.environ.get("ENGINE_HYPOTHESIS_PROFILE", "ci")
if PROFILE not in ("ci", "thorough"):
    raise ValueError(
        f"ENGINE_HYPOTHESIS_PROFILE must be 'ci' or 'thorough'; got {PROFILE!r}"
    )
ENGINE_SETTINGS = settings.get_profile(f"engine-{PROFILE}")


def examples(n_ci: int) -> settings:
    """The engine profile with ``n_ci`` examples in CI (ten times that when thorough)."""
    return settings(
        ENGINE_SETTINGS, max_examples=n_ci if PROFILE == "ci" else 10 * n_ci
    )


def record(test_name: str, steps: int = 0) -> None:
    CASES[test_name] += 1
    if steps:
        STEPS[test_name] += steps
