"""Lab 01 spec: the checks that grade a starter or the solution.

Every check builds its engines from the reference engine (``labs_py.engine``)
and a seeded toy model, runs a request, moves it with the implementation under
test, and compares with the same request run without moving. The claims:

* export returns the request's identity (tokens, sampling state, KV in logical
  order) and frees the source, whose usage returns to exactly its prior value;
* import bills exactly ``ceil(kv_tokens / block_size)`` blocks, generally with
  different ids, and refuses with ``OutOfBlocksError`` before changing anything;
* the output is token-for-token identical to never moving: right after prefill
  (the P->D handoff), mid-decode, and back and forth (A->B->A), greedy or sampled.
"""

from __future__ import annotations

import numpy as np

from labs_py.engine import Engine, SamplingParams, TinyModel
from labs_py.engine.kvcache import OutOfBlocksError, UnknownRequestError

_MODEL = TinyModel()
PROMPT = tuple(int(t) for t in np.random.default_rng(7).integers(0, 256, size=21))
GREEDY = SamplingParams(max_new_tokens=10)
SAMPLED = SamplingParams(max_new_tokens=10, temperature=0.8, seed=11)


def _engine(
    name: str, block_size: int = 4, num_blocks: int = 32, role: str = "both"
) -> Engine:
    return Engine(
        _MODEL,
        num_blocks=num_blocks,
        block_size_tokens=block_size,
        name=name,
        role=role,
    )


def _reference(sampling: SamplingParams, prompt=PROMPT) -> tuple[int, ...]:
    ref = _engine("reference", block_size=8, num_blocks=64)
    rid = ref.add_request(prompt, sampling, "ref")
    return ref.run()[rid]


def _neighbour(
    engine: Engine, rid: str, length: int, seed: int, max_new_tokens: int = 30
) -> None:
    """Another request sharing the engine, so that block ids are not trivially 0, 1, 2, ..."""
    prompt = np.random.default_rng(seed).integers(0, 256, size=length).tolist()
    engine.add_request(prompt, SamplingParams(max_new_tokens=max_new_tokens), rid)


def _steps(engine: Engine, n: int) -> None:
    for _ in range(n):
        engine.step()


def _raises(exc_type, fn, *args, needles: tuple[str, ...] = ()) -> str:
    try:
        fn(*args)
    except exc_type as exc:
        msg = str(exc)
        for needle in needles:
            assert needle in msg, f"error message {msg!r} should mention {needle!r}"
        return msg
    raise AssertionError(
        f"{getattr(fn, '__name__', fn)} should raise {exc_type.__name__}, but returned normally"
    )


# ----------------------------------------------------------------------------- checks
def check_blocks_needed_is_a_ceiling(impl) -> None:
    for tokens, bs, want in (
        (0, 16, 0),
        (1, 16, 1),
        (16, 16, 1),
        (17, 16, 2),
        (33, 4, 9),
        (2048, 16, 128),
    ):
        got = impl.blocks_needed(tokens, bs)
        assert got == want, (
            f"{tokens} tokens in blocks of {bs} tokens need {want} blocks, got {got}"
        )
    _raises(ValueError, impl.blocks_needed, 10, 0, needles=("0", "tokens"))


def check_export_returns_the_identity_with_kv_in_logical_order(impl) -> None:
    src = _engine("A", block_size=4)
    _neighbour(src, "n1", 9, 1)
    src.add_request(PROMPT, SAMPLED, "r")
    _steps(src, 4)
    req = src.request("r")
    expect_kv = src.cache.read_kv(src.block_table("r"), req.num_computed_tokens)
    expect = (
        req.all_tokens,
        req.num_computed_tokens,
        req.rng_state(),
        src.block_table("r"),
    )
    snap = impl.export_request(src, "r", "ship")
    assert snap.prompt_tokens == PROMPT, "the snapshot must carry the prompt tokens"
    assert snap.all_tokens == expect[0], (
        "the snapshot must carry the generated tokens, in order"
    )
    assert snap.kv_tokens == expect[1], (
        f"kv_tokens should be the request's {expect[1]} computed tokens, got {snap.kv_tokens}"
    )
    assert snap.rng_state == expect[2], (
        "a sampled request's random-stream state must travel with it"
    )
    assert snap.sampling == SAMPLED, (
        "the sampling parameters must travel with the request"
    )
    assert snap.kv is not None and snap.kv.shape == expect_kv.shape, (
        f"KV shape should be {expect_kv.shape}"
    )
    assert np.array_equal(snap.kv, expect_kv), (
        "KV must be read through the block table, in logical token order"
    )
    assert snap.model_fingerprint == src.model.fingerprint


def check_export_frees_the_source_exactly(impl) -> None:
    src = _engine("A", block_size=4)
    src.add_request(PROMPT, GREEDY, "r")
    _steps(src, 3)
    snapshot_of_usage = src.usage
    impl.export_request(src, "r", "ship")
    assert snapshot_of_usage > 0
    assert src.usage == 0.0, (
        f"with the only request gone, usage should be exactly 0.0, got {src.usage}"
    )
    assert src.free_blocks == src.num_blocks, (
        f"{src.num_blocks - src.free_blocks} blocks leaked"
    )
    src.allocator.check_invariants()
    _raises(UnknownRequestError, src.request, "r")


def check_source_usage_returns_to_its_prior_value(impl) -> None:
    src = _engine("A", block_size=3)
    _neighbour(src, "n1", 10, 3)
    _steps(src, 1)
    prior = src.usage
    src.add_request(PROMPT, GREEDY, "r")
    src.step()
    held = len(src.block_table("r"))
    neighbour_growth = len(src.block_table("n1"))
    impl.export_request(src, "r", "ship")
    assert len(src.block_table("n1")) == neighbour_growth
    expect = neighbour_growth / src.num_blocks
    assert held > 0 and src.usage == expect, (
        f"usage after export should be {expect} (before: {prior}), got {src.usage}"
    )
    src.allocator.check_invariants()


def check_export_of_an_unknown_request_is_an_error(impl) -> None:
    src = _engine("A")
    _raises(
        LookupError, impl.export_request, src, "nobody", "ship", needles=("nobody",)
    )


def check_import_bills_ceil_tokens_over_block_size_with_new_ids(impl) -> None:
    src, dst = _engine("A", block_size=4), _engine("B", block_size=3)
    _neighbour(dst, "m1", 11, 4)
    _steps(dst, 2)
    src.add_request(PROMPT, GREEDY, "r")
    _steps(src, 4)
    snap = impl.export_request(src, "r", "ship")
    used_before = dst.allocator.used_blocks
    impl.import_request(dst, snap)
    billed = dst.allocator.used_blocks - used_before
    want = -(-snap.kv_tokens // 3)
    assert billed == want, (
        f"{snap.kv_tokens} tokens in blocks of 3 tokens should bill {want} blocks, billed {billed}"
    )
    table = dst.block_table("r")
    assert len(table) == want
    assert table != snap.source_block_ids, (
        "block ids are the source's address; the destination hands out its own"
    )
    assert np.array_equal(dst.cache.read_kv(table, snap.kv_tokens), snap.kv), (
        "contents must arrive in logical order"
    )
    assert dst.request("r").num_computed_tokens == snap.kv_tokens
    dst.allocator.check_invariants()


def check_handoff_right_after_prefill_is_invisible(impl) -> None:
    prefill, decode = (
        _engine("P", block_size=4, role="prefill"),
        _engine("D", block_size=8),
    )
    prefill.add_request(PROMPT, GREEDY, "r")
    prefill.step()
    assert prefill.parked == ["r"], (
        "the prefill engine parks the request after its first token"
    )
    snap = impl.export_request(prefill, "r", "ship")
    assert prefill.usage == 0.0, (
        f"the prefill engine must free the request's blocks, usage is {prefill.usage}"
    )
    impl.import_request(decode, snap)
    got = decode.run()["r"]
    want = _reference(GREEDY)
    assert got == want, (
        f"after the P->D handoff the tokens were {got}, never moving gives {want}"
    )


def check_mid_decode_move_is_invisible(impl) -> None:
    a, b = _engine("A", block_size=4), _engine("B", block_size=5)
    _neighbour(a, "n1", 7, 5)
    _neighbour(b, "m1", 9, 6)
    a.add_request(PROMPT, GREEDY, "r")
    _steps(a, 5)
    impl.import_request(b, impl.export_request(a, "r", "ship"))
    got = b.run()["r"]
    want = _reference(GREEDY)
    assert got == want, (
        f"moved mid-decode the tokens were {got}, never moving gives {want}"
    )


def check_a_to_b_to_a_is_invisible_even_when_sampling(impl) -> None:
    a, b = _engine("A", block_size=4), _engine("B", block_size=2)
    a.add_request(PROMPT, SAMPLED, "r")
    _steps(a, 3)
    impl.import_request(b, impl.export_request(a, "r", "ship"))
    _steps(b, 3)
    impl.import_request(a, impl.export_request(b, "r", "ship"))
    assert b.usage == 0.0, (
        f"B must be empty after the request went back, usage {b.usage}"
    )
    got = a.run()["r"]
    want = _reference(SAMPLED)
    assert got == want, (
        f"A->B->A with sampling gave {got}, never moving gives {want} (did the random stream travel?)"
    )


def check_recompute_ships_no_kv_and_is_invisible(impl) -> None:
    a, b = _engine("A", block_size=4), _engine("B", block_size=4)
    a.add_request(PROMPT, GREEDY, "r")
    _steps(a, 4)
    snap = impl.export_request(a, "r", "recompute")
    assert snap.kv is None and snap.payload_bytes == 0, (
        "recompute ships tokens only: no KV"
    )
    assert a.usage == 0.0
    impl.import_request(b, snap)
    assert len(b.block_table("r")) == -(-snap.kv_tokens // 4), (
        "the destination rebuilds all the KV, so it bills the same"
    )
    got = b.run()["r"]
    assert got == _reference(GREEDY), "recompute must also be invisible in the output"


def check_out_of_memory_is_raised_before_anything_changes(impl) -> None:
    a, b = _engine("A", block_size=4), _engine("B", block_size=4, num_blocks=8)
    _neighbour(b, "m1", 25, 8, max_new_tokens=2)  # 25 tokens: 7 of B's 8 blocks
    b.step()
    a.add_request(PROMPT, GREEDY, "r")
    _steps(a, 3)
    snap = impl.export_request(a, "r", "ship")
    before = b.state_fingerprint()
    msg = _raises(OutOfBlocksError, impl.import_request, b, snap, needles=("block",))
    assert b.state_fingerprint() == before, (
        "a failed import must leave the destination exactly as it was"
    )
    assert "r" not in b.requests and not b.allocator.has_request("r"), (
        "nothing may be half-imported"
    )
    assert msg
    impl.import_request(a, snap)  # the snapshot is still good: put it back
    assert a.run()["r"] == _reference(GREEDY)


def check_import_refuses_an_id_clash_and_changes_nothing(impl) -> None:
    a, b = _engine("A"), _engine("B")
    a.add_request(PROMPT, GREEDY, "r")
    b.add_request(PROMPT[:5], GREEDY, "r")
    _steps(a, 2)
    b.step()
    snap = impl.export_request(a, "r", "ship")
    before = b.state_fingerprint()
    _raises(ValueError, impl.import_request, b, snap, needles=("r",))
    assert b.state_fingerprint() == before, "a refused import must change nothing"


CHECKS = [
    check_blocks_needed_is_a_ceiling,
    check_export_returns_the_identity_with_kv_in_logical_order,
    check_export_frees_the_source_exactly,
    check_source_usage_returns_to_its_prior_value,
    check_export_of_an_unknown_request_is_an_error,
    check_import_bills_ceil_tokens_over_block_size_with_new_ids,
    check_handoff_right_after_prefill_is_invisible,
    check_mid_decode_move_is_invisible,
    check_a_to_b_to_a_is_invisible_even_when_sampling,
    check_recompute_ships_no_kv_and_is_invisible,
    check_out_of_memory_is_raised_before_anything_changes,
    check_import_refuses_an_id_clash_and_changes_nothing,
]
