"""Figures for the chapter "Interference". Data in (simulator traces and percentiles), plotly specs out.

Layouts are built once and cached, and stay the same whatever the data, so a slider
move costs about a millisecond (:mod:`labs_py.figures.spec`).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from labs_py.chapters.interference.experiment import TAIL_QS, WATCH_S
from labs_py.figures.serving import MS, ArmStyle, chunk_label, finish, rounded
from labs_py.figures.spec import Spec, make_spec
from labs_py.figures.style import OKABE_ITO, ROLE, log_ticks
from labs_py.sim.interference import InterferenceTrace

__all__ = ["interference_spec", "chunk_trade_spec", "itl_tail_spec", "validation_spec"]


# --------------------------------------------------------------------------- one stream while a prompt arrives
@lru_cache(maxsize=1)
def _interference_layout() -> dict:
    fig = go.Figure()
    fig.add_vline(x=0, line=dict(dash="dash", color=ROLE["budget"], width=1))
    fig.add_annotation(
        x=0,
        y=1,
        yref="paper",
        text="the long prompt arrives",
        showarrow=False,
        xanchor="left",
        yanchor="top",
        xshift=4,
        font=dict(size=11),
    )
    fig.update_xaxes(
        title_text="time since the long prompt arrived (ms)",
        range=[-210, WATCH_S * MS + 10],
    )
    fig.update_yaxes(
        title_text="inter-token gap of one stream (ms)", rangemode="tozero"
    )
    return finish(fig, 440)


def interference_spec(
    colocated: InterferenceTrace,
    disaggregated: InterferenceTrace,
    chunk_tokens: int | None,
) -> Spec:
    """One decode stream's inter-token gaps as a long prompt arrives: colocated vs disaggregated.

    Each gap is drawn as a flat segment over the time it lasted (from the previous token to
    this one), so a long stall is as wide as it is tall. The colocated trace shows a plateau
    of equal bumps (one per chunk-carrying step) or, without chunking, one tall block; the
    disaggregated trace stays flat at a clean step.
    """
    t0c, t0d = colocated.prompt_arrival_s, disaggregated.prompt_arrival_s
    clean = colocated.clean_step_ms
    x_end = WATCH_S * MS
    data = [
        dict(
            type="scatter",
            x=rounded((disaggregated.token_s - t0d) * MS, 1),
            y=rounded(disaggregated.gap_ms, 2),
            mode="lines+markers",
            name="disaggregated (the stream lives on the decode engine)",
            line=dict(color=ROLE["disaggregated"], dash="dash", shape="vh"),
            marker=dict(size=4, symbol="square"),
            hovertemplate="%{x:.0f} ms: gap %{y:.1f} ms<extra>disaggregated</extra>",
        ),
        dict(
            type="scatter",
            x=rounded((colocated.token_s - t0c) * MS, 1),
            y=rounded(colocated.gap_ms, 2),
            mode="lines+markers",
            name=f"colocated, {chunk_label(chunk_tokens)} (the prompt is prefilled on the stream's engine)",
            line=dict(color=ROLE["colocated"], shape="vh"),
            marker=dict(size=4),
            hovertemplate="%{x:.0f} ms: gap %{y:.1f} ms<extra>colocated</extra>",
        ),
        dict(
            type="scatter",
            x=[-200, x_end],
            y=[clean, clean],
            mode="lines+text",
            name="a clean decode step",
            line=dict(color=ROLE["neutral"], dash="dot"),
            text=["", f"clean step {clean:.1f} ms"],
            textposition="top left",
            hoverinfo="skip",
            showlegend=False,
        ),
    ]
    return make_spec(data, _interference_layout())


# --------------------------------------------------------------------------- the chunk-size trade
@lru_cache(maxsize=1)
def _chunk_trade_layout() -> dict:
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.12,
        subplot_titles=(
            "worst gap of a decode stream (ms)",
            "TTFT of the long prompt itself (ms)",
        ),
    )
    fig.update_xaxes(title_text="prefill chunk", type="category")
    fig.update_yaxes(rangemode="tozero")
    return finish(fig, 420)


def chunk_trade_spec(
    labels: Sequence[str],
    worst_gap_ms: Sequence[float],
    clean_step_ms: float,
    prompt_ttft_ms: Sequence[float],
    chunk_steps: Sequence[int],
) -> Spec:
    """Per chunk size: the worst gap a decode stream sees (left) and the long prompt's TTFT (right).

    Small chunks make small bumps but many of them, and every chunk step pays a whole
    step's fixed costs, so the prompt's own TTFT grows: no chunk size removes the tax.
    """
    labels = list(labels)
    data = [
        dict(
            type="bar",
            x=labels,
            y=list(worst_gap_ms),
            name="worst gap (a chunk-carrying step)",
            marker=dict(color=ROLE["interference"], pattern=dict(shape="/")),
            text=[f"{g:.0f} ms<br>×{k}" for g, k in zip(worst_gap_ms, chunk_steps)],
            textposition="outside",
            textfont=dict(size=10),
            xaxis="x",
            yaxis="y",
            hovertemplate="%{x}: worst gap %{y:.1f} ms<extra></extra>",
        ),
        dict(
            type="scatter",
            x=labels,
            y=[clean_step_ms] * len(labels),
            mode="lines",
            name="a clean decode step",
            line=dict(color=ROLE["neutral"], dash="dot"),
            xaxis="x",
            yaxis="y",
        ),
        dict(
            type="bar",
            x=labels,
            y=list(prompt_ttft_ms),
            name="TTFT of the long prompt",
            marker=dict(color=ROLE["prefill"]),
            text=[f"{t:.0f} ms" for t in prompt_ttft_ms],
            textposition="outside",
            textfont=dict(size=10),
            xaxis="x2",
            yaxis="y2",
            hovertemplate="%{x}: TTFT %{y:.0f} ms<extra></extra>",
        ),
    ]
    return make_spec(data, _chunk_trade_layout())


# --------------------------------------------------------------------------- p50 vs p99 in a fleet
@lru_cache(maxsize=1)
def _tail_layout() -> dict:
    fig = go.Figure()
    for q in (50, 90, 99):
        fig.add_vline(x=q, line=dict(color="#bbbbbb", width=1))
    fig.update_xaxes(
        title_text="percentile of all inter-token gaps (every token of every request)",
        range=[0, 102],
        tickvals=[0, 25, 50, 75, 90, 99],
        ticktext=["0", "25", "p50", "75", "p90", "p99"],
    )
    fig.update_yaxes(title_text="inter-token gap (ms)", rangemode="tozero")
    return finish(fig, 440)


def itl_tail_spec(arms: Sequence[tuple[str, ArmStyle, np.ndarray]]) -> Spec:
    """Inter-token gaps by percentile, one line per arm, with p50, p90 and p99 marked and labelled.

    ``arms``: (legend name, style, the gaps' percentiles at ``TAIL_QS`` in ms, from
    :func:`labs_py.chapters.interference.experiment.tail_percentiles`). A line stays flat
    at a clean step until the share of gaps that carried prefill work, then jumps: the
    median sees that jump only when more than half of all gaps carry prefill work, the p99
    when more than 1% do.
    """
    data = []
    for i, (name, st, gaps) in enumerate(arms):
        ys = np.asarray(gaps, float)
        if ys.shape != TAIL_QS.shape:
            raise ValueError(
                f"{name}: expected {TAIL_QS.size} percentiles (at TAIL_QS); got {ys.shape}"
            )
        data.append(
            dict(
                type="scatter",
                x=TAIL_QS,
                y=ys,
                mode="lines",
                name=name,
                line=dict(color=st.color, dash=st.dash, width=2.5),
                hovertemplate="p%{x}: %{y:.1f} ms<extra>" + st.short + "</extra>",
            )
        )
        marks = [float(ys[list(TAIL_QS).index(q)]) for q in (50, 90, 99)]
        data.append(
            dict(
                type="scatter",
                x=[50, 90, 99],
                y=marks,
                mode="markers+text",
                showlegend=False,
                marker=dict(color=st.color, symbol=st.symbol, size=10),
                text=[f"{m:.1f}" for m in marks],
                textposition="top left" if i % 2 == 0 else "bottom left",
                textfont=dict(color=st.color),
                hoverinfo="skip",
            )
        )
    return make_spec(data, _tail_layout())


# --------------------------------------------------------------------------- how far to trust the simulator
#: (source prefix, set prefix) -> (legend name, colour, symbol, filled)
_VALIDATION_GROUPS = (
    (
        "aiconfigurator",
        "fitted",
        "vLLM kernels (aiconfigurator): fitted",
        OKABE_ITO["grey"],
        "circle",
        False,
    ),
    (
        "aiconfigurator",
        "held out",
        "vLLM kernels (aiconfigurator): held out",
        OKABE_ITO["blue"],
        "circle",
        True,
    ),
    (
        "DistServe",
        "fitted",
        "DistServe's engine: fitted",
        OKABE_ITO["orange"],
        "square",
        False,
    ),
    (
        "DistServe",
        "held out",
        "DistServe's engine: held out",
        OKABE_ITO["orange"],
        "square",
        True,
    ),
    (
        "course",
        "fitted",
        "course measurements: fitted on",
        OKABE_ITO["vermillion"],
        "diamond",
        False,
    ),
    (
        "course",
        "check",
        "course measurements: checks",
        OKABE_ITO["vermillion"],
        "diamond",
        True,
    ),
)


@lru_cache(maxsize=1)
def _validation_layout() -> dict:
    fig = go.Figure()
    fig.update_xaxes(title_text="measured (ms)", **log_ticks())
    fig.update_yaxes(title_text="predicted (ms)", **log_ticks())
    return finish(fig, 560)


def validation_spec(checks: Sequence) -> Spec:
    """Predicted against measured, every step or latency in milliseconds, with the 1:1 line and a +-25% band.

    ``checks`` are :class:`labs_py.steptime.validation.Check` rows; rows not in ms are left out.
    """
    rows = [c for c in checks if c.unit == "ms"]
    lo = min(min(c.measured, c.predicted) for c in rows) / 1.5
    hi = max(max(c.measured, c.predicted) for c in rows) * 1.5
    data = [
        dict(
            type="scatter",
            x=[lo, hi],
            y=[lo, hi],
            mode="lines",
            name="prediction = measurement",
            line=dict(color=OKABE_ITO["black"], width=1),
            hoverinfo="skip",
        ),
        dict(
            type="scatter",
            x=[lo, hi, hi, lo],
            y=[lo * 0.75, hi * 0.75, hi * 1.25, lo * 1.25],
            fill="toself",
            mode="lines",
            line=dict(width=0),
            fillcolor="rgba(0,0,0,0.07)",
            name="within 25%",
            hoverinfo="skip",
        ),
    ]
    for src, split, name, color, symbol, filled in _VALIDATION_GROUPS:
        g = [c for c in rows if src in c.source and c.set.startswith(split)]
        if not g:
            continue
        data.append(
            dict(
                type="scatter",
                mode="markers",
                name=name,
                x=[round(c.measured, 4) for c in g],
                y=[round(c.predicted, 4) for c in g],
                text=[f"{c.label}: {c.error:+.1%}" for c in g],
                hovertemplate="%{text}<br>measured %{x:.3g} ms, predicted %{y:.3g} ms<extra></extra>",
                marker=dict(
                    color=color if filled else "white",
                    symbol=symbol,
                    size=7 if src != "course" else 10,
                    line=dict(color=color, width=1.5),
                ),
            )
        )
    return make_spec(data, _validation_layout())
