"""Figures for the chapter "KV compression and pooled KV". Data in, plotly specs out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np
import plotly.graph_objects as go

from labs_py.viz.spec import Spec, layout_of, make_spec
from labs_py.viz.style import OKABE_ITO, ROLE, log_ticks, styled

DTYPE_STYLE = {"bf16": (OKABE_ITO["vermillion"], ""), "fp8": (OKABE_ITO["sky"], "/")}


def bytes_per_token_figure(names: Sequence[str], attention: Sequence[str], kib_by_dtype: Mapping[str, Sequence[float]]) -> Spec:
    """KV bytes per token for each catalog model, per KV dtype (log scale), attention type in the labels."""
    fig = go.Figure()
    fig.update_layout(barmode="group")
    fig.update_yaxes(title_text="KV cache per token (KiB, log scale)", **log_ticks())
    labels = [f"{n}<br>({a.upper()})" for n, a in zip(names, attention)]
    data = [dict(type="bar", x=labels, y=list(v), name=f"KV in {dtype}", text=[f"{x:.3g}" for x in v],
                 textposition="outside", marker=dict(color=DTYPE_STYLE[dtype][0], pattern=dict(shape=DTYPE_STYLE[dtype][1])))
            for dtype, v in kib_by_dtype.items()]
    return make_spec(data, layout_of(styled(fig, height=440)))


@lru_cache(maxsize=4)
def _fetch_layout() -> dict:
    fig = go.Figure()
    fig.update_xaxes(title_text="cached prefix (tokens)", **log_ticks())
    fig.update_yaxes(title_text="time to get the prefix's KV back (ms)", **log_ticks())
    return layout_of(styled(fig, height=440))


def fetch_vs_recompute_figure(prefix_tokens: np.ndarray, recompute_s: np.ndarray, fetch_s_by_link: Mapping[str, np.ndarray]) -> Spec:
    """Recomputing a prefix (prefill) against fetching its KV over several links."""
    dashes = ["dash", "dot", "dashdot", "longdash"]
    data = [dict(type="scatter", x=prefix_tokens, y=recompute_s * 1e3, name="recompute (prefill again)",
                 mode="lines+markers", line=dict(color=ROLE["prefill"], width=3), marker=dict(size=6))]
    colours = [OKABE_ITO["vermillion"], OKABE_ITO["orange"], OKABE_ITO["green"], OKABE_ITO["purple"]]
    for i, (label, fetch) in enumerate(fetch_s_by_link.items()):
        data.append(dict(type="scatter", x=prefix_tokens, y=fetch * 1e3, name=f"fetch over {label}", mode="lines",
                         line=dict(color=colours[i % len(colours)], dash=dashes[i % len(dashes)], width=2)))
    return make_spec(data, _fetch_layout())


@lru_cache(maxsize=4)
def _breakeven_layout(links: tuple[tuple[str, float], ...]) -> dict:
    fig = go.Figure()
    for label, gbps in links:
        fig.add_hline(y=gbps, line=dict(color="#333", dash="dot", width=1), annotation_text=label,
                      annotation_position="right", annotation_font_size=10)
    fig.update_layout(barmode="group", margin=dict(r=110))
    fig.update_yaxes(title_text="split pays from (Gb/s, log scale)", **log_ticks())
    return layout_of(styled(fig, height=460))


def breakeven_figure(names: Sequence[str], gbps_by_dtype: Mapping[str, Sequence[float]],
                     catalog_links: Mapping[str, float]) -> Spec:
    """The slowest link at which the P/D split pays, per model and KV dtype: lower is more affordable."""
    data = [dict(type="bar", x=list(names), y=list(v), name=f"KV in {dtype}",
                 marker=dict(color=DTYPE_STYLE[dtype][0], pattern=dict(shape=DTYPE_STYLE[dtype][1])))
            for dtype, v in gbps_by_dtype.items()]
    return make_spec(data, _breakeven_layout(tuple(catalog_links.items())))
