"""Showing a plain (non-interactive) plotly figure, the same way in Jupyter and on the site.

Plotly's default renderer shows nothing in the built book (MyST-NB drops its
mimetype), and its HTML renderers fetch plotly.js from a CDN. So a chapter ends
a cell with :func:`figure`, which shows

* **static** (book build): a ``<div>`` with the figure's JSON, drawn by the
  book's own ``explorable.js`` with the ``plotly.min.js`` that the site serves;
* **live** (Jupyter): a ``go.FigureWidget``, like the interactive panels.

See :mod:`labs_py.book.display` for how the mode is chosen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["StaticFigure", "figure"]


@dataclass(frozen=True)
class StaticFigure:
    """A figure (a plotly spec or ``go.Figure``) plus its text alternative (what it shows and its takeaway).

    Taught in: no chapter: the book's machinery (docs/architecture.md).
    """

    figure: Any
    alt: str
    name: str = "figure"

    def __post_init__(self) -> None:
        if not self.alt.strip():
            raise ValueError(
                "every figure needs a text alternative that states its takeaway; alt is empty"
            )

    def _repr_mimebundle_(self, include=None, exclude=None):
        from labs_py.book import display

        return display.figure_bundle(self, include=include, exclude=exclude)


def figure(fig: Any, alt: str, name: str = "figure") -> StaticFigure:
    """Wrap ``fig`` for display with its text alternative; end a cell with it to show it.

    Taught in: no chapter: the book's machinery (docs/architecture.md).
    """
    return StaticFigure(fig, alt, name)
