"""Pooled KV: fetching a cached prefix vs recomputing it (Mooncake's bandwidth condition)."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labs_py import pooling
from labs_py.defaults import DEFAULT_ENGINE
from labs_py.economics import kv_payload_bytes, transfer_seconds
from labs_py.models import kv_bytes_per_token
from labs_py.steptime import step_coefficients

LLAMA = "meta-llama/Llama-3.1-8B-Instruct"


def test_fetch_and_recompute_come_from_the_books_two_models():
    r = pooling.fetch_or_recompute(LLAMA, 4096, 100)
    assert r.fetch_s == transfer_seconds(
        kv_payload_bytes(4096, kv_bytes_per_token(LLAMA)), 100
    )
    assert r.recompute_s == step_coefficients(
        LLAMA, "H100-SXM", engine=DEFAULT_ENGINE
    ).prefill_seconds(4096)


@settings(max_examples=50, deadline=None)
@given(st.integers(16, 32768), st.sampled_from(["bf16", "fp8"]))
def test_at_the_breakeven_link_both_ways_take_equally_long(prefix, dtype):
    r = pooling.fetch_or_recompute(LLAMA, prefix, 100, kv_dtype=dtype)
    at = pooling.fetch_or_recompute(LLAMA, prefix, r.breakeven_gbps, kv_dtype=dtype)
    assert math.isclose(at.fetch_s, at.recompute_s, rel_tol=1e-9)
    faster = pooling.fetch_or_recompute(
        LLAMA, prefix, r.breakeven_gbps * 1.01, kv_dtype=dtype
    )
    assert (
        faster.fetch_pays
        and not pooling.fetch_or_recompute(
            LLAMA, prefix, r.breakeven_gbps * 0.99, kv_dtype=dtype
        ).fetch_pays
    )


def test_fp8_halves_the_link_reuse_needs():
    bf16 = pooling.fetch_or_recompute(LLAMA, 4096, 100).breakeven_gbps
    fp8 = pooling.fetch_or_recompute(LLAMA, 4096, 100, kv_dtype="fp8").breakeven_gbps
    assert fp8 == pytest.approx(bf16 / 2)


def test_a_setup_cost_larger_than_recompute_means_no_link_is_fast_enough():
    r = pooling.fetch_or_recompute(LLAMA, 16, 3600, fetch_setup_s=1.0)
    assert math.isinf(r.breakeven_gbps) and not r.fetch_pays


def test_warm_prefill_is_faster_with_a_fast_pool_and_equals_cold_without_a_prefix():
    cold = pooling.warm_prefill_seconds(LLAMA, 4096, 0, 100)
    assert cold == pytest.approx(pooling.recompute_seconds(LLAMA, 4096))
    assert pooling.warm_prefill_seconds(LLAMA, 4096, 3072, 400) < cold
    assert (
        pooling.warm_prefill_seconds(LLAMA, 4096, 3072, 1) > cold
    )  # a 1 Gb/s pool is worse than recomputing


def test_bad_prefixes_name_the_unit():
    with pytest.raises(ValueError, match="cached_tokens.*prompt_tokens"):
        pooling.warm_prefill_seconds(LLAMA, 100, 200, 100)
    with pytest.raises(ValueError, match="prefix_tokens.*tokens"):
        pooling.fetch_or_recompute(LLAMA, 0, 100)
