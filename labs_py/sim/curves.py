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

from labs_py.sim.fleets import Colocated, Disaggregated, Fleet
from labs_py.sim.goodput import SLO, Scenario, max_throughput_rps, run
from labs_py.validate import positive_int


@lru_cache(maxsize=512)
def rate_grid(scenario: Scenario, gpus: int, points: int = 16, top: float = 1.3) -> tuple[float, ...]:
    """``points`` rates from 5% to ``top`` x the capacity of ``gpus`` chunked colocated replicas (req/s).

    One grid per scenario and GPU budget, shared by every fleet in a figure, so their
    curves are compared at the same rates.
    """
    positive_int("points", points, "rates")
    cap = max_throughput_rps(Colocated(positive_int("gpus", gpus, "GPUs"), chunk_tokens=512), scenario)
    return tuple(float(x) for x in np.round(np.linspace(0.05, top, points) * cap, 4))


@dataclass(frozen=True)
class Curve:
    """One fleet's SLO attainment at each rate of a grid, and what it implies."""

    label: str
    gpus: int
    rates_per_s: np.ndarray
    attainment: np.ndarray
    goodput_rps: float
    throughput_rps: float


def goodput_from_curve(rates_per_s: Sequence[float], attainment: Sequence[float], target: float) -> float:
    """Where an attainment curve last stays at or above ``target`` (req/s, interpolated); 0 if never."""
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


def attainment_curve(fleet: Fleet, scenario: Scenario, rates_per_s: Sequence[float], slo: SLO) -> Curve:
    """Simulate (cached) ``fleet`` at every rate and apply ``slo``; goodput is capped by capacity."""
    att = np.array([slo.attainment(run(fleet, scenario, float(r))) for r in rates_per_s])
    cap = max_throughput_rps(fleet, scenario)
    return Curve(fleet.label, fleet.gpus, np.asarray(rates_per_s, float), att,
                 min(goodput_from_curve(rates_per_s, att, slo.target), cap), cap)


def split_fleets(gpus: int, link_gbps: float, proxy: str = "ttft_on_decode") -> list[Disaggregated]:
    """Every xPyD split of ``gpus`` GPUs: 1P(N-1)D ... (N-1)P1D."""
    n = positive_int("gpus", gpus, "GPUs")
    if n < 2:
        raise ValueError(f"a P:D split needs at least 2 GPUs; got {n} GPUs")
    return [Disaggregated(x, n - x, link_gbps, proxy) for x in range(1, n)]
