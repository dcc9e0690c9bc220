"""Figures for the three serving chapters: interference, goodput and the split, two GPUs.

Every function here is **pure**: the same arguments give the same figure, nothing is
displayed, nothing global changes. Simulations are cached (:mod:`labs_py.sim.goodput`),
so a figure whose SLO moved redraws from cached runs in milliseconds; the first call for
a new (model, lengths, link) combination pays for the simulations (about a second).

Each figure has a ``*_readout`` twin that returns the figure's key numbers as a dict,
for prose, exercises and automatic checks.

Sensible control values (for sliders; the interactive layer precomputes a grid):

* interference: ``chunk_tokens`` in (None, 128, 256, 512, 1024, 2048) -- None is "no
  chunking"; ``prompt_tokens`` in (1024, 2048, 4096, 8192); ``batch`` in (1, 4, 16, 64);
* goodput: ``ttft_slo_ms`` in (100, 200, 400, 1000, 2000); ``decode_slo_ms`` in (10, 12,
  15, 20, 30, 50, 100); ``decode_metric`` in ("tpot", "max_itl"); ``prompt_tokens`` in
  (256, 1024, 2048, 4096); ``output_tokens`` in (32, 128, 512); ``link_gbps`` in
  (10, 25, 100, 200, 400, 3600); ``gpus`` in (2, 3, 4); ``model`` in
  ("meta-llama/Llama-3.1-8B-Instruct", "Qwen/Qwen2.5-7B-Instruct");
* two GPUs: the goodput controls, with ``gpus`` fixed at 2.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from labs_py.sim.curves import Curve, attainment_curve, rate_grid, split_fleets
from labs_py.sim.fleets import DEFAULT_GPU, DEFAULT_MODEL, Colocated, Disaggregated
from labs_py.sim.goodput import SLO, Scenario, run
from labs_py.sim.interference import InterferenceTrace, interference_trace
from labs_py.validate import positive_float, positive_int

#: Requests per simulated run in the figures: enough for a p90 over 300 requests, cheap enough to grid.
FIGURE_REQUESTS = 300

COLORS = {"colocated": "#d62728", "stalling": "#ff7f0e", "disagg": "#1f77b4", "tp2": "#2ca02c", "clean": "#7f7f7f"}


def _add_curve(fig: go.Figure, c: Curve, color: str, name: str) -> None:
    """An attainment curve: solid up to the fleet's capacity, dotted beyond it.

    Above capacity a finite run can still look fine (the last request arrived before
    the queue grew long); those points are drawn but not believed, and goodput is capped
    at capacity (:func:`labs_py.sim.goodput.goodput`).
    """
    inside = c.rates_per_s <= c.throughput_rps
    fig.add_trace(go.Scatter(x=c.rates_per_s[inside], y=c.attainment[inside] * 100, mode="lines+markers", name=name,
                             line={"color": color}, marker={"size": 5}, legendgroup=name), row=1, col=1)
    if (~inside).any():
        k = max(0, int(inside.sum()) - 1)
        fig.add_trace(go.Scatter(x=c.rates_per_s[k:], y=c.attainment[k:] * 100, mode="lines+markers",
                                 name=f"{name} (above capacity)", line={"color": color, "dash": "dot"},
                                 marker={"size": 5, "symbol": "circle-open"}, legendgroup=name, showlegend=False,
                                 hovertemplate="%{x:.1f} req/s: above this fleet's capacity<extra></extra>"), row=1, col=1)


# =========================================================================== 1. interference
@lru_cache(maxsize=256)
def _trace(chunk_tokens: int | None, prompt_tokens: int, batch: int, model: str, gpu: str, disaggregated: bool) -> InterferenceTrace:
    return interference_trace(batch=batch, prompt_tokens=prompt_tokens, chunk_tokens=chunk_tokens, model=model,
                              gpu=gpu, disaggregated=disaggregated)


def interference_readout(chunk_tokens: int | None = 512, prompt_tokens: int = 4096, batch: int = 16,
                         model: str = DEFAULT_MODEL, gpu: str = DEFAULT_GPU) -> dict[str, float]:
    """Key numbers of the interference figure (milliseconds unless named otherwise).

    ``itl_p50_ms``/``itl_p99_ms`` are over a 256-token stream in which the prompt's
    chunks land: the p50 is a clean step, the p99 a chunk-carrying one.
    """
    tr = _trace(chunk_tokens, prompt_tokens, batch, model, gpu, False)
    extra = tr.extra_ms_per_chunk_step
    gaps = tr.gap_ms
    stream = np.concatenate([gaps, np.full(max(0, 256 - gaps.size), tr.clean_step_ms)])[: max(256, gaps.size)]
    return {
        "clean_step_ms": tr.clean_step_ms,
        "worst_gap_ms": float(gaps.max()),
        "chunk_steps": int(tr.chunk_steps.sum()),
        "extra_ms_per_chunk_step": float(extra.mean()) if extra.size else 0.0,
        "worst_over_clean": float(gaps.max() / tr.clean_step_ms),
        "prompt_ttft_ms": tr.prompt_ttft_ms,
        "itl_p50_ms": float(np.percentile(stream, 50)),
        "itl_p99_ms": float(np.percentile(stream, 99)),
    }


def interference_figure(chunk_tokens: int | None = 512, prompt_tokens: int = 4096, batch: int = 16,
                        model: str = DEFAULT_MODEL, gpu: str = DEFAULT_GPU) -> go.Figure:
    """A decode stream's inter-token gaps as a long prompt arrives: colocated vs disaggregated.

    The colocated trace shows a plateau of equal bumps (one per chunk) or, without
    chunking, one tall spike; the disaggregated trace stays flat at a clean step.
    """
    positive_int("prompt_tokens", prompt_tokens, "tokens")
    positive_int("batch", batch, "requests")
    tr = _trace(chunk_tokens, prompt_tokens, batch, model, gpu, False)
    pd = _trace(None, prompt_tokens, batch, model, gpu, True)
    t0 = tr.prompt_arrival_s
    chunk = f"{chunk_tokens}-token chunks" if chunk_tokens else "no chunking"
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=(pd.token_s - pd.prompt_arrival_s) * 1e3, y=pd.gap_ms, mode="lines+markers",
                             name="disaggregated (decode engine)", line={"color": COLORS["disagg"]}, marker={"size": 4}))
    fig.add_trace(go.Scatter(x=(tr.token_s - t0) * 1e3, y=tr.gap_ms, mode="lines+markers",
                             name=f"colocated, {chunk}", line={"color": COLORS["colocated"]}, marker={"size": 4}))
    fig.add_hline(y=tr.clean_step_ms, line={"dash": "dot", "color": COLORS["clean"]},
                  annotation_text=f"clean step {tr.clean_step_ms:.1f} ms", annotation_position="bottom right")
    fig.add_vline(x=0, line={"dash": "dash", "color": "black"}, annotation_text=f"{prompt_tokens}-token prompt arrives")
    r = interference_readout(chunk_tokens, prompt_tokens, batch, model, gpu)
    fig.update_layout(
        title=f"One of {batch} decode streams while a {prompt_tokens}-token prompt is prefilled ({chunk}): "
              f"worst gap {r['worst_gap_ms']:.1f} ms = {r['worst_over_clean']:.1f}x a clean step",
        xaxis_title="time since the prompt arrived (ms)", yaxis_title="inter-token gap (ms)",
        template="plotly_white", legend={"orientation": "h", "y": -0.2}, height=420, title_font_size=13,
    )
    fig.update_yaxes(rangemode="tozero")
    return fig


# =========================================================================== 2. goodput and the split
def _scenario(model: str, prompt_tokens: int, output_tokens: int, gpu: str = DEFAULT_GPU) -> Scenario:
    return Scenario(model=model, gpu=gpu, prompt_tokens=positive_int("prompt_tokens", prompt_tokens, "tokens"),
                    output_tokens=positive_int("output_tokens", output_tokens, "tokens"), n_requests=FIGURE_REQUESTS)


def _slo(ttft_slo_ms: float, decode_slo_ms: float, decode_metric: str) -> SLO:
    return SLO(positive_float("ttft_slo_ms", ttft_slo_ms, "ms") / 1e3,
               positive_float("decode_slo_ms", decode_slo_ms, "ms") / 1e3, decode_metric)


def _goodput_curves(ttft_slo_ms, decode_slo_ms, decode_metric, prompt_tokens, output_tokens, link_gbps, model, gpus):
    sc = _scenario(model, prompt_tokens, output_tokens)
    slo = _slo(ttft_slo_ms, decode_slo_ms, decode_metric)
    grid = rate_grid(sc, gpus)
    colo = attainment_curve(Colocated(gpus, chunk_tokens=512), sc, grid, slo)
    splits = [attainment_curve(f, sc, grid, slo) for f in split_fleets(gpus, positive_float("link_gbps", link_gbps, "Gb/s"))]
    return colo, splits


def goodput_readout(ttft_slo_ms: float = 400, decode_slo_ms: float = 15, decode_metric: str = "tpot",
                    prompt_tokens: int = 1024, output_tokens: int = 128, link_gbps: float = 200,
                    model: str = DEFAULT_MODEL, gpus: int = 2) -> dict[str, object]:
    """Goodput (req/s) of chunked colocated replicas and of every P:D split of ``gpus`` GPUs, and the winner."""
    colo, splits = _goodput_curves(ttft_slo_ms, decode_slo_ms, decode_metric, prompt_tokens, output_tokens, link_gbps, model, gpus)
    best = max(splits, key=lambda c: c.goodput_rps)
    return {
        "colocated_goodput_rps": colo.goodput_rps,
        "colocated_throughput_rps": colo.throughput_rps,
        "split_goodput_rps": {c.label: c.goodput_rps for c in splits},
        "split_throughput_rps": {c.label: c.throughput_rps for c in splits},
        "best_split": best.label,
        "best_split_goodput_rps": best.goodput_rps,
        "winner_on_goodput": best.label if best.goodput_rps > colo.goodput_rps else colo.label,
        "winner_on_throughput": best.label if max(c.throughput_rps for c in splits) > colo.throughput_rps else colo.label,
    }


def goodput_figure(ttft_slo_ms: float = 400, decode_slo_ms: float = 15, decode_metric: str = "tpot",
                   prompt_tokens: int = 1024, output_tokens: int = 128, link_gbps: float = 200,
                   model: str = DEFAULT_MODEL, gpus: int = 2) -> go.Figure:
    """Left: SLO attainment vs rate, colocated vs every xPyD split. Right: goodput and throughput per fleet.

    The dashed line is the 90% target: a fleet's goodput is where its curve crosses it.
    Throughput (right, hollow bars) ignores the SLOs: it is what the fleet finishes
    with every request queued at once. The two rankings can disagree.
    """
    colo, splits = _goodput_curves(ttft_slo_ms, decode_slo_ms, decode_metric, prompt_tokens, output_tokens, link_gbps, model, gpus)
    fig = make_subplots(rows=1, cols=2, column_widths=[0.62, 0.38],
                        subplot_titles=("SLO attainment vs request rate (dotted: above capacity)",
                                        "goodput (filled) vs throughput (hollow), req/s"))
    blues = ["#1f77b4", "#17becf", "#9467bd", "#8c564b", "#bcbd22"]
    curves: list[tuple[Curve, str]] = [(colo, COLORS["colocated"])] + [(c, blues[i % len(blues)]) for i, c in enumerate(splits)]
    for c, color in curves:
        _add_curve(fig, c, color, c.label)
    fig.add_hline(y=90, line={"dash": "dash", "color": "black"}, row=1, col=1)
    labels = [c.label for c, _ in curves]
    fig.add_trace(go.Bar(x=labels, y=[c.goodput_rps for c, _ in curves], name="goodput (SLOs met by 90%)",
                         marker={"color": [col for _, col in curves]}, showlegend=False), row=1, col=2)
    fig.add_trace(go.Bar(x=labels, y=[c.throughput_rps for c, _ in curves], name="throughput (no SLO)",
                         marker={"color": "rgba(0,0,0,0)", "line": {"color": [col for _, col in curves], "width": 2}},
                         showlegend=False), row=1, col=2)
    metric = "mean TPOT" if decode_metric == "tpot" else "every inter-token gap"
    fig.update_layout(
        title=f"{gpus} GPUs, {prompt_tokens}-token prompts, {output_tokens}-token outputs, link {link_gbps:g} Gb/s; "
              f"SLOs: TTFT <= {ttft_slo_ms:g} ms, {metric} <= {decode_slo_ms:g} ms",
        template="plotly_white", height=440, barmode="group", legend={"orientation": "h", "y": -0.25}, title_font_size=13,
    )
    fig.update_xaxes(title_text="requests per second", row=1, col=1)
    fig.update_yaxes(title_text="requests meeting both SLOs (%)", range=[0, 102], row=1, col=1)
    fig.update_yaxes(title_text="requests per second", row=1, col=2)
    return fig


# =========================================================================== 3. two GPUs
def _two_gpu_fleets(link_gbps: float) -> list[tuple[object, str]]:
    return [(Disaggregated(1, 1, positive_float("link_gbps", link_gbps, "Gb/s")), COLORS["disagg"]),
            (Colocated(1, tp=2, chunk_tokens=512), COLORS["tp2"]),
            (Colocated(2, chunk_tokens=512), COLORS["colocated"])]


def _two_gpu(ttft_slo_ms, decode_slo_ms, decode_metric, prompt_tokens, output_tokens, link_gbps, model):
    sc = _scenario(model, prompt_tokens, output_tokens)
    slo = _slo(ttft_slo_ms, decode_slo_ms, decode_metric)
    grid = rate_grid(sc, 2)
    return sc, grid, [(attainment_curve(f, sc, grid, slo), f, col) for f, col in _two_gpu_fleets(link_gbps)]


def two_gpu_readout(ttft_slo_ms: float = 400, decode_slo_ms: float = 15, decode_metric: str = "tpot",
                    prompt_tokens: int = 1024, output_tokens: int = 128, link_gbps: float = 200,
                    model: str = DEFAULT_MODEL) -> dict[str, dict[str, float]]:
    """Per arm (1P1D, TP=2, 2x colocated): goodput, throughput, and TTFT/ITL p50 and p99 at a shared rate.

    The shared rate is 40% of two colocated replicas' capacity: loaded, but stable for all three.
    """
    sc, grid, arms = _two_gpu(ttft_slo_ms, decode_slo_ms, decode_metric, prompt_tokens, output_tokens, link_gbps, model)
    rate = float(grid[0] / 0.05 * 0.4)
    out: dict[str, dict[str, float]] = {}
    for c, f, _ in arms:
        r = run(f, sc, rate)
        out[c.label] = {"goodput_rps": c.goodput_rps, "throughput_rps": c.throughput_rps, "rate_per_s": rate,
                        "ttft_p50_ms": r.percentile_ms("ttft", 50), "ttft_p99_ms": r.percentile_ms("ttft", 99),
                        "itl_p50_ms": r.percentile_ms("itl", 50), "itl_p99_ms": r.percentile_ms("itl", 99)}
    return out


def two_gpu_figure(ttft_slo_ms: float = 400, decode_slo_ms: float = 15, decode_metric: str = "tpot",
                   prompt_tokens: int = 1024, output_tokens: int = 128, link_gbps: float = 200,
                   model: str = DEFAULT_MODEL) -> go.Figure:
    """Two GPUs three ways: 1P1D, one TP=2 engine, two independent colocated replicas.

    Left: attainment vs rate. Right: ITL p50 and p99 at a shared rate (40% of the
    replicas' capacity), where the three spend their GPUs differently: TP=2 makes every
    step faster but pays all-reduces and still mixes prefill into decode; two replicas
    double the capacity but keep the interference; 1P1D removes it and pays the link.
    """
    sc, grid, arms = _two_gpu(ttft_slo_ms, decode_slo_ms, decode_metric, prompt_tokens, output_tokens, link_gbps, model)
    ro = two_gpu_readout(ttft_slo_ms, decode_slo_ms, decode_metric, prompt_tokens, output_tokens, link_gbps, model)
    fig = make_subplots(rows=1, cols=2, column_widths=[0.6, 0.4],
                        subplot_titles=("SLO attainment vs request rate (dotted: above capacity)",
                                        "inter-token gap at a shared rate (ms)"))
    for c, _, col in arms:
        _add_curve(fig, c, col, f"{c.label}: goodput {c.goodput_rps:.1f}/s")
    fig.add_hline(y=90, line={"dash": "dash", "color": "black"}, row=1, col=1)
    labels = [c.label for c, _, _ in arms]
    fig.add_trace(go.Bar(x=labels, y=[ro[k]["itl_p50_ms"] for k in labels], name="ITL p50",
                         marker={"color": "#aec7e8"}), row=1, col=2)
    fig.add_trace(go.Bar(x=labels, y=[ro[k]["itl_p99_ms"] for k in labels], name="ITL p99",
                         marker={"color": "#1f77b4"}), row=1, col=2)
    rate = next(iter(ro.values()))["rate_per_s"]
    metric = "mean TPOT" if decode_metric == "tpot" else "every inter-token gap"
    fig.update_layout(
        title=f"Two GPUs: {prompt_tokens}-token prompts, {output_tokens}-token outputs, link {link_gbps:g} Gb/s; "
              f"SLOs TTFT <= {ttft_slo_ms:g} ms, {metric} <= {decode_slo_ms:g} ms; right panel at {rate:.1f} req/s",
        template="plotly_white", height=440, barmode="group", legend={"orientation": "h", "y": -0.25}, title_font_size=13,
    )
    fig.update_xaxes(title_text="requests per second", row=1, col=1)
    fig.update_yaxes(title_text="requests meeting both SLOs (%)", range=[0, 102], row=1, col=1)
    return fig


__all__ = ["interference_figure", "interference_readout", "goodput_figure", "goodput_readout",
           "two_gpu_figure", "two_gpu_readout", "FIGURE_REQUESTS"]
