"""What the chapter "Two GPUs" simulates: two GPUs three ways (1P1D, one TP=2 engine, two replicas).

The disaggregated arm takes per-phase parallelism as a control: its prefill engine and its
decode engine may each run at their own TP degree (``prefill_tp``, ``decode_tp``), which
spends a third GPU; goodput per GPU keeps the comparison fair.
"""

from __future__ import annotations

from labs_py.core.validate import one_of, positive_float
from labs_py.defaults import DEFAULT_MODEL
from labs_py.sim.curves import (
    Curve,
    cached_curve,
    figure_scenario,
    latencies,
    rate_grid,
    slo_from_ms,
)
from labs_py.sim.fleets import Colocated, Disaggregated, Fleet
from labs_py.sim.goodput import SLO

__all__ = ["SHARED_LOAD", "SPLITS", "two_gpu_fleets", "arms", "numbers"]

#: The rate at which the figure compares latencies: this fraction of two colocated replicas' capacity.
SHARED_LOAD = 0.4
#: The disaggregated arm's parallelism per phase, as ``"prefill_tp/decode_tp"``.
SPLITS = ("1/1", "2/1", "1/2")


def two_gpu_fleets(link_gbps: float, split: str = "1/1") -> list[Fleet]:
    """1P1D over ``link_gbps`` (each phase at the TP of ``split``), one TP=2 engine, two replicas (chunk 512)."""
    one_of("split", split, SPLITS, "prefill_tp/decode_tp of the disaggregated arm")
    p_tp, d_tp = (int(x) for x in split.split("/"))
    return [
        Disaggregated(
            1,
            1,
            positive_float("link_gbps", link_gbps, "Gb/s"),
            prefill_tp=p_tp,
            decode_tp=d_tp,
        ),
        Colocated(1, tp=2, chunk_tokens=512),
        Colocated(2, chunk_tokens=512),
    ]


def arms(
    ttft_slo_ms: float = 400,
    decode_slo_ms: float = 9,
    decode_metric: str = "tpot",
    prompt_tokens: int = 1024,
    output_tokens: int = 128,
    link_gbps: float = 200,
    model: str = DEFAULT_MODEL,
    split: str = "1/1",
) -> tuple[list[tuple[Fleet, Curve, dict]], SLO, float]:
    """Per arm: the fleet, its attainment curve and its latencies at a shared rate; the SLO; that rate."""
    sc = figure_scenario(prompt_tokens, output_tokens, model)
    slo = slo_from_ms(ttft_slo_ms, decode_slo_ms, decode_metric)
    grid = rate_grid(sc, 2)
    rate = float(
        grid[0] / 0.05 * SHARED_LOAD
    )  # the grid starts at 5% of the replicas' capacity
    out = [
        (f, cached_curve(f, sc, grid, slo), latencies(f, sc, rate))
        for f in two_gpu_fleets(link_gbps, split)
    ]
    return out, slo, rate


def numbers(
    ttft_slo_ms: float = 400,
    decode_slo_ms: float = 9,
    decode_metric: str = "tpot",
    prompt_tokens: int = 1024,
    output_tokens: int = 128,
    link_gbps: float = 200,
    model: str = DEFAULT_MODEL,
    split: str = "1/1",
) -> dict[str, dict[str, float]]:
    """Per arm: goodput, throughput, both per GPU, and TTFT/ITL p50 and p99 at a shared rate.

    The shared rate is ``SHARED_LOAD`` (40%) of two colocated replicas' capacity: loaded, but stable for all three.
    """
    out, _, rate = arms(
        ttft_slo_ms,
        decode_slo_ms,
        decode_metric,
        prompt_tokens,
        output_tokens,
        link_gbps,
        model,
        split,
    )
    return {
        c.label: {
            "gpus": f.gpus,
            "goodput_rps": c.goodput_rps,
            "throughput_rps": c.throughput_rps,
            "goodput_per_gpu": c.goodput_rps / f.gpus,
            "rate_per_s": rate,
            **lat,
        }
        for f, c, lat in out
    }
