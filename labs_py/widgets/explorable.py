"""One interactive-figure mechanism for the whole book.

An :class:`Explorable` is a *pure function from control values to a figure*
(plus a readout of the key numbers), together with the controls' values. From
that one description it gives two things:

* **live, in Jupyter**: an ipywidgets panel whose sliders and dropdowns replot a
  plotly ``FigureWidget`` in place (:meth:`Explorable.panel`);
* **static, on the built site**: working controls with no kernel. Every
  combination of control values is computed ahead of time; identical traces,
  layouts and readouts are stored once; a small generic script
  (``labs_py/assets/explorable.js``) swaps the data in with ``Plotly.react``
  when a control moves (:meth:`Explorable.static_html`).

Which one a cell shows depends on the ``LABS_PY_DISPLAY`` environment variable:
``static`` while the book is built (the book's Sphinx extension sets it), and
``live`` otherwise. Controls take discrete values, so the live panel and the
static page show exactly the same combinations.
"""

from __future__ import annotations

import html
import itertools
import json
import math
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import wraps
from typing import Any

import plotly.graph_objects as go

from labs_py.viz.spec import Spec, as_spec

DISPLAY_ENV = "LABS_PY_DISPLAY"
#: Set to "0" to stop live panels from precomputing their combinations in the background.
PREFETCH_ENV = "LABS_PY_PREFETCH"
DISPLAY_MODES = ("live", "static")
#: Refuse to precompute grids larger than this: the page would be too heavy.
MAX_COMBINATIONS = 5000
#: Significant digits kept for floats in the static payload (plots need no more).
PAYLOAD_SIG_DIGITS = 6


def display_mode() -> str:
    """``"static"`` when building the book, else ``"live"`` (from ``LABS_PY_DISPLAY``)."""
    mode = os.environ.get(DISPLAY_ENV, "live")
    if mode not in DISPLAY_MODES:
        raise ValueError(f"{DISPLAY_ENV} must be one of {', '.join(DISPLAY_MODES)}; got {mode!r}")
    return mode


# --------------------------------------------------------------------------- controls
@dataclass(frozen=True)
class Slider:
    """A control over an ordered set of numeric values (shown as a slider).

    ``fmt`` formats a value for display, e.g. ``"{:,} tokens"``; or ``value_labels``
    names each value (one label per value, e.g. ``"no chunking"`` for a 0).
    """

    name: str
    label: str
    values: tuple[float, ...]
    default: float
    fmt: str = "{}"
    value_labels: tuple[str, ...] = ()

    kind = "slider"

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(self.values))
        object.__setattr__(self, "value_labels", tuple(self.value_labels))
        _check_control(self.name, self.values, self.default)
        if self.value_labels and len(self.value_labels) != len(self.values):
            raise ValueError(f"slider {self.name!r} needs one label per value; got {len(self.value_labels)} labels "
                             f"for {len(self.values)} values")

    def labels(self) -> list[str]:
        if self.value_labels:
            return list(self.value_labels)
        return [self.fmt.format(v) for v in self.values]


@dataclass(frozen=True)
class Dropdown:
    """A control over named choices (shown as a dropdown). ``options`` maps label to value."""

    name: str
    label: str
    options: tuple[tuple[str, Any], ...]
    default: Any

    kind = "dropdown"

    def __post_init__(self) -> None:
        opts = tuple(self.options.items()) if isinstance(self.options, Mapping) else tuple(tuple(o) for o in self.options)
        object.__setattr__(self, "options", opts)
        _check_control(self.name, self.values, self.default)

    @property
    def values(self) -> tuple[Any, ...]:
        return tuple(v for _, v in self.options)

    def labels(self) -> list[str]:
        return [label for label, _ in self.options]


Control = Slider | Dropdown


def _check_control(name: str, values: Sequence[Any], default: Any) -> None:
    if not values:
        raise ValueError(f"control {name!r} needs at least one value; got none")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float, str)):
            raise TypeError(f"values of control {name!r} must be numbers or strings (they are written into the "
                            f"page); got {v!r} ({type(v).__name__})")
    if len(set(values)) != len(values):
        raise ValueError(f"control {name!r} has repeated values: {list(values)!r}")
    if default not in values:
        raise ValueError(f"default {default!r} of control {name!r} is not one of its values {list(values)!r}")


# --------------------------------------------------------------------------- the explorable
FigureFn = Callable[..., "go.Figure | Spec"]
ReadoutFn = Callable[..., Mapping[str, str]]


@dataclass(frozen=True)
class Explorable:
    """A pure figure function, its readout, and the controls that drive them.

    ``figure(**values)`` and ``readout(**values)`` are called with one keyword
    argument per control. ``alt`` is the text alternative: what the figure shows
    and its takeaway, for readers who cannot see it.
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
            raise ValueError("every figure needs a text alternative that states its takeaway; alt is empty")

    # -- values
    @property
    def n_combinations(self) -> int:
        return math.prod(len(c.values) for c in self.controls)

    def defaults(self) -> dict[str, Any]:
        return {c.name: c.default for c in self.controls}

    def _complete(self, values: Mapping[str, Any]) -> dict[str, Any]:
        unknown = set(values) - {c.name for c in self.controls}
        if unknown:
            raise ValueError(f"unknown control(s) {sorted(unknown)} for {self.key or self.title!r}; "
                             f"controls are {[c.name for c in self.controls]}")
        return {**self.defaults(), **values}

    def spec(self, **values: Any) -> Spec:
        """The figure for these control values as a plotly spec (missing values take their defaults)."""
        return as_spec(self.figure_fn(**self._complete(values)))

    def figure(self, **values: Any) -> go.Figure:
        """The figure for these control values, as a validated ``go.Figure``."""
        return go.Figure(self.spec(**values))

    def readout(self, **values: Any) -> dict[str, str]:
        """The key numbers for these control values, as display strings."""
        return dict(self.readout_fn(**self._complete(values)))

    def combinations(self) -> list[dict[str, Any]]:
        """Every combination of control values, last control varying fastest."""
        return [dict(zip([c.name for c in self.controls], combo))
                for combo in itertools.product(*(c.values for c in self.controls))]

    # -- static site
    def static_payload(self) -> dict[str, Any]:
        """Every combination precomputed, with identical traces, layouts and readout strings stored once.

        Each frame is ``[trace indices, layout index, readout string indices]``.
        Keep layouts the same across combinations where you can (put changing
        text in traces or readouts): every distinct layout is stored in full.
        """
        if self.n_combinations > MAX_COMBINATIONS:
            raise ValueError(
                f"{self.key or self.title!r} has {self.n_combinations} combinations of control values; "
                f"the static page allows at most {MAX_COMBINATIONS}. Use fewer values per control."
            )
        pools: dict[str, dict[str, int]] = {"traces": {}, "layouts": {}, "strings": {}}
        readout_keys: list[str] | None = None

        def intern(pool: str, obj: Any) -> int:
            text = json.dumps(obj, sort_keys=True, separators=(",", ":"))
            return pools[pool].setdefault(text, len(pools[pool]))

        frames = []
        for values in self.combinations():
            fig = as_spec(self.figure_fn(**values))
            traces = [intern("traces", _round_floats(t)) for t in fig["data"]]
            layout = intern("layouts", _round_floats(fig.get("layout", {})))
            readout = dict(self.readout_fn(**values))
            if readout_keys is None:
                readout_keys = list(readout)
            elif list(readout) != readout_keys:
                raise ValueError(f"readout keys must not change between combinations: {readout_keys} vs {list(readout)}")
            frames.append([traces, layout, [intern("strings", str(v)) for v in readout.values()]])
        return {
            "key": self.key,
            "kwargs": dict(self.kwargs),
            "title": self.title,
            "controls": [
                {"name": c.name, "label": c.label, "kind": c.kind, "values": list(c.values), "labels": c.labels(),
                 "default": list(c.values).index(c.default)}
                for c in self.controls
            ],
            "traces": [json.loads(t) for t in pools["traces"]],
            "layouts": [json.loads(t) for t in pools["layouts"]],
            "readout_keys": readout_keys or [],
            "strings": [json.loads(t) for t in pools["strings"]],
            "frames": frames,
        }

    def static_html(self, element_id: str | None = None) -> str:
        """HTML for the built site: controls, plot area, readout, and the precomputed payload."""
        uid = element_id or _next_id(self.key or "explorable")
        payload = json.dumps(self.static_payload(), separators=(",", ":")).replace("</", "<\\/")
        controls_html = "".join(_control_html(uid, c) for c in self.controls)
        readout = _readout_html(self.readout(**self.defaults()))
        esc = html.escape
        return (
            f'<div class="labs-explorable" id="{uid}" data-key="{esc(self.key)}" '
            f"data-kwargs='{esc(json.dumps(dict(self.kwargs)))}'>"
            f'<div class="lx-title">{esc(self.title)}</div>'
            f'<div class="lx-controls" role="group" aria-label="Controls: {esc(self.title)}">{controls_html}</div>'
            f'<div class="lx-plot" role="figure" aria-label="{esc(self.alt)}"></div>'
            f'<output class="lx-readout" aria-live="polite">{readout}</output>'
            f'<details class="lx-alt"><summary>Text description</summary><p>{esc(self.alt)}</p></details>'
            f'<script type="application/json" class="lx-payload">{payload}</script>'
            "</div>"
        )

    # -- live Jupyter
    def panel(self):
        """An ipywidgets panel: controls that replot a ``go.FigureWidget`` in place."""
        return LivePanel(self).widget

    def _repr_mimebundle_(self, include=None, exclude=None):
        """Static HTML at build time, the live panel otherwise; ``text/plain`` is the default readout.

        Because the plain-text form is the readout in both modes, a ``# NBVAL_CHECK_OUTPUT``
        cell that shows an Explorable has its numbers checked by nbval (which skips the
        widget's own data, whose model ids are random).
        """
        text = _readout_text(self.title, self.readout(**self.defaults()))
        if display_mode() == "static":
            return {"text/html": self.static_html(), "text/plain": text}
        bundle = self.panel()._repr_mimebundle_(include=include, exclude=exclude)
        bundle["text/plain"] = text
        return bundle


def explorable_factory(fn: Callable[..., Explorable]) -> Callable[..., Explorable]:
    """Mark a function in ``labs_py.widgets.<module>`` as building an Explorable.

    The Explorable's ``key`` becomes ``"<module>.<function>"`` and its keyword
    arguments are recorded, so anyone (the browser test, for one) can rebuild the
    very same Explorable from the page with :func:`labs_py.widgets.registry.build`.
    """

    @wraps(fn)
    def wrapper(**kwargs: Any) -> Explorable:
        ex = fn(**kwargs)
        key = f"{fn.__module__.removeprefix('labs_py.widgets.')}.{fn.__name__}"
        return replace(ex, key=key, kwargs=dict(kwargs))

    wrapper.is_explorable_factory = True  # type: ignore[attr-defined]
    return wrapper


# --------------------------------------------------------------------------- live panel
class LivePanel:
    """The Jupyter side: ipywidgets controls wired to a FigureWidget and a readout."""

    def __init__(self, explorable: Explorable, *, prefetch: bool | None = None) -> None:
        import ipywidgets as w

        self.explorable = explorable
        self.values = explorable.defaults()
        self.controls: dict[str, Any] = {}
        for c in explorable.controls:
            options = list(zip(c.labels(), c.values))
            style = {"description_width": "initial"}
            if c.kind == "slider":
                ctl = w.SelectionSlider(options=options, value=c.default, description=c.label,
                                        continuous_update=True, style=style, layout=w.Layout(width="420px"))
            else:
                ctl = w.Dropdown(options=options, value=c.default, description=c.label, style=style)
            ctl.observe(self._on_change(c.name), names="value")
            self.controls[c.name] = ctl
        self._shown = explorable.spec(**self.values)
        self.figure = go.FigureWidget(self._shown)
        self.readout = w.HTML(_live_readout_html(explorable.readout(**self.values)))
        self.widget = w.VBox([w.HTML(f"<b>{html.escape(explorable.title)}</b>"), w.HBox([w.VBox(list(self.controls.values()))]),
                              self.figure, self.readout])
        if prefetch is None:
            prefetch = os.environ.get(PREFETCH_ENV, "1") != "0"
        self.prefetch_thread: threading.Thread | None = None
        if prefetch:
            self.prefetch_thread = threading.Thread(target=self._prefetch, name=f"prefetch {explorable.key}", daemon=True)
            self.prefetch_thread.start()

    def _prefetch(self) -> None:
        """Compute every combination once, nearest to the defaults first, so that the caches behind
        the figure functions (simulations, traces) are warm before the reader gets there.

        Results are discarded: what is kept is whatever the figure functions memoise. A
        failure stops the walk quietly; it will surface when the reader moves to that setting.
        """
        defaults = self.explorable.defaults()
        combos = sorted(self.explorable.combinations(),
                        key=lambda v: sum(v[k] != defaults[k] for k in v))
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
                self.controls[name].value = value  # re-enters set() via observe; harmless
        new = self.explorable.spec(**self.values)
        _replace_figure(self.figure, self._shown, new)
        self._shown = new
        self.readout.value = _live_readout_html(self.explorable.readout(**self.values))


def _replace_figure(target: go.FigureWidget, shown: Spec, new: Spec) -> None:
    """Update ``target`` (showing ``shown``) in place to show ``new``, touching only what changed.

    Like ``Plotly.react``: traces whose spec is unchanged are left alone, changed
    properties are assigned one by one, and the layout is replaced only if it
    differs. A change in the number or types of traces rebuilds the data.
    """
    with target.batch_update():
        same_shape = len(shown["data"]) == len(new["data"]) and all(
            a.get("type", "scatter") == b.get("type", "scatter") for a, b in zip(shown["data"], new["data"])
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


# --------------------------------------------------------------------------- helpers
_COUNTERS: dict[str, int] = {}


def _next_id(key: str) -> str:
    """Deterministic element ids: the n-th render of a key in this kernel gets suffix n."""
    slug = "".join(ch if ch.isalnum() else "-" for ch in key)
    _COUNTERS[slug] = _COUNTERS.get(slug, 0) + 1
    return f"lx-{slug}-{_COUNTERS[slug]}"


def _control_html(uid: str, c: Control) -> str:
    esc = html.escape
    cid = f"{uid}-{c.name}"
    labels = c.labels()
    default = list(c.values).index(c.default)
    if c.kind == "slider":
        widget = (
            f'<input type="range" id="{cid}" data-control="{esc(c.name)}" min="0" max="{len(labels) - 1}" step="1" '
            f'value="{default}" aria-valuetext="{esc(labels[default])}">'
            f'<span class="lx-value" aria-hidden="true">{esc(labels[default])}</span>'
        )
    else:
        opts = "".join(
            f'<option value="{i}"{" selected" if i == default else ""}>{esc(lab)}</option>' for i, lab in enumerate(labels)
        )
        widget = f'<select id="{cid}" data-control="{esc(c.name)}">{opts}</select>'
    return f'<div class="lx-control"><label for="{cid}">{esc(c.label)}</label>{widget}</div>'


def _readout_html(readout: Mapping[str, str]) -> str:
    esc = html.escape
    return "".join(
        f'<span class="lx-item"><span class="lx-key">{esc(k)}</span> '
        f'<span class="lx-num" data-readout="{esc(k)}">{esc(v)}</span></span>'
        for k, v in readout.items()
    )


def _live_readout_html(readout: Mapping[str, str]) -> str:
    """The readout for Jupyter, styled inline (the site's CSS is not loaded there)."""
    esc = html.escape
    items = "".join(
        f'<span style="display:inline-block;margin:0 1.4em 0.2em 0"><span style="color:#555">{esc(k)}</span> '
        f'<b>{esc(v)}</b></span>'
        for k, v in readout.items()
    )
    return (f'<div class="lx-readout-live" style="border-left:3px solid #0072B2;padding:0.3em 0.6em;'
            f'background:rgba(0,114,178,0.06)">{items}</div>')


def _readout_text(title: str, readout: Mapping[str, str]) -> str:
    return f"{title}\n" + "\n".join(f"  {k}: {v}" for k, v in readout.items())


def _round_floats(obj: Any) -> Any:
    """Round floats to PAYLOAD_SIG_DIGITS significant digits to keep pages small."""
    if isinstance(obj, float):
        if obj == 0 or not math.isfinite(obj):
            return obj
        return float(f"{obj:.{PAYLOAD_SIG_DIGITS}g}")
    if isinstance(obj, dict):
        return {k: _round_floats(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_round_floats(v) for v in obj]
    if hasattr(obj, "tolist"):  # numpy arrays and scalars
        return _round_floats(obj.tolist())
    return obj
