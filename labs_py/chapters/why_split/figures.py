"""Figures for the opening chapter, "Why split prefill from decode". Data in, plotly specs out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from labs_py.figures.spec import Spec, layout_of, make_spec
from labs_py.figures.style import OKABE_ITO, ROLE, log_ticks, styled


@lru_cache(maxsize=1)
def _roofline_layout() -> dict:
    fig = go.Figure()
    fig.update_xaxes(
        title_text="arithmetic intensity (FLOP per byte read)",
        range=[np.log10(0.5), np.log10(30000)],
        **log_ticks(),
    )
    fig.update_yaxes(
        title_text="throughput (TFLOP/s)",
        range=[np.log10(0.2), np.log10(3000)],
        **log_ticks(),
    )
    return layout_of(styled(fig, height=460))


def roofline_figure(
    *,
    intensity: np.ndarray,
    datasheet_tflops: np.ndarray,
    measured_tflops: np.ndarray,
    ridge: float,
    points: Sequence[Mapping],
) -> Spec:
    """The two roofs, the ridge, and the steps placed on them.

    ``points``: dicts with ``label``, ``intensity``, ``tflops`` and ``text`` (hover/label).
    """
    symbols = {"prefill": "diamond", "decode": "circle"}
    colours = {"prefill": ROLE["prefill"], "decode": ROLE["decode"]}
    data = [
        dict(
            type="scatter",
            x=intensity,
            y=datasheet_tflops,
            mode="lines",
            name="roof (datasheet)",
            line=dict(color=OKABE_ITO["black"], width=2.5),
        ),
        dict(
            type="scatter",
            x=intensity,
            y=measured_tflops,
            mode="lines",
            name="roof (measured efficiencies)",
            line=dict(color=OKABE_ITO["grey"], width=2, dash="dash"),
        ),
        dict(
            type="scatter",
            x=[ridge, ridge],
            y=[0.2, 3000],
            mode="lines",
            name=f"ridge: {ridge:.0f} FLOP/byte",
            line=dict(color=OKABE_ITO["purple"], dash="dot", width=1.5),
        ),
    ]
    for p in points:
        data.append(
            dict(
                type="scatter",
                x=[p["intensity"]],
                y=[p["tflops"]],
                mode="markers+text",
                name=p["label"],
                text=[p["text"]],
                textposition="bottom center",
                cliponaxis=False,
                marker=dict(
                    size=14,
                    symbol=symbols.get(p["label"], "square"),
                    color=colours.get(p["label"], OKABE_ITO["orange"]),
                    line=dict(color="white", width=1),
                ),
            )
        )
    return make_spec(data, _roofline_layout())


# --------------------------------------------------------------------------- continuous batching
ACTIVITY = {  # code -> (label, colour), shared by the legend and the heatmap
    0: ("not arrived", "#ffffff"),
    4: ("waiting", "#dddddd"),
    1: ("prefill (chunk)", ROLE["prefill"]),
    2: ("decode", ROLE["decode"]),
    3: ("finished", "#f3f3f3"),
}


@lru_cache(maxsize=1)
def _batching_layout() -> dict:
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.06,
        row_heights=[0.38, 0.62],
    )
    fig.update_yaxes(title_text="step time (ms)", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="request", autorange="reversed", row=2, col=1)
    fig.update_xaxes(title_text="engine step", row=2, col=1)
    fig.update_layout(bargap=0.15)
    return layout_of(styled(fig, height=520))


def batching_figure(
    *,
    step_ms: Sequence[float],
    carries_prefill: Sequence[bool],
    names: Sequence[str],
    grid: Sequence[Sequence[int]],
    cursor: int,
) -> Spec:
    """Top: each step's duration (steps that carry prefill in blue, hatched). Bottom: what each
    request did in each step. A frame marks the step under the cursor."""
    steps = list(range(len(step_ms)))
    ms = list(step_ms)
    with_prefill = [m if c else None for m, c in zip(ms, carries_prefill)]
    without = [None if c else m for m, c in zip(ms, carries_prefill)]
    codes = sorted(ACTIVITY)
    scale = []
    for i, code in enumerate(codes):
        scale += [
            [i / len(codes), ACTIVITY[code][1]],
            [(i + 1) / len(codes), ACTIVITY[code][1]],
        ]
    z = [[codes.index(c) + 0.5 for c in row] for row in grid]
    labels = [[ACTIVITY[c][0] for c in row] for row in grid]
    top = max(ms) * 1.08
    data = [
        dict(
            type="bar",
            x=steps,
            y=without,
            name="decode-only step",
            marker=dict(color=ROLE["decode"]),
            xaxis="x",
            yaxis="y",
            showlegend=True,
        ),
        dict(
            type="bar",
            x=steps,
            y=with_prefill,
            name="step carrying prefill",
            xaxis="x",
            yaxis="y",
            marker=dict(color=ROLE["prefill"], pattern=dict(shape="/")),
        ),
        dict(
            type="heatmap",
            x=steps,
            y=list(range(len(names))),
            z=z,
            zmin=0,
            zmax=len(codes),
            colorscale=scale,
            showscale=False,
            customdata=[
                [f"{name}: {lab}" for lab in row] for name, row in zip(names, labels)
            ],
            hovertemplate="step %{x}, %{customdata}<extra></extra>",
            xgap=1,
            ygap=2,
            xaxis="x2",
            yaxis="y2",
        ),
        dict(
            type="scatter",
            x=[cursor - 0.5, cursor + 0.5, cursor + 0.5, cursor - 0.5, cursor - 0.5],
            y=[0, 0, top, top, 0],
            mode="lines",
            name="this step",
            line=dict(color=OKABE_ITO["black"], width=2),
            xaxis="x",
            yaxis="y",
            hoverinfo="skip",
        ),
        dict(
            type="scatter",
            x=[cursor - 0.5, cursor + 0.5, cursor + 0.5, cursor - 0.5, cursor - 0.5],
            y=[-0.5, -0.5, len(names) - 0.5, len(names) - 0.5, -0.5],
            mode="lines",
            showlegend=False,
            line=dict(color=OKABE_ITO["black"], width=2),
            xaxis="x2",
            yaxis="y2",
            hoverinfo="skip",
        ),
    ]
    data += [
        dict(
            type="scatter",
            x=[None],
            y=[None],
            mode="markers",
            name=ACTIVITY[c][0],
            xaxis="x2",
            yaxis="y2",
            marker=dict(
                size=11,
                symbol="square",
                color=ACTIVITY[c][1],
                line=dict(color="#999", width=1),
            ),
        )
        for c in (1, 2, 4)
    ]
    spec = make_spec(data, _batching_layout())
    spec["layout"]["yaxis2"].update(
        tickvals=list(range(len(names))), ticktext=list(names)
    )
    return spec


# --------------------------------------------------------------------------- interference and tails
def itl_traces_figure(traces: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> Spec:
    """One decode stream's inter-token gaps over time, one line per way of serving it."""
    fig = go.Figure()
    fig.update_xaxes(title_text="time since the long prompt arrived (ms)")
    fig.update_yaxes(title_text="gap before each token (ms)", rangemode="tozero")
    styles = [
        ("solid", OKABE_ITO["vermillion"]),
        ("dash", OKABE_ITO["orange"]),
        ("dot", OKABE_ITO["blue"]),
    ]
    data = [
        dict(
            type="scatter",
            x=t,
            y=g,
            mode="lines+markers",
            name=name,
            marker=dict(size=4),
            line=dict(
                shape="hv", dash=styles[i % 3][0], color=styles[i % 3][1], width=2
            ),
        )
        for i, (name, (t, g)) in enumerate(traces.items())
    ]
    return make_spec(data, layout_of(styled(fig, height=420)))


def tail_figure(itl_ms_by_arm: Mapping[str, np.ndarray], slo_ms: float) -> Spec:
    """Complementary CDF of inter-token gaps (log y): the tail is where the arms differ."""
    fig = go.Figure()
    fig.add_vline(
        x=slo_ms,
        line=dict(color=ROLE["budget"], dash="dot"),
        annotation_text=f"SLO {slo_ms:g} ms",
        annotation_position="top right",
    )
    fig.update_xaxes(title_text="inter-token gap (ms)", rangemode="tozero")
    fig.update_yaxes(title_text="fraction of gaps longer than x", **log_ticks())
    data = []
    for i, (name, itl) in enumerate(itl_ms_by_arm.items()):
        x = np.sort(np.asarray(itl))
        keep = np.unique(
            np.concatenate([np.linspace(0, x.size - 1, 400).astype(int), [x.size - 1]])
        )
        surv = 1.0 - (keep + 1) / (x.size + 1)
        data.append(
            dict(
                type="scatter",
                x=x[keep],
                y=surv,
                mode="lines",
                name=name,
                line=dict(
                    width=2.5,
                    dash=["solid", "dash"][i % 2],
                    color=[ROLE["colocated"], ROLE["disaggregated"]][i % 2],
                ),
            )
        )
    return make_spec(data, layout_of(styled(fig, height=420)))
