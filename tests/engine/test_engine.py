"""The scheduler: continuous batching, chunked prefill, preemption, the prefill role, and its errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from labs_py.engine import Engine, SamplingParams, TinyModel
from labs_py.engine.kvcache import UnknownRequestError
from tests.engine.cases import examples, record

MODEL = TinyModel()


def alone(prompt, sampling) -> tuple[int, ...]:
    e = Engine(MODEL, num_blocks=64, block_size_tokens=8)
    e.add_request(prompt, sampling, "x")
    return e.run()["x"]


def test_requests_join_and_leave_the_batch_every_step():
    e = Engine(MODEL, num_blocks=32, block_size_tokens=4)
    e.add_request([1, 2, 3], SamplingParams(max_new_tokens=2), "short")
    e.add_request([4, 5, 6, 7, 8], SamplingParams(max_new_tokens=5), "long")
    first = e.step()
    assert first.prefill_tokens == 8 and set(first.emitted) == {"short", "long"}
    e.add_request([9], SamplingParams(max_new_tokens=3), "late")
    second = e.step()
    assert second.decode_tokens == 2 and second.prefill_tokens == 1, (
        "the newcomer is prefilled in the same step"
    )
    assert second.finished == ("short",)
    assert e.running == ["long", "late"]
    e.run()
    assert e.usage == 0.0 and set(e.finished_outputs) == {"short", "long", "late"}


def test_a_long_prompt_is_prefilled_in_chunks_within_the_token_budget():
    e = Engine(MODEL, num_blocks=32, block_size_tokens=4, max_batch_tokens=8)
    prompt = list(range(20))
    e.add_request(prompt, SamplingParams(max_new_tokens=3), "r")
    sizes = [e.step().scheduled_tokens["r"] for _ in range(3)]
    assert sizes == [8, 8, 4]
    assert len(e.output("r")) == 1, "the first token comes when the last chunk lands"
    assert e.run()["r"] == alone(prompt, SamplingParams(max_new_tokens=3))


def test_preemption_recomputes_and_changes_no_token():
    rng = np.random.default_rng(0)
    prompts = [rng.integers(0, 256, size=10).tolist() for _ in range(3)]
    e = Engine(
        MODEL, num_blocks=9, block_size_tokens=4
    )  # too small for all three to finish side by side
    for i, p in enumerate(prompts):
        e.add_request(p, SamplingParams(max_new_tokens=12), f"r{i}")
    preempted = []
    while e.has_work():
        preempted += e.step().preempted
    assert preempted, "this pool is sized to force a preemption"
    for i, p in enumerate(prompts):
        assert e.finished_outputs[f"r{i}"] == alone(
            p, SamplingParams(max_new_tokens=12)
        )
    assert e.usage == 0.0


@given(
    prompts=st.lists(
        st.lists(st.integers(0, 255), min_size=1, max_size=24), min_size=1, max_size=5
    ),
    max_new=st.integers(1, 8),
    block_size=st.sampled_from([1, 2, 3, 8]),
    budget=st.integers(4, 64),
    spare_blocks=st.integers(0, 12),
    sampled=st.booleans(),
)
@examples(60)
def test_any_mix_of_batching_chunking_and_preemption_gives_each_request_its_solo_output(
    prompts, max_new, block_size, budget, spare_blocks, sampled
):
    record("batching/chunking/preemption vs solo")
    longest = max(len(p) for p in prompts) + max_new
    e = Engine(
        MODEL,
        num_blocks=-(-longest // block_size) + spare_blocks,
        block_size_tokens=block_size,
        max_batch_tokens=budget,
    )
    sampling = [
        SamplingParams(
            max_new_tokens=max_new,
            temperature=0.9 if sampled else 0.0,
            seed=i if sampled else None,
        )
        for i in range(len(prompts))
    ]
    for i, (p, s) in enumerate(zip(prompts, sampling)):
        e.add_request(p, s, f"r{i}")
    out = e.run()
    for i, (p, s) in enumerate(zip(prompts, sampling)):
        assert out[f"r{i}"] == alone(p, s)
    assert e.usage == 0.0
    e.allocator.check_invariants()


def test_prefill_role_parks_after_the_first_token_and_holds_its_blocks():
    p = Engine(MODEL, num_blocks=16, block_size_tokens=4, role="prefill")
    p.add_request(list(range(10)), SamplingParams(max_new_tokens=5), "r")
    report = p.step()
    assert report.parked == ("r",) and p.parked == ["r"] and not p.has_work()
    assert len(p.block_table("r")) == 3 and p.request("r").num_computed_tokens == 10


def test_a_stop_token_ends_a_request_early():
    prompt = [5, 6, 7]
    full = alone(prompt, SamplingParams(max_new_tokens=8))
    stop = full[2]
    got = alone(prompt, SamplingParams(max_new_tokens=8, stop_token_ids=(stop,)))
    assert got == full[: full.index(stop) + 1]


def test_errors_name_the_value_and_the_unit():
    e = Engine(MODEL, num_blocks=4, block_size_tokens=4, name="tiny")
    with pytest.raises(
        ValueError,
        match=r"could need 5 blocks \(19 tokens of KV at 4 tokens per block\).*only 4 blocks",
    ):
        e.add_request(list(range(12)), SamplingParams(max_new_tokens=8))
    with pytest.raises(ValueError, match="token 256 is not a token id of this model"):
        e.add_request([1, 256])
    with pytest.raises(ValueError, match="at least 1 token"):
        e.add_request([])
    e.add_request([1, 2], SamplingParams(max_new_tokens=2), request_id="dup")
    with pytest.raises(ValueError, match="already has a live request 'dup'"):
        e.add_request([3], SamplingParams(max_new_tokens=2), request_id="dup")
    with pytest.raises(UnknownRequestError, match="no live request 'ghost'"):
        e.request("ghost")
    with pytest.raises(ValueError, match="max_new_tokens"):
        SamplingParams(max_new_tokens=0)
    with pytest.raises(ValueError, match="needs a seed"):
        SamplingParams(temperature=1.0)
    with pytest.raises(ValueError, match="engine role"):
        Engine(MODEL, num_blocks=4, block_size_tokens=4, role="decode-only")


def test_capacity_signal_counts_headroom_for_running_requests():
    e = Engine(MODEL, num_blocks=10, block_size_tokens=4, name="d")
    e.add_request(list(range(9)), SamplingParams(max_new_tokens=4), "r")
    e.step()
    sig = e.capacity_signal()
    assert (
        sig["free_blocks"] == 7 and sig["headroom_blocks"] == 6 and sig["running"] == 1
    )
    assert sig["usage"] == 0.3
