"""Automatic checks for the chapters' exercises.

Each exercise has an id, a question, and an expected answer that ``labs_py``
computes (never a number typed in by hand). ``check(id, answer)`` prints whether
the answer is right; it never raises, so a notebook with unanswered exercises
still runs top to bottom. Scripts and tests use :func:`is_correct`.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_REGISTRY: dict[str, "Exercise"] = {}


@dataclass(frozen=True)
class Exercise:
    """One exercise: how to compute the expected answer, how close is close enough, and a hint."""

    id: str
    question: str
    expected: Callable[[], Any]
    unit: str
    rel_tol: float = 0.01
    hint: str = ""


def register(ex: Exercise) -> Exercise:
    """Add an exercise (ids are unique across the book)."""
    if ex.id in _REGISTRY and _REGISTRY[ex.id] != ex:
        raise ValueError(f"exercise id {ex.id!r} is already registered")
    _REGISTRY[ex.id] = ex
    return ex


def get(exercise_id: str) -> Exercise:
    _load_chapters()
    if exercise_id not in _REGISTRY:
        raise KeyError(f"unknown exercise {exercise_id!r}; known: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[exercise_id]


def all_ids() -> list[str]:
    _load_chapters()
    return sorted(_REGISTRY)


def _load_chapters() -> None:
    # chapter modules register their exercises on import
    import labs_py.chapters  # noqa: F401


def is_correct(exercise_id: str, answer: Any) -> bool:
    """True if ``answer`` matches the expected answer (numbers within ``rel_tol``)."""
    ex = get(exercise_id)
    expected = ex.expected()
    if isinstance(expected, bool) or not isinstance(expected, (int, float)):
        return answer == expected
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        return False
    return math.isclose(float(answer), float(expected), rel_tol=ex.rel_tol)


#: The site's code column holds about 79 characters; verdicts wrap to fit it.
WIDTH = 79


def _say(text: str) -> None:
    print(textwrap.fill(text, WIDTH, subsequent_indent="  "))


def check(exercise_id: str, answer: Any) -> None:
    """Print a verdict on ``answer`` for exercise ``exercise_id`` (see :func:`is_correct` for a bool)."""
    ex = get(exercise_id)
    if answer is None:
        _say(f"[{exercise_id}] Not answered yet. {ex.hint}".rstrip())
        return
    shown = f"{answer:.4g}" if isinstance(answer, float) else repr(answer)
    if is_correct(exercise_id, answer):
        _say(f"[{exercise_id}] Correct: {shown} {ex.unit}.")
        return
    tol = f" (within {ex.rel_tol:.0%})" if ex.rel_tol else ""
    _say(f"[{exercise_id}] Not yet: {shown} is not the answer{tol}, in {ex.unit}. {ex.hint}".rstrip())
