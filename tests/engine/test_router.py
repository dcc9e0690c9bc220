"""The 1 prefill : 2 decode router: placement by headroom, and what happens when both decode engines are nearly full."""

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from labs_py.engine import Engine, SamplingParams, TinyModel
from labs_py.engine.router import PDRouter
from tests.engine.cases import examples, record
from tests.engine.test_migration import check_books, reference

MODEL = TinyModel()


def pair(p_blocks=24, d_blocks=(12, 12), bs=4, lease_steps=3, strategy="ship"):
    p = Engine(
        MODEL, num_blocks=p_blocks, block_size_tokens=bs, name="P", role="prefill"
    )
    ds = [
        Engine(MODEL, num_blocks=n, block_size_tokens=bs, name=f"D{i}")
        for i, n in enumerate(d_blocks)
    ]
    return PDRouter(p, ds, lease_steps=lease_steps, strategy=strategy)


def prompt(n, seed):
    return tuple(int(t) for t in np.random.default_rng(seed).integers(0, 256, size=n))


def test_imports_go_to_the_decode_engine_with_the_most_headroom():
    r = pair(d_blocks=(12, 16))
    r.submit(prompt(10, 1), SamplingParams(max_new_tokens=6), "a")
    r.step()
    placed = [e for e in r.events if e.kind == "placed"]
    assert placed[0].engine == "D1" and placed[0].headroom_blocks == {
        "D0": 12,
        "D1": 12,
    }
    # D1: 16 free - 3 blocks - 1 running = 12, tied with D0's 12: the first listed wins
    r.submit(prompt(10, 2), SamplingParams(max_new_tokens=6), "b")
    r.step()
    assert r.where("b") == "D0"


def test_outputs_through_the_router_are_the_solo_outputs():
    r = pair(p_blocks=40, d_blocks=(20, 20))
    reqs = {
        f"q{i}": (prompt(5 + 3 * i, i), SamplingParams(max_new_tokens=8))
        for i in range(5)
    }
    for rid, (p, s) in reqs.items():
        r.submit(p, s, rid)
    out = r.run()
    assert out == {rid: reference(p, s) for rid, (p, s) in reqs.items()}
    assert r.prefill.usage == 0.0 and all(d.usage == 0.0 for d in r.decodes)


def test_when_both_decode_engines_are_nearly_full_the_request_waits_on_prefill_holding_its_blocks():
    r = pair(p_blocks=24, d_blocks=(8, 8), lease_steps=100)
    long = SamplingParams(max_new_tokens=12)
    r.submit(prompt(16, 1), long, "big0")
    r.submit(prompt(16, 2), long, "big1")
    r.step()  # both placed: each decode engine now has 8 - 4 blocks - 1 running = 3 headroom blocks
    assert {r.where("big0"), r.where("big1")} == {"D0", "D1"}
    r.submit(
        prompt(14, 3), long, "late"
    )  # needs 4 blocks: more than either engine's headroom
    events = r.step()
    held = [e for e in events if e.kind == "held"]
    assert held and held[0].request_id == "late" and held[0].engine == "P"
    assert "no decode engine has room for 14 tokens of KV" in held[0].reason
    assert "D0 needs 4 has" in held[0].reason and "D1 needs 4 has" in held[0].reason
    assert r.where("late") == "P" and r.prefill.usage > 0, (
        "the KV waits on the prefill engine"
    )
    out = r.run()
    assert out["late"] == reference(prompt(14, 3), long), (
        "held, then placed: the output is still the solo output"
    )
    kinds = [e.kind for e in r.events if e.request_id == "late"]
    assert kinds.index("placed") > kinds.index("held") and "lease_expired" not in kinds
    assert r.prefill.usage == 0.0 and all(d.usage == 0.0 for d in r.decodes)


def test_a_lease_that_expires_frees_the_prefill_blocks_and_the_kv_is_recomputed_later():
    r = pair(p_blocks=24, d_blocks=(8, 8), lease_steps=2)
    long = SamplingParams(max_new_tokens=12)
    for i in range(2):
        r.submit(prompt(16, i + 1), long, f"big{i}")
    r.step()
    r.submit(prompt(14, 3), long, "late")
    p_usage_while_held = None
    for _ in range(4):
        r.step()
        if r.where("late") == "P":
            p_usage_while_held = r.prefill.usage
    assert p_usage_while_held and p_usage_while_held > 0
    expired = [e for e in r.events if e.kind == "lease_expired"]
    assert (
        expired
        and expired[0].request_id == "late"
        and "frees its blocks" in expired[0].reason
    )
    assert r.prefill.usage == 0.0 and r.where("late") == "router", (
        "after the lease, P holds nothing for it"
    )
    out = r.run()
    placed = [e for e in r.events if e.kind == "placed" and e.request_id == "late"]
    assert placed and placed[0].reason.startswith("recompute")
    assert out["late"] == reference(prompt(14, 3), long)


def test_placement_skips_an_engine_that_has_room_now_but_not_for_the_whole_request():
    """6 prompt + 8 new tokens can need 7 blocks of 2: D0 (6 blocks) has the most headroom but could not finish it."""
    r = pair(p_blocks=24, d_blocks=(6, 7), bs=2)
    r.submit((0,), SamplingParams(max_new_tokens=8), "small")
    r.submit((0,) * 6, SamplingParams(max_new_tokens=8), "big")
    out = r.run(max_steps=200)
    assert r.where("big") == "D1" and not r.has_work()
    assert out["big"] == reference((0,) * 6, SamplingParams(max_new_tokens=8))


def test_a_request_no_decode_engine_could_ever_hold_is_refused_up_front():
    r = pair(p_blocks=40, d_blocks=(6, 6))
    with pytest.raises(ValueError, match="fits no decode engine even when empty"):
        r.submit(prompt(30, 1), SamplingParams(max_new_tokens=4), "huge")
    assert not r.prefill.requests


def test_router_rejects_a_bad_topology():
    p = Engine(MODEL, num_blocks=8, block_size_tokens=4, name="P")
    with pytest.raises(ValueError, match="role='prefill'"):
        PDRouter(p, [Engine(MODEL, num_blocks=8, block_size_tokens=4, name="D")])


@given(
    prompts_=st.lists(
        st.lists(st.integers(0, 255), min_size=1, max_size=20), min_size=1, max_size=7
    ),
    d_blocks=st.tuples(st.integers(6, 14), st.integers(6, 14)),
    bs=st.sampled_from([2, 4, 8]),
    lease=st.integers(0, 4),
    max_new=st.integers(1, 8),
    strategy=st.sampled_from(["ship", "ship_all_but_last"]),
)
@examples(40)
@example(
    prompts_=[[0], [0] * 6], d_blocks=(6, 7), bs=2, lease=0, max_new=8, strategy="ship"
)  # once livelocked
def test_under_any_load_the_router_never_loses_or_changes_a_request(
    prompts_, d_blocks, bs, lease, max_new, strategy
):
    record("router under random load")
    r = pair(
        p_blocks=24, d_blocks=d_blocks, bs=bs, lease_steps=lease, strategy=strategy
    )
    sampling = SamplingParams(max_new_tokens=max_new)
    accepted = {}
    for i, p in enumerate(prompts_):
        try:
            r.submit(p, sampling, f"q{i}")
            accepted[f"q{i}"] = tuple(p)
        except ValueError:
            pass  # refused up front: fits no decode engine
    for _ in range(2000):  # a generous bound: the router must never livelock
        if not r.has_work():
            break
        r.step()
        check_books(r.prefill, *r.decodes)
    assert not r.has_work(), f"stuck after 2000 steps: {r.events[-3:]}"
    assert r.outputs == {rid: reference(p, sampling) for rid, p in accepted.items()}
    assert r.prefill.usage == 0.0 and all(d.usage == 0.0 for d in r.decodes)
