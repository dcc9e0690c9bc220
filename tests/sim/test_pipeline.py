"""Pipeline parallelism: the bubble, and a pipelined decode step priced on the step model."""

from __future__ import annotations

import pytest

from labs_py.defaults import H100_SXM, LLAMA_8B
from labs_py.steptime import bubble_fraction, pipeline_decode_step, step_coefficients


@pytest.mark.parametrize(
    "p, m, idle",
    [(2, 1, 1 / 2), (4, 1, 3 / 4), (2, 3, 1 / 4), (8, 8, 7 / 15), (1, 5, 0.0)],
)
def test_the_bubble_is_p_minus_1_over_m_plus_p_minus_1(p, m, idle):
    assert bubble_fraction(p, m) == pytest.approx(idle)


def test_more_microbatches_shrink_the_bubble_but_repeat_the_weight_reads():
    steps = [
        pipeline_decode_step(LLAMA_8B, H100_SXM, 2, m, 64, 1024) for m in (1, 2, 4)
    ]
    assert [s.bubble for s in steps] == sorted((s.bubble for s in steps), reverse=True)
    assert [s.step_s for s in steps] == sorted(
        s.step_s for s in steps
    )  # decode is bandwidth-bound


def test_one_microbatch_takes_as_long_as_one_gpu_plus_the_hops():
    one = step_coefficients(LLAMA_8B, H100_SXM, tp=1).decode_seconds(64, 1024)
    s = pipeline_decode_step(LLAMA_8B, H100_SXM, 2, 1, 64, 1024)
    hops = (
        2 * 64 * 4096 * 2 * 8 / 3600e9
    )  # two stage hops of 64 x hidden 4,096 x 2 bytes at 3,600 Gb/s
    assert s.step_s == pytest.approx(one + hops, rel=1e-9)
    assert s.tokens_per_s == pytest.approx(64 / s.step_s)


def test_bad_input_names_the_value_and_the_unit():
    with pytest.raises(ValueError, match="microbatches must be at most the batch"):
        pipeline_decode_step(LLAMA_8B, H100_SXM, 2, 65, 64, 1024)
    with pytest.raises((ValueError, TypeError), match="stages"):
        bubble_fraction(0, 4)
    with pytest.raises((ValueError, TypeError), match="Gb/s"):
        pipeline_decode_step(LLAMA_8B, H100_SXM, 2, 1, 64, 1024, link_gbps=0)
