"""The book's look: one colour-blind-safe palette and one layout for every figure.

The palette is Okabe & Ito's (2008, "Color Universal Design"), whose eight colours
stay distinct under the common colour-vision deficiencies. Meaning never rests on
colour alone: figures also differ by label, pattern or line dash.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "grey": "#999999",
}

#: What each colour means across the whole book.
ROLE = {
    "prefill": OKABE_ITO["blue"],
    "decode": OKABE_ITO["green"],
    "transfer": OKABE_ITO["vermillion"],
    "interference": OKABE_ITO["orange"],
    "queue": OKABE_ITO["purple"],
    "neutral": OKABE_ITO["grey"],
    "colocated": OKABE_ITO["orange"],
    "disaggregated": OKABE_ITO["blue"],
    "budget": OKABE_ITO["black"],
}


#: Tick values for log axes: 1, 2, 5 in every decade, labelled plainly (no "2" and "5" shorthand).
LOG_TICKS = [m * 10.0**e for e in range(-3, 7) for m in (1, 2, 5)]


def log_ticks() -> dict:
    """Axis settings for a log axis whose ticks read 1, 2, 5, 10, 20, 50, ...

    Taught in: why_split, moving_a_live_request, disaggregation_trade, interference, real_pair,
        plan_a_deployment, compression_and_pooling.
    """
    return dict(
        type="log", tickvals=LOG_TICKS, ticktext=[f"{v:,.10g}" for v in LOG_TICKS]
    )


def labelled_hline(
    fig: go.Figure,
    y: float,
    text: str,
    *,
    log_y: bool = False,
    position: str = "right",
    **line,
) -> None:
    """A horizontal reference line with a label at its right (or left) end.

    Plotly places *shapes* on a log axis by data value but *annotations* by the
    logarithm of it, so on a log axis the label's y is ``log10(y)``.

    Taught in: disaggregation_trade, plan_a_deployment, compression_and_pooling.
    """
    fig.add_hline(y=y, line=line or dict(color="#333", dash="dot", width=1))
    right = position == "right"
    fig.add_annotation(
        x=1.0 if right else 0.0,
        xref="paper",
        xanchor="left" if right else "left",
        y=float(np.log10(y)) if log_y else y,
        yref="y",
        yanchor="bottom",
        text=text,
        showarrow=False,
        font=dict(size=10),
    )


def styled(
    fig: go.Figure,
    *,
    title: str | None = None,
    height: int = 420,
    legend_below: bool = False,
) -> go.Figure:
    """Apply the book's layout: white background, readable fonts, legend on top (or below the plot).

    Taught in: why_split, moving_a_live_request, disaggregation_trade, two_gpus, real_pair,
        plan_a_deployment, compression_and_pooling.
    """
    fig.update_layout(
        template="none",  # styled explicitly below, so pages don't carry a whole template per figure
        height=height,
        paper_bgcolor="white",
        plot_bgcolor="white",
        margin=dict(l=60, r=20, t=70 if title else 40, b=55),
        font=dict(family="Helvetica, Arial, sans-serif", size=13),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0),
        colorway=list(OKABE_ITO.values())[1:],
    )
    axis = dict(
        showline=True,
        linecolor="#444",
        ticks="outside",
        gridcolor="#e6e6e6",
        zeroline=False,
        automargin=True,
    )
    fig.update_xaxes(**axis)
    fig.update_yaxes(**axis)
    if legend_below:
        fig.update_layout(
            legend=dict(orientation="h", yanchor="top", y=-0.24, xanchor="left", x=0),
            margin=dict(b=110),
        )
    if title:
        fig.update_layout(
            title=dict(text=title, x=0, xanchor="left", font=dict(size=15))
        )
    return fig
