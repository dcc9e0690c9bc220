"""Goodput, and the searches built on it: the best rate, the best P:D split.

**Goodput** (DistServe, Zhong et al., OSDI 2024): the highest request rate at which
at least 90% of requests meet *both* their TTFT SLO and their TPOT SLO. Throughput
asks "how many requests per second can the fleet finish?"; goodput asks "how many
can it finish *in time*?". The two can rank the same fleets in opposite orders,
and that is the point of the chapter.

The search is a bisection on rate. Attainment falls as the rate rises (queues grow),
and every rate reuses the same seeded requests, only compressed in time
(:func:`labs_py.sim.workload.make_workload`), so the bisection is deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from labs_py.core.validate import fraction, one_of, positive_float, positive_int
from labs_py.defaults import DEFAULT_ENGINE, DEFAULT_GPU, DEFAULT_MODEL
from labs_py.sim.fleets import Colocated, Disaggregated, Fleet, simulate
from labs_py.sim.metrics import DECODE_METRICS, SimResult
from labs_py.sim.workload import Workload, lognormal_lengths, make_workload

#: DistServe's attainment target: 90% of requests meet both SLOs.
DEFAULT_TARGET = 0.90
#: The lowest rate the goodput search tries, requests/s (one request every ~17 minutes).
MIN_RATE_PER_S = 1e-3


@dataclass(frozen=True)
class Scenario:
    """Everything about an experiment except the fleet and the rate: model, hardware, requests.

    Hashable, so simulations can be cached by ``(fleet, scenario, rate)``.

    Taught in: why_split, disaggregation_trade, interference, goodput_and_split.
    """

    model: str = DEFAULT_MODEL
    gpu: str = DEFAULT_GPU
    engine: str = DEFAULT_ENGINE
    prompt_tokens: int = 2048
    output_tokens: int = 128
    n_requests: int = 1000
    arrival: str = "poisson"
    cv: float = 1.0
    seed: int = 0
    # log-normal spread of the lengths (0: every request has exactly the mean); the means stay the means
    prompt_sigma: float = 0.0
    output_sigma: float = 0.0

    def _lengths(self, mean: int, sigma: float):
        if sigma == 0:
            return mean
        median = max(1, round(mean / math.exp(sigma**2 / 2)))
        return lognormal_lengths(median, sigma, 8 * mean)

    def workload(self, rate_per_s: float) -> Workload:
        """The scenario's requests arriving at ``rate_per_s`` requests per second."""
        return make_workload(
            self.n_requests,
            rate_per_s,
            self._lengths(self.prompt_tokens, self.prompt_sigma),
            self._lengths(self.output_tokens, self.output_sigma),
            arrival=self.arrival,
            cv=self.cv,
            seed=self.seed,
        )


@lru_cache(maxsize=4096)
def run(
    fleet: Fleet, scenario: Scenario, rate_per_s: float, record_steps: bool = False
) -> SimResult:
    """Simulate ``fleet`` on ``scenario`` at ``rate_per_s`` (cached: same inputs, same object).

    ``record_steps=True`` also keeps every engine's step log (what each step carried), for
    questions about steps rather than requests (:func:`labs_py.sim.interference.prefill_gap_share`).

    Taught in: why_split, disaggregation_trade, interference, goodput_and_split, two_gpus.
    """
    positive_float("rate_per_s", rate_per_s, "requests per second")
    return simulate(
        fleet,
        scenario.workload(rate_per_s),
        scenario.model,
        scenario.gpu,
        engine=scenario.engine,
        record_steps=record_steps,
    )


@dataclass(frozen=True)
class SLO:
    """A TTFT SLO and a decode SLO (on TPOT, or on every inter-token gap), in seconds.

    Taught in: goodput_and_split, two_gpus.
    """

    ttft_s: float = 1.0
    decode_s: float = 0.050
    decode_metric: str = "tpot"
    target: float = DEFAULT_TARGET

    def __post_init__(self) -> None:
        positive_float("ttft_s", self.ttft_s, "seconds")
        positive_float("decode_s", self.decode_s, "seconds")
        one_of("decode_metric", self.decode_metric, DECODE_METRICS, "decode SLO metric")
        fraction("target", self.target)

    def attainment(self, result: SimResult) -> float:
        """Fraction of ``result``'s requests that meet both SLOs."""
        return result.attainment(self.ttft_s, self.decode_s, self.decode_metric)


def attainment_at(
    fleet: Fleet, scenario: Scenario, rate_per_s: float, slo: SLO
) -> float:
    """SLO attainment of ``fleet`` at one rate.

    Taught in: no chapter calls it directly; it works behind goodput_and_split, plan_a_deployment.
    """
    return slo.attainment(run(fleet, scenario, float(rate_per_s)))


def goodput(
    fleet: Fleet,
    scenario: Scenario,
    slo: SLO,
    *,
    rate_hi_per_s: float | None = None,
    tolerance: float = 0.02,
    max_iterations: int = 30,
) -> float:
    """The highest rate (requests/s) at which ``slo.target`` of requests meet both SLOs.

    Bisection on rate: start from a rate that fails (doubling from ``rate_hi_per_s``
    or 1/s until one does), halve the bracket until it is within ``tolerance``
    (relative). Returns 0.0 when even a trickle of requests misses the SLOs (an
    unloaded fleet is already too slow, e.g. a link whose toll alone breaks TTFT).

    **Capacity cap.** A finite run can meet its SLOs at a rate the fleet cannot
    sustain: if the last request arrives before the queue has grown long, nobody
    waited long. So the search never goes above :func:`max_throughput_rps`, the
    fleet's capacity with every request queued at once. (DistServe's simulator uses
    finite runs too; with few requests, its goodput at loose SLOs can exceed capacity.)

    Taught in: goodput_and_split.
    """
    tol = positive_float("tolerance", tolerance, "(relative)")
    positive_int("max_iterations", max_iterations, "iterations")

    capacity = max_throughput_rps(fleet, scenario)

    def ok(rate: float) -> bool:
        return (
            rate <= capacity and attainment_at(fleet, scenario, rate, slo) >= slo.target
        )

    lo = 0.0
    hi = (
        positive_float("rate_hi_per_s", rate_hi_per_s, "requests per second")
        if rate_hi_per_s
        else 1.0
    )
    for _ in range(max_iterations):
        if not ok(hi):
            break
        lo, hi = hi, hi * 2
    else:
        return hi
    if lo == 0.0:
        # find any passing rate below hi, down to MIN_RATE_PER_S (below that, an hour passes
        # between requests: a fleet that fails there fails on its own, not under load)
        probe = hi
        while probe / 4 >= MIN_RATE_PER_S:
            probe /= 4
            if ok(probe):
                lo = probe
                break
        else:
            return 0.0
    for _ in range(max_iterations):
        if hi - lo <= tol * lo:
            break
        mid = (lo + hi) / 2
        if ok(mid):
            lo = mid
        else:
            hi = mid
    return lo


def max_throughput_rps(fleet: Fleet, scenario: Scenario) -> float:
    """Requests per second when every request arrives at once (offline throughput, no SLOs).

    This is the number a throughput benchmark (``vllm bench throughput``) reports:
    the fleet is never idle, and nobody asks how long anyone waited.

    Taught in: goodput_and_split, two_gpus, plan_a_deployment.
    """
    return _max_throughput_cached(fleet, scenario)


@lru_cache(maxsize=1024)
def _max_throughput_cached(fleet: Fleet, scenario: Scenario) -> float:
    w = make_workload(
        scenario.n_requests,
        1.0,
        scenario.prompt_tokens,
        scenario.output_tokens,
        arrival="burst",
        seed=scenario.seed,
    )
    return simulate(
        fleet, w, scenario.model, scenario.gpu, engine=scenario.engine
    ).throughput_rps


def engine_busy_shares(fleet: Fleet, scenario: Scenario) -> tuple[float, ...]:
    """For each engine (prefill engines first in an xPyD fleet), the fraction of the offline run it spent in steps.

    The run is the one behind :func:`max_throughput_rps`: every request queued at once. A
    prefill engine steps only when it has prompts, so its share says how much of that GPU
    the workload uses: a split with too many prefill GPUs for its workload leaves them idle,
    and loses throughput to colocated replicas, which share both phases and stay busy. (A
    decode engine steps whenever anything is decoding, even a batch of one, so its share is
    near 1 and says little about its load.)

    Taught in: goodput_and_split.
    """
    w = make_workload(
        scenario.n_requests,
        1.0,
        scenario.prompt_tokens,
        scenario.output_tokens,
        arrival="burst",
        seed=scenario.seed,
    )
    r = simulate(
        fleet,
        w,
        scenario.model,
        scenario.gpu,
        engine=scenario.engine,
        record_steps=True,
    )
    return tuple(
        float((log[:, 1] - log[:, 0]).sum() / r.makespan_s) for log in r.raw.step_log
    )


@dataclass(frozen=True)
class SplitResult:
    """Goodput of every xPyD split of ``gpus`` GPUs, and the best one.

    Taught in: no chapter calls it directly; it works behind goodput_and_split.
    """

    gpus: int
    splits: tuple[tuple[int, int], ...]
    goodput_rps: tuple[float, ...]

    @property
    def best(self) -> tuple[int, int]:
        """The (prefill, decode) split with the highest goodput (fewer prefill engines on ties)."""
        i = max(
            range(len(self.splits)),
            key=lambda j: (self.goodput_rps[j], -self.splits[j][0]),
        )
        return self.splits[i]

    @property
    def best_goodput_rps(self) -> float:
        """The best split's goodput, requests/s."""
        return max(self.goodput_rps)


def split_search(
    gpus: int,
    scenario: Scenario,
    slo: SLO,
    *,
    link_gbps: float = 200.0,
    proxy: str = "ttft_on_decode",
    progress: bool = False,
    make_fleet: Callable[[int, int], Fleet] | None = None,
) -> SplitResult:
    """Goodput of every xPyD with x + y = ``gpus`` (1P(N-1)D ... (N-1)P1D).

    Long prompts and short outputs want more prefill engines; short prompts and long
    outputs want more decode engines. The search just tries them all: N-1 goodput
    searches.

    Taught in: goodput_and_split.
    """
    n = positive_int("gpus", gpus, "GPUs")
    if n < 2:
        raise ValueError(f"a P:D split needs at least 2 GPUs; got {n} GPUs")
    splits = tuple((x, n - x) for x in range(1, n))
    build = make_fleet or (
        lambda x, y: Disaggregated(x, y, link_gbps=link_gbps, proxy=proxy)
    )
    it = splits
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(splits, desc=f"P:D splits of {n} GPUs")
    g = tuple(goodput(build(x, y), scenario, slo) for x, y in it)
    return SplitResult(n, splits, g)


__all__ = [
    "Scenario",
    "SLO",
    "run",
    "attainment_at",
    "goodput",
    "max_throughput_rps",
    "engine_busy_shares",
    "split_search",
    "SplitResult",
    "DEFAULT_TARGET",
    "Colocated",
    "Disaggregated",
]
