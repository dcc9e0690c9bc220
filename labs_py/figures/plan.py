"""The planner's Pareto plot: every screened layout, goodput per GPU against TTFT, the finalists marked."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from labs_py.figures.spec import Spec, layout_of, make_spec
from labs_py.figures.style import OKABE_ITO, ROLE, styled

__all__ = ["pareto_figure"]


def pareto_figure(
    points: dict[str, tuple[Sequence[float], Sequence[float], Sequence[str]]],
    finalists: Sequence[tuple[str, float, float]],
    best_label: str,
) -> Spec:
    """``points[kind] = (tokens/s/GPU, TTFT p90 ms, labels)`` of the screened layouts; ``finalists`` simulated.

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    fig = go.Figure()
    fig.update_xaxes(
        title_text="TTFT p90 at the layout's goodput (ms)", rangemode="tozero"
    )
    fig.update_yaxes(
        title_text="output tokens/s per GPU under the SLOs", rangemode="tozero"
    )
    colours = {"colocated": ROLE["colocated"], "disaggregated": ROLE["disaggregated"]}
    data = []
    for kind, (tok, ttft, labels) in points.items():
        data.append(
            dict(
                type="scattergl" if len(tok) > 2000 else "scatter",
                mode="markers",
                name=f"{kind} (screened)",
                x=[round(v, 2) for v in ttft],
                y=[round(v, 2) for v in tok],
                text=list(labels),
                hovertemplate="%{text}<br>%{y:.0f} tok/s/GPU, TTFT %{x:.0f} ms<extra></extra>",
                marker=dict(
                    color=colours.get(kind, OKABE_ITO["grey"]), size=4, opacity=0.35
                ),
            )
        )
    data.append(
        dict(
            type="scatter",
            mode="markers",
            name="simulated finalists",
            x=[round(f[2], 2) for f in finalists],
            y=[round(f[1], 2) for f in finalists],
            text=[f[0] for f in finalists],
            hovertemplate="%{text}<extra>simulated</extra>",
            marker=dict(
                color=OKABE_ITO["black"],
                size=10,
                symbol="diamond-open",
                line=dict(width=2),
            ),
        )
    )
    styled(fig, height=480, legend_below=True, title=f"best: {best_label}")
    return make_spec(data, layout_of(fig))
