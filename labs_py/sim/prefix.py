"""The Week 16 bonus experiments, in the simulator: prefix caches beside a P/D split.

* :func:`warm_prefix_run`: LMCache on the prefill engine of a 1P1D pair. Requests
  that reuse a document prefix fetch its KV from CPU memory instead of prefilling it
  again, so their TTFT drops (by prefill time saved, minus the fetch).
* :func:`pool_vs_private`: several prefill engines, each with its own cache (the
  point-to-point design: KV goes straight from a prefill engine to a decode engine,
  and only that prefill engine remembers it), against one shared pool that every
  engine reads (Mooncake's design). With many distinct prefixes, a reuse often lands
  on an engine that has not seen its prefix: private caches miss, the pool hits.

Both are seeded and deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from labs_py.defaults import DEFAULT_MODEL
from labs_py.sim.fleets import Disaggregated, simulate
from labs_py.sim.metrics import SimResult
from labs_py.sim.workload import make_prefix_workload


@lru_cache(maxsize=64)
def warm_prefix_run(
    cache: str,
    cache_link_gbps: float,
    prefix_tokens: int,
    *,
    rate_per_s: float = 5.0,
    n_prefixes: int = 16,
    suffix_tokens: int = 256,
    output_tokens: int = 128,
    n_requests: int = 800,
    model: str = DEFAULT_MODEL,
    seed: int = 0,
) -> SimResult:
    """1P1D serving requests that mostly open with one of ``n_prefixes`` documents; ``cache`` is
    ``"none"`` or ``"local"`` (LMCache on the prefill engine, fetching over ``cache_link_gbps``).

    Taught in: compression_and_pooling.
    """
    w = make_prefix_workload(
        n_requests,
        rate_per_s,
        n_prefixes=n_prefixes,
        prefix_tokens=prefix_tokens,
        suffix_tokens=suffix_tokens,
        output_tokens=output_tokens,
        shared_fraction=0.9,
        seed=seed,
    )
    return simulate(
        Disaggregated(1, 1, prefix_cache=cache, cache_link_gbps=cache_link_gbps),
        w,
        model,
    )


@dataclass(frozen=True)
class PoolSweep:
    """Hit rate and TTFT against the number of distinct prefixes, per cache design.

    Taught in: no chapter calls it directly; it works behind compression_and_pooling.
    """

    n_prefixes: np.ndarray
    hit_rate: dict[str, np.ndarray]
    ttft_p50_s: dict[str, np.ndarray]
    ttft_p99_s: dict[str, np.ndarray]


DESIGNS = {
    "no cache": "none",
    "private caches (point-to-point)": "local",
    "shared pool (Mooncake-style)": "pool",
}


@lru_cache(maxsize=32)
def pool_vs_private(
    prefill_engines: int,
    pool_link_gbps: float,
    *,
    n_prefixes: Sequence[int] = (8, 32, 128, 512),
    prefix_tokens: int = 2048,
    suffix_tokens: int = 256,
    output_tokens: int = 64,
    rate_per_s: float = 12.0,
    n_requests: int = 800,
    model: str = DEFAULT_MODEL,
    seed: int = 0,
) -> PoolSweep:
    """``prefill_engines`` P and 2 D; private caches fetch over PCIe Gen5 (504 Gb/s, CPU memory next to
    the GPU); the pool fetches over the network at ``pool_link_gbps``.

    Taught in: compression_and_pooling.
    """
    hit: dict[str, list[float]] = {d: [] for d in DESIGNS}
    p50: dict[str, list[float]] = {d: [] for d in DESIGNS}
    p99: dict[str, list[float]] = {d: [] for d in DESIGNS}
    for k in n_prefixes:
        w = make_prefix_workload(
            n_requests,
            rate_per_s,
            n_prefixes=int(k),
            prefix_tokens=prefix_tokens,
            suffix_tokens=suffix_tokens,
            output_tokens=output_tokens,
            seed=seed,
        )
        for name, cache in DESIGNS.items():
            link = pool_link_gbps if cache == "pool" else 504.0
            r = simulate(
                Disaggregated(
                    prefill_engines, 2, prefix_cache=cache, cache_link_gbps=link
                ),
                w,
                model,
            )
            hit[name].append(float((r.raw.cached_tokens > 0).mean()))
            p50[name].append(float(np.percentile(r.ttft_s, 50)))
            p99[name].append(float(np.percentile(r.ttft_s, 99)))
    arr = lambda d: {k: np.array(v) for k, v in d.items()}  # noqa: E731
    return PoolSweep(np.array(n_prefixes), arr(hit), arr(p50), arr(p99))
