"""Wiring for the serving chapters: interference, goodput and the P:D split, two GPUs.

Controls -> :mod:`labs_py.viz.serving` (figures and their readouts, which run the cached
simulations of :mod:`labs_py.sim`). Nothing here computes a number of its own: readouts
format what ``labs_py.viz.serving``'s ``*_readout`` functions return.

Control values are chosen so that the static page's precompute stays cheap: what costs is
the number of distinct *simulations* (a fleet, a workload, a rate), not the number of
combinations. SLO controls never re-simulate (attainment is a comparison over cached
runs); the workload, link, model, fleet and all-reduce controls do. Each factory's
docstring counts its simulations.
"""

from __future__ import annotations


from labs_py.models import get_model
from labs_py.sim.fleets import DEFAULT_MODEL, Disaggregated
from labs_py.steptime import DEFAULT_ENGINE, engine_profile
from labs_py.viz import serving as viz
from labs_py.widgets.explorable import Dropdown, Explorable, Slider, explorable_factory

#: A chunk-size control's stand-in for "no chunking" (control values must be numbers or strings).
NO_CHUNKING = 0
PROMPTS = (1024, 2048, 4096, 8192)
BATCHES = (1, 4, 16, 64)
MODELS = ("meta-llama/Llama-3.1-8B-Instruct", "Qwen/Qwen2.5-7B-Instruct")


def _chunk(value: int) -> int | None:
    return None if value == NO_CHUNKING else int(value)


def _chunk_slider(values: tuple[int, ...], default: int = 512) -> Slider:
    names = tuple("no chunking" if v == NO_CHUNKING else f"{v:,} tokens" for v in values)
    return Slider("chunk_tokens", "Prefill chunk", values, default, value_labels=names)


def _ms(x: float) -> str:
    return f"{x:.3g} ms"


def _rps(x: float) -> str:
    return f"{x:.3g} req/s"


def _short(model: str) -> str:
    return get_model(model).short_name


# =========================================================================== chapter: interference
def _interference_readout(chunk_tokens: int, prompt_tokens: int, batch: int) -> dict[str, str]:
    r = viz.interference_readout(_chunk(chunk_tokens), prompt_tokens, batch)
    if r["chunk_steps"] and chunk_tokens != NO_CHUNKING:
        slow = (f"{r['chunk_steps']} steps, each +{_ms(r['extra_ms_per_chunk_step'])} "
                f"(spread {r['extra_spread']:.0%})")
    else:
        slow = "1 gap: the whole prefill"
    return {
        "clean step": _ms(r["clean_step_ms"]),
        "slow steps": slow,
        "worst gap": f"{_ms(r['worst_gap_ms'])} = {r['worst_over_clean']:.2g}× a clean step",
        "p50 / p99 of 256 gaps": f"{_ms(r['itl_p50_ms'])} / {_ms(r['itl_p99_ms'])}",
        "TTFT of the long prompt": _ms(r["prompt_ttft_ms"]),
    }


@explorable_factory
def interference() -> Explorable:
    """One decode stream while a long prompt arrives: chunk size, prompt length, batch.

    Simulations: 6 chunk sizes x 4 prompts x 4 batches colocated traces, plus 16 disaggregated
    ones (96 + 16 small runs, ~1 s in all).
    """
    return Explorable(
        title="One decode stream while a long prompt arrives (Llama-3.1-8B, one H100)",
        controls=(
            _chunk_slider((128, 256, 512, 1024, 2048, NO_CHUNKING)),
            Slider("prompt_tokens", "Long prompt", PROMPTS, 4096, fmt="{:,} tokens"),
            Slider("batch", "Streams decoding", BATCHES, 16, fmt="{}"),
        ),
        figure_fn=lambda chunk_tokens, prompt_tokens, batch: viz.interference_figure(
            _chunk(chunk_tokens), prompt_tokens, batch),
        readout_fn=_interference_readout,
        alt=(
            "The gap before each token of one decode stream, over time, as a long prompt arrives at time zero. "
            "Colocated with chunked prefill, the gaps form a plateau: every step that carries a chunk is slower "
            "than a clean step by about the same amount, for as many steps as there are chunks. Without chunking "
            "there is one gap as long as the whole prefill. Disaggregated, the stream stays flat at a clean step."
        ),
    )


def _trade_readout(prompt_tokens: int, batch: int) -> dict[str, str]:
    small = viz.interference_readout(viz.TRADE_CHUNKS[0], prompt_tokens, batch)
    whole = viz.interference_readout(None, prompt_tokens, batch)
    return {
        f"{viz.TRADE_CHUNKS[0]}-token chunks": (f"worst gap {_ms(small['worst_gap_ms'])}, "
                                                f"prompt TTFT {_ms(small['prompt_ttft_ms'])}"),
        "no chunking": f"worst gap {_ms(whole['worst_gap_ms'])}, prompt TTFT {_ms(whole['prompt_ttft_ms'])}",
    }


@explorable_factory
def chunk_trade() -> Explorable:
    """Every chunk size at once: the worst gap against the long prompt's own TTFT.

    Simulations: the same traces as :func:`interference` (shared cache).
    """
    return Explorable(
        title="The chunk-size trade: a smaller bump, more of them, and a slower prompt",
        controls=(
            Slider("prompt_tokens", "Long prompt", PROMPTS, 4096, fmt="{:,} tokens"),
            Slider("batch", "Streams decoding", BATCHES, 16, fmt="{}"),
        ),
        figure_fn=lambda prompt_tokens, batch: viz.chunk_trade_figure(prompt_tokens, batch),
        readout_fn=_trade_readout,
        alt=(
            "Two bar charts over chunk sizes from 128 tokens to no chunking. Left: the worst gap a decode stream "
            "sees, labelled with how many steps are that slow; it grows with the chunk. Right: the long prompt's own "
            "time to first token, which falls as chunks grow, because every chunk step pays a whole step's fixed "
            "costs. No chunk size removes the tax: it only trades height for width."
        ),
    )


TAIL_RATES = (4, 8, 16, 24, 32)


def _tail_readout(rate_per_s: float, chunk_tokens: int) -> dict[str, str]:
    ro = viz.itl_tail_readout(float(rate_per_s), _chunk(chunk_tokens))
    (colo_label, colo), (pd_label, pd) = ro.items()
    return {
        "2× colocated p50 / p99": f"{_ms(colo['itl_p50_ms'])} / {_ms(colo['itl_p99_ms'])}",
        "1P1D p50 / p99": f"{_ms(pd['itl_p50_ms'])} / {_ms(pd['itl_p99_ms'])}",
        "colocated gaps that carry prefill work": f"{colo['prefill_gap_share']:.1%}",
    }


@explorable_factory
def itl_tail() -> Explorable:
    """Why p99 moves and p50 does not: every gap of every request, by percentile, at a rate.

    Simulations: 5 rates x (4 colocated chunk settings + 1P1D) = 25 runs of 1,000 requests (~2 s).
    """
    return Explorable(
        title="Two GPUs, Poisson arrivals, 1,024-token prompts, 128-token outputs: where the slow gaps land",
        controls=(
            Slider("rate_per_s", "Request rate", TAIL_RATES, 8, fmt="{} req/s"),
            _chunk_slider((256, 512, 1024, NO_CHUNKING)),
        ),
        figure_fn=lambda rate_per_s, chunk_tokens: viz.itl_tail_figure(float(rate_per_s), _chunk(chunk_tokens)),
        readout_fn=_tail_readout,
        alt=(
            "Inter-token gaps of every request sorted by percentile, for two colocated replicas and for 1P1D. The "
            "colocated line is flat at a clean decode step, then jumps to a chunk-carrying step at the percentile "
            "where the share of gaps that carried prefill work begins: p50 stays clean while that share is under "
            "half, and p99 is slow as soon as it is over 1%. The 1P1D line stays flat: its p99 sits next to its p50."
        ),
    )


# =========================================================================== chapter: goodput and the split
def _metric_control(default: str = "tpot") -> Dropdown:
    return Dropdown("decode_metric", "Decode SLO on", (("mean TPOT (DistServe)", "tpot"),
                                                        ("every gap (worst ITL)", "max_itl")), default)


def _goodput_lines(ro: dict, labels: dict[str, str]) -> dict[str, str]:
    out = {f"{short}: goodput / throughput": f"{_rps(ro['goodput_rps'][full])} / {_rps(ro['throughput_rps'][full])}"
           for full, short in labels.items()}
    out["winner on goodput"] = labels.get(ro["winner_on_goodput"], ro["winner_on_goodput"])
    out["winner on throughput"] = labels.get(ro["winner_on_throughput"], ro["winner_on_throughput"])
    return out


def _short_labels(gpus: int, link_gbps: float, stalling: bool) -> dict[str, str]:
    fleets = viz.goodput_fleets(gpus, link_gbps, stalling)
    splits = [f for f in fleets if isinstance(f, Disaggregated)]
    return {f.label: viz.arm_style(f, splits.index(f) if f in splits else 0).short for f in fleets}


def _slo_readout(ttft_slo_ms: float, decode_slo_ms: float, decode_metric: str) -> dict[str, str]:
    ro = viz.goodput_readout(ttft_slo_ms, decode_slo_ms, decode_metric, stalling=True)
    return _goodput_lines(ro, _short_labels(2, 200, True))


@explorable_factory
def slo_attainment() -> Explorable:
    """The SLO decides the winner: two colocated baselines and 1P1D on the same two GPUs.

    Simulations: 3 fleets x 17 (16 rates + a capacity run) = 51 runs of 300 requests (~1 s);
    the SLO controls only re-judge them.
    """
    return Explorable(
        title="Two H100s, Llama-3.1-8B, 1,024-token prompts, 128-token outputs: who wins depends on the SLO",
        controls=(
            Slider("ttft_slo_ms", "TTFT SLO", (100, 200, 400, 1000, 2000), 400, fmt="{:,} ms"),
            Slider("decode_slo_ms", "Decode SLO", (10, 12, 15, 20, 30, 50), 15, fmt="{} ms"),
            _metric_control(),
        ),
        figure_fn=lambda ttft_slo_ms, decode_slo_ms, decode_metric: viz.goodput_figure(
            ttft_slo_ms, decode_slo_ms, decode_metric, stalling=True),
        readout_fn=_slo_readout,
        alt=(
            "Left: the share of requests meeting both SLOs against the request rate, for two chunked colocated "
            "replicas, two unchunked ones and 1P1D; goodput is where a curve leaves the 90% line. Right: each "
            "fleet's goodput next to its throughput. With a tight decode SLO, especially one on every gap, 1P1D has "
            "the highest goodput; with a loose one the colocated replicas win, and on throughput alone the unchunked "
            "replicas win."
        ),
    )


#: SLO presets of the workload and split panels: (TTFT ms, decode ms, decode metric).
SLO_PRESETS: dict[str, tuple[float, float, str]] = {
    "tight: every gap ≤ 15 ms": (400, 15, "max_itl"),
    "mean TPOT ≤ 12 ms": (400, 12, "tpot"),
    "loose: TPOT ≤ 50 ms, TTFT ≤ 2 s": (2000, 50, "tpot"),
}
_DEFAULT_PRESET = "mean TPOT ≤ 12 ms"


def _preset_control() -> Dropdown:
    return Dropdown("slo", "SLO (TTFT ≤ 400 ms unless loose)", tuple((k, k) for k in SLO_PRESETS), _DEFAULT_PRESET)


WORKLOAD_LINKS = (10, 25, 200)


def _workload_args(prompt_tokens, output_tokens, link_gbps, model, slo):
    ttft, dec, metric = SLO_PRESETS[slo]
    return dict(ttft_slo_ms=ttft, decode_slo_ms=dec, decode_metric=metric, prompt_tokens=int(prompt_tokens),
                output_tokens=int(output_tokens), link_gbps=float(link_gbps), model=model, gpus=2)


def _workload_readout(prompt_tokens, output_tokens, link_gbps, model, slo) -> dict[str, str]:
    ro = viz.goodput_readout(**_workload_args(prompt_tokens, output_tokens, link_gbps, model, slo))
    return _goodput_lines(ro, _short_labels(2, float(link_gbps), False))


@explorable_factory
def workload() -> Explorable:
    """Goodput vs throughput as the workload, the link and the model change (two GPUs).

    Simulations: 3 prompts x 3 outputs x 2 models x (colocated + 1P1D at 3 links) x 17 runs of
    300 requests; the SLO preset only re-judges them.
    """
    return Explorable(
        title="Two GPUs: 2× colocated (chunk 512) vs 1P1D, as the workload, the link and the model change",
        controls=(
            Slider("prompt_tokens", "Prompt", (256, 1024, 4096), 1024, fmt="{:,} tokens"),
            Slider("output_tokens", "Output", (32, 128, 512), 128, fmt="{} tokens"),
            Slider("link_gbps", "Link", WORKLOAD_LINKS, 200, fmt="{:g} Gb/s"),
            Dropdown("model", "Model", tuple((_short(m), m) for m in MODELS), DEFAULT_MODEL),
            _preset_control(),
        ),
        figure_fn=lambda prompt_tokens, output_tokens, link_gbps, model, slo: viz.goodput_figure(
            **_workload_args(prompt_tokens, output_tokens, link_gbps, model, slo)),
        readout_fn=_workload_readout,
        alt=(
            "SLO attainment against request rate for two chunked colocated replicas and 1P1D, with goodput and "
            "throughput bars. A slow link lowers 1P1D's goodput (the KV transfer lands in TTFT) but not its "
            "throughput; long outputs favour colocation on throughput because one decode GPU must hold every "
            "stream; a tight SLO on every gap favours 1P1D whatever the workload."
        ),
    )


SPLIT_WORKLOADS: dict[str, tuple[int, int]] = {
    "long prompts: 4,096 in, 32 out": (4096, 32),
    "chat: 1,024 in, 128 out": (1024, 128),
    "long answers: 256 in, 512 out": (256, 512),
}


def _split_args(gpus, workload, slo):
    ttft, dec, metric = SLO_PRESETS[slo]
    p, o = SPLIT_WORKLOADS[workload]
    return dict(ttft_slo_ms=ttft, decode_slo_ms=dec, decode_metric=metric, prompt_tokens=p, output_tokens=o,
                link_gbps=200.0, gpus=int(gpus))


def _split_readout(gpus, workload, slo) -> dict[str, str]:
    ro = viz.goodput_readout(**_split_args(gpus, workload, slo))
    labels = _short_labels(int(gpus), 200.0, False)
    best = ro["best_split"]
    return {
        "best split": f"{labels[best]}: {_rps(ro['best_split_goodput_rps'])}",
        "N× colocated": _rps(ro["colocated_goodput_rps"]),
        "every split (goodput)": ", ".join(f"{labels[k]} {v:.3g}" for k, v in ro["split_goodput_rps"].items()),
        "winner on goodput": labels[ro["winner_on_goodput"]],
        "winner on throughput": labels[ro["winner_on_throughput"]],
    }


@explorable_factory
def split_sweep() -> Explorable:
    """The P:D split sweep: every xPyD of 2, 3 or 4 GPUs against as many colocated replicas.

    Simulations: 3 workloads x (2 + 3 + 4 fleets for 2, 3, 4 GPUs) x 17 runs of 300 requests.
    """
    return Explorable(
        title="The P:D split: which xPyD of N GPUs has the most goodput? (Llama-3.1-8B, 200 Gb/s)",
        controls=(
            Slider("gpus", "GPUs", (2, 3, 4), 3, fmt="{}"),
            Dropdown("workload", "Workload", tuple((k, k) for k in SPLIT_WORKLOADS), "chat: 1,024 in, 128 out"),
            _preset_control(),
        ),
        figure_fn=lambda gpus, workload, slo: viz.goodput_figure(**_split_args(gpus, workload, slo)),
        readout_fn=_split_readout,
        alt=(
            "SLO attainment against request rate for N chunked colocated replicas and every split of N GPUs into "
            "prefill and decode engines, with goodput and throughput bars. Long prompts with short answers want "
            "more prefill engines (2P1D, 3P1D); long answers want more decode engines (1P2D); a split whose "
            "engines are unbalanced wastes a GPU and loses to colocation."
        ),
    )


# =========================================================================== chapter: two GPUs
FITTED_ALLREDUCE_US = engine_profile(DEFAULT_ENGINE).allreduce_latency_s * 1e6


def _two_gpu_args(ttft_slo_ms, decode_slo_ms, decode_metric, allreduce):
    return dict(ttft_slo_ms=ttft_slo_ms, decode_slo_ms=decode_slo_ms, decode_metric=decode_metric,
                allreduce=float(allreduce))


def _two_gpu_readout(ttft_slo_ms, decode_slo_ms, decode_metric, allreduce) -> dict[str, str]:
    ro = viz.two_gpu_readout(**_two_gpu_args(ttft_slo_ms, decode_slo_ms, decode_metric, allreduce))
    short = {f.label: viz.arm_style(f).short for f in viz.two_gpu_fleets(200)}
    out = {f"{short[k]}: goodput / throughput": f"{_rps(v['goodput_rps'])} / {_rps(v['throughput_rps'])}"
           for k, v in ro.items()}
    rate = next(iter(ro.values()))["rate_per_s"]
    out[f"ITL p99 at {rate:.3g} req/s"] = ", ".join(f"{short[k]} {_ms(v['itl_p99_ms'])}" for k, v in ro.items())
    out["winner on goodput"] = short[max(ro, key=lambda k: ro[k]["goodput_rps"])]
    return out


@explorable_factory
def two_gpus() -> Explorable:
    """Two GPUs three ways: 1P1D, one TP=2 engine, two colocated replicas; with the all-reduce what-if.

    Simulations: 5 all-reduce settings for TP=2 + 1P1D + 2 replicas = 7 fleets x 18 runs of 300
    requests (~2 s); the SLO controls only re-judge them.
    """
    fitted = f"{FITTED_ALLREDUCE_US:.0f} µs"
    return Explorable(
        title="Two H100s three ways (Llama-3.1-8B, 1,024 in, 128 out, 200 Gb/s between the pair)",
        controls=(
            Slider("ttft_slo_ms", "TTFT SLO", (200, 400, 1000), 400, fmt="{:,} ms"),
            Slider("decode_slo_ms", "Decode SLO", (10, 12, 15, 20, 30), 15, fmt="{} ms"),
            _metric_control(),
            Slider("allreduce", "TP all-reduce latency", (0.0, 0.25, 0.5, 0.75, 1.0), 1.0,
                        value_labels=("free (bound)", "25% of fitted", "50% of fitted", "75% of fitted",
                                      f"fitted: {fitted}")),
        ),
        figure_fn=lambda ttft_slo_ms, decode_slo_ms, decode_metric, allreduce: viz.two_gpu_figure(
            **_two_gpu_args(ttft_slo_ms, decode_slo_ms, decode_metric, allreduce)),
        readout_fn=_two_gpu_readout,
        alt=(
            "Left: SLO attainment against request rate for 1P1D, one TP=2 engine and two colocated replicas. Right: "
            "their median and 99th-percentile inter-token gaps at a shared rate. Two replicas have the most "
            "throughput but a slow p99; 1P1D has a p99 next to its p50; TP=2 makes every step faster only if its "
            f"all-reduces are cheap: with the fitted {fitted} each it loses to both, with free all-reduces it "
            "has the most goodput under a tight SLO on every gap."
        ),
    )
