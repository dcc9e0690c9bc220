"""What the chapter "Goodput and the P:D split" simulates: N chunked colocated replicas against every xPyD split.

A figure and its readout share the same cached attainment curves
(:func:`labs_py.sim.curves.cached_curve`): SLO controls only re-judge cached runs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from labs_py.core import catalog
from labs_py.core.validate import positive_float, positive_int
from labs_py.defaults import DEFAULT_GPU, DEFAULT_MODEL
from labs_py.gpus import get_gpu
from labs_py.sim.curves import (
    Curve,
    cached_curve,
    figure_scenario,
    rate_grid,
    slo_from_ms,
    split_fleets,
)
from labs_py.sim.fleets import Colocated, Disaggregated, Fleet
from labs_py.sim.goodput import SLO, Scenario, goodput
from labs_py.steptime import step_coefficients

__all__ = [
    "goodput_fleets",
    "curves",
    "numbers",
    "ToyRow",
    "toy_scenario",
    "toy_arms",
    "distserve_toy",
    "toy_prefill_capacity_rps",
]


def goodput_fleets(gpus: int, link_gbps: float, stalling: bool = False) -> list[Fleet]:
    """The fleets of the goodput figure: chunked colocated replicas (and, if asked, unchunked ones),
    then every split."""
    n = positive_int("gpus", gpus, "GPUs")
    fleets: list[Fleet] = [Colocated(n, chunk_tokens=512)]
    if stalling:
        fleets.append(Colocated(n, chunk_tokens=None))
    return fleets + list(
        split_fleets(n, positive_float("link_gbps", link_gbps, "Gb/s"))
    )


def curves(
    ttft_slo_ms: float = 400,
    decode_slo_ms: float = 9,
    decode_metric: str = "tpot",
    prompt_tokens: int = 1024,
    output_tokens: int = 128,
    link_gbps: float = 200,
    model: str = DEFAULT_MODEL,
    gpus: int = 2,
    stalling: bool = False,
) -> tuple[list[Curve], list[Fleet], SLO]:
    """Every fleet's attainment curve on a shared rate grid, the fleets, and the SLO judged."""
    sc = figure_scenario(prompt_tokens, output_tokens, model)
    slo = slo_from_ms(ttft_slo_ms, decode_slo_ms, decode_metric)
    grid = rate_grid(sc, gpus)
    fleets = goodput_fleets(gpus, link_gbps, stalling)
    return [cached_curve(f, sc, grid, slo) for f in fleets], fleets, slo


def numbers(
    ttft_slo_ms: float = 400,
    decode_slo_ms: float = 9,
    decode_metric: str = "tpot",
    prompt_tokens: int = 1024,
    output_tokens: int = 128,
    link_gbps: float = 200,
    model: str = DEFAULT_MODEL,
    gpus: int = 2,
    stalling: bool = False,
) -> dict[str, object]:
    """Goodput and throughput (req/s) of every fleet of the figure, by label, and the winners.

    ``best_split`` is the xPyD split with the highest goodput (fewer prefill engines on ties);
    the winners are over every fleet drawn.
    """
    cs, _, _ = curves(
        ttft_slo_ms,
        decode_slo_ms,
        decode_metric,
        prompt_tokens,
        output_tokens,
        link_gbps,
        model,
        gpus,
        stalling,
    )
    colo = cs[0]
    splits = [c for c in cs if "P" in c.label and "D @" in c.label]
    best = max(splits, key=lambda c: c.goodput_rps)
    return {
        "colocated_goodput_rps": colo.goodput_rps,
        "colocated_throughput_rps": colo.throughput_rps,
        "goodput_rps": {c.label: c.goodput_rps for c in cs},
        "throughput_rps": {c.label: c.throughput_rps for c in cs},
        "split_goodput_rps": {c.label: c.goodput_rps for c in splits},
        "split_throughput_rps": {c.label: c.throughput_rps for c in splits},
        "best_split": best.label,
        "best_split_goodput_rps": best.goodput_rps,
        "winner_on_goodput": max(cs, key=lambda c: c.goodput_rps).label,
        "winner_on_throughput": max(cs, key=lambda c: c.throughput_rps).label,
    }


# --------------------------------------------------------------------------- DistServe's own example
@dataclass(frozen=True)
class ToyRow:
    """One arm of DistServe's example: its goodput as published and as simulated (req/s)."""

    arm: str
    gpus: int
    published_rps: float
    simulated_rps: float

    @property
    def error(self) -> float:
        """Simulated over published, minus one."""
        return self.simulated_rps / self.published_rps - 1.0


def _toy() -> dict:
    return catalog.load("distserve_reference")["toy_example"]


def toy_scenario() -> Scenario:
    """DistServe's example: OPT-13B on A100 SXMs under DistServe's own engine, 512 tokens in, 64 out."""
    t = _toy()
    return Scenario(
        model=t["model"],
        gpu=t["gpu"],
        engine="distserve",
        prompt_tokens=t["prompt_tokens"],
        output_tokens=t["output_tokens"],
        n_requests=400,
    )


def toy_arms() -> dict[str, tuple[Fleet, SLO]]:
    """The example's four arms, each judged as DistServe judged it (90% of requests within the SLOs).

    The colocated arm has no chunked prefill (the 2023 vLLM baseline); the prefill-only and decode-only
    arms are a lone prefill (decode) engine with decode (prefill) engines to spare, judged on TTFT (TPOT)
    alone; the split is two prefill engines and one decode engine over the A100s' NVLink.
    """
    t = _toy()
    both = SLO(ttft_s=t["ttft_slo_s"], decode_s=t["tpot_slo_s"], target=t["attainment"])
    link = get_gpu(t["gpu"]).tp_link.gbps_per_direction
    return {
        "colocated, 1 GPU": (Colocated(1, chunk_tokens=None), both),
        "prefill only, 1 GPU": (Disaggregated(1, 4, link), replace(both, decode_s=1e3)),
        "decode only, 1 GPU": (Disaggregated(4, 1, link), replace(both, ttft_s=1e3)),
        "2P1D, 3 GPUs": (Disaggregated(2, 1, link), both),
    }


def distserve_toy() -> list[ToyRow]:
    """Each arm's goodput, published beside simulated (the published figures: ``distserve_reference.json``)."""
    t, sc = _toy(), toy_scenario()
    out = []
    for arm, (fleet, slo) in toy_arms().items():
        per = (
            1 if "only" in arm else fleet.gpus
        )  # the single-phase arms are one engine's rate
        out.append(ToyRow(arm, per, t["goodput_rps"][arm], goodput(fleet, sc, slo)))
    return out


def toy_prefill_capacity_rps() -> float:
    """Prompts per second one A100 can prefill back to back under DistServe's own step fit (512 tokens)."""
    sc = toy_scenario()
    return 1.0 / step_coefficients(
        sc.model, sc.gpu, tp=1, engine=sc.engine
    ).prefill_seconds(sc.prompt_tokens)


# --------------------------------------------------------------------------- the GPU-side metrics the Week 16 lab names
def gpu_side_metrics(
    model: str = DEFAULT_MODEL,
    gpu: str = DEFAULT_GPU,
    prompts: tuple[int, ...] = (512, 2048, 8192),
    batches: tuple[int, ...] = (1, 16, 64, 256),
    context_tokens: int = 1024,
) -> dict:
    """What a GPU profiler would show on each side of a split, from the calibrated step model.

    * prefill: the share of the GPU's dense bf16 FLOP/s a prompt's prefill uses (model FLOPs over
      step time over peak; "MFU"), per prompt length;
    * decode: the bytes a step reads (the weights once, every request's KV) over the step time,
      as a share of the GPU's HBM bandwidth, per batch size at ``context_tokens`` each.

    The Week 16 lab expects the prefill GPU busy above 80% and decode near its memory roof.

    Taught in: goodput_and_split.
    """
    from labs_py.steptime import decode_bytes_read, prefill_flops

    g = get_gpu(gpu)
    co = step_coefficients(model, gpu, tp=1)
    pre = {
        n: prefill_flops(model, n) / co.prefill_seconds(n) / g.flops_per_s
        for n in prompts
    }
    dec = {
        b: decode_bytes_read(model, b, context_tokens)
        / co.decode_seconds(b, context_tokens)
        / g.bytes_per_s
        for b in batches
    }
    return {
        "gpu": g.id,
        "prefill_mfu": pre,
        "decode_hbm_share": dec,
        "context_tokens": context_tokens,
    }


def ttft_by_length(
    lengths: tuple[int, ...] = (512, 1024, 2048, 4096, 8192),
    load: float = 0.6,
    output_tokens: int = 128,
    link_gbps: float = 200.0,
) -> list[dict]:
    """Week 16's comparison, simulated: TTFT p50 and p99 against input length, two colocated replicas
    (chunk 512) against 1P1D, alone (one request at a time) and under load.

    "Under load" is ``load`` times the smaller of the two fleets' throughputs for that length, so
    both fleets are equally far from saturation in requests per second.

    Taught in: goodput_and_split.
    """
    from labs_py.sim.goodput import max_throughput_rps, run

    out = []
    fleets = {
        "colocated": Colocated(2, chunk_tokens=512),
        "split": Disaggregated(1, 1, link_gbps),
    }
    for n in lengths:
        sc = Scenario(
            model=DEFAULT_MODEL,
            prompt_tokens=n,
            output_tokens=output_tokens,
            n_requests=400,
        )
        rate = load * min(max_throughput_rps(f, sc) for f in fleets.values())
        row = {"prompt_tokens": n, "rate": rate}
        for name, f in fleets.items():
            alone, loaded = run(f, sc, 0.2), run(f, sc, rate)
            row[name] = {
                "alone_p50": alone.percentile_ms("ttft", 50),
                "p50": loaded.percentile_ms("ttft", 50),
                "p99": loaded.percentile_ms("ttft", 99),
            }
        out.append(row)
    return out
