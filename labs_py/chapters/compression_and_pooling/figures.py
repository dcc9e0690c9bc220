"""Figures for the chapter "KV compression and pooled KV". Data in, plotly specs out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np
import plotly.graph_objects as go

from labs_py.figures.spec import Spec, layout_of, make_spec
from labs_py.figures.style import OKABE_ITO, ROLE, labelled_hline, log_ticks, styled

DTYPE_STYLE = {"bf16": (OKABE_ITO["vermillion"], ""), "fp8": (OKABE_ITO["sky"], "/")}


def bytes_per_token_figure(
    names: Sequence[str],
    attention: Sequence[str],
    kib_by_dtype: Mapping[str, Sequence[float]],
) -> Spec:
    """KV bytes per token for each catalog model, per KV dtype (log scale), attention type in the labels."""
    fig = go.Figure()
    fig.update_layout(barmode="group")
    fig.update_yaxes(title_text="KV cache per token (KiB, log scale)", **log_ticks())
    labels = [f"{n}<br>({a.upper()})" for n, a in zip(names, attention)]
    data = [
        dict(
            type="bar",
            x=labels,
            y=list(v),
            name=f"KV in {dtype}",
            text=[f"{x:.3g}" for x in v],
            textposition="outside",
            marker=dict(
                color=DTYPE_STYLE[dtype][0], pattern=dict(shape=DTYPE_STYLE[dtype][1])
            ),
        )
        for dtype, v in kib_by_dtype.items()
    ]
    return make_spec(data, layout_of(styled(fig, height=440)))


@lru_cache(maxsize=4)
def _fetch_layout() -> dict:
    fig = go.Figure()
    fig.update_xaxes(title_text="cached prefix (tokens)", **log_ticks())
    fig.update_yaxes(title_text="time to get the prefix's KV back (ms)", **log_ticks())
    return layout_of(styled(fig, height=440))


def fetch_vs_recompute_figure(
    prefix_tokens: np.ndarray,
    recompute_s: np.ndarray,
    fetch_s_by_link: Mapping[str, np.ndarray],
) -> Spec:
    """Recomputing a prefix (prefill) against fetching its KV over several links."""
    dashes = ["dash", "dot", "dashdot", "longdash"]
    data = [
        dict(
            type="scatter",
            x=prefix_tokens,
            y=recompute_s * 1e3,
            name="recompute (prefill again)",
            mode="lines+markers",
            line=dict(color=ROLE["prefill"], width=3),
            marker=dict(size=6),
        )
    ]
    colours = [
        OKABE_ITO["vermillion"],
        OKABE_ITO["orange"],
        OKABE_ITO["green"],
        OKABE_ITO["purple"],
    ]
    for i, (label, fetch) in enumerate(fetch_s_by_link.items()):
        data.append(
            dict(
                type="scatter",
                x=prefix_tokens,
                y=fetch * 1e3,
                name=f"fetch over {label}",
                mode="lines",
                line=dict(
                    color=colours[i % len(colours)],
                    dash=dashes[i % len(dashes)],
                    width=2,
                ),
            )
        )
    return make_spec(data, _fetch_layout())


@lru_cache(maxsize=4)
def _breakeven_layout(links: tuple[tuple[str, float], ...]) -> dict:
    fig = go.Figure()
    for label, gbps in links:
        labelled_hline(fig, gbps, label, log_y=True)
    fig.update_layout(barmode="group", margin=dict(r=110))
    fig.update_yaxes(title_text="split pays from (Gb/s, log scale)", **log_ticks())
    return layout_of(styled(fig, height=460))


def breakeven_figure(
    names: Sequence[str],
    gbps_by_dtype: Mapping[str, Sequence[float]],
    catalog_links: Mapping[str, float],
) -> Spec:
    """The slowest link at which the P/D split pays, per model and KV dtype: lower is more affordable."""
    data = [
        dict(
            type="bar",
            x=list(names),
            y=list(v),
            name=f"KV in {dtype}",
            marker=dict(
                color=DTYPE_STYLE[dtype][0], pattern=dict(shape=DTYPE_STYLE[dtype][1])
            ),
        )
        for dtype, v in gbps_by_dtype.items()
    ]
    return make_spec(data, _breakeven_layout(tuple(catalog_links.items())))


@lru_cache(maxsize=2)
def _warm_layout() -> dict:
    fig = go.Figure()
    fig.update_xaxes(title_text="time to first token (ms)", rangemode="tozero")
    fig.update_yaxes(title_text="fraction of requests with TTFT <= x", range=[0, 1.02])
    return layout_of(styled(fig, height=420))


def warm_ttft_figure(ttft_ms_by_arm: Mapping[str, np.ndarray]) -> Spec:
    """Cumulative distribution of TTFT, one line per arm (no cache; with a prefix cache, cold and warm)."""
    styles = [
        (OKABE_ITO["vermillion"], "solid"),
        (OKABE_ITO["grey"], "dot"),
        (OKABE_ITO["blue"], "dash"),
    ]
    data = []
    for i, (name, ttft) in enumerate(ttft_ms_by_arm.items()):
        x = np.sort(np.asarray(ttft, dtype=float))
        keep = np.unique(np.linspace(0, x.size - 1, min(x.size, 300)).astype(int))
        colour, dash = styles[i % len(styles)]
        data.append(
            dict(
                type="scatter",
                x=x[keep],
                y=(keep + 1) / x.size,
                mode="lines",
                name=name,
                line=dict(color=colour, dash=dash, width=2.5),
            )
        )
    return make_spec(data, _warm_layout())


@lru_cache(maxsize=2)
def _pool_layout() -> dict:
    from plotly.subplots import make_subplots

    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.14,
        subplot_titles=("prefix cache hit rate", "median TTFT"),
    )
    fig.update_xaxes(title_text="distinct prefixes in the workload", **log_ticks())
    fig.update_yaxes(
        title_text="requests served from a cache",
        range=[0, 1.02],
        tickformat=".0%",
        row=1,
        col=1,
    )
    fig.update_yaxes(title_text="TTFT p50 (ms)", rangemode="tozero", row=1, col=2)
    return layout_of(styled(fig, height=430, legend_below=True))


def pool_figure(
    n_prefixes: np.ndarray,
    hit_rate: Mapping[str, np.ndarray],
    ttft_p50_s: Mapping[str, np.ndarray],
) -> Spec:
    """Private caches vs a shared pool as the number of distinct prefixes grows."""
    styles = [
        (OKABE_ITO["grey"], "dot", "circle"),
        (OKABE_ITO["orange"], "dash", "square"),
        (OKABE_ITO["blue"], "solid", "diamond"),
    ]
    data = []
    for i, name in enumerate(hit_rate):
        colour, dash, symbol = styles[i % len(styles)]
        common = dict(
            type="scatter",
            x=n_prefixes,
            mode="lines+markers",
            legendgroup=name,
            line=dict(color=colour, dash=dash, width=2.5),
            marker=dict(symbol=symbol, size=8),
        )
        data.append(dict(common, y=hit_rate[name], name=name, xaxis="x", yaxis="y"))
        data.append(
            dict(
                common,
                y=ttft_p50_s[name] * 1e3,
                name=name,
                showlegend=False,
                xaxis="x2",
                yaxis="y2",
            )
        )
    return make_spec(data, _pool_layout())
