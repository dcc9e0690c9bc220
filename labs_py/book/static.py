"""The static side: explorables and figures for the built site, where no kernel runs.

Every combination of an explorable's control values is computed ahead of time;
identical traces, layouts and readouts are stored once; a small generic script
(``labs_py/book/assets/explorable.js``) swaps the data in with ``Plotly.react``
when a control moves. Plain figures are stored as one spec and drawn once.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping
from typing import Any

from labs_py.book.protocols import ControlLike, ExplorableLike, FigureLike
from labs_py.core.plotspec import as_spec

__all__ = [
    "MAX_COMBINATIONS",
    "PAYLOAD_SIG_DIGITS",
    "payload",
    "explorable_html",
    "figure_html",
    "next_element_id",
    "reset_element_ids",
    "round_floats",
]

#: Refuse to precompute grids larger than this: the page would be too heavy.
MAX_COMBINATIONS = 5000
#: Significant digits kept for floats in the static payload (plots need no more).
PAYLOAD_SIG_DIGITS = 6


def payload(ex: ExplorableLike) -> dict[str, Any]:
    """Every combination precomputed, with identical traces, layouts and readout strings stored once.

    Each frame is ``[trace indices, layout index, readout string indices]``.
    Keep layouts the same across combinations where you can (put changing
    text in traces or readouts): every distinct layout is stored in full.

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, interference, goodput_and_split, two_gpus, real_pair,
        plan_a_deployment, compression_and_pooling.
    """
    if ex.n_combinations > MAX_COMBINATIONS:
        raise ValueError(
            f"{ex.key or ex.title!r} has {ex.n_combinations} combinations of control values; "
            f"the static page allows at most {MAX_COMBINATIONS}. Use fewer values per control."
        )
    pools: dict[str, dict[str, int]] = {"traces": {}, "layouts": {}, "strings": {}}
    readout_keys: list[str] | None = None

    def intern(pool: str, obj: Any) -> int:
        text = json.dumps(obj, sort_keys=True, separators=(",", ":"))
        return pools[pool].setdefault(text, len(pools[pool]))

    frames = []
    for values in ex.combinations():
        fig = as_spec(ex.figure_fn(**values))
        traces = [intern("traces", round_floats(t)) for t in fig["data"]]
        layout = intern("layouts", round_floats(fig.get("layout", {})))
        readout = dict(ex.readout_fn(**values))
        if readout_keys is None:
            readout_keys = list(readout)
        elif list(readout) != readout_keys:
            raise ValueError(
                f"readout keys must not change between combinations: {readout_keys} vs {list(readout)}"
            )
        frames.append(
            [traces, layout, [intern("strings", str(v)) for v in readout.values()]]
        )
    return {
        "key": ex.key,
        "kwargs": dict(ex.kwargs),
        "title": ex.title,
        "controls": [
            {
                "name": c.name,
                "label": c.label,
                "kind": c.kind,
                "values": list(c.values),
                "labels": c.labels(),
                "default": list(c.values).index(c.default),
            }
            for c in ex.controls
        ],
        "traces": [json.loads(t) for t in pools["traces"]],
        "layouts": [json.loads(t) for t in pools["layouts"]],
        "readout_keys": readout_keys or [],
        "strings": [json.loads(t) for t in pools["strings"]],
        "frames": frames,
    }


def explorable_html(ex: ExplorableLike, element_id: str | None = None) -> str:
    """HTML for the built site: controls, plot area, readout, and the precomputed payload.

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, interference, goodput_and_split, two_gpus, real_pair,
        plan_a_deployment, compression_and_pooling.
    """
    uid = element_id or next_element_id(ex.key or "explorable")
    data = json.dumps(payload(ex), separators=(",", ":")).replace("</", "<\\/")
    controls_html = "".join(_control_html(uid, c) for c in ex.controls)
    readout = _readout_html(ex.readout(**ex.defaults()))
    esc = html.escape
    return (
        f'<div class="labs-explorable" id="{uid}" data-key="{esc(ex.key)}" '
        f"data-kwargs='{esc(json.dumps(dict(ex.kwargs)))}'>"
        f'<div class="lx-title">{esc(ex.title)}</div>'
        f'<div class="lx-controls" role="group" aria-label="Controls: {esc(ex.title)}">{controls_html}</div>'
        f'<div class="lx-state" aria-hidden="true"></div>'
        f'<div class="lx-plot" role="figure" aria-label="{esc(ex.alt)}"></div>'
        f'<output class="lx-readout" aria-live="polite">{readout}</output>'
        f'<details class="lx-alt"><summary>Text description</summary><p>{esc(ex.alt)}</p></details>'
        f'<script type="application/json" class="lx-payload">{data}</script>'
        "</div>"
    )


def figure_html(fig: FigureLike, element_id: str | None = None) -> str:
    """HTML for a plain figure: its spec, drawn once by ``explorable.js``, and its text alternative.

    Taught in: no chapter: the book's machinery (docs/architecture.md).
    """
    uid = element_id or next_element_id(f"fig-{fig.name}")
    spec = round_floats(as_spec(fig.figure))
    data = json.dumps(
        {"data": spec["data"], "layout": spec.get("layout", {})}, separators=(",", ":")
    )
    data = data.replace("</", "<\\/")
    alt = html.escape(fig.alt)
    return (
        f'<div class="labs-figure" id="{uid}">'
        f'<div class="lx-plot" role="figure" aria-label="{alt}"></div>'
        f'<details class="lx-alt"><summary>Text description</summary><p>{alt}</p></details>'
        f'<script type="application/json" class="lx-figure">{data}</script></div>'
    )


# --------------------------------------------------------------------------- element ids
_COUNTERS: dict[str, int] = {}


def next_element_id(key: str) -> str:
    """Deterministic element ids: the n-th render of a key in this kernel gets suffix n.

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, interference, goodput_and_split, two_gpus, real_pair,
        plan_a_deployment, compression_and_pooling.
    """
    slug = "".join(ch if ch.isalnum() else "-" for ch in key)
    _COUNTERS[slug] = _COUNTERS.get(slug, 0) + 1
    return f"lx-{slug}-{_COUNTERS[slug]}"


def reset_element_ids() -> None:
    """Start numbering element ids afresh (a new page, or a test).

    Taught in: no chapter: the book's machinery (docs/architecture.md).
    """
    _COUNTERS.clear()


# --------------------------------------------------------------------------- pieces
def _control_html(uid: str, c: ControlLike) -> str:
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
            f'<option value="{i}"{" selected" if i == default else ""}>{esc(lab)}</option>'
            for i, lab in enumerate(labels)
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


def round_floats(obj: Any) -> Any:
    """Round floats to PAYLOAD_SIG_DIGITS significant digits to keep pages small.

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, interference, goodput_and_split, two_gpus, real_pair,
        plan_a_deployment, compression_and_pooling.
    """
    if isinstance(obj, float):
        if obj == 0 or not math.isfinite(obj):
            return obj
        return float(f"{obj:.{PAYLOAD_SIG_DIGITS}g}")
    if isinstance(obj, dict):
        return {k: round_floats(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [round_floats(v) for v in obj]
    if hasattr(obj, "tolist"):  # numpy arrays and scalars
        return round_floats(obj.tolist())
    return obj
