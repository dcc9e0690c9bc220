"""Automatic checks for a chapter's exercises.

Each chapter keeps its exercises in ``labs_py/chapters/<chapter>/exercises.py``
as one :class:`Exercises` set, and exports that set's :meth:`Exercises.check`.
An exercise's label is the Sphinx label of its ``{exercise-start}`` block in the
chapter, so the id a reader types is the one on the page. Its answer is
computed in exactly one place, a function of the chapter's exercises module:
the checker compares with it, and the notebook's solution cell calls it
(:meth:`Exercises.solution`, which also shows the function's code).

``check`` never raises, so a notebook with unanswered exercises still runs top
to bottom. Scripts and tests use :meth:`Exercises.is_correct`.
"""

from __future__ import annotations

import inspect
import math
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Exercise", "Exercises", "WIDTH"]

#: The site's code column holds about 79 characters; verdicts wrap to fit it.
WIDTH = 79


@dataclass(frozen=True)
class Exercise:
    """One exercise: its label, the question, the function that computes the answer, a tolerance and a hint.

    Taught in: why_split, moving_a_live_request, disaggregation_trade, interference,
        goodput_and_split, two_gpus, real_pair, plan_a_deployment, compression_and_pooling.
    """

    label: str
    question: str
    answer: Callable[[], Any]
    unit: str
    rel_tol: float = 0.01
    hint: str = ""


class Exercises:
    """A chapter's exercises, by label.

    Taught in: why_split, moving_a_live_request, disaggregation_trade, interference,
        goodput_and_split, two_gpus, real_pair, plan_a_deployment, compression_and_pooling.
    """

    def __init__(self, *exercises: Exercise) -> None:
        self._by_label: dict[str, Exercise] = {}
        for ex in exercises:
            if ex.label in self._by_label:
                raise ValueError(
                    f"exercise label {ex.label!r} appears twice in one chapter"
                )
            self._by_label[ex.label] = ex

    def labels(self) -> list[str]:
        """Every exercise's label, in the chapter's order."""
        return list(self._by_label)

    def __getitem__(self, label: str) -> Exercise:
        if label not in self._by_label:
            raise KeyError(
                f"unknown exercise {label!r}; this chapter has: {', '.join(self._by_label)}"
            )
        return self._by_label[label]

    def __iter__(self):
        return iter(self._by_label.values())

    def expected(self, label: str) -> Any:
        """The answer, as the chapter's function computes it."""
        return self[label].answer()

    def is_correct(self, label: str, answer: Any) -> bool:
        """True if ``answer`` matches the expected answer (numbers within ``rel_tol``)."""
        ex = self[label]
        expected = ex.answer()
        if isinstance(expected, bool) or not isinstance(expected, (int, float)):
            return answer == expected
        if isinstance(answer, bool) or not isinstance(answer, (int, float)):
            return False
        return math.isclose(float(answer), float(expected), rel_tol=ex.rel_tol)

    def check(self, label: str, answer: Any) -> None:
        """Print a verdict on ``answer`` for the exercise labelled ``label``."""
        ex = self[label]
        if answer is None:
            _say(f"[{label}] Not answered yet. {ex.hint}".rstrip())
            return
        shown = f"{answer:.4g}" if isinstance(answer, float) else repr(answer)
        if self.is_correct(label, answer):
            _say(f"[{label}] Correct: {shown} {ex.unit}.")
            return
        tol = f" (within {ex.rel_tol:.0%})" if ex.rel_tol else ""
        _say(
            f"[{label}] Not yet: {shown} is not the answer{tol}, in {ex.unit}. {ex.hint}".rstrip()
        )

    def solution(self, label: str) -> None:
        """Show how the answer is computed (the function's code), then check it."""
        fn = self[label].answer
        print(_body(fn))
        self.check(label, fn())


def _body(fn: Callable[[], Any]) -> str:
    """A function's code without its docstring: what a solution cell shows."""
    src = textwrap.dedent(inspect.getsource(fn))
    doc = inspect.getdoc(fn)
    if doc:
        start = src.find('"""')
        end = src.find('"""', start + 3) + 3
        src = src[:start].rstrip() + "\n" + src[end:].lstrip("\n")
    return "\n".join(line for line in src.splitlines() if line.strip())


def _say(text: str) -> None:
    print(textwrap.fill(text, WIDTH, subsequent_indent="  "))
