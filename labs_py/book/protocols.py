"""What the two renderers need of what they render, as typing protocols.

:mod:`labs_py.book.static` and :mod:`labs_py.book.live` draw an explorable or a
figure; :mod:`labs_py.book.explorable` and :mod:`labs_py.book.figure` describe
them and hand them to :mod:`labs_py.book.display`. Typing the renderers against
these protocols, not against the classes, keeps the description and the
renderers from importing each other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

__all__ = ["ControlLike", "ExplorableLike", "FigureLike"]


class ControlLike(Protocol):
    """A slider or a dropdown: a name, a label, discrete values and their labels.

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, interference, goodput_and_split, two_gpus, real_pair,
        plan_a_deployment, compression_and_pooling.
    """

    name: str
    label: str
    kind: str
    default: Any

    @property
    def values(self) -> Sequence[Any]: ...

    def labels(self) -> list[str]: ...


class ExplorableLike(Protocol):
    """An interactive figure: controls, a figure function, a readout and a text alternative.

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, interference, goodput_and_split, two_gpus, real_pair,
        plan_a_deployment, compression_and_pooling.
    """

    title: str
    alt: str
    key: str
    kwargs: Mapping[str, Any]
    figure_fn: Callable[..., Any]
    readout_fn: Callable[..., Mapping[str, str]]

    @property
    def controls(self) -> Sequence[ControlLike]: ...

    @property
    def n_combinations(self) -> int: ...

    def defaults(self) -> dict[str, Any]: ...

    def combinations(self) -> list[dict[str, Any]]: ...

    def spec(self, **values: Any) -> dict[str, Any]: ...

    def readout(self, **values: Any) -> dict[str, str]: ...

    def readout_text(self) -> str: ...


class FigureLike(Protocol):
    """A plain figure: a plotly spec (or ``go.Figure``), its text alternative and a name for its element id.

    Taught in: no chapter: the book's machinery (docs/architecture.md).
    """

    figure: Any
    alt: str
    name: str
