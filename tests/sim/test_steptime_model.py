"""The step-time model: the mixed step agrees with the per-kind functions, and behaves like a roofline."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labs_py import steptime as stp

LLAMA_8B = "meta-llama/Llama-3.1-8B-Instruct"


def test_public_functions_are_unchanged_by_engines():
    # economics relies on these: the pure roofline, no per-step overhead
    co = stp.step_coefficients(LLAMA_8B, engine="roofline")
    assert co.prefill_seconds(8192) == pytest.approx(
        stp.prefill_seconds(LLAMA_8B, 8192), rel=0.01
    )
    assert co.decode_seconds(8, 2048) == pytest.approx(
        stp.decode_step_seconds(LLAMA_8B, 8, 2048), rel=0.01
    )


def test_chunks_add_up_to_the_whole_prompt():
    chunks = [(512, 0), (512, 512), (512, 1024), (452, 1536)]
    assert sum(
        stp.chunk_attention_pairs(c, ctx) for c, ctx in chunks
    ) == stp.chunk_attention_pairs(1988)


def test_a_chunk_costs_the_same_whatever_the_batch_it_rides_with():
    co = stp.step_coefficients(LLAMA_8B)
    extra = [
        co.step_seconds(512, stp.chunk_attention_pairs(512), 1, b, b * 1000)
        - co.decode_seconds(b, 1000)
        for b in (4, 16, 64)
    ]
    assert max(extra) / min(extra) < 1.15


def test_tp2_is_faster_but_not_twice_as_fast():
    # OPT-13B on A100 under the profile fitted to DistServe's data, which has TP 1, 2 and 4
    from labs_py.steptime.calibration import reference_model

    opt = reference_model("facebook/opt-13b")
    one = stp.step_coefficients(opt, "A100-80GB", tp=1, engine="distserve-a100")
    two = stp.step_coefficients(opt, "A100-80GB", tp=2, engine="distserve-a100")
    for t1, t2 in [
        (one.prefill_seconds(2048), two.prefill_seconds(2048)),
        (one.decode_seconds(16, 1024), two.decode_seconds(16, 1024)),
    ]:
        assert t1 / 2 < t2 < t1


def test_all_reduces_can_make_tp2_decode_of_a_small_model_slower():
    # 64 all-reduces per step at the fitted latency cost more than halving an 8B model's weight read saves
    one = stp.step_coefficients(LLAMA_8B, tp=1)
    two = stp.step_coefficients(LLAMA_8B, tp=2)
    assert two.prefill_seconds(4096) < one.prefill_seconds(4096)
    assert two.decode_seconds(16, 1024) > one.decode_seconds(16, 1024)


def test_arithmetic_intensity_crosses_the_ridge_between_decode_and_prefill():
    from labs_py.gpus import get_gpu

    ridge = get_gpu("H100-SXM").ridge_flops_per_byte
    # ~2 FLOPs per 2-byte weight, a little less: the embedding table is read but multiplies nothing
    assert 0.8 < stp.arithmetic_intensity(LLAMA_8B, 1) <= 1.0
    assert (
        stp.arithmetic_intensity(LLAMA_8B, 16)
        < ridge
        < stp.arithmetic_intensity(LLAMA_8B, 2048)
    )


def test_profiles_load_and_bad_ones_are_refused():
    assert {"roofline", "h100-serving", "distserve-a100", "vllm-a100"} <= set(
        stp.engine_profiles()
    )
    assert stp.DEFAULT_ENGINE in stp.engine_profiles()
    with pytest.raises(KeyError, match="h100-serving"):
        stp.engine_profile("no-such-engine")
    with pytest.raises(ValueError, match="compute_efficiency"):
        stp.EngineProfile("x", 0.0, 0.5, 0.5)
    with pytest.raises(ValueError, match="step_overhead_s"):
        stp.EngineProfile("x", 0.5, 0.5, 0.5, step_overhead_s=-1)


@given(st.integers(1, 8192), st.integers(0, 256), st.integers(0, 4096))
def test_step_time_grows_with_every_kind_of_work(tokens, batch, ctx):
    co = stp.step_coefficients(LLAMA_8B)
    base = co.step_seconds(
        tokens, stp.chunk_attention_pairs(tokens), 1, batch, batch * ctx
    )
    assert math.isfinite(base) and base > 0
    assert (
        co.step_seconds(
            tokens + 64, stp.chunk_attention_pairs(tokens + 64), 1, batch, batch * ctx
        )
        > base
    )
    assert (
        co.step_seconds(
            tokens, stp.chunk_attention_pairs(tokens), 1, batch + 1, (batch + 1) * ctx
        )
        > base
    )
