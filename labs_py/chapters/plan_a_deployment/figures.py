"""Figures for the chapter "Plan a deployment": the planner's numbers in, plotly specs out."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from labs_py.figures.spec import Spec, layout_of, make_spec
from labs_py.figures.style import OKABE_ITO, ROLE, labelled_hline, log_ticks, styled

__all__ = [
    "layouts_spec",
    "link_spec",
    "crossover_spec",
    "validation_spec",
    "bench_spec",
]

KIND_COLOUR = {"colocated": ROLE["colocated"], "disaggregated": ROLE["disaggregated"]}


def layouts_spec(answer: dict, title: str) -> Spec:
    """The best layouts of each kind (``answer`` from ``experiment.screen_answer``) as bars of tokens/s per GPU."""
    fig = go.Figure()
    data = []
    for kind in ("disaggregated", "colocated"):
        rows = list(reversed(answer[kind]))
        data.append(
            dict(
                type="bar",
                orientation="h",
                name=kind,
                y=[r["label"] for r in rows],
                x=[round(r["tokens_per_s_per_gpu"], 1) for r in rows],
                marker=dict(color=KIND_COLOUR[kind]),
                text=[f"stops at: {r['limit']}" for r in rows],
                textposition="inside",
                insidetextanchor="start",
                textfont=dict(size=10, color="white"),
                customdata=[
                    [r["ttft_p90_ms"], r["tpot_ms"], r["toll_ms"]] for r in rows
                ],
                hovertemplate="%{y}<br>%{x:.0f} tok/s/GPU, TTFT p90 %{customdata[0]:.0f} ms, "
                "TPOT %{customdata[1]:.1f} ms<br>KV toll %{customdata[2]:.1f} ms<extra></extra>",
            )
        )
    fig.update_xaxes(
        title_text="output tokens/s per GPU at the layout's goodput (stage 1)",
        rangemode="tozero",
    )
    fig.update_yaxes(automargin=True, tickfont=dict(size=10))
    if answer.get("error"):
        fig.add_annotation(
            text=answer["error"],
            x=0.5,
            y=0.5,
            xref="paper",
            yref="paper",
            showarrow=False,
            font=dict(size=12),
        )
    styled(fig, height=480, title=title, legend_below=True)
    return make_spec(data, layout_of(fig))


def link_spec(
    links: Sequence[float],
    colocated: Sequence[float],
    split: Sequence[float],
    split_labels: Sequence[str],
    title: str,
) -> Spec:
    """Goodput per GPU of the best colocated layout and the best split, against the link between them."""
    fig = go.Figure()
    fig.update_xaxes(
        title_text="link between prefill and decode engines (Gb/s, one way)",
        **log_ticks(),
    )
    fig.update_yaxes(title_text="goodput per GPU (requests/s)", rangemode="tozero")
    data = [
        dict(
            type="scatter",
            mode="lines+markers",
            name="best colocated layout",
            x=list(links),
            y=[round(v, 3) for v in colocated],
            line=dict(color=ROLE["colocated"], width=3),
            hovertemplate="%{x:g} Gb/s: %{y:.2f} req/s/GPU<extra>colocated</extra>",
        ),
        dict(
            type="scatter",
            mode="lines+markers",
            name="best split",
            x=list(links),
            y=[round(v, 3) for v in split],
            text=list(split_labels),
            line=dict(color=ROLE["disaggregated"], width=3),
            hovertemplate="%{x:g} Gb/s: %{y:.2f} req/s/GPU<br>%{text}<extra>split</extra>",
        ),
    ]
    styled(fig, height=420, title=title, legend_below=True)
    return make_spec(data, layout_of(fig))


def crossover_spec(
    by_link: dict[str, tuple[Sequence[int], Sequence[float]]], title: str
) -> Spec:
    """Best split over best colocated (goodput per GPU) against prompt length, one line per link."""
    fig = go.Figure()
    fig.update_xaxes(title_text="prompt length (tokens)", **log_ticks())
    fig.update_yaxes(
        title_text="split / colocated, goodput per GPU", rangemode="tozero"
    )
    labelled_hline(fig, 1.0, "split wins above", position="left")
    colours = [OKABE_ITO["vermillion"], OKABE_ITO["blue"], OKABE_ITO["green"]]
    data = [
        dict(
            type="scatter",
            mode="lines+markers",
            name=name,
            x=list(x),
            y=[round(v, 3) for v in y],
            line=dict(color=colours[i % 3], width=3),
            hovertemplate="%{x:,} tokens: %{y:.2f}x<extra>" + name + "</extra>",
        )
        for i, (name, (x, y)) in enumerate(by_link.items())
    ]
    styled(fig, height=420, title=title, legend_below=True)
    return make_spec(data, layout_of(fig))


def validation_spec(
    terms: dict[str, tuple[Sequence[float], Sequence[float]]], title: str
) -> Spec:
    """Each term of the real pair's TTFT, predicted against measured (ms), one colour per term, y = x dotted."""
    fig = go.Figure()
    fig.update_xaxes(title_text="measured (ms)", **log_ticks())
    fig.update_yaxes(title_text="predicted by the planner's model (ms)", **log_ticks())
    colours = {
        "prefill": ROLE["prefill"],
        "wire": ROLE["transfer"],
        "decode step": ROLE["decode"],
        "overhead": ROLE["queue"],
    }
    lo = min(min(m) for m, _ in terms.values()) * 0.7
    hi = max(max(m) for m, _ in terms.values()) * 1.4
    data = [
        dict(
            type="scatter",
            mode="lines",
            name="prediction = measurement",
            x=[lo, hi],
            y=[lo, hi],
            line=dict(color="#333", dash="dot", width=1),
            hoverinfo="skip",
        )
    ]
    for name, (meas, pred) in terms.items():
        data.append(
            dict(
                type="scatter",
                mode="markers",
                name=name,
                x=[round(v, 3) for v in meas],
                y=[round(v, 3) for v in pred],
                marker=dict(color=colours.get(name), size=8),
                hovertemplate="measured %{x:.1f} ms, predicted %{y:.1f} ms<extra>"
                + name
                + "</extra>",
            )
        )
    styled(fig, height=440, title=title, legend_below=True)
    return make_spec(data, layout_of(fig))


def bench_spec(
    questions: Sequence[str],
    ours_s: Sequence[float],
    theirs_s: Sequence[float],
    ours_n: Sequence[int],
    theirs_n: Sequence[int],
    title: str,
) -> Spec:
    """Left: wall seconds per question, both tools. Right: configurations each evaluated."""
    fig = go.Figure()
    fig.update_layout(
        xaxis=dict(domain=[0, 0.46]),
        xaxis2=dict(domain=[0.56, 1], anchor="y2"),
        yaxis=dict(title_text="wall seconds"),
        yaxis2=dict(anchor="x2", title_text="configurations"),
    )
    data = []
    for name, s, n, colour in (
        ("the planner", ours_s, ours_n, ROLE["disaggregated"]),
        ("aiconfigurator", theirs_s, theirs_n, OKABE_ITO["grey"]),
    ):
        data.append(
            dict(
                type="bar",
                name=name,
                x=list(questions),
                y=[round(v, 2) for v in s],
                marker=dict(color=colour),
                legendgroup=name,
                hovertemplate="%{x}: %{y:.1f} s<extra>" + name + "</extra>",
            )
        )
        data.append(
            dict(
                type="bar",
                name=name,
                x=list(questions),
                y=list(n),
                marker=dict(color=colour),
                legendgroup=name,
                showlegend=False,
                xaxis="x2",
                yaxis="y2",
                hovertemplate="%{x}: %{y:,} configurations<extra>" + name + "</extra>",
            )
        )
    styled(fig, height=440, title=title, legend_below=True)
    fig.update_xaxes(tickangle=-30, tickfont=dict(size=10))
    return make_spec(data, layout_of(fig))
