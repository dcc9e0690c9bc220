"""The opening chapter's logic: the roofline placement and the continuous-batching scheduler."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labs_py import scheduling as batching
from labs_py.defaults import DEFAULT_ENGINE
from labs_py.gpus import get_gpu
from labs_py.roofline import (
    decode_on_roofline,
    min_compute_bound_tokens,
    prefill_on_roofline,
    roof_tflops,
)
from labs_py.steptime import (
    arithmetic_intensity,
    chunk_attention_pairs,
    step_coefficients,
)

LLAMA = "meta-llama/Llama-3.1-8B-Instruct"


@pytest.mark.parametrize(
    "gpu", ["H100-SXM", "H100-PCIe", "H200", "A100-SXM", "A100-PCIe", "L4"]
)
def test_prefill_is_compute_bound_and_decode_bandwidth_bound_on_every_gpu(gpu):
    ridge = get_gpu(gpu).ridge_flops_per_byte
    assert prefill_on_roofline(LLAMA, gpu, 2048).intensity_flops_per_byte > ridge
    assert decode_on_roofline(LLAMA, gpu, 32, 1024).intensity_flops_per_byte < ridge


def test_steps_never_beat_the_roof():
    for s in (
        prefill_on_roofline(LLAMA, "H100-SXM", 4096),
        decode_on_roofline(LLAMA, "H100-SXM", 64, 2048),
    ):
        assert s.achieved_tflops <= roof_tflops(
            "H100-SXM", [s.intensity_flops_per_byte]
        )[0] * (1 + 1e-9)


def test_min_compute_bound_tokens_is_the_first_step_past_the_ridge():
    n = min_compute_bound_tokens(LLAMA, "H100-SXM")
    ridge = get_gpu("H100-SXM").ridge_flops_per_byte
    assert arithmetic_intensity(LLAMA, n) >= ridge > arithmetic_intensity(LLAMA, n - 1)


REQS = [batching.Arrival(n, 0.0, 256, 20) for n in "ABCD"] + [
    batching.Arrival("E", 0.05, 2048, 5)
]


def test_without_chunking_a_prefill_step_stalls_every_decode():
    steps = batching.schedule(REQS, chunk_tokens=None)
    e = [s for s in steps if "E" in s.prefill]
    assert len(e) == 1 and e[0].prefill["E"] == 2048 and e[0].decode == []


def test_with_chunks_decodes_ride_along_and_each_chunk_respects_the_budget():
    steps = batching.schedule(REQS, chunk_tokens=512)
    e = [s for s in steps if "E" in s.prefill]
    assert len(e) == 4 and all(s.prefill_tokens <= 512 for s in steps)
    assert all(len(s.decode) == 4 for s in e)
    coef = step_coefficients(LLAMA, "H100-SXM", engine=DEFAULT_ENGINE)
    done = 0
    for s in e:  # step time is exactly the shared step-time model's
        ctx = sum(
            256 + 1 + sum(n in x.decode for x in steps[: steps.index(s)])
            for n in s.decode
        )
        want = coef.step_seconds(512, chunk_attention_pairs(512, done), 1, 4, ctx)
        assert s.seconds == pytest.approx(want)
        done += 512


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0, 0.2), st.integers(1, 3000), st.integers(1, 30)),
        min_size=1,
        max_size=6,
    ),
    st.sampled_from([None, 64, 256, 1024]),
)
def test_every_request_gets_its_prompt_prefilled_once_and_all_its_tokens(raw, chunk):
    reqs = [batching.Arrival(f"r{i}", a, p, o) for i, (a, p, o) in enumerate(raw)]
    steps = batching.schedule(reqs, chunk_tokens=chunk)
    for r in reqs:
        assert sum(s.prefill.get(r.name, 0) for s in steps) == r.prompt_tokens
        tokens = sum(r.name in s.decode for s in steps) + sum(
            r.name in s.first_token for s in steps
        )
        assert tokens == r.output_tokens
        assert all(
            s.start_s >= r.arrival_s - 1e-12
            for s in steps
            if r.name in s.prefill or r.name in s.decode
        )
    assert all(
        b.start_s >= a.start_s + a.seconds - 1e-12 for a, b in zip(steps, steps[1:])
    )
    grid = batching.activity_grid(reqs, steps)
    assert len(grid) == len(reqs) and all(len(row) == len(steps) for row in grid)


def test_bad_chunk_size_names_the_unit():
    with pytest.raises(ValueError, match="chunk_tokens.*tokens per step"):
        batching.schedule(REQS, chunk_tokens=0)
    with pytest.raises(ValueError, match="prompt_tokens.*tokens"):
        batching.Arrival("x", 0.0, 0, 1)
