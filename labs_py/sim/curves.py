"""Attainment curves on a grid of rates: what the goodput chapter plots, computed once and cached.

A figure with sliders for the SLOs must not re-simulate when an SLO moves: the
simulation depends on the fleet, the requests and the rate, never on the SLO. So the
curves here simulate each (fleet, scenario, rate) once (:func:`labs_py.sim.goodput.run`
caches it) and apply SLOs afterwards, which is just a comparison over arrays.

Goodput read off a curve is the rate where the curve crosses the target, linearly
interpolated between grid points: coarser than the bisection of
:func:`labs_py.sim.goodput.goodput`, but consistent with what the figure shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from labs_py.core.validate import positive_float, positive_int
from labs_py.defaults import DEFAULT_GPU, DEFAULT_MODEL
from labs_py.sim.fleets import Colocated, Disaggregated, Fleet
from labs_py.sim.goodput import SLO, Scenario, max_throughput_rps, run

#: Requests per simulated run in the attainment figures: a p90 over 300 requests, cheap enough to grid.
FIGURE_REQUESTS = 300
MS = 1e3


@lru_cache(maxsize=512)
def rate_grid(
    scenario: Scenario, gpus: int, points: int = 16, top: float = 1.3
) -> tuple[float, ...]:
    """``points`` rates from 5% to ``top`` x the capacity of ``gpus`` chunked colocated replicas (req/s).

    One grid per scenario and GPU budget, shared by every fleet in a figure, so their
    curves are compared at the same rates.

    Taught in: goodput_and_split, two_gpus.
    """
    positive_int("points", points, "rates")
    cap = max_throughput_rps(
        Colocated(positive_int("gpus", gpus, "GPUs"), chunk_tokens=512), scenario
    )
    return tuple(float(x) for x in np.round(np.linspace(0.05, top, points) * cap, 4))


@dataclass(frozen=True)
class Curve:
    """One fleet's SLO attainment at each rate of a grid, and what it implies.

    Taught in: goodput_and_split, two_gpus.
    """

    label: str
    gpus: int
    rates_per_s: np.ndarray
    attainment: np.ndarray
    goodput_rps: float
    throughput_rps: float


def goodput_from_curve(
    rates_per_s: Sequence[float], attainment: Sequence[float], target: float
) -> float:
    """Where an attainment curve last stays at or above ``target`` (req/s, interpolated); 0 if never.

    Taught in: no chapter calls it directly; it works behind goodput_and_split, two_gpus.
    """
    r, a = np.asarray(rates_per_s, float), np.asarray(attainment, float)
    ok = a >= target
    if not ok[0]:
        return 0.0
    fail = np.flatnonzero(~ok)
    if fail.size == 0:
        return float(r[-1])
    i = int(fail[0])
    # linear interpolation of the crossing between r[i-1] (pass) and r[i] (fail)
    return float(r[i - 1] + (a[i - 1] - target) / (a[i - 1] - a[i]) * (r[i] - r[i - 1]))


def attainment_curve(
    fleet: Fleet, scenario: Scenario, rates_per_s: Sequence[float], slo: SLO
) -> Curve:
    """Simulate (cached) ``fleet`` at every rate and apply ``slo``; goodput is capped by capacity.

    Taught in: no chapter calls it directly; it works behind goodput_and_split, two_gpus.
    """
    att = np.array(
        [slo.attainment(run(fleet, scenario, float(r))) for r in rates_per_s]
    )
    cap = max_throughput_rps(fleet, scenario)
    return Curve(
        fleet.label,
        fleet.gpus,
        np.asarray(rates_per_s, float),
        att,
        min(goodput_from_curve(rates_per_s, att, slo.target), cap),
        cap,
    )


def split_fleets(
    gpus: int, link_gbps: float, proxy: str = "ttft_on_decode"
) -> list[Disaggregated]:
    """Every xPyD split of ``gpus`` GPUs: 1P(N-1)D ... (N-1)P1D.

    Taught in: goodput_and_split.
    """
    n = positive_int("gpus", gpus, "GPUs")
    if n < 2:
        raise ValueError(f"a P:D split needs at least 2 GPUs; got {n} GPUs")
    return [Disaggregated(x, n - x, link_gbps, proxy) for x in range(1, n)]


@lru_cache(maxsize=8192)
def cached_curve(
    fleet: Fleet, scenario: Scenario, grid: tuple[float, ...], slo: SLO
) -> Curve:
    """:func:`attainment_curve`, cached: a figure and its readout ask for the same one.

    Taught in: goodput_and_split, two_gpus.
    """
    return attainment_curve(fleet, scenario, grid, slo)


@lru_cache(maxsize=1024)
def latencies(fleet: Fleet, scenario: Scenario, rate_per_s: float) -> dict[str, float]:
    """TTFT and ITL p50/p99 (ms) of one run, cached (a percentile of ~10^4 gaps is worth keeping).

    Taught in: two_gpus.
    """
    r = run(fleet, scenario, rate_per_s)
    return {
        f"{m}_p{q}_ms": r.percentile_ms(m, q) for m in ("ttft", "itl") for q in (50, 99)
    }


def figure_scenario(
    prompt_tokens: int,
    output_tokens: int,
    model: str = DEFAULT_MODEL,
    gpu: str = DEFAULT_GPU,
) -> Scenario:
    """The scenario every attainment figure simulates: Poisson arrivals, FIGURE_REQUESTS requests, seed 0.

    Taught in: goodput_and_split, two_gpus.
    """
    return Scenario(
        model=model,
        gpu=gpu,
        prompt_tokens=positive_int("prompt_tokens", prompt_tokens, "tokens"),
        output_tokens=positive_int("output_tokens", output_tokens, "tokens"),
        n_requests=FIGURE_REQUESTS,
    )


def slo_from_ms(ttft_slo_ms: float, decode_slo_ms: float, decode_metric: str) -> SLO:
    """An SLO from milliseconds (the controls' unit).

    Taught in: goodput_and_split, two_gpus.
    """
    return SLO(
        positive_float("ttft_slo_ms", ttft_slo_ms, "ms") / MS,
        positive_float("decode_slo_ms", decode_slo_ms, "ms") / MS,
        decode_metric,
    )
