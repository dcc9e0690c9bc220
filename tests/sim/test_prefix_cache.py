"""Prefix caching in the simulator: LMCache beside each engine, or a Mooncake-style shared pool."""

import numpy as np
import pytest

from labs_py.sim.fleets import Colocated, Disaggregated, simulate
from labs_py.sim.workload import make_prefix_workload, make_workload

W = make_prefix_workload(
    600,
    6.0,
    n_prefixes=20,
    prefix_tokens=3072,
    suffix_tokens=256,
    output_tokens=64,
    shared_fraction=0.8,
    seed=3,
)


def test_first_use_of_a_prefix_always_misses_and_only_reuses_can_hit():
    r = simulate(Disaggregated(1, 1, prefix_cache="local"), W)
    ids = W.prefix_id
    first_seen = {}
    for i, p in enumerate(ids):
        if p >= 0 and p not in first_seen:
            first_seen[p] = i
    assert all(r.raw.cached_tokens[i] == 0 for i in first_seen.values())
    assert np.all(r.raw.cached_tokens[ids < 0] == 0)
    assert np.all(r.raw.cached_tokens < W.prompt_tokens)
    reuses = int((ids >= 0).sum()) - len(first_seen)
    assert 0 < int((r.raw.cached_tokens > 0).sum()) <= reuses


def test_one_prefill_engine_sees_the_same_hits_local_or_pooled():
    local = simulate(Disaggregated(1, 1, prefix_cache="local"), W)
    pooled = simulate(Disaggregated(1, 1, prefix_cache="pool"), W)
    assert np.array_equal(local.raw.cached_tokens, pooled.raw.cached_tokens)


def test_without_shared_prefixes_caching_changes_nothing():
    w = make_prefix_workload(
        300,
        6.0,
        n_prefixes=5,
        prefix_tokens=1024,
        suffix_tokens=256,
        output_tokens=32,
        shared_fraction=0.0,
    )
    off = simulate(Disaggregated(1, 1), w)
    on = simulate(Disaggregated(1, 1, prefix_cache="local"), w)
    assert np.array_equal(off.raw.first_token_s, on.raw.first_token_s)


def test_warm_requests_reach_their_first_token_sooner_and_pay_the_fetch():
    cold = simulate(Disaggregated(1, 1), W)
    warm = simulate(Disaggregated(1, 1, prefix_cache="local", cache_link_gbps=504), W)
    hits = warm.raw.cached_tokens > 0
    assert np.median(warm.ttft_s[hits]) < np.median(cold.ttft_s[hits])
    assert np.all(warm.raw.fetch_s[hits] > 0) and np.all(warm.raw.fetch_s[~hits] == 0)
    assert np.all(warm.ttft_s[hits] >= warm.raw.fetch_s[hits])


def test_a_shared_pool_hits_more_than_private_caches_when_prefixes_are_many():
    w = make_prefix_workload(
        600,
        8.0,
        n_prefixes=250,
        prefix_tokens=2048,
        suffix_tokens=256,
        output_tokens=32,
        seed=5,
    )
    local = simulate(Disaggregated(4, 2, prefix_cache="local"), w)
    pooled = simulate(Disaggregated(4, 2, prefix_cache="pool", cache_link_gbps=200), w)
    ids = w.prefix_id[w.prefix_id >= 0]
    reuses = (
        ids.size - np.unique(ids).size
    )  # the most any cache can hit: every use but the first
    pooled_hits, local_hits = (
        int((pooled.raw.cached_tokens > 0).sum()),
        int((local.raw.cached_tokens > 0).sum()),
    )
    assert (
        pooled_hits >= 0.95 * reuses
    )  # a pool misses only a reuse that arrives while the first use still prefills
    assert (
        local_hits < 0.8 * pooled_hits
    )  # private caches miss whenever a reuse lands on another engine


def test_colocated_chunked_prefill_starts_after_the_cached_prefix():
    r = simulate(Colocated(1, chunk_tokens=512, prefix_cache="local"), W)
    off = simulate(Colocated(1, chunk_tokens=512), W)
    assert (r.raw.cached_tokens > 0).any() and np.median(r.ttft_s) < np.median(
        off.ttft_s
    )


def test_bad_prefix_settings_are_named():
    with pytest.raises(ValueError, match="'disk'.*prefix_cache"):
        Disaggregated(1, 1, prefix_cache="disk")
    with pytest.raises(ValueError, match="shared prefixes"):
        simulate(
            Disaggregated(1, 1, prefix_cache="pool"), make_workload(10, 1.0, 512, 8)
        )
    with pytest.raises(ValueError, match="cache_link_gbps.*Gb/s"):
        Colocated(1, prefix_cache="local", cache_link_gbps=0)
