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
        # What a move needs to be instant: the combinations already computed (by a move or by the
        # prefetch), a lock so only one update touches the figure at a time, and a generation number
        # so that a slow result for a setting the reader has already left is dropped.
        self._warm: set[tuple] = {self._key(self.values)}
        self._lock = threading.Lock()
        self._generation = 0
        self._pending: tuple[int, dict] | None = None
        self._worker: threading.Thread | None = None
        self._programmatic = False
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
            self._warm.add(self._key(values))

    @staticmethod
    def _key(values: Mapping[str, Any]) -> tuple:
        return tuple(sorted(values.items()))

    def _on_change(self, name: str) -> Callable[[dict], None]:
        def handler(change: dict) -> None:
            if self._programmatic:
                return
            self.move(**{name: change["new"]})

        return handler

    def move(self, **values: Any) -> None:
        """What a reader's slider move does: replot at once if this setting was computed before;
        otherwise show a busy note at once and compute in the background, so the next move is
        never blocked (only the newest setting is drawn when the work is done)."""
        self.values = {**self.values, **values}
        wanted = dict(self.values)
        self._generation += 1
        generation = self._generation
        if self._key(wanted) in self._warm:
            self._draw(generation, wanted, *self._compute(wanted))
            return
        self.readout.value = busy_html(self.explorable.title)
        with self._lock:
            self._pending = (generation, wanted)
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(
                    target=self._work,
                    name=f"compute {self.explorable.key}",
                    daemon=True,
                )
                self._worker.start()

    def _work(self) -> None:
        while True:
            with self._lock:
                if self._pending is None:
                    return
                generation, wanted = self._pending
                self._pending = None
            try:
                spec, readout = self._compute(wanted)
            except Exception as exc:  # noqa: BLE001 - shown to the reader, not lost in a thread
                self.readout.value = readout_html(
                    {"error": f"{type(exc).__name__}: {exc}"}
                )
                continue
            self._draw(generation, wanted, spec, readout)

    def _compute(self, values: dict) -> tuple[Spec, Mapping[str, str]]:
        spec = self.explorable.spec(**values)
        readout = self.explorable.readout(**values)
        self._warm.add(self._key(values))
        return spec, readout

    def _draw(
        self, generation: int, values: dict, spec: Spec, readout: Mapping[str, str]
    ) -> None:
        with self._lock:
            if generation != self._generation:
                return  # the reader has moved on; a newer setting will be drawn
            replace_figure(self.figure, self._shown, spec)
            self._shown = spec
            self.readout.value = readout_html(readout)

    def wait(self, timeout: float | None = 30.0) -> None:
        """Block until the newest setting is drawn (tests and benchmarks; a reader never waits)."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout)

    def set(self, **values: Any) -> None:
        """Move controls programmatically and replot before returning (tests, presentations)."""
        self.values.update(values)
        self._programmatic = True
        try:
            for name, value in values.items():
                if self.controls[name].value != value:
                    self.controls[name].value = value
        finally:
            self._programmatic = False
        self._generation += 1
        self._draw(
            self._generation, dict(self.values), *self._compute(dict(self.values))
        )


def busy_html(title: str) -> str:
    """The readout while a new setting is computed (a simulation can take a few seconds).

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, interference, goodput_and_split, two_gpus, real_pair,
        plan_a_deployment, compression_and_pooling.
    """
    return (
        '<div class="lx-readout-live lx-busy" style="border-left:3px solid #E69F00;padding:0.3em 0.6em;'
        'background:rgba(230,159,0,0.10)">&#8987; computing this setting '
        f"({html.escape(title)}) ... the plot updates when it is ready; keep moving if you like</div>"
    )


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
