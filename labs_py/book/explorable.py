"""An interactive figure, described once: controls, a pure figure function and a readout.

An :class:`Explorable` is a *pure function from control values to a figure*
(plus a readout of the key numbers), together with the controls' values. It
knows nothing about where it is shown. Two renderers turn the same description
into something a reader can move:

* :mod:`labs_py.book.static` precomputes every combination of control values
  for the built site, where no kernel runs;
* :mod:`labs_py.book.live` makes an ipywidgets panel that recomputes in a
  Jupyter kernel.

Which one a notebook cell shows is decided by :mod:`labs_py.book.display`.
Controls take discrete values, so the live panel and the static page show
exactly the same combinations.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import wraps
from typing import Any, ClassVar

from labs_py.core.plotspec import Spec, as_spec

__all__ = [
    "Slider",
    "Dropdown",
    "Control",
    "Explorable",
    "explorable_factory",
    "FigureFn",
    "ReadoutFn",
    "CHAPTERS_PACKAGE",
    "chapter_of",
]

#: Where the chapters' panel modules live: ``labs_py.chapters.<chapter>.panels``.
CHAPTERS_PACKAGE = "labs_py.chapters"


# --------------------------------------------------------------------------- controls
@dataclass(frozen=True)
class Slider:
    """A control over an ordered set of numeric values (shown as a slider).

    ``fmt`` formats a value for display, e.g. ``"{:,} tokens"``; or ``value_labels``
    names each value (one label per value, e.g. ``"no chunking"`` for a 0).

    Taught in: why_split, moving_a_live_request, disaggregation_trade, interference,
        goodput_and_split, two_gpus, plan_a_deployment, compression_and_pooling.
    """

    name: str
    label: str
    values: tuple[float, ...]
    default: float
    fmt: str = "{}"
    value_labels: tuple[str, ...] = ()

    kind: ClassVar[str] = "slider"

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(self.values))
        object.__setattr__(self, "value_labels", tuple(self.value_labels))
        _check_control(self.name, self.values, self.default)
        if self.value_labels and len(self.value_labels) != len(self.values):
            raise ValueError(
                f"slider {self.name!r} needs one label per value; got {len(self.value_labels)} labels "
                f"for {len(self.values)} values"
            )

    def labels(self) -> list[str]:
        """The text shown for each value."""
        if self.value_labels:
            return list(self.value_labels)
        return [self.fmt.format(v) for v in self.values]


@dataclass(frozen=True)
class Dropdown:
    """A control over named choices (shown as a dropdown). ``options`` maps label to value.

    Taught in: why_split, moving_a_live_request, disaggregation_trade, interference,
        goodput_and_split, two_gpus, real_pair, plan_a_deployment, compression_and_pooling.
    """

    name: str
    label: str
    options: tuple[tuple[str, Any], ...]
    default: Any

    kind: ClassVar[str] = "dropdown"

    def __post_init__(self) -> None:
        if isinstance(self.options, Mapping):
            opts = tuple(self.options.items())
        else:
            opts = tuple(tuple(o) for o in self.options)
        object.__setattr__(self, "options", opts)
        _check_control(self.name, self.values, self.default)

    @property
    def values(self) -> tuple[Any, ...]:
        """The values behind the labels, in order."""
        return tuple(v for _, v in self.options)

    def labels(self) -> list[str]:
        """The text shown for each value."""
        return [label for label, _ in self.options]


Control = Slider | Dropdown


def _check_control(name: str, values: Sequence[Any], default: Any) -> None:
    if not values:
        raise ValueError(f"control {name!r} needs at least one value; got none")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float, str)):
            raise TypeError(
                f"values of control {name!r} must be numbers or strings (they are written into the "
                f"page); got {v!r} ({type(v).__name__})"
            )
    if len(set(values)) != len(values):
        raise ValueError(f"control {name!r} has repeated values: {list(values)!r}")
    if default not in values:
        raise ValueError(
            f"default {default!r} of control {name!r} is not one of its values {list(values)!r}"
        )


# --------------------------------------------------------------------------- the explorable
FigureFn = Callable[..., Any]
ReadoutFn = Callable[..., Mapping[str, str]]


@dataclass(frozen=True)
class Explorable:
    """A pure figure function, its readout, and the controls that drive them.

    ``figure_fn(**values)`` and ``readout_fn(**values)`` are called with one keyword
    argument per control; ``figure_fn`` returns a plotly spec or ``go.Figure``.
    ``alt`` is the text alternative: what the figure shows and its takeaway, for
    readers who cannot see it. ``key`` (``"<chapter>.<factory>"``) and ``kwargs``
    say how to rebuild it (:func:`labs_py.book.registry.build`).

    Taught in: why_split, moving_a_live_request, disaggregation_trade, interference,
        goodput_and_split, two_gpus, real_pair, plan_a_deployment, compression_and_pooling.
    """

    title: str
    controls: tuple[Control, ...]
    figure_fn: FigureFn
    readout_fn: ReadoutFn
    alt: str
    key: str = ""
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "controls", tuple(self.controls))
        names = [c.name for c in self.controls]
        if len(set(names)) != len(names):
            raise ValueError(f"control names must be unique; got {names}")
        if not self.alt.strip():
            raise ValueError(
                "every figure needs a text alternative that states its takeaway; alt is empty"
            )

    # -- values
    @property
    def n_combinations(self) -> int:
        """How many settings the controls allow (the static page stores every one)."""
        return math.prod(len(c.values) for c in self.controls)

    def defaults(self) -> dict[str, Any]:
        """Every control at its default value."""
        return {c.name: c.default for c in self.controls}

    def complete(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` with every missing control at its default; unknown names are an error."""
        unknown = set(values) - {c.name for c in self.controls}
        if unknown:
            raise ValueError(
                f"unknown control(s) {sorted(unknown)} for {self.key or self.title!r}; "
                f"controls are {[c.name for c in self.controls]}"
            )
        return {**self.defaults(), **values}

    def spec(self, **values: Any) -> Spec:
        """The figure for these control values as a plotly spec (missing values take their defaults)."""
        return as_spec(self.figure_fn(**self.complete(values)))

    def figure(self, **values: Any):
        """The figure for these control values, as a validated ``go.Figure``."""
        import plotly.graph_objects as go

        return go.Figure(self.spec(**values))

    def readout(self, **values: Any) -> dict[str, str]:
        """The key numbers for these control values, as display strings."""
        return dict(self.readout_fn(**self.complete(values)))

    def readout_text(self) -> str:
        """The title and the default readout as plain text (what nbval compares)."""
        lines = [f"  {k}: {v}" for k, v in self.readout(**self.defaults()).items()]
        return f"{self.title}\n" + "\n".join(lines)

    def combinations(self) -> list[dict[str, Any]]:
        """Every combination of control values, last control varying fastest."""
        names = [c.name for c in self.controls]
        return [
            dict(zip(names, combo))
            for combo in itertools.product(*(c.values for c in self.controls))
        ]

    def _repr_mimebundle_(self, include=None, exclude=None):
        from labs_py.book import display

        return display.explorable_bundle(self, include=include, exclude=exclude)


def chapter_of(module: str) -> str:
    """The chapter a panels module belongs to: ``labs_py.chapters.<chapter>.panels`` -> ``<chapter>``.

    Any other module keeps its whole dotted name (such a key cannot be rebuilt from a page).

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, interference, goodput_and_split, two_gpus, real_pair,
        plan_a_deployment, compression_and_pooling.
    """
    prefix, suffix = f"{CHAPTERS_PACKAGE}.", ".panels"
    if module.startswith(prefix) and module.endswith(suffix):
        return module[len(prefix) : -len(suffix)]
    return module


def explorable_factory(fn: Callable[..., Explorable]) -> Callable[..., Explorable]:
    """Mark a function in ``labs_py.chapters.<chapter>.panels`` as building an Explorable.

    The Explorable's ``key`` becomes ``"<chapter>.<function>"`` and its keyword
    arguments are recorded, so anyone (the browser test, for one) can rebuild the
    very same Explorable from the page with :func:`labs_py.book.registry.build`.

    Taught in: why_split, moving_a_live_request, disaggregation_trade, interference,
        goodput_and_split, two_gpus, real_pair, plan_a_deployment, compression_and_pooling.
    """
    key = f"{chapter_of(fn.__module__)}.{fn.__name__}"

    @wraps(fn)
    def wrapper(**kwargs: Any) -> Explorable:
        ex = fn(**kwargs)
        return replace(ex, key=key, kwargs=dict(kwargs))

    wrapper.is_explorable_factory = True  # type: ignore[attr-defined]
    return wrapper
