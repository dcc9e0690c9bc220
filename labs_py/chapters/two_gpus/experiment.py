"""What the chapter "Two GPUs" simulates: two GPUs three ways (1P1D, one TP=2 engine, two replicas).

The TP=2 arm takes an all-reduce what-if: its engine's fitted all-reduce latency scaled by
a factor (:func:`labs_py.sim.fleets.engine_with_allreduce`).
"""

from __future__ import annotations

from dataclasses import replace

from labs_py.core.validate import fraction, positive_float
from labs_py.defaults import DEFAULT_MODEL
from labs_py.sim.curves import (
    Curve,
    cached_curve,
    figure_scenario,
    latencies,
    rate_grid,
    slo_from_ms,
)
from labs_py.sim.fleets import Colocated, Disaggregated, Fleet, engine_with_allreduce
from labs_py.sim.goodput import SLO

__all__ = ["SHARED_LOAD", "two_gpu_fleets", "arms", "numbers"]

#: The rate at which the two-GPU figure compares latencies: this fraction of two colocated replicas' capacity.
SHARED_LOAD = 0.4


def two_gpu_fleets(link_gbps: float) -> list[Fleet]:
    """Two GPUs three ways: 1P1D over ``link_gbps``, one TP=2 engine, two independent replicas (both chunk 512)."""
    return [
        Disaggregated(1, 1, positive_float("link_gbps", link_gbps, "Gb/s")),
        Colocated(1, tp=2, chunk_tokens=512),
        Colocated(2, chunk_tokens=512),
    ]


def arms(
    ttft_slo_ms: float = 400,
    decode_slo_ms: float = 15,
    decode_metric: str = "tpot",
    prompt_tokens: int = 1024,
    output_tokens: int = 128,
    link_gbps: float = 200,
    model: str = DEFAULT_MODEL,
    allreduce: float = 1.0,
) -> tuple[list[tuple[Fleet, Curve, dict]], SLO, float]:
    """Per arm: the fleet, its attainment curve and its latencies at a shared rate; the SLO; that rate.

    ``allreduce`` scales the TP=2 engine's fitted all-reduce latency (1.0: as fitted; 0: free, an
    upper bound for TP=2).
    """
    sc = figure_scenario(prompt_tokens, output_tokens, model)
    slo = slo_from_ms(ttft_slo_ms, decode_slo_ms, decode_metric)
    grid = rate_grid(sc, 2)
    rate = float(
        grid[0] / 0.05 * SHARED_LOAD
    )  # the grid starts at 5% of the replicas' capacity
    tp_sc = replace(
        sc, engine=engine_with_allreduce(sc.engine, fraction("allreduce", allreduce))
    )
    out = []
    for f in two_gpu_fleets(link_gbps):
        s = tp_sc if isinstance(f, Colocated) and f.tp > 1 else sc
        out.append((f, cached_curve(f, s, grid, slo), latencies(f, s, rate)))
    return out, slo, rate


def numbers(
    ttft_slo_ms: float = 400,
    decode_slo_ms: float = 15,
    decode_metric: str = "tpot",
    prompt_tokens: int = 1024,
    output_tokens: int = 128,
    link_gbps: float = 200,
    model: str = DEFAULT_MODEL,
    allreduce: float = 1.0,
) -> dict[str, dict[str, float]]:
    """Per arm (1P1D, TP=2, 2x colocated): goodput, throughput, and TTFT/ITL p50 and p99 at a shared rate.

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
        allreduce,
    )
    return {
        c.label: {
            "goodput_rps": c.goodput_rps,
            "throughput_rps": c.throughput_rps,
            "rate_per_s": rate,
            **lat,
        }
        for _, c, lat in out
    }
