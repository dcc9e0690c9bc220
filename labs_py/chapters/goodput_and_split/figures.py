"""Figures for the chapter "Goodput and the P:D split". Attainment curves in, plotly specs out."""

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

__all__ = ["attainment_spec"]


@lru_cache(maxsize=1)
def _attainment_layout() -> dict:
    return attainment_and_bars_layout(
        0.62, "goodput (filled), throughput (hollow)", "requests per second"
    )


def attainment_spec(
    curves: Sequence[Curve], styles: Sequence[ArmStyle], slo: SLO
) -> Spec:
    """Left: SLO attainment vs rate, one line per fleet. Right: each fleet's goodput and throughput.

    The dashed line is the target (90% of requests meet both SLOs): a fleet's goodput is
    where its curve leaves it. Dotted stretches are above the fleet's capacity. Throughput
    (hollow bars) ignores the SLOs: what the fleet finishes with every request queued at
    once. The two rankings can disagree.
    """
    data = []
    for c, st in zip(curves, styles):
        data += curve_traces(c, st, c.label)
    data += target_traces(curves, slo)
    names = [st.short for st in styles]
    data.append(
        dict(
            type="bar",
            x=names,
            y=[c.goodput_rps for c in curves],
            name="goodput (SLOs met by 90%)",
            marker=dict(
                color=[st.color for st in styles],
                line=dict(color=[st.color for st in styles], width=2),
            ),
            text=[f"{c.goodput_rps:.3g}" for c in curves],
            textposition="outside",
            textfont=dict(size=10),
            showlegend=False,
            xaxis="x2",
            yaxis="y2",
            hovertemplate="%{x}: goodput %{y:.1f} req/s<extra></extra>",
        )
    )
    data.append(
        dict(
            type="bar",
            x=names,
            y=[c.throughput_rps for c in curves],
            name="throughput (no SLO)",
            marker=dict(
                color="rgba(255,255,255,0)",
                line=dict(color=[st.color for st in styles], width=2),
                pattern=dict(shape=".", fgcolor="#999999", size=6),
            ),
            text=[f"{c.throughput_rps:.3g}" for c in curves],
            textposition="outside",
            textfont=dict(size=10),
            showlegend=False,
            xaxis="x2",
            yaxis="y2",
            hovertemplate="%{x}: throughput %{y:.1f} req/s<extra></extra>",
        )
    )
    return make_spec(data, _attainment_layout())
