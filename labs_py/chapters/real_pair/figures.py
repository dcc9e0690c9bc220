"""Figures for the chapter "Stand up a real prefill/decode pair": captures in, plotly specs out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from labs_py.figures.spec import Spec, layout_of, make_spec
from labs_py.figures.style import OKABE_ITO, ROLE, log_ticks, styled

ARM_STYLE = [
    (OKABE_ITO["vermillion"], "solid"),
    (OKABE_ITO["orange"], "dash"),
    (OKABE_ITO["blue"], "dot"),
    (OKABE_ITO["purple"], "dashdot"),
]


def itl_ccdf_figure(itl_ms_by_arm: Mapping[str, np.ndarray]) -> Spec:
    """Complementary CDF of the steady streams' inter-token gaps, one line per setup (log y)."""
    fig = go.Figure()
    fig.update_xaxes(
        title_text="inter-token gap of a steady stream (ms)", **log_ticks()
    )
    fig.update_yaxes(title_text="fraction of gaps longer than x", **log_ticks())
    data = []
    for i, (name, itl) in enumerate(itl_ms_by_arm.items()):
        x = np.sort(np.asarray(itl, float))
        surv = 1.0 - np.arange(1, x.size + 1) / (x.size + 1)
        keep = np.unique(
            np.concatenate([np.linspace(0, x.size - 1, 300).astype(int), [x.size - 1]])
        )
        colour, dash = ARM_STYLE[i % len(ARM_STYLE)]
        data.append(
            dict(
                type="scatter",
                x=x[keep],
                y=surv[keep],
                mode="lines",
                name=name,
                line=dict(color=colour, dash=dash, width=2.5),
            )
        )
    return make_spec(data, layout_of(styled(fig, height=430)))


def ttft_sweep_figure(
    lengths: Sequence[int],
    ttft_ms_by_arm: Mapping[str, Sequence[float]],
    wire_ms: Sequence[float],
) -> Spec:
    """Median TTFT against prompt length for each setup, and what the wire alone would add."""
    fig = go.Figure()
    fig.update_xaxes(title_text="prompt length (tokens)")
    fig.update_yaxes(title_text="median time to first token (ms)", rangemode="tozero")
    data = []
    for i, (name, ys) in enumerate(ttft_ms_by_arm.items()):
        colour, dash = ARM_STYLE[i % len(ARM_STYLE)]
        data.append(
            dict(
                type="scatter",
                x=list(lengths),
                y=list(ys),
                name=name,
                mode="lines+markers",
                line=dict(color=colour, dash=dash, width=2.5),
            )
        )
    data.append(
        dict(
            type="scatter",
            x=list(lengths),
            y=list(wire_ms),
            name="KV transfer alone (economics, measured link)",
            mode="lines+markers",
            line=dict(color=ROLE["transfer"], width=1.5),
            marker=dict(symbol="x"),
        )
    )
    return make_spec(data, layout_of(styled(fig, height=430)))


@lru_cache(maxsize=2)
def _timeline_layout() -> dict:
    fig = go.Figure()
    fig.update_xaxes(title_text="time since the run started (s)", rangemode="tozero")
    fig.update_yaxes(title_text="request", autorange="reversed")
    return layout_of(styled(fig, height=420))


def timeline_figure(requests: Sequence[Mapping]) -> Spec:
    """Every token of every request as a dot at its arrival time: streams in rows, big prompts marked.

    A stall shows as a horizontal gap in a stream's row when a big prompt arrives.
    """
    groups = {
        "stream": ("steady stream (tokens)", ROLE["decode"], "circle", 3),
        "big": ("big prompt (tokens)", ROLE["prefill"], "diamond", 5),
    }
    data = []
    for group, (name, colour, symbol, size) in groups.items():
        xs, ys = [], []
        for r in requests:
            if r["group"] != group:
                continue
            t = r["start_s"] + np.asarray(r["token_times_s"], float)
            xs.extend(t.tolist())
            ys.extend([r["id"]] * len(t))
        data.append(
            dict(
                type="scatter",
                x=xs,
                y=ys,
                mode="markers",
                name=name,
                marker=dict(color=colour, symbol=symbol, size=size),
            )
        )
    arrivals = [(r["start_s"], r["id"]) for r in requests if r["group"] == "big"]
    data.append(
        dict(
            type="scatter",
            x=[a for a, _ in arrivals],
            y=[i for _, i in arrivals],
            mode="markers",
            name="big prompt sent",
            marker=dict(color=OKABE_ITO["black"], symbol="line-ns-open", size=12),
        )
    )
    return make_spec(data, _timeline_layout())


def course_comparison_figure(
    metrics: Sequence[str],
    course: Mapping[str, Sequence[float]],
    ours: Mapping[str, Sequence[float]],
) -> Spec:
    """Lab 15-02's reported 2xL4 figures beside ours: the same signature, in different units of speed."""
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.12,
        subplot_titles=(
            "reported by lab 15-02: 2x L4, Qwen2.5-0.5B",
            "measured here: 2 CPU cores, tiny model",
        ),
    )
    fig.update_layout(barmode="group")
    fig.update_yaxes(title_text="ms (log scale)", **log_ticks())
    data = []
    for col, source in ((1, course), (2, ours)):
        for i, (arm, values) in enumerate(source.items()):
            colour = [ROLE["colocated"], ROLE["disaggregated"]][i % 2]
            data.append(
                dict(
                    type="bar",
                    x=list(metrics),
                    y=list(values),
                    name=arm,
                    legendgroup=f"{col}{i}",
                    marker=dict(color=colour, pattern=dict(shape=["", "/"][i % 2])),
                    text=[f"{v:.3g}" for v in values],
                    textposition="outside",
                    xaxis="x" if col == 1 else "x2",
                    yaxis="y" if col == 1 else "y2",
                )
            )
    return make_spec(data, layout_of(styled(fig, height=470, legend_below=True)))


def drill_streams_figure(requests: Sequence[Mapping], killed_at_s: float) -> Spec:
    """Kill-decode drill: each client's tokens over time, the kill, and where each answer stopped."""
    fig = go.Figure()
    fig.add_vline(x=killed_at_s, line=dict(color=ROLE["budget"], dash="dash"))
    fig.add_annotation(
        x=killed_at_s,
        y=1,
        yref="paper",
        text="decode killed",
        showarrow=False,
        xanchor="left",
        yanchor="top",
        font=dict(size=11),
    )
    fig.update_xaxes(title_text="time since the run started (s)", rangemode="tozero")
    fig.update_yaxes(title_text="tokens received")
    data = []
    for i, r in enumerate(requests):
        t = r["start_s"] + np.asarray(r["token_times_s"], float)
        colour, dash = ARM_STYLE[i % len(ARM_STYLE)]
        data.append(
            dict(
                type="scatter",
                x=t.tolist(),
                y=list(range(1, len(t) + 1)),
                mode="lines",
                name=f"{r['id']} ({r['status']})",
                line=dict(color=colour, dash=dash, width=2.5, shape="hv"),
            )
        )
        if r["status"] != "ok" and len(t):
            data.append(
                dict(
                    type="scatter",
                    x=[float(t[-1])],
                    y=[len(t)],
                    mode="markers",
                    showlegend=False,
                    marker=dict(symbol="x", size=12, color=colour),
                )
            )
    return make_spec(data, layout_of(styled(fig, height=380)))


# --------------------------------------------------------------------------- the link, measured
#: The TTFT terms of the link sweep, drawn bottom to top, with the book's colour for each.
TERM_STYLE = (
    ("queue", "queue", OKABE_ITO["grey"]),
    ("prefill", "prefill compute", ROLE["prefill"]),
    ("prefill_overhead", "prefill leg overhead (HTTP, tokenise)", OKABE_ITO["sky"]),
    ("handshake", "handshake and notification", OKABE_ITO["yellow"]),
    ("wire", "wire (NIXL's READ)", ROLE["transfer"]),
    ("first_step", "decode's first step", ROLE["decode"]),
    ("rest", "rest (decode leg, stream)", OKABE_ITO["purple"]),
)


def toll_terms_figure(
    labels: Sequence[str],
    terms_ms: Mapping[str, Sequence[float]],
    predicted_wire_ms: Sequence[float | None],
) -> Spec:
    """One stacked bar per link rate: the TTFT's measured terms (ms), with the economics' wire price marked."""
    fig = go.Figure()
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title_text="KV link")
    fig.update_yaxes(title_text="time to first token (ms)", rangemode="tozero")
    data = [
        dict(
            type="bar",
            x=list(labels),
            y=[round(v, 2) for v in terms_ms[key]],
            name=name,
            marker=dict(color=colour),
            hovertemplate=f"{name}: %{{y:.1f}} ms<extra></extra>",
        )
        for key, name, colour in TERM_STYLE
    ]
    # where the wire would end if it took exactly the economics' price
    base = [
        sum(
            terms_ms[k][i]
            for k in ("queue", "prefill", "prefill_overhead", "handshake")
        )
        for i in range(len(labels))
    ]
    xs = [lab for lab, p in zip(labels, predicted_wire_ms) if p is not None]
    ys = [round(b + p, 2) for b, p in zip(base, predicted_wire_ms) if p is not None]
    data.append(
        dict(
            type="scatter",
            mode="markers",
            x=xs,
            y=ys,
            name="wire as priced (economics)",
            marker=dict(
                symbol="line-ew-open",
                size=34,
                color=OKABE_ITO["black"],
                line=dict(width=3),
            ),
        )
    )
    return make_spec(data, layout_of(styled(fig, height=470, legend_below=True)))


def wire_rate_figure(
    link_gbps: Sequence[float],
    wire_gbps_by_prompt: Mapping[str, Sequence[float]],
    ceiling_gbps: float,
    goodput_fraction: float,
) -> Spec:
    """The rate the KV actually moved at against the link's rate: on the shaped line until the CPU's ceiling."""
    fig = go.Figure()
    fig.update_xaxes(title_text="KV link rate set with tc (Gb/s)", **log_ticks())
    fig.update_yaxes(
        title_text="rate the KV moved at, NIXL's measure (Gb/s)", **log_ticks()
    )
    lo, hi = min(link_gbps) / 1.3, max(link_gbps) * 1.3
    data = [
        dict(
            type="scatter",
            mode="lines",
            x=[lo, hi],
            y=[lo * goodput_fraction, hi * goodput_fraction],
            name=f"{goodput_fraction:.1%} of the rate (TCP's framing)",
            line=dict(color=OKABE_ITO["grey"], dash="dash"),
        ),
        dict(
            type="scatter",
            mode="lines",
            x=[lo, hi],
            y=[ceiling_gbps, ceiling_gbps],
            name=f"unshaped: UCX over TCP on this CPU, {ceiling_gbps:.2g} Gb/s",
            line=dict(color=OKABE_ITO["vermillion"], dash="dot"),
        ),
    ]
    colours = (OKABE_ITO["blue"], OKABE_ITO["vermillion"], OKABE_ITO["green"])
    for i, (name, ys) in enumerate(wire_gbps_by_prompt.items()):
        colour = colours[i % len(colours)]
        data.append(
            dict(
                type="scatter",
                mode="markers+lines",
                x=list(link_gbps),
                y=[round(y, 4) for y in ys],
                name=name,
                marker=dict(color=colour, size=8),
                line=dict(color=colour, width=1),
            )
        )
    return make_spec(data, layout_of(styled(fig, height=450, legend_below=True)))


def endpoint_ttft_figure(
    prompt_tokens: Sequence[float], ttft_ms: Sequence[float], label: str
) -> Spec:
    """An endpoint capture's TTFT against the prompt length the server reported, every request a point."""
    fig = go.Figure()
    fig.update_xaxes(
        title_text="prompt length, as the server counted it (tokens)",
        rangemode="tozero",
    )
    fig.update_yaxes(title_text="time to first token (ms)", rangemode="tozero")
    data = [
        dict(
            type="scatter",
            mode="markers",
            x=list(prompt_tokens),
            y=[round(v, 2) for v in ttft_ms],
            name=label,
            marker=dict(color=ROLE["disaggregated"], size=9),
        )
    ]
    return make_spec(data, layout_of(styled(fig, height=400)))
