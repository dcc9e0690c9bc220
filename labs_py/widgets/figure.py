"""Showing a plain (non-interactive) plotly figure, the same way in Jupyter and on the site.

Plotly's default renderer shows nothing in the built book (MyST-NB drops its
mimetype), and its HTML renderers fetch plotly.js from a CDN. So:

* **static** (book build): we emit a ``<div>`` with the figure's JSON; the book's
  own ``explorable.js`` draws it with the ``plotly.min.js`` that the site serves;
* **live** (Jupyter): a ``go.FigureWidget``, like the interactive panels.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass

import plotly.graph_objects as go

from labs_py.viz.spec import Spec, as_spec
from labs_py.widgets.explorable import _next_id, _round_floats, display_mode


@dataclass(frozen=True)
class StaticFigure:
    """A figure plus its text alternative (what it shows and its takeaway)."""

    figure: go.Figure | Spec
    alt: str
    name: str = "figure"

    def __post_init__(self) -> None:
        if not self.alt.strip():
            raise ValueError("every figure needs a text alternative that states its takeaway; alt is empty")

    def static_html(self, element_id: str | None = None) -> str:
        uid = element_id or _next_id(f"fig-{self.name}")
        spec = _round_floats(as_spec(self.figure))
        payload = json.dumps({"data": spec["data"], "layout": spec.get("layout", {})}, separators=(",", ":"))
        payload = payload.replace("</", "<\\/")
        alt = html.escape(self.alt)
        return (
            f'<div class="labs-figure" id="{uid}">'
            f'<div class="lx-plot" role="figure" aria-label="{alt}"></div>'
            f'<details class="lx-alt"><summary>Text description</summary><p>{alt}</p></details>'
            f'<script type="application/json" class="lx-figure">{payload}</script></div>'
        )

    def _repr_mimebundle_(self, include=None, exclude=None):
        if display_mode() == "static":
            return {"text/html": self.static_html(), "text/plain": f"[figure] {self.alt}"}
        return go.FigureWidget(self.figure)._repr_mimebundle_(include=include, exclude=exclude)


def figure(fig: go.Figure | Spec, alt: str, name: str = "figure") -> StaticFigure:
    """Wrap ``fig`` for display with its text alternative; end a cell with it to show it."""
    return StaticFigure(fig, alt, name)
