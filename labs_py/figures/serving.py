"""Drawing pieces shared by the serving chapters (interference, goodput and the split, two GPUs).

Pure drawing: data in (simulator results), plotly traces and layouts out. Colours
follow the book's roles (:mod:`labs_py.figures.style`): colocated arms orange (the
stalling one vermillion), disaggregated arms blue, TP=2 purple; every arm also has
its own dash and marker, so nothing rests on colour alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from labs_py.figures.spec import layout_of
from labs_py.figures.style import OKABE_ITO, ROLE, styled
from labs_py.sim.curves import Curve
from labs_py.sim.fleets import Colocated, Fleet
from labs_py.sim.goodput import SLO

__all__ = [
    "MS",
    "ArmStyle",
    "arm_style",
    "arm_styles",
    "slo_text",
    "chunk_label",
    "finish",
    "rounded",
    "attainment_and_bars_layout",
    "curve_traces",
    "target_traces",
]

MS = 1e3


@dataclass(frozen=True)
class ArmStyle:
    """How one arm is drawn: colour, line dash, marker, and a short name for bars.

    Taught in: interference, goodput_and_split, two_gpus.
    """

    color: str
    dash: str
    symbol: str
    short: str


_SPLIT_LOOKS = [
    (OKABE_ITO["blue"], "dash", "square"),
    (OKABE_ITO["sky"], "longdash", "triangle-up"),
    (OKABE_ITO["black"], "dashdot", "star"),
    (OKABE_ITO["purple"], "longdashdot", "diamond-wide"),
]


def arm_style(fleet: Fleet, index: int = 0) -> ArmStyle:
    """The book's look for a fleet; ``index`` tells apart the splits of one figure.

    Taught in: interference, two_gpus.
    """
    if isinstance(fleet, Colocated):
        if fleet.tp > 1 and fleet.replicas == 1:
            return ArmStyle(OKABE_ITO["purple"], "dashdot", "diamond", f"TP={fleet.tp}")
        if fleet.chunk_tokens is None:
            return ArmStyle(
                OKABE_ITO["vermillion"], "dot", "x", f"{fleet.replicas}× no chunking"
            )
        return ArmStyle(
            ROLE["colocated"], "solid", "circle", f"{fleet.replicas}× colocated"
        )
    color, dash, symbol = _SPLIT_LOOKS[index % len(_SPLIT_LOOKS)]
    tps = (
        ""
        if fleet.prefill_tp == fleet.decode_tp == 1
        else f" (TP {fleet.prefill_tp}/{fleet.decode_tp})"
    )
    return ArmStyle(color, dash, symbol, f"{fleet.prefill}P{fleet.decode}D{tps}")


def arm_styles(fleets: Sequence[Fleet]) -> list[ArmStyle]:
    """The look of each fleet of one figure: splits are told apart by their order among the splits.

    Taught in: goodput_and_split.
    """
    splits = [f for f in fleets if not isinstance(f, Colocated)]
    return [arm_style(f, splits.index(f) if f in splits else 0) for f in fleets]


def slo_text(slo: SLO) -> str:
    """The SLO in words: ``"TTFT ≤ 400 ms, mean TPOT ≤ 15 ms"``.

    Taught in: no chapter calls it directly; it works behind goodput_and_split, two_gpus.
    """
    metric = "mean TPOT" if slo.decode_metric == "tpot" else "every gap"
    return f"TTFT ≤ {slo.ttft_s * MS:g} ms, {metric} ≤ {slo.decode_s * MS:g} ms"


def chunk_label(chunk_tokens: int | None) -> str:
    """``"512-token chunks"`` or ``"no chunking"``.

    Taught in: interference.
    """
    return f"{chunk_tokens:,}-token chunks" if chunk_tokens else "no chunking"


def finish(fig: go.Figure, height: int) -> dict:
    """The book's style, with the legend under the x-axis title (not on it), as a cached layout dict.

    Taught in: interference.
    """
    styled(fig, height=height, legend_below=True)
    fig.update_layout(legend=dict(y=-0.2, yanchor="top"), margin=dict(b=105, t=50))
    return layout_of(fig)


def rounded(values: np.ndarray, decimals: int) -> list[float]:
    """Round for the page: a 0.1 ms time axis and 0.01 ms gaps are finer than any figure shows.

    Taught in: interference.
    """
    return np.round(np.asarray(values, float), decimals).tolist()


def attainment_and_bars_layout(
    left_width: float, bars_title: str, bars_axis: str
) -> dict:
    """SLO attainment against rate on the left, grouped bars (one group per fleet) on the right.

    Taught in: goodput_and_split, two_gpus.
    """
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[left_width, 1 - left_width],
        horizontal_spacing=0.1,
        subplot_titles=("SLO attainment vs request rate", bars_title),
    )
    fig.update_layout(barmode="group", bargap=0.25)
    fig.update_xaxes(
        title_text="requests per second (Poisson)", rangemode="tozero", row=1, col=1
    )
    fig.update_yaxes(
        title_text="requests meeting both SLOs (%)", range=[0, 104], row=1, col=1
    )
    fig.update_yaxes(title_text=bars_axis, rangemode="tozero", row=1, col=2)
    return finish(fig, 490)


def curve_traces(
    c: Curve, st: ArmStyle, name: str, axes: tuple[str, str] = ("x", "y")
) -> list[dict]:
    """An attainment curve: solid up to the fleet's capacity, dotted beyond it (always two traces).

    Above capacity a finite run can still look fine (the last request arrived before
    the queue grew long); those points are drawn but not believed, and goodput is capped
    at capacity (:func:`labs_py.sim.goodput.goodput`).

    Taught in: goodput_and_split, two_gpus.
    """
    inside = c.rates_per_s <= c.throughput_rps
    k = max(0, int(inside.sum()) - 1)
    x, y = c.rates_per_s, c.attainment * 100
    xa, ya = axes
    return [
        dict(
            type="scatter",
            x=x[inside],
            y=y[inside],
            mode="lines+markers",
            name=name,
            legendgroup=name,
            line=dict(color=st.color, dash=st.dash, width=2.5),
            marker=dict(symbol=st.symbol, size=7),
            xaxis=xa,
            yaxis=ya,
            hovertemplate="%{x:.1f} req/s: %{y:.0f}%<extra>" + st.short + "</extra>",
        ),
        dict(
            type="scatter",
            x=x[k:] if (~inside).any() else [],
            y=y[k:] if (~inside).any() else [],
            mode="lines+markers",
            name=f"{name} (above capacity)",
            legendgroup=name,
            showlegend=False,
            line=dict(color=st.color, dash="dot", width=1.5),
            marker=dict(symbol=f"{st.symbol}-open", size=7),
            xaxis=xa,
            yaxis=ya,
            hovertemplate="%{x:.1f} req/s: above this fleet's capacity<extra></extra>",
        ),
    ]


def target_traces(
    curves: Sequence[Curve], slo: SLO, axes: tuple[str, str] = ("x", "y")
) -> list[dict]:
    """The 90% line, and the SLO being judged written in the plot's lower left (where no curve goes).

    Taught in: goodput_and_split, two_gpus.
    """
    x_end = float(max(c.rates_per_s[-1] for c in curves))
    return [
        dict(
            type="scatter",
            x=[0.0, x_end],
            y=[slo.target * 100] * 2,
            mode="lines+text",
            showlegend=False,
            name="target",
            line=dict(color=ROLE["budget"], dash="dash", width=1),
            text=[f"{slo.target:.0%}", ""],
            textposition="bottom right",
            textfont=dict(size=11),
            hoverinfo="skip",
            xaxis=axes[0],
            yaxis=axes[1],
        ),
        dict(
            type="scatter",
            x=[0.0],
            y=[2.0],
            mode="text",
            showlegend=False,
            name="SLO",
            text=[f"SLO: {slo_text(slo)}"],
            textposition="top right",
            textfont=dict(size=11, color="#444444"),
            hoverinfo="skip",
            xaxis=axes[0],
            yaxis=axes[1],
        ),
        dict(
            type="scatter",
            x=[None],
            y=[None],
            mode="lines",
            name="dotted: above the fleet's capacity",
            line=dict(color=ROLE["neutral"], dash="dot", width=1.5),
            hoverinfo="skip",
            xaxis=axes[0],
            yaxis=axes[1],
        ),
    ]
