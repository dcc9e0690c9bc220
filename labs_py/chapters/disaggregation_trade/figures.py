"""Figures for the chapter "The disaggregation trade". Data in, plotly specs out.

Each builder returns a spec (see :mod:`labs_py.figures.spec`) whose layout is built
once and stays the same whatever the control values; what changes lives in the
traces. That keeps slider moves fast and the static pages small.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from labs_py.figures.spec import Spec, layout_of, make_spec
from labs_py.figures.style import OKABE_ITO, ROLE, labelled_hline, log_ticks, styled

MS = 1e3
#: Colours of the three verdicts, in the order the decision map codes them.
VERDICT_COLOURS = {
    "split pays": OKABE_ITO["blue"],
    "link too slow": OKABE_ITO["vermillion"],
    "no interference to cure": OKABE_ITO["grey"],
}


# --------------------------------------------------------------------------- both ledgers
@lru_cache(maxsize=1)
def _ledgers_layout() -> dict:
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.14,
        subplot_titles=(
            "Colocated: interference tax, per token",
            "Disaggregated: transfer toll, per request",
        ),
    )
    fig.update_layout(barmode="stack", uniformtext=dict(minsize=10, mode="show"))
    fig.update_yaxes(
        title_text="inter-token latency (ms)", rangemode="tozero", row=1, col=1
    )
    fig.update_yaxes(
        title_text="time to first token (ms)", rangemode="tozero", row=1, col=2
    )
    return layout_of(styled(fig, height=450, legend_below=True))


def ledgers_figure(
    *,
    decode_step_s: float,
    itl_worst_s: float,
    prefill_s: float,
    transfer_s: float,
    client_overhead_s: float = 0.0,
) -> Spec:
    """Both ledgers side by side.

    Left, colocated: a clean decode step next to a step that carries a prefill
    chunk (the interference tax, paid by every step that carries one). Right,
    disaggregated: TTFT without and with the KV transfer (the toll, paid once
    per request), each on top of the client overhead a client's TTFT also pays.
    """
    step_ms, tax_ms = decode_step_s * MS, (itl_worst_s - decode_step_s) * MS
    pre_ms, xfer_ms, client_ms = prefill_s * MS, transfer_s * MS, client_overhead_s * MS
    steps, arms = (
        ["clean step", "step + chunk"],
        ["colocated TTFT", "disaggregated TTFT"],
    )
    data = [
        dict(
            type="bar",
            name="decode step",
            x=steps,
            y=[step_ms, step_ms],
            marker=dict(color=ROLE["decode"]),
            legendgroup="a",
            xaxis="x",
            yaxis="y",
        ),
        dict(
            type="bar",
            name="prefill chunk (tax)",
            x=steps,
            y=[0.0, tax_ms],
            legendgroup="a",
            xaxis="x",
            yaxis="y",
            marker=dict(color=ROLE["interference"], pattern=dict(shape="/")),
            text=["", f"+{tax_ms:.3g} ms"],
            textposition="outside",
        ),
        dict(
            type="bar",
            name="client overhead (HTTP, tokenisation)",
            x=arms,
            y=[client_ms, client_ms],
            marker=dict(color=OKABE_ITO["grey"]),
            legendgroup="b",
            xaxis="x2",
            yaxis="y2",
            visible=True if client_ms > 0 else "legendonly",
        ),
        dict(
            type="bar",
            name="prefill",
            x=arms,
            y=[pre_ms, pre_ms],
            marker=dict(color=ROLE["prefill"]),
            legendgroup="b",
            xaxis="x2",
            yaxis="y2",
        ),
        dict(
            type="bar",
            name="KV transfer (toll)",
            x=arms,
            y=[0.0, xfer_ms],
            legendgroup="b",
            xaxis="x2",
            yaxis="y2",
            marker=dict(color=ROLE["transfer"], pattern=dict(shape="x")),
            text=["", f"+{xfer_ms:.3g} ms"],
            textposition="outside",
        ),
    ]
    return make_spec(data, _ledgers_layout())


# --------------------------------------------------------------------------- decision map
@lru_cache(maxsize=8)
def _map_layout(catalog_links: tuple[tuple[str, float], ...]) -> dict:
    fig = go.Figure()
    for label, gbps in catalog_links:
        fig.add_vline(x=gbps, line=dict(color="#333", dash="dot", width=1))
        fig.add_annotation(
            x=float(np.log10(gbps)),
            y=1.0,
            yref="paper",
            text=label,
            showarrow=False,
            textangle=-90,
            xanchor="right",
            yanchor="top",
            font=dict(size=10),
        )
    fig.update_xaxes(title_text="link speed, one direction (Gb/s)", **log_ticks())
    fig.update_yaxes(title_text="prompt length (tokens)", **log_ticks())
    return layout_of(styled(fig, height=460))


def decision_map_figure(
    links_gbps: Sequence[float],
    prompt_tokens: Sequence[int],
    reasons: np.ndarray,
    *,
    catalog_links: Mapping[str, float] | None = None,
) -> Spec:
    """Link speed x prompt length, each cell coloured by the verdict.

    ``reasons`` is a (len(prompt_tokens), len(links_gbps)) array of verdict reasons.
    Meaning is carried by the legend's words and the hover text, not by colour alone.
    """
    names = list(VERDICT_COLOURS)
    codes = np.vectorize(names.index)(np.asarray(reasons))
    n = len(names)
    scale = []
    for i, name in enumerate(names):  # a stepped colourscale: one flat band per verdict
        scale += [[i / n, VERDICT_COLOURS[name]], [(i + 1) / n, VERDICT_COLOURS[name]]]
    data = [
        dict(
            type="heatmap",
            x=list(links_gbps),
            y=list(prompt_tokens),
            z=(codes + 0.5).tolist(),
            zmin=0,
            zmax=n,
            colorscale=scale,
            showscale=False,
            customdata=np.asarray(reasons).tolist(),
            hovertemplate="%{x:.3g} Gb/s, %{y} tokens: %{customdata}<extra></extra>",
        )
    ]
    data += [
        dict(
            type="scatter",
            x=[None],
            y=[None],
            mode="markers",
            name=name,
            marker=dict(size=12, symbol="square", color=VERDICT_COLOURS[name]),
        )
        for name in names
    ]
    return make_spec(data, _map_layout(tuple((catalog_links or {}).items())))


# --------------------------------------------------------------------------- the sweep
@lru_cache(maxsize=1)
def _sweep_layout() -> dict:
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.08,
        row_heights=[0.62, 0.38],
    )
    fig.update_xaxes(title_text="prompt length (tokens)", row=2, col=1, **log_ticks())
    fig.update_xaxes(row=1, col=1, **log_ticks())
    fig.update_yaxes(title_text="time (ms)", row=1, col=1, **log_ticks())
    fig.update_yaxes(title_text="ratio (%)", rangemode="tozero", row=2, col=1)
    return layout_of(styled(fig, height=560))


def sweep_figure(sweep: Mapping[str, np.ndarray]) -> Spec:
    """Both ledgers from 128 to 32k tokens (top: prefill, the toll, the tax) and their ratios (bottom)."""
    n = sweep["prompt_tokens"]
    data = [
        dict(
            type="scatter",
            x=n,
            y=sweep["prefill_s"] * MS,
            name="prefill (colocated TTFT)",
            mode="lines+markers",
            line=dict(color=ROLE["prefill"]),
            xaxis="x",
            yaxis="y",
        ),
        dict(
            type="scatter",
            x=n,
            y=sweep["transfer_s"] * MS,
            name="KV transfer (the toll)",
            mode="lines+markers",
            line=dict(color=ROLE["transfer"], dash="dash"),
            marker=dict(symbol="x"),
            xaxis="x",
            yaxis="y",
        ),
        dict(
            type="scatter",
            x=n,
            y=sweep["tax_s"] * MS,
            name="interference tax (one co-running stream)",
            mode="lines+markers",
            line=dict(color=ROLE["interference"], dash="dot"),
            marker=dict(symbol="triangle-up"),
            xaxis="x",
            yaxis="y",
        ),
        dict(
            type="scatter",
            x=n,
            y=sweep["transfer_s"] / sweep["tax_s"] * 100,
            name="toll / tax",
            mode="lines+markers",
            line=dict(color=ROLE["interference"], dash="dot"),
            marker=dict(symbol="triangle-up"),
            xaxis="x2",
            yaxis="y2",
        ),
        dict(
            type="scatter",
            x=n,
            y=sweep["ttft_penalty"] * 100,
            name="toll / prefill",
            mode="lines+markers",
            line=dict(color=OKABE_ITO["black"]),
            marker=dict(symbol="diamond"),
            xaxis="x2",
            yaxis="y2",
        ),
    ]
    return make_spec(data, _sweep_layout())


# --------------------------------------------------------------------------- overlap and queueing
def overlap_figure(
    overlap: np.ndarray, exposed_s_by_link: Mapping[str, np.ndarray], budget_s: float
) -> Spec:
    """Exposed transfer toll vs the fraction of prefill the link overlaps, one line per link."""
    fig = go.Figure()
    fig.add_hline(
        y=budget_s * MS,
        line=dict(color=ROLE["budget"], dash="dot"),
        annotation_text="TTFT budget",
        annotation_position="top right",
    )
    fig.update_xaxes(
        title_text="overlap: fraction of prefill time the link is already sending",
        range=[0, 1],
    )
    fig.update_yaxes(title_text="exposed toll added to TTFT (ms)", rangemode="tozero")
    dashes = ["solid", "dash", "dot", "dashdot"]
    data = [
        dict(
            type="scatter",
            x=overlap,
            y=exposed * MS,
            name=label,
            mode="lines",
            line=dict(dash=dashes[i % len(dashes)], width=2.5),
        )
        for i, (label, exposed) in enumerate(exposed_s_by_link.items())
    ]
    return make_spec(data, layout_of(styled(fig)))


def queue_figure(
    utilisation: np.ndarray, ttft_s_by_model: Mapping[str, np.ndarray], floor_s: float
) -> Spec:
    """Mean TTFT of a disaggregated request as the prefill fleet gets busier (log scale)."""
    fig = go.Figure()
    labelled_hline(
        fig,
        floor_s * MS,
        "prefill + transfer (no queue)",
        log_y=True,
        position="left",
        color=ROLE["neutral"],
        dash="dot",
    )
    fig.update_xaxes(title_text="prefill fleet utilisation (%)", range=[0, 100])
    fig.update_yaxes(title_text="mean TTFT (ms)", **log_ticks())
    data = [
        dict(
            type="scatter",
            x=utilisation * 100,
            y=ttft * MS,
            name=label,
            mode="lines",
            line=dict(dash=dash, width=2.5),
        )
        for (label, ttft), dash in zip(
            ttft_s_by_model.items(), ["solid", "dash", "dot"]
        )
    ]
    return make_spec(data, layout_of(styled(fig)))


# --------------------------------------------------------------------------- per class and compression
@lru_cache(maxsize=1)
def _per_class_layout() -> dict:
    fig = go.Figure()
    fig.update_yaxes(title_text="TTFT penalty (% of prefill, log scale)", **log_ticks())
    return layout_of(styled(fig))


def per_class_figure(
    names: Sequence[str],
    penalties: Sequence[float],
    budgets: Sequence[float],
    reasons: Sequence[str],
) -> Spec:
    """Each request class's TTFT penalty against its own budget, coloured and labelled by verdict."""
    data = [
        dict(
            type="bar",
            x=list(names),
            y=[p * 100 for p in penalties],
            name="TTFT penalty",
            marker=dict(color=[VERDICT_COLOURS[r] for r in reasons]),
            text=list(reasons),
            textposition="outside",
        ),
        dict(
            type="scatter",
            x=list(names),
            y=[b * 100 for b in budgets],
            name="class budget",
            mode="markers",
            marker=dict(
                symbol="line-ew-open",
                size=40,
                color=ROLE["budget"],
                line=dict(width=3, color=ROLE["budget"]),
            ),
        ),
    ]
    return make_spec(data, _per_class_layout())


# --------------------------------------------------------------------------- measured on a real link
@lru_cache(maxsize=1)
def _measured_layout() -> dict:
    fig = go.Figure()
    fig.update_xaxes(title_text="KV link (Gb/s)", **log_ticks())
    fig.update_yaxes(
        title_text="TTFT penalty: wire / prefill", tickformat=".0%", type="log"
    )
    return layout_of(styled(fig, height=460, legend_below=True))


def measured_penalty_figure(curves: dict[str, dict], budget: float) -> Spec:
    """The economics' penalty curve for the measured model, one per prompt length, with the measured points on it.

    ``curves`` maps a legend name to :func:`labs_py.captures.link.penalty_curve`'s output.
    """
    colours = [OKABE_ITO["blue"], OKABE_ITO["vermillion"], OKABE_ITO["green"]]
    data = []
    for i, (name, cv) in enumerate(curves.items()):
        colour = colours[i % len(colours)]
        data.append(
            dict(
                type="scatter",
                mode="lines",
                x=cv["link_gbps"],
                y=[round(v, 5) for v in cv["predicted"]],
                name=f"{name}: priced",
                line=dict(color=colour, width=2),
            )
        )
        data.append(
            dict(
                type="scatter",
                mode="markers",
                x=cv["measured_gbps"],
                y=[round(v, 5) for v in cv["measured"]],
                name=f"{name}: measured",
                marker=dict(
                    color=colour,
                    size=10,
                    symbol="diamond",
                    line=dict(color="white", width=1),
                ),
            )
        )
    xs = [x for cv in curves.values() for x in cv["link_gbps"]]
    data.append(
        dict(
            type="scatter",
            mode="lines",
            x=[min(xs), max(xs)],
            y=[budget, budget],
            name=f"budget: {budget:.0%} of prefill",
            line=dict(color=ROLE["budget"], dash="dash"),
        )
    )
    return make_spec(data, _measured_layout())


# --------------------------------------------------------------------------- the transfer by fabric; a pooled fleet
def transfer_profile_figure(
    tokens: Sequence[int], ms_by_link: Mapping[str, Sequence[float]]
) -> Spec:
    """The KV transfer time against prompt length, one line per fabric (log-log)."""
    fig = go.Figure()
    fig.update_xaxes(title_text="prompt length (tokens)", **log_ticks())
    fig.update_yaxes(title_text="KV transfer (ms)", **log_ticks())
    colours = [
        OKABE_ITO[c] for c in ("green", "blue", "purple", "orange", "vermillion")
    ]
    data = [
        dict(
            type="scatter",
            mode="lines+markers",
            name=name,
            x=list(tokens),
            y=[round(v, 4) for v in ms],
            line=dict(color=colours[i % len(colours)]),
            hovertemplate="%{x:,} tokens: %{y:.3g} ms<extra>" + name + "</extra>",
        )
        for i, (name, ms) in enumerate(ms_by_link.items())
    ]
    styled(fig, height=420, legend_below=True)
    return make_spec(data, layout_of(fig))


def pooling_figure(
    rates: Sequence[float], pooled_ms: Sequence[float], private_ms: Sequence[float]
) -> Spec:
    """TTFT p90 against total rate: two prefill engines pooled, and the same two as private pairs."""
    fig = go.Figure()
    fig.update_xaxes(title_text="total request rate (per second)", rangemode="tozero")
    fig.update_yaxes(title_text="TTFT p90 (ms)", rangemode="tozero")
    data = [
        dict(
            type="scatter",
            mode="lines+markers",
            name="pooled: 2P2D, any P serves any D",
            x=list(rates),
            y=[round(v, 2) for v in pooled_ms],
            line=dict(color=ROLE["disaggregated"], width=3),
        ),
        dict(
            type="scatter",
            mode="lines+markers",
            name="private: two 1P1D pairs, half the traffic each",
            x=list(rates),
            y=[round(v, 2) for v in private_ms],
            line=dict(color=ROLE["queue"], dash="dash"),
        ),
    ]
    styled(fig, height=400, legend_below=True)
    return make_spec(data, layout_of(fig))
