"""Figures for the three serving chapters: interference, goodput and the split, two GPUs.

Two layers, as in the rest of :mod:`labs_py.viz`:

* **pure builders** (``*_spec``): data in (simulator results), a plotly spec out. Their
  layouts are built once with plotly's API and cached, and stay the same whatever the
  data, so a slider move costs about a millisecond (see :mod:`labs_py.viz.spec`). What
  changes with the controls (values, the SLO being judged) lives in the traces.
* **figures for a set of control values** (``*_figure``) and their ``*_readout`` twins:
  they run the simulations (cached by :mod:`labs_py.sim`) and call the builders. A readout
  returns the figure's key numbers as floats, for prose, exercises and tests.

The first call for a new (model, lengths, link) combination pays for the simulations
(a fraction of a second to a few seconds); after that an SLO change is a comparison over
cached arrays.

Colours follow the book's roles (:mod:`labs_py.viz.style`): colocated arms orange (the
stalling one vermillion), disaggregated arms blue, TP=2 purple; every arm also has its
own dash and marker, so nothing rests on colour alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from labs_py.sim.curves import Curve, attainment_curve, rate_grid, split_fleets
from labs_py.sim.fleets import DEFAULT_GPU, DEFAULT_MODEL, Colocated, Disaggregated, Fleet, engine_with_allreduce
from labs_py.sim.goodput import SLO, Scenario, run
from labs_py.sim.interference import InterferenceTrace, interference_trace, prefill_gap_share
from labs_py.stats import percentile
from labs_py.validate import fraction, positive_float, positive_int
from labs_py.viz.spec import Spec, layout_of, make_spec
from labs_py.viz.style import OKABE_ITO, ROLE, styled

#: Requests per simulated run in the attainment figures: a p90 over 300 requests, cheap enough to grid.
FIGURE_REQUESTS = 300
#: Requests per run in the ITL-tail figure: enough for a p99 that does not jitter.
TAIL_REQUESTS = 1000
#: The interference figure watches this long after the prompt arrives (the slowest prefill on its grid fits).
WATCH_S = 1.0
#: The rate at which the two-GPU figure compares latencies: this fraction of two colocated replicas' capacity.
SHARED_LOAD = 0.4
MS = 1e3


# =========================================================================== styles
@dataclass(frozen=True)
class ArmStyle:
    """How one arm is drawn: colour, line dash, marker, and a short name for bars."""

    color: str
    dash: str
    symbol: str
    short: str


_SPLIT_LOOKS = [(OKABE_ITO["blue"], "dash", "square"), (OKABE_ITO["sky"], "longdash", "triangle-up"),
                (OKABE_ITO["black"], "dashdot", "star"), (OKABE_ITO["purple"], "longdashdot", "diamond-wide")]


def arm_style(fleet: Fleet, index: int = 0) -> ArmStyle:
    """The book's look for a fleet; ``index`` tells apart the splits of one figure."""
    if isinstance(fleet, Colocated):
        if fleet.tp > 1 and fleet.replicas == 1:
            return ArmStyle(OKABE_ITO["purple"], "dashdot", "diamond", f"TP={fleet.tp}")
        if fleet.chunk_tokens is None:
            return ArmStyle(OKABE_ITO["vermillion"], "dot", "x", f"{fleet.replicas}× no chunking")
        return ArmStyle(ROLE["colocated"], "solid", "circle", f"{fleet.replicas}× colocated")
    color, dash, symbol = _SPLIT_LOOKS[index % len(_SPLIT_LOOKS)]
    return ArmStyle(color, dash, symbol, f"{fleet.prefill}P{fleet.decode}D")


def slo_text(slo: SLO) -> str:
    """The SLO in words: ``"TTFT ≤ 400 ms, mean TPOT ≤ 15 ms"``."""
    metric = "mean TPOT" if slo.decode_metric == "tpot" else "every gap"
    return f"TTFT ≤ {slo.ttft_s * MS:g} ms, {metric} ≤ {slo.decode_s * MS:g} ms"


def chunk_label(chunk_tokens: int | None) -> str:
    """``"512-token chunks"`` or ``"no chunking"``."""
    return f"{chunk_tokens:,}-token chunks" if chunk_tokens else "no chunking"


def _finish(fig: go.Figure, height: int) -> dict:
    """The book's style, with the legend under the x-axis title (not on it), as a cached layout dict."""
    styled(fig, height=height, legend_below=True)
    fig.update_layout(legend=dict(y=-0.2, yanchor="top"), margin=dict(b=105, t=50))
    return layout_of(fig)


def _r(values: np.ndarray, decimals: int) -> list[float]:
    """Round for the page: a 0.1 ms time axis and 0.01 ms gaps are finer than any figure shows."""
    return np.round(np.asarray(values, float), decimals).tolist()


# =========================================================================== 1. interference
@lru_cache(maxsize=1)
def _interference_layout() -> dict:
    fig = go.Figure()
    fig.add_vline(x=0, line=dict(dash="dash", color=ROLE["budget"], width=1))
    fig.add_annotation(x=0, y=1, yref="paper", text="the long prompt arrives", showarrow=False, xanchor="left",
                       yanchor="top", xshift=4, font=dict(size=11))
    fig.update_xaxes(title_text="time since the long prompt arrived (ms)", range=[-210, WATCH_S * MS + 10])
    fig.update_yaxes(title_text="inter-token gap of one stream (ms)", rangemode="tozero")
    return _finish(fig, 440)


def interference_spec(colocated: InterferenceTrace, disaggregated: InterferenceTrace, chunk_tokens: int | None) -> Spec:
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
        dict(type="scatter", x=_r((disaggregated.token_s - t0d) * MS, 1), y=_r(disaggregated.gap_ms, 2),
             mode="lines+markers",
             name="disaggregated (the stream lives on the decode engine)",
             line=dict(color=ROLE["disaggregated"], dash="dash", shape="vh"), marker=dict(size=4, symbol="square"),
             hovertemplate="%{x:.0f} ms: gap %{y:.1f} ms<extra>disaggregated</extra>"),
        dict(type="scatter", x=_r((colocated.token_s - t0c) * MS, 1), y=_r(colocated.gap_ms, 2), mode="lines+markers",
             name=f"colocated, {chunk_label(chunk_tokens)} (the prompt is prefilled on the stream's engine)",
             line=dict(color=ROLE["colocated"], shape="vh"), marker=dict(size=4),
             hovertemplate="%{x:.0f} ms: gap %{y:.1f} ms<extra>colocated</extra>"),
        dict(type="scatter", x=[-200, x_end], y=[clean, clean], mode="lines+text", name="a clean decode step",
             line=dict(color=ROLE["neutral"], dash="dot"), text=["", f"clean step {clean:.1f} ms"],
             textposition="top left", hoverinfo="skip", showlegend=False),
    ]
    return make_spec(data, _interference_layout())


@lru_cache(maxsize=512)
def _trace(chunk_tokens: int | None, prompt_tokens: int, batch: int, model: str, gpu: str,
           disaggregated: bool) -> InterferenceTrace:
    return interference_trace(batch=batch, prompt_tokens=prompt_tokens, chunk_tokens=chunk_tokens, model=model,
                              gpu=gpu, disaggregated=disaggregated, watch_s=WATCH_S)


def interference_figure(chunk_tokens: int | None = 512, prompt_tokens: int = 4096, batch: int = 16,
                        model: str = DEFAULT_MODEL, gpu: str = DEFAULT_GPU) -> Spec:
    """The interference experiment (:func:`labs_py.sim.interference.interference_trace`), drawn."""
    positive_int("prompt_tokens", prompt_tokens, "tokens")
    positive_int("batch", batch, "requests")
    return interference_spec(_trace(chunk_tokens, prompt_tokens, batch, model, gpu, False),
                             _trace(None, prompt_tokens, batch, model, gpu, True), chunk_tokens)


def interference_readout(chunk_tokens: int | None = 512, prompt_tokens: int = 4096, batch: int = 16,
                         model: str = DEFAULT_MODEL, gpu: str = DEFAULT_GPU) -> dict[str, float]:
    """Key numbers of the interference figure (milliseconds unless named otherwise).

    ``extra_ms_per_chunk_step`` is the mean excess of the chunk-carrying steps over a
    clean step and ``extra_spread`` their spread (max - min over mean: equal bumps give
    a small number). ``itl_p50_ms``/``itl_p99_ms`` are over a 256-token stream in which
    the prompt's chunks land: the p50 is a clean step, the p99 a chunk-carrying one.
    """
    tr = _trace(chunk_tokens, prompt_tokens, batch, model, gpu, False)
    extra = tr.extra_ms_per_chunk_step
    gaps = tr.gap_ms
    stream = np.concatenate([gaps, np.full(max(0, 256 - gaps.size), tr.clean_step_ms)])[: max(256, gaps.size)]
    mean_extra = float(extra.mean()) if extra.size else 0.0
    return {
        "clean_step_ms": tr.clean_step_ms,
        "worst_gap_ms": float(gaps.max()),
        "chunk_steps": int(tr.chunk_steps.sum()),
        "extra_ms_per_chunk_step": mean_extra,
        "extra_spread": float((extra.max() - extra.min()) / mean_extra) if extra.size and mean_extra > 0 else 0.0,
        "worst_over_clean": float(gaps.max() / tr.clean_step_ms),
        "prompt_ttft_ms": tr.prompt_ttft_ms,
        "itl_p50_ms": percentile(stream, 50),
        "itl_p99_ms": percentile(stream, 99),
    }


# --------------------------------------------------------------------------- the chunk-size trade
@lru_cache(maxsize=1)
def _chunk_trade_layout() -> dict:
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12,
                        subplot_titles=("worst gap of a decode stream (ms)", "TTFT of the long prompt itself (ms)"))
    fig.update_xaxes(title_text="prefill chunk", type="category")
    fig.update_yaxes(rangemode="tozero")
    return _finish(fig, 420)


def chunk_trade_spec(labels: Sequence[str], worst_gap_ms: Sequence[float], clean_step_ms: float,
                     prompt_ttft_ms: Sequence[float], chunk_steps: Sequence[int]) -> Spec:
    """Per chunk size: the worst gap a decode stream sees (left) and the long prompt's TTFT (right).

    Small chunks make small bumps but many of them, and every chunk step pays a whole
    step's fixed costs, so the prompt's own TTFT grows: no chunk size removes the tax.
    """
    labels = list(labels)
    data = [
        dict(type="bar", x=labels, y=list(worst_gap_ms), name="worst gap (a chunk-carrying step)",
             marker=dict(color=ROLE["interference"], pattern=dict(shape="/")),
             text=[f"{g:.0f} ms<br>×{k}" for g, k in zip(worst_gap_ms, chunk_steps)],
             textposition="outside", textfont=dict(size=10), xaxis="x", yaxis="y",
             hovertemplate="%{x}: worst gap %{y:.1f} ms<extra></extra>"),
        dict(type="scatter", x=labels, y=[clean_step_ms] * len(labels), mode="lines", name="a clean decode step",
             line=dict(color=ROLE["neutral"], dash="dot"), xaxis="x", yaxis="y"),
        dict(type="bar", x=labels, y=list(prompt_ttft_ms), name="TTFT of the long prompt",
             marker=dict(color=ROLE["prefill"]), text=[f"{t:.0f} ms" for t in prompt_ttft_ms],
             textposition="outside", textfont=dict(size=10), xaxis="x2", yaxis="y2",
             hovertemplate="%{x}: TTFT %{y:.0f} ms<extra></extra>"),
    ]
    return make_spec(data, _chunk_trade_layout())


#: Chunk sizes of the trade-off figure, smallest first; None (no chunking) last.
TRADE_CHUNKS: tuple[int | None, ...] = (128, 256, 512, 1024, 2048, None)


def chunk_trade_figure(prompt_tokens: int = 4096, batch: int = 16, model: str = DEFAULT_MODEL,
                       gpu: str = DEFAULT_GPU, chunks: Sequence[int | None] = TRADE_CHUNKS) -> Spec:
    """The chunk-size trade for one prompt and batch (bar labels: "worst gap × number of such steps")."""
    rs = [interference_readout(c, prompt_tokens, batch, model, gpu) for c in chunks]
    labels = [f"{c:,}" if c else "none" for c in chunks]
    return chunk_trade_spec(labels, [r["worst_gap_ms"] for r in rs], rs[0]["clean_step_ms"],
                            [r["prompt_ttft_ms"] for r in rs], [r["chunk_steps"] if c else 1 for r, c in zip(rs, chunks)])


# --------------------------------------------------------------------------- p50 vs p99 in a fleet
#: Percentiles drawn by the tail figure: every 1% up to 99, then the last half percent.
TAIL_QS = np.concatenate([np.arange(1.0, 100.0), [99.5, 99.9]])


def tail_percentiles(gaps_ms: np.ndarray) -> np.ndarray:
    """The gaps' percentiles at ``TAIL_QS``, in one pass: the book's definition (numpy's linear, as
    :func:`labs_py.stats.percentile`), vectorised over q."""
    if not np.size(gaps_ms):
        raise ValueError("percentiles of an empty sample are undefined; got 0 gaps")
    return np.percentile(np.asarray(gaps_ms, float), TAIL_QS)


@lru_cache(maxsize=1)
def _tail_layout() -> dict:
    fig = go.Figure()
    for q in (50, 90, 99):
        fig.add_vline(x=q, line=dict(color="#bbbbbb", width=1))
    fig.update_xaxes(title_text="percentile of all inter-token gaps (every token of every request)",
                     range=[0, 102], tickvals=[0, 25, 50, 75, 90, 99], ticktext=["0", "25", "p50", "75", "p90", "p99"])
    fig.update_yaxes(title_text="inter-token gap (ms)", rangemode="tozero")
    return _finish(fig, 440)


def itl_tail_spec(arms: Sequence[tuple[str, ArmStyle, np.ndarray]]) -> Spec:
    """Inter-token gaps by percentile, one line per arm, with p50, p90 and p99 marked and labelled.

    ``arms``: (legend name, style, the gaps' percentiles at ``TAIL_QS`` in ms, from :func:`tail_percentiles`). A line stays flat at a clean step until
    the share of gaps that carried prefill work, then jumps: the median sees that jump
    only when more than half of all gaps carry prefill work, the p99 when more than 1% do.
    """
    data = []
    for i, (name, st, gaps) in enumerate(arms):
        ys = np.asarray(gaps, float)
        if ys.shape != TAIL_QS.shape:
            raise ValueError(f"{name}: expected {TAIL_QS.size} percentiles (at TAIL_QS); got {ys.shape}")
        data.append(dict(type="scatter", x=TAIL_QS, y=ys, mode="lines", name=name,
                         line=dict(color=st.color, dash=st.dash, width=2.5),
                         hovertemplate="p%{x}: %{y:.1f} ms<extra>" + st.short + "</extra>"))
        marks = [float(ys[list(TAIL_QS).index(q)]) for q in (50, 90, 99)]
        data.append(dict(type="scatter", x=[50, 90, 99], y=marks, mode="markers+text", showlegend=False,
                         marker=dict(color=st.color, symbol=st.symbol, size=10), text=[f"{m:.1f}" for m in marks],
                         textposition="top left" if i % 2 == 0 else "bottom left", textfont=dict(color=st.color),
                         hoverinfo="skip"))
    return make_spec(data, _tail_layout())


def _tail_scenario(prompt_tokens: int, output_tokens: int, model: str, gpu: str) -> Scenario:
    return Scenario(model=model, gpu=gpu, prompt_tokens=positive_int("prompt_tokens", prompt_tokens, "tokens"),
                    output_tokens=positive_int("output_tokens", output_tokens, "tokens"), n_requests=TAIL_REQUESTS)


@lru_cache(maxsize=256)
def _tail_arms(rate_per_s: float, chunk_tokens: int | None, prompt_tokens: int, output_tokens: int, link_gbps: float,
               model: str, gpu: str) -> tuple[tuple[Fleet, np.ndarray, dict[str, float]], ...]:
    """Per arm: the fleet, its gaps' percentiles at TAIL_QS (ms), and its readout numbers (cached: the
    percentiles of ~10^5 gaps are worth computing once)."""
    sc = _tail_scenario(prompt_tokens, output_tokens, model, gpu)
    rate = positive_float("rate_per_s", rate_per_s, "requests per second")
    out = []
    for f in (Colocated(2, chunk_tokens=chunk_tokens), Disaggregated(1, 1, positive_float("link_gbps", link_gbps, "Gb/s"))):
        r = run(f, sc, rate, True)
        numbers = {"itl_p50_ms": r.percentile_ms("itl", 50), "itl_p90_ms": r.percentile_ms("itl", 90),
                   "itl_p99_ms": r.percentile_ms("itl", 99), "prefill_gap_share": prefill_gap_share(r)}
        out.append((f, tail_percentiles(r.itl_s * MS), numbers))
    return tuple(out)


def itl_tail_figure(rate_per_s: float = 8.0, chunk_tokens: int | None = 512, prompt_tokens: int = 1024,
                    output_tokens: int = 128, link_gbps: float = 200.0, model: str = DEFAULT_MODEL,
                    gpu: str = DEFAULT_GPU) -> Spec:
    """Two GPUs at one Poisson rate: every gap of every request, by percentile, colocated vs 1P1D."""
    arms = _tail_arms(float(rate_per_s), chunk_tokens, prompt_tokens, output_tokens, float(link_gbps), model, gpu)
    return itl_tail_spec([(f.label, arm_style(f), q) for f, q, _ in arms])


def itl_tail_readout(rate_per_s: float = 8.0, chunk_tokens: int | None = 512, prompt_tokens: int = 1024,
                     output_tokens: int = 128, link_gbps: float = 200.0, model: str = DEFAULT_MODEL,
                     gpu: str = DEFAULT_GPU) -> dict[str, dict[str, float]]:
    """Per arm: ITL p50/p90/p99 (ms) and the share of gaps that carried prefill work."""
    arms = _tail_arms(float(rate_per_s), chunk_tokens, prompt_tokens, output_tokens, float(link_gbps), model, gpu)
    return {f.label: dict(numbers) for f, _, numbers in arms}


# =========================================================================== 2. goodput and the split
def _attainment_and_bars_layout(left_width: float, bars_title: str, bars_axis: str) -> dict:
    """SLO attainment against rate on the left, grouped bars (one group per fleet) on the right."""
    fig = make_subplots(rows=1, cols=2, column_widths=[left_width, 1 - left_width], horizontal_spacing=0.1,
                        subplot_titles=("SLO attainment vs request rate", bars_title))
    fig.update_layout(barmode="group", bargap=0.25)
    fig.update_xaxes(title_text="requests per second (Poisson)", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="requests meeting both SLOs (%)", range=[0, 104], row=1, col=1)
    fig.update_yaxes(title_text=bars_axis, rangemode="tozero", row=1, col=2)
    return _finish(fig, 490)


@lru_cache(maxsize=1)
def _attainment_layout() -> dict:
    return _attainment_and_bars_layout(0.62, "goodput (filled), throughput (hollow)", "requests per second")


def _curve_traces(c: Curve, st: ArmStyle, name: str, axes: tuple[str, str] = ("x", "y")) -> list[dict]:
    """An attainment curve: solid up to the fleet's capacity, dotted beyond it (always two traces).

    Above capacity a finite run can still look fine (the last request arrived before
    the queue grew long); those points are drawn but not believed, and goodput is capped
    at capacity (:func:`labs_py.sim.goodput.goodput`).
    """
    inside = c.rates_per_s <= c.throughput_rps
    k = max(0, int(inside.sum()) - 1)
    x, y = c.rates_per_s, c.attainment * 100
    xa, ya = axes
    return [
        dict(type="scatter", x=x[inside], y=y[inside], mode="lines+markers", name=name, legendgroup=name,
             line=dict(color=st.color, dash=st.dash, width=2.5), marker=dict(symbol=st.symbol, size=7),
             xaxis=xa, yaxis=ya, hovertemplate="%{x:.1f} req/s: %{y:.0f}%<extra>" + st.short + "</extra>"),
        dict(type="scatter", x=x[k:] if (~inside).any() else [], y=y[k:] if (~inside).any() else [],
             mode="lines+markers", name=f"{name} (above capacity)", legendgroup=name, showlegend=False,
             line=dict(color=st.color, dash="dot", width=1.5), marker=dict(symbol=f"{st.symbol}-open", size=7),
             xaxis=xa, yaxis=ya, hovertemplate="%{x:.1f} req/s: above this fleet's capacity<extra></extra>"),
    ]


def _target_traces(curves: Sequence[Curve], slo: SLO, axes: tuple[str, str] = ("x", "y")) -> list[dict]:
    """The 90% line, and the SLO being judged written in the plot's lower left (where no curve goes)."""
    x_end = float(max(c.rates_per_s[-1] for c in curves))
    return [dict(type="scatter", x=[0.0, x_end], y=[slo.target * 100] * 2, mode="lines+text", showlegend=False,
                 name="target", line=dict(color=ROLE["budget"], dash="dash", width=1),
                 text=[f"{slo.target:.0%}", ""], textposition="bottom right", textfont=dict(size=11),
                 hoverinfo="skip", xaxis=axes[0], yaxis=axes[1]),
            dict(type="scatter", x=[0.0], y=[2.0], mode="text", showlegend=False, name="SLO",
                 text=[f"SLO: {slo_text(slo)}"], textposition="top right",
                 textfont=dict(size=11, color="#444444"), hoverinfo="skip", xaxis=axes[0], yaxis=axes[1]),
            dict(type="scatter", x=[None], y=[None], mode="lines", name="dotted: above the fleet's capacity",
                 line=dict(color=ROLE["neutral"], dash="dot", width=1.5), hoverinfo="skip", xaxis=axes[0],
                 yaxis=axes[1])]


def attainment_spec(curves: Sequence[Curve], styles: Sequence[ArmStyle], slo: SLO) -> Spec:
    """Left: SLO attainment vs rate, one line per fleet. Right: each fleet's goodput and throughput.

    The dashed line is the target (90% of requests meet both SLOs): a fleet's goodput is
    where its curve leaves it. Dotted stretches are above the fleet's capacity. Throughput (hollow bars) ignores the SLOs: what the fleet
    finishes with every request queued at once. The two rankings can disagree.
    """
    data = []
    for c, st in zip(curves, styles):
        data += _curve_traces(c, st, c.label)
    data += _target_traces(curves, slo)
    names = [st.short for st in styles]
    data.append(dict(type="bar", x=names, y=[c.goodput_rps for c in curves], name="goodput (SLOs met by 90%)",
                     marker=dict(color=[st.color for st in styles], line=dict(color=[st.color for st in styles], width=2)),
                     text=[f"{c.goodput_rps:.3g}" for c in curves], textposition="outside", textfont=dict(size=10),
                     showlegend=False,
                     xaxis="x2", yaxis="y2", hovertemplate="%{x}: goodput %{y:.1f} req/s<extra></extra>"))
    data.append(dict(type="bar", x=names, y=[c.throughput_rps for c in curves], name="throughput (no SLO)",
                     marker=dict(color="rgba(255,255,255,0)", line=dict(color=[st.color for st in styles], width=2),
                                 pattern=dict(shape=".", fgcolor="#999999", size=6)),
                     text=[f"{c.throughput_rps:.3g}" for c in curves], textposition="outside", textfont=dict(size=10),
                     showlegend=False,
                     xaxis="x2", yaxis="y2", hovertemplate="%{x}: throughput %{y:.1f} req/s<extra></extra>"))
    return make_spec(data, _attainment_layout())


@lru_cache(maxsize=8192)
def _curve(fleet: Fleet, scenario: Scenario, grid: tuple[float, ...], slo: SLO) -> Curve:
    """An attainment curve, cached: a figure and its readout ask for the same one."""
    return attainment_curve(fleet, scenario, grid, slo)


@lru_cache(maxsize=1024)
def _latencies(fleet: Fleet, scenario: Scenario, rate_per_s: float) -> dict[str, float]:
    """TTFT and ITL p50/p99 (ms) of one run, cached (a percentile of ~10^4 gaps is worth keeping)."""
    r = run(fleet, scenario, rate_per_s)
    return {f"{m}_p{q}_ms": r.percentile_ms(m, q) for m in ("ttft", "itl") for q in (50, 99)}


def figure_scenario(prompt_tokens: int, output_tokens: int, model: str = DEFAULT_MODEL,
                    gpu: str = DEFAULT_GPU) -> Scenario:
    """The scenario every attainment figure simulates: Poisson arrivals, FIGURE_REQUESTS requests, seed 0."""
    return Scenario(model=model, gpu=gpu, prompt_tokens=positive_int("prompt_tokens", prompt_tokens, "tokens"),
                    output_tokens=positive_int("output_tokens", output_tokens, "tokens"), n_requests=FIGURE_REQUESTS)


def figure_slo(ttft_slo_ms: float, decode_slo_ms: float, decode_metric: str) -> SLO:
    """An SLO from milliseconds (the controls' unit)."""
    return SLO(positive_float("ttft_slo_ms", ttft_slo_ms, "ms") / MS,
               positive_float("decode_slo_ms", decode_slo_ms, "ms") / MS, decode_metric)


def goodput_fleets(gpus: int, link_gbps: float, stalling: bool = False) -> list[Fleet]:
    """The fleets of the goodput figure: chunked colocated replicas (and, if asked, unchunked ones), then every split."""
    n = positive_int("gpus", gpus, "GPUs")
    fleets: list[Fleet] = [Colocated(n, chunk_tokens=512)]
    if stalling:
        fleets.append(Colocated(n, chunk_tokens=None))
    return fleets + list(split_fleets(n, positive_float("link_gbps", link_gbps, "Gb/s")))


def _goodput_curves(ttft_slo_ms, decode_slo_ms, decode_metric, prompt_tokens, output_tokens, link_gbps, model, gpus,
                    stalling):
    sc = figure_scenario(prompt_tokens, output_tokens, model)
    slo = figure_slo(ttft_slo_ms, decode_slo_ms, decode_metric)
    grid = rate_grid(sc, gpus)
    fleets = goodput_fleets(gpus, link_gbps, stalling)
    curves = [_curve(f, sc, grid, slo) for f in fleets]
    splits = [f for f in fleets if isinstance(f, Disaggregated)]
    styles = [arm_style(f, splits.index(f) if f in splits else 0) for f in fleets]
    return curves, styles, slo


def goodput_figure(ttft_slo_ms: float = 400, decode_slo_ms: float = 15, decode_metric: str = "tpot",
                   prompt_tokens: int = 1024, output_tokens: int = 128, link_gbps: float = 200,
                   model: str = DEFAULT_MODEL, gpus: int = 2, stalling: bool = False) -> Spec:
    """Attainment vs rate and goodput vs throughput: ``gpus`` chunked colocated replicas vs every xPyD split.

    ``stalling=True`` adds colocated replicas without chunking (the weaker baseline).
    """
    curves, styles, slo = _goodput_curves(ttft_slo_ms, decode_slo_ms, decode_metric, prompt_tokens, output_tokens,
                                          link_gbps, model, gpus, stalling)
    return attainment_spec(curves, styles, slo)


def goodput_readout(ttft_slo_ms: float = 400, decode_slo_ms: float = 15, decode_metric: str = "tpot",
                    prompt_tokens: int = 1024, output_tokens: int = 128, link_gbps: float = 200,
                    model: str = DEFAULT_MODEL, gpus: int = 2, stalling: bool = False) -> dict[str, object]:
    """Goodput and throughput (req/s) of every fleet of the figure, by label, and the winners.

    ``best_split`` is the xPyD split with the highest goodput (fewer prefill engines on ties);
    the winners are over every fleet drawn.
    """
    curves, _, _ = _goodput_curves(ttft_slo_ms, decode_slo_ms, decode_metric, prompt_tokens, output_tokens,
                                   link_gbps, model, gpus, stalling)
    colo = curves[0]
    splits = [c for c in curves if "P" in c.label and "D @" in c.label]
    best = max(splits, key=lambda c: c.goodput_rps)
    return {
        "colocated_goodput_rps": colo.goodput_rps,
        "colocated_throughput_rps": colo.throughput_rps,
        "goodput_rps": {c.label: c.goodput_rps for c in curves},
        "throughput_rps": {c.label: c.throughput_rps for c in curves},
        "split_goodput_rps": {c.label: c.goodput_rps for c in splits},
        "split_throughput_rps": {c.label: c.throughput_rps for c in splits},
        "best_split": best.label,
        "best_split_goodput_rps": best.goodput_rps,
        "winner_on_goodput": max(curves, key=lambda c: c.goodput_rps).label,
        "winner_on_throughput": max(curves, key=lambda c: c.throughput_rps).label,
    }


# =========================================================================== 3. two GPUs
@lru_cache(maxsize=1)
def _two_gpu_layout() -> dict:
    return _attainment_and_bars_layout(0.6, "ITL p50 (light), p99 (hatched)", "inter-token gap (ms)")


def two_gpu_spec(curves: Sequence[Curve], styles: Sequence[ArmStyle], slo: SLO, itl_p50_ms: Sequence[float],
                 itl_p99_ms: Sequence[float]) -> Spec:
    """Left: attainment vs rate for each way to spend two GPUs. Right: their ITL p50 and p99 at one shared rate."""
    data = []
    for c, st in zip(curves, styles):
        data += _curve_traces(c, st, c.label)
    data += _target_traces(curves, slo)
    names = [st.short for st in styles]
    colors = [st.color for st in styles]
    data.append(dict(type="bar", x=names, y=list(itl_p50_ms), name="ITL p50", showlegend=False,
                     marker=dict(color=colors, opacity=0.45), text=[f"{v:.1f}" for v in itl_p50_ms],
                     textposition="outside", textfont=dict(size=10), xaxis="x2", yaxis="y2",
                     hovertemplate="%{x}: ITL p50 %{y:.1f} ms<extra></extra>"))
    data.append(dict(type="bar", x=names, y=list(itl_p99_ms), name="ITL p99", showlegend=False,
                     marker=dict(color=colors, pattern=dict(shape="/", fgcolor="white")),
                     text=[f"{v:.1f}" for v in itl_p99_ms], textposition="outside", textfont=dict(size=10),
                     xaxis="x2", yaxis="y2",
                     hovertemplate="%{x}: ITL p99 %{y:.1f} ms<extra></extra>"))
    return make_spec(data, _two_gpu_layout())


def two_gpu_fleets(link_gbps: float) -> list[Fleet]:
    """Two GPUs three ways: 1P1D over ``link_gbps``, one TP=2 engine, two independent replicas (both chunk 512)."""
    return [Disaggregated(1, 1, positive_float("link_gbps", link_gbps, "Gb/s")), Colocated(1, tp=2, chunk_tokens=512),
            Colocated(2, chunk_tokens=512)]


def _two_gpu(ttft_slo_ms, decode_slo_ms, decode_metric, prompt_tokens, output_tokens, link_gbps, model, allreduce):
    """Curves and the shared-rate runs. ``allreduce`` scales the engine's fitted all-reduce latency (TP=2 only)."""
    sc = figure_scenario(prompt_tokens, output_tokens, model)
    slo = figure_slo(ttft_slo_ms, decode_slo_ms, decode_metric)
    grid = rate_grid(sc, 2)
    rate = float(grid[0] / 0.05 * SHARED_LOAD)  # the grid starts at 5% of the replicas' capacity
    tp_sc = replace(sc, engine=engine_with_allreduce(sc.engine, fraction("allreduce", allreduce)))
    out = []
    for f in two_gpu_fleets(link_gbps):
        s = tp_sc if isinstance(f, Colocated) and f.tp > 1 else sc
        out.append((f, _curve(f, s, grid, slo), _latencies(f, s, rate)))
    return out, slo, rate


def two_gpu_figure(ttft_slo_ms: float = 400, decode_slo_ms: float = 15, decode_metric: str = "tpot",
                   prompt_tokens: int = 1024, output_tokens: int = 128, link_gbps: float = 200,
                   model: str = DEFAULT_MODEL, allreduce: float = 1.0) -> Spec:
    """Two GPUs three ways: 1P1D, one TP=2 engine, two independent colocated replicas.

    ``allreduce`` is the TP=2 engine's all-reduce latency as a fraction of the fitted one
    (1.0: as fitted on 2023 A100 software; 0: free, an upper bound for TP=2).
    """
    arms, slo, _ = _two_gpu(ttft_slo_ms, decode_slo_ms, decode_metric, prompt_tokens, output_tokens, link_gbps, model,
                            allreduce)
    return two_gpu_spec([c for _, c, _ in arms], [arm_style(f) for f, _, _ in arms], slo,
                        [lat["itl_p50_ms"] for _, _, lat in arms], [lat["itl_p99_ms"] for _, _, lat in arms])


def two_gpu_readout(ttft_slo_ms: float = 400, decode_slo_ms: float = 15, decode_metric: str = "tpot",
                    prompt_tokens: int = 1024, output_tokens: int = 128, link_gbps: float = 200,
                    model: str = DEFAULT_MODEL, allreduce: float = 1.0) -> dict[str, dict[str, float]]:
    """Per arm (1P1D, TP=2, 2x colocated): goodput, throughput, and TTFT/ITL p50 and p99 at a shared rate.

    The shared rate is ``SHARED_LOAD`` (40%) of two colocated replicas' capacity: loaded, but stable for all three.
    """
    arms, _, rate = _two_gpu(ttft_slo_ms, decode_slo_ms, decode_metric, prompt_tokens, output_tokens, link_gbps, model,
                             allreduce)
    return {c.label: {"goodput_rps": c.goodput_rps, "throughput_rps": c.throughput_rps, "rate_per_s": rate, **lat}
            for _, c, lat in arms}


__all__ = ["ArmStyle", "arm_style", "slo_text", "chunk_label", "interference_spec", "interference_figure",
           "interference_readout", "chunk_trade_spec", "chunk_trade_figure", "itl_tail_spec", "itl_tail_figure",
           "itl_tail_readout", "attainment_spec", "goodput_figure", "goodput_readout", "goodput_fleets",
           "figure_scenario", "figure_slo", "two_gpu_spec", "two_gpu_fleets", "two_gpu_figure", "two_gpu_readout",
           "FIGURE_REQUESTS", "TAIL_REQUESTS"]
