"""What the chapter "Goodput and the P:D split" simulates: N chunked colocated replicas against every xPyD split.

A figure and its readout share the same cached attainment curves
(:func:`labs_py.sim.curves.cached_curve`): SLO controls only re-judge cached runs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from labs_py.core import catalog
from labs_py.core.validate import positive_float, positive_int
from labs_py.defaults import DEFAULT_MODEL
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
