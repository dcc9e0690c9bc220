"""Workloads: when requests arrive, and how long their prompts and outputs are.

A serving experiment is only as good as its arrivals. Two processes cover the
chapters:

* **Poisson** arrivals (exponential gaps): independent users, the assumption behind
  DistServe's M/D/1 analysis of the prefill queue;
* **gamma** arrivals with a coefficient of variation ``cv``: ``cv = 1`` is Poisson,
  ``cv > 1`` is burstier (requests bunch up, queues spike), ``cv < 1`` is smoother.
  DistServe's simulator uses the same parametrisation (shape ``1/cv^2``).

Everything is seeded. A workload at rate ``r`` is built from gaps drawn at rate 1 and
divided by ``r``: the same seed gives the *same* sequence of requests at every rate,
only compressed in time, so a goodput search compares like with like and attainment
falls monotonically (up to the simulator's own dynamics) as the rate rises.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from labs_py.core.validate import (
    fraction,
    non_negative_float,
    one_of,
    positive_float,
    positive_int,
)

ARRIVALS: tuple[str, ...] = ("poisson", "gamma", "uniform", "burst")

#: A length is a fixed number of tokens, or a sampler ``f(rng, n) -> int array``.
Lengths = "int | Callable[[np.random.Generator, int], np.ndarray]"


@dataclass(frozen=True)
class Workload:
    """``n`` requests: arrival times (seconds from 0, sorted), prompt and output lengths (tokens).

    ``output_tokens`` counts every generated token *including the first*: a request
    with ``output_tokens = 1`` has a TTFT and no inter-token gaps.

    Taught in: no chapter calls it directly; it works behind why_split, disaggregation_trade,
        interference, goodput_and_split, two_gpus, real_pair, plan_a_deployment,
        compression_and_pooling.
    """

    arrival_s: np.ndarray
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray
    label: str = ""
    #: Optional shared prefixes: which prefix each request starts with (-1: none) and how long it is.
    prefix_id: np.ndarray | None = None
    prefix_tokens: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.arrival_s)
        if n == 0:
            raise ValueError("a workload needs at least 1 request; got 0")
        if len(self.prompt_tokens) != n or len(self.output_tokens) != n:
            raise ValueError(
                f"arrival_s, prompt_tokens and output_tokens must have one entry per request; got lengths "
                f"{n}, {len(self.prompt_tokens)}, {len(self.output_tokens)}"
            )
        if np.any(np.diff(self.arrival_s) < 0) or self.arrival_s[0] < 0:
            raise ValueError("arrival_s must be sorted seconds >= 0")
        if (self.prefix_id is None) != (self.prefix_tokens is None):
            raise ValueError(
                "prefix_id and prefix_tokens go together: give both or neither"
            )
        if self.prefix_id is not None:
            if len(self.prefix_id) != n or len(self.prefix_tokens) != n:
                raise ValueError(
                    f"prefix_id and prefix_tokens need one entry per request ({n})"
                )
            shared = self.prefix_id >= 0
            if np.any(
                self.prefix_tokens[shared] >= self.prompt_tokens[shared]
            ) or np.any(self.prefix_tokens[shared] < 1):
                raise ValueError(
                    "a shared prefix must be at least 1 token and shorter than its prompt (tokens)"
                )
        if self.prompt_tokens.min() < 1 or self.output_tokens.min() < 1:
            raise ValueError(
                f"prompt_tokens and output_tokens must be >= 1 token per request; got min prompt "
                f"{self.prompt_tokens.min()} tokens, min output {self.output_tokens.min()} tokens"
            )

    @property
    def n(self) -> int:
        """Number of requests."""
        return len(self.arrival_s)

    @property
    def offered_rate_per_s(self) -> float:
        """Requests per second actually offered (n-1 gaps over the arrival span)."""
        span = float(self.arrival_s[-1] - self.arrival_s[0])
        return (self.n - 1) / span if span > 0 else float("inf")


def unit_gaps(
    n: int, arrival: str = "poisson", cv: float = 1.0, seed: int = 0
) -> np.ndarray:
    """``n`` inter-arrival gaps with mean 1 second (the first gap is 0: request 0 arrives at t=0).

    ``"poisson"``: exponential gaps; ``"gamma"``: gamma gaps with coefficient of
    variation ``cv``; ``"uniform"``: evenly spaced; ``"burst"``: every request at t=0
    (the offline-throughput setting of ``vllm bench throughput``).

    Taught in: no chapter calls it directly; it works behind why_split, disaggregation_trade,
        interference, goodput_and_split, two_gpus, plan_a_deployment, compression_and_pooling.
    """
    n = positive_int("n", n, "requests")
    one_of("arrival", arrival, ARRIVALS, "arrival process")
    rng = np.random.default_rng(seed)
    if arrival == "poisson":
        g = rng.exponential(1.0, n - 1)
    elif arrival == "gamma":
        c = positive_float("cv", cv, "(coefficient of variation, dimensionless)")
        g = rng.gamma(1.0 / c**2, c**2, n - 1)
    elif arrival == "uniform":
        g = np.ones(n - 1)
    else:
        g = np.zeros(n - 1)
    return np.concatenate([[0.0], g])


def _lengths(name: str, spec: object, rng: np.random.Generator, n: int) -> np.ndarray:
    if callable(spec):
        arr = np.asarray(spec(rng, n), dtype=np.int64)
        if arr.shape != (n,):
            raise ValueError(
                f"{name} sampler must return {n} lengths in tokens; got shape {arr.shape}"
            )
        return arr
    return np.full(n, positive_int(name, spec, "tokens"), dtype=np.int64)


def uniform_lengths(
    low_tokens: int, high_tokens: int
) -> Callable[[np.random.Generator, int], np.ndarray]:
    """A sampler of lengths uniform in ``[low_tokens, high_tokens]`` (inclusive).

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    lo = positive_int("low_tokens", low_tokens, "tokens")
    hi = positive_int("high_tokens", high_tokens, "tokens")
    if hi < lo:
        raise ValueError(f"high_tokens must be >= low_tokens; got {lo}..{hi} tokens")
    return lambda rng, n: rng.integers(lo, hi + 1, n)


def lognormal_lengths(
    median_tokens: int, sigma: float, max_tokens: int
) -> Callable[[np.random.Generator, int], np.ndarray]:
    """A sampler of lengths from a log-normal (the long tail of real chat prompts), clipped to [1, max].

    Taught in: no chapter calls it directly; it works behind why_split, disaggregation_trade,
        interference, goodput_and_split, two_gpus, plan_a_deployment.
    """
    med = positive_int("median_tokens", median_tokens, "tokens")
    s = non_negative_float("sigma", sigma, "(log-space standard deviation)")
    top = positive_int("max_tokens", max_tokens, "tokens")
    return lambda rng, n: np.clip(
        np.rint(med * np.exp(s * rng.standard_normal(n))), 1, top
    ).astype(np.int64)


def make_workload(
    n: int,
    rate_per_s: float,
    prompt_tokens: int | Callable = 2048,
    output_tokens: int | Callable = 128,
    *,
    arrival: str = "poisson",
    cv: float = 1.0,
    seed: int = 0,
) -> Workload:
    """``n`` requests arriving at ``rate_per_s`` on average, with fixed or sampled lengths.

    >>> w = make_workload(4, 2.0, 512, 64, seed=1)
    >>> w.n, int(w.prompt_tokens[0]), float(w.arrival_s[0])
    (4, 512, 0.0)

    Taught in: goodput_and_split.
    """
    rate = positive_float("rate_per_s", rate_per_s, "requests per second")
    gaps = unit_gaps(n, arrival, cv, seed) / rate
    rng = np.random.default_rng(
        seed + 7919
    )  # lengths independent of the gaps, same at every rate
    p = _lengths("prompt_tokens", prompt_tokens, rng, n)
    o = _lengths("output_tokens", output_tokens, rng, n)
    return Workload(np.cumsum(gaps), p, o, label=f"{arrival} {rate:g}/s")


def make_prefix_workload(
    n: int,
    rate_per_s: float,
    *,
    n_prefixes: int,
    prefix_tokens: int,
    suffix_tokens: int,
    output_tokens: int,
    shared_fraction: float = 1.0,
    arrival: str = "poisson",
    cv: float = 1.0,
    seed: int = 0,
) -> Workload:
    """Requests that start with one of ``n_prefixes`` shared prefixes (documents, system prompts).

    A ``shared_fraction`` of the requests open with a prefix drawn uniformly from the
    ``n_prefixes`` (its first use is a miss everywhere; later uses can hit a cache);
    the rest have a unique prompt of the same total length. Every prompt is
    ``prefix_tokens + suffix_tokens`` long.

    Taught in: no chapter calls it directly; it works behind compression_and_pooling.
    """
    positive_int("n_prefixes", n_prefixes, "prefixes")
    positive_int("prefix_tokens", prefix_tokens, "tokens")
    positive_int("suffix_tokens", suffix_tokens, "tokens")
    frac = fraction("shared_fraction", shared_fraction)
    base = make_workload(
        n,
        rate_per_s,
        prefix_tokens + suffix_tokens,
        output_tokens,
        arrival=arrival,
        cv=cv,
        seed=seed,
    )
    rng = np.random.default_rng(seed + 104729)
    ids = np.where(rng.random(n) < frac, rng.integers(0, n_prefixes, n), -1).astype(
        np.int64
    )
    lens = np.where(ids >= 0, prefix_tokens, 0).astype(np.int64)
    return Workload(
        base.arrival_s,
        base.prompt_tokens,
        base.output_tokens,
        label=f"{base.label}, {n_prefixes} shared prefixes of {prefix_tokens} tokens",
        prefix_id=ids,
        prefix_tokens=lens,
    )


def at_rate(workload: Workload, rate_per_s: float) -> Workload:
    """The same requests, re-timed to arrive at ``rate_per_s`` (the gaps are scaled).

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    rate = positive_float("rate_per_s", rate_per_s, "requests per second")
    base = workload.offered_rate_per_s
    if not np.isfinite(base):
        raise ValueError(
            "cannot re-time a burst workload (all requests at t=0) to a rate"
        )
    return Workload(
        workload.arrival_s * (base / rate),
        workload.prompt_tokens,
        workload.output_tokens,
        label=f"{workload.label} @ {rate:g}/s",
        prefix_id=workload.prefix_id,
        prefix_tokens=workload.prefix_tokens,
    )
