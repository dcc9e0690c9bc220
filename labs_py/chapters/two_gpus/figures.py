"""Figures for the chapter "Two GPUs": attainment curves and ITL percentiles in, plotly specs out."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from labs_py.figures.serving import (
    ArmStyle,
    attainment_and_bars_layout,
    curve_traces,
    target_traces,
)
from labs_py.figures.spec import Spec, make_spec
from labs_py.sim.curves import Curve
from labs_py.sim.goodput import SLO

__all__ = ["two_gpu_spec"]


@lru_cache(maxsize=1)
def _two_gpu_layout() -> dict:
    return attainment_and_bars_layout(
        0.6, "ITL p50 (light), p99 (hatched)", "inter-token gap (ms)"
    )


def two_gpu_spec(
    curves: Sequence[Curve],
    styles: Sequence[ArmStyle],
    slo: SLO,
    itl_p50_ms: Sequence[float],
    itl_p99_ms: Sequence[float],
) -> Spec:
    """Left: attainment vs rate for each way to spend two GPUs. Right: their ITL p50 and p99 at one shared rate."""
    data = []
    for c, st in zip(curves, styles):
        data += curve_traces(c, st, c.label)
    data += target_traces(curves, slo)
    names = [st.short for st in styles]
    colors = [st.color for st in styles]
    data.append(
        dict(
            type="bar",
            x=names,
            y=list(itl_p50_ms),
            name="ITL p50",
            showlegend=False,
            marker=dict(color=colors, opacity=0.45),
            text=[f"{v:.1f}" for v in itl_p50_ms],
            textposition="outside",
            textfont=dict(size=10),
            xaxis="x2",
            yaxis="y2",
            hovertemplate="%{x}: ITL p50 %{y:.1f} ms<extra></extra>",
        )
    )
    data.append(
        dict(
            type="bar",
            x=names,
            y=list(itl_p99_ms),
            name="ITL p99",
            showlegend=False,
            marker=dict(color=colors, pattern=dict(shape="/", fgcolor="white")),
            text=[f"{v:.1f}" for v in itl_p99_ms],
            textposition="outside",
            textfont=dict(size=10),
            xaxis="x2",
            yaxis="y2",
            hovertemplate="%{x}: ITL p99 %{y:.1f} ms<extra></extra>",
        )
    )
    return make_spec(data, _two_gpu_layout())


def bubble_spec(microbatches, by_stages: dict[str, list[float]]) -> Spec:
    """The idle share of each pipeline stage against the microbatches per step, one line per stage count."""
    import plotly.graph_objects as go

    from labs_py.figures.spec import layout_of
    from labs_py.figures.style import OKABE_ITO, styled

    fig = go.Figure()
    fig.update_xaxes(
        title_text="microbatches per step", type="log", tickvals=list(microbatches)
    )
    fig.update_yaxes(title_text="idle share of each stage (%)", rangemode="tozero")
    colours = [OKABE_ITO["blue"], OKABE_ITO["orange"], OKABE_ITO["vermillion"]]
    data = [
        dict(
            type="scatter",
            mode="lines+markers",
            name=name,
            x=list(microbatches),
            y=[round(v * 100, 2) for v in ys],
            line=dict(color=colours[i % 3]),
            hovertemplate="%{x} microbatches: %{y:.0f}% idle<extra>"
            + name
            + "</extra>",
        )
        for i, (name, ys) in enumerate(by_stages.items())
    ]
    styled(fig, height=380, legend_below=True)
    return make_spec(data, layout_of(fig))
