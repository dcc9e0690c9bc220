"""The labs: each one a ``starter.py`` (the reader's work), a ``solution.py`` (the
reference) and a ``spec.py`` (checks that grade either one).

Which implementation runs is chosen by the ``LAB_IMPL`` environment variable:
``solution`` (the default) or ``starter``. Grade your own work with::

    LAB_IMPL=starter python -m pytest tests/labs

or, from a notebook, ``labs_py.labs.grade("lab03", my_module)``.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

LABS: dict[str, str] = {
    "lab01": "Moving a live request",
    "lab02": "Stand up a real prefill/decode pair",
    "lab03": "The disaggregation trade",
}
IMPLS: tuple[str, ...] = ("solution", "starter")


def impl_name() -> str:
    """The implementation that ``LAB_IMPL`` selects (default ``"solution"``)."""
    name = os.environ.get("LAB_IMPL", "solution")
    if name not in IMPLS:
        raise ValueError(f"LAB_IMPL must be one of {', '.join(IMPLS)}; got {name!r}")
    return name


def load(lab: str, impl: str | None = None) -> ModuleType:
    """Import ``labs_py.labs.<lab>.<impl>``; ``impl`` defaults to ``LAB_IMPL``."""
    if lab not in LABS:
        raise ValueError(f"unknown lab {lab!r}; expected one of {', '.join(LABS)}")
    return importlib.import_module(f"labs_py.labs.{lab}.{impl or impl_name()}")


def grade(lab: str, impl: ModuleType | object | None = None, *, quiet: bool = False):
    """Run a lab's spec against ``impl`` (a module or any object with the lab's functions).

    Returns a :class:`labs_py.labs.grading.Report`; prints one line per check unless ``quiet``.
    """
    from labs_py.labs.grading import run_spec

    spec = importlib.import_module(f"labs_py.labs.{lab}.spec")
    report = run_spec(spec.CHECKS, impl if impl is not None else load(lab))
    if not quiet:
        print(report)
    return report
