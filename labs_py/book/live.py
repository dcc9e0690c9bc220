"""The live side: explorables and figures in a Jupyter kernel, recomputed as controls move.

An explorable becomes an ipywidgets panel: its controls are ``SelectionSlider``
and ``Dropdown`` widgets over exactly the values the static page offers, wired to
a plotly ``FigureWidget`` that is updated in place (like ``Plotly.react``), and a
readout. A panel also precomputes its other combinations in a background thread,
so that the caches behind the figure functions are warm before the reader moves.
"""

from __future__ import annotations

import html
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

from labs_py.book.protocols import ExplorableLike, FigureLike
from labs_py.core.plotspec import Spec

__all__ = ["PREFETCH_ENV", "LivePanel", "panel", "figure_widget", "replace_figure"]

#: Set to "0" to stop live panels from precomputing their combinations in the background
#: (nbval and ``tools/nb_refresh.py`` do: nobody is there to move a slider).
PREFETCH_ENV = "LABS_PY_PREFETCH"


def panel(ex: ExplorableLike):
    """An ipywidgets panel for ``ex``: controls that replot a ``go.FigureWidget`` in place.

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, interference, goodput_and_split, two_gpus, real_pair,
        plan_a_deployment, compression_and_pooling.
    """
    return LivePanel(ex).widget


def figure_widget(fig: FigureLike):
    """A plain figure as a ``go.FigureWidget`` (zoom, pan and hover work in Jupyter).

    Taught in: no chapter: the book's machinery (docs/architecture.md).
    """
    import plotly.graph_objects as go

    return go.FigureWidget(fig.figure)


class LivePanel:
    """The Jupyter side: ipywidgets controls wired to a FigureWidget and a readout.

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, interference, goodput_and_split, two_gpus, real_pair,
        plan_a_deployment, compression_and_pooling.
    """

    def __init__(
        self, explorable: ExplorableLike, *, prefetch: bool | None = None
    ) -> None:
        import ipywidgets as w
        import plotly.graph_objects as go

        self.explorable = explorable
        self.values = explorable.defaults()
        self.controls: dict[str, Any] = {}
        for c in explorable.controls:
            options = list(zip(c.labels(), c.values))
            style = {"description_width": "initial"}
            if c.kind == "slider":
                ctl = w.SelectionSlider(
                    options=options,
                    value=c.default,
                    description=c.label,
                    continuous_update=True,
                    style=style,
                    layout=w.Layout(width="420px"),
                )
            else:
                ctl = w.Dropdown(
                    options=options, value=c.default, description=c.label, style=style
                )
            ctl.observe(self._on_change(c.name), names="value")
            self.controls[c.name] = ctl
        self._shown = explorable.spec(**self.values)
        self.figure = go.FigureWidget(self._shown)
        self.readout = w.HTML(readout_html(explorable.readout(**self.values)))
        title = w.HTML(f"<b>{html.escape(explorable.title)}</b>")
        self.widget = w.VBox(
            [
                title,
                w.HBox([w.VBox(list(self.controls.values()))]),
                self.figure,
                self.readout,
            ]
        )
        if prefetch is None:
            prefetch = os.environ.get(PREFETCH_ENV, "1") != "0"
        self.prefetch_thread: threading.Thread | None = None
        if prefetch:
            self.prefetch_thread = threading.Thread(
                target=self._prefetch, name=f"prefetch {explorable.key}", daemon=True
            )
            self.prefetch_thread.start()

    def _prefetch(self) -> None:
        """Compute every combination once, nearest to the defaults first, so that the caches behind
        the figure functions (simulations, traces) are warm before the reader gets there.

        Results are discarded: what is kept is whatever the figure functions memoise. A
        failure stops the walk quietly; it will surface when the reader moves to that setting.
        """
        defaults = self.explorable.defaults()
        combos = sorted(
            self.explorable.combinations(),
            key=lambda v: sum(v[k] != defaults[k] for k in v),
        )
        for values in combos:
            try:
                self.explorable.spec(**values)
                self.explorable.readout(**values)
            except Exception:  # noqa: BLE001 - reported when the reader reaches this setting
                return

    def _on_change(self, name: str) -> Callable[[dict], None]:
        def handler(change: dict) -> None:
            self.set(**{name: change["new"]})

        return handler

    def set(self, **values: Any) -> None:
        """Move controls programmatically and replot (what a slider move does)."""
        self.values.update(values)
        for name, value in values.items():
            if self.controls[name].value != value:
                self.controls[
                    name
                ].value = value  # re-enters set() via observe; harmless
        new = self.explorable.spec(**self.values)
        replace_figure(self.figure, self._shown, new)
        self._shown = new
        self.readout.value = readout_html(self.explorable.readout(**self.values))


def replace_figure(target, shown: Spec, new: Spec) -> None:
    """Update ``target`` (a FigureWidget showing ``shown``) in place to show ``new``, touching only what changed.

    Like ``Plotly.react``: traces whose spec is unchanged are left alone, changed
    properties are assigned one by one, and the layout is replaced only if it
    differs. A change in the number or types of traces rebuilds the data.

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, interference, goodput_and_split, two_gpus, real_pair,
        plan_a_deployment, compression_and_pooling.
    """
    with target.batch_update():
        same_shape = len(shown["data"]) == len(new["data"]) and all(
            a.get("type", "scatter") == b.get("type", "scatter")
            for a, b in zip(shown["data"], new["data"])
        )
        if same_shape:
            for trace, old, fresh in zip(target.data, shown["data"], new["data"]):
                changed = {k: v for k, v in fresh.items() if old.get(k) != v}
                removed = [k for k in old if k not in fresh]
                if removed:
                    trace.update(fresh, overwrite=True)
                elif changed:
                    trace.update(changed, overwrite=True)
        else:
            target.data = []
            target.add_traces(new["data"])
        if shown.get("layout") != new.get("layout"):
            target.layout.update(new.get("layout", {}), overwrite=True)


def readout_html(readout: Mapping[str, str]) -> str:
    """The readout for Jupyter, styled inline (the site's CSS is not loaded there).

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, interference, goodput_and_split, two_gpus, real_pair,
        plan_a_deployment, compression_and_pooling.
    """
    esc = html.escape
    items = "".join(
        f'<span style="display:inline-block;margin:0 1.4em 0.2em 0"><span style="color:#555">{esc(k)}</span> '
        f"<b>{esc(v)}</b></span>"
        for k, v in readout.items()
    )
    return (
        '<div class="lx-readout-live" style="border-left:3px solid #0072B2;padding:0.3em 0.6em;'
        f'background:rgba(0,114,178,0.06)">{items}</div>'
    )
