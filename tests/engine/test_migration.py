"""Moving a live request: the invariants, over random prompts, block sizes, moments and neighbours.

1. the output is token-for-token identical to never moving;
2. the source's usage returns to its prior value;
3. the destination is billed exactly ceil(tokens / block_size) blocks;
4. no block leaks over long random sequences of operations (a state machine);
5. out-of-memory is raised before any state changes: nothing is half-imported.
"""

from functools import lru_cache

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from labs_py.engine import Engine, SamplingParams, TinyModel
from labs_py.engine import migration as mg
from labs_py.engine.kvcache import OutOfBlocksError, blocks_needed
from tests.engine.cases import examples, record

MODEL = TinyModel()
tokens_ = st.integers(0, 255)
prompts = st.lists(tokens_, min_size=1, max_size=40)
block_sizes = st.sampled_from([1, 2, 3, 4, 8, 16])
strategies = st.sampled_from(mg.STRATEGIES)


def sampling_(max_new: int, sampled: bool, seed: int) -> SamplingParams:
    return SamplingParams(
        max_new_tokens=max_new,
        temperature=0.8 if sampled else 0.0,
        seed=seed if sampled else None,
    )


@lru_cache(maxsize=4096)
def reference(prompt: tuple[int, ...], sampling: SamplingParams) -> tuple[int, ...]:
    """The request run alone, never moved."""
    e = Engine(
        MODEL,
        num_blocks=blocks_needed(len(prompt) + sampling.max_new_tokens, 16),
        block_size_tokens=16,
    )
    e.add_request(prompt, sampling, "x")
    return e.run()["x"]


def engine(
    name: str, block_size: int, tokens_room: int, role: str = "both", budget: int = 512
) -> Engine:
    return Engine(
        MODEL,
        num_blocks=blocks_needed(tokens_room, block_size) + 2,
        block_size_tokens=block_size,
        name=name,
        role=role,
        max_batch_tokens=budget,
    )


def add_neighbours(e: Engine, prompts_, max_new: int, tag: str) -> None:
    for i, p in enumerate(prompts_):
        e.add_request(p, SamplingParams(max_new_tokens=max_new), f"{tag}{i}")


def check_books(*engines: Engine) -> None:
    """No leaks: every held block belongs to a live request, which holds exactly ceil(kv_tokens / block_size)."""
    for e in engines:
        e.allocator.check_invariants()
        held = 0
        for rid, req in e.requests.items():
            table = e.block_table(rid)
            assert len(table) == blocks_needed(
                req.num_computed_tokens, e.block_size_tokens
            ), (e.name, rid)
            held += len(table)
        assert held == e.allocator.used_blocks, (
            f"{e.name}: {e.allocator.used_blocks - held} blocks leaked"
        )


# --------------------------------------------------------------------------- one move
@given(
    prompt=prompts,
    max_new=st.integers(2, 8),
    bs_src=block_sizes,
    bs_dst=block_sizes,
    decode_steps=st.integers(0, 6),
    strategy=strategies,
    sampled=st.booleans(),
    seed=st.integers(0, 3),
    src_others=st.lists(prompts, max_size=2),
    dst_others=st.lists(prompts, max_size=3),
    budget=st.integers(8, 96),
)
@examples(150)
def test_moving_once_is_invisible_and_billed_exactly(
    prompt,
    max_new,
    bs_src,
    bs_dst,
    decode_steps,
    strategy,
    sampled,
    seed,
    src_others,
    dst_others,
    budget,
):
    """Move after ``decode_steps`` decode steps (0 = right after prefill: the P->D handoff),
    others running alongside."""
    record("move once (handoff or mid-decode)")
    sampling = sampling_(max_new, sampled, seed)
    k = min(decode_steps, max_new - 2)
    room = 50 + max_new + sum(len(p) + 6 for p in src_others + dst_others)
    src, dst = (
        engine("A", bs_src, room, budget=budget),
        engine("B", bs_dst, room, budget=budget),
    )
    add_neighbours(src, src_others, 6, "a")
    add_neighbours(dst, dst_others, 6, "b")
    src.add_request(prompt, sampling, "r")
    while (
        len(src.output("r")) < 1 + k
    ):  # interleave: both engines keep serving their other requests
        src.step()
        dst.step()

    held = len(src.block_table("r"))
    assert held == blocks_needed(src.request("r").num_computed_tokens, bs_src)
    src_used, dst_used = src.allocator.used_blocks, dst.allocator.used_blocks
    snap = mg.export_request(src, "r", strategy)
    assert src.allocator.used_blocks == src_used - held, (
        "the source gives back exactly the request's blocks"
    )
    mg.import_request(dst, snap)
    assert dst.allocator.used_blocks - dst_used == blocks_needed(
        snap.kv_tokens, bs_dst
    ), "billed ceil(tokens/block)"
    check_books(src, dst)

    while "r" in dst.requests:
        dst.step()
        src.step()
    assert dst.output("r") == reference(tuple(prompt), sampling), (
        "moving must not change a single token"
    )
    src.run(), dst.run()
    assert src.usage == 0.0 and dst.usage == 0.0


@given(
    prompt=prompts,
    max_new=st.integers(2, 6),
    bs_p=block_sizes,
    bs_d=block_sizes,
    strategy=strategies,
    parked_others=st.lists(prompts, max_size=3),
)
@examples(60)
def test_handoff_from_a_prefill_engine_restores_its_usage_exactly(
    prompt, max_new, bs_p, bs_d, strategy, parked_others
):
    """P holds only parked requests, which do not move: its usage after the handoff is exactly what it was before."""
    record("P->D handoff restores P's usage exactly")
    p = engine("P", bs_p, 50 + sum(len(x) + 1 for x in parked_others), role="prefill")
    d = engine("D", bs_d, 50 + max_new)
    add_neighbours(p, parked_others, 4, "p")
    p.run()  # everyone else is prefilled and parked
    prior = p.usage
    p.add_request(prompt, SamplingParams(max_new_tokens=max_new), "r")
    p.step()
    assert p.parked[-1] == "r" and p.usage > prior
    mg.import_request(d, mg.export_request(p, "r", strategy))
    assert p.usage == prior, (
        f"P's usage should return to exactly {prior}, got {p.usage}"
    )
    assert d.run()["r"] == reference(
        tuple(prompt), SamplingParams(max_new_tokens=max_new)
    )
    if not parked_others:
        assert prior == 0.0 and p.usage == 0.0


@given(
    prompt=prompts,
    max_new=st.integers(3, 10),
    bs_a=block_sizes,
    bs_b=block_sizes,
    hops=st.lists(st.tuples(st.integers(0, 3), strategies), min_size=1, max_size=5),
    sampled=st.booleans(),
)
@examples(100)
def test_back_and_forth_a_b_a_is_invisible(prompt, max_new, bs_a, bs_b, hops, sampled):
    """Move repeatedly (A->B->A->...), decoding a few steps in between, with any strategy per hop."""
    record("back and forth A->B->A")
    sampling = sampling_(max_new, sampled, 1)
    engines = [engine("A", bs_a, 50 + max_new), engine("B", bs_b, 50 + max_new)]
    engines[0].add_request(prompt, sampling, "r")
    engines[0].step()
    here = 0
    for steps, strategy in hops:
        for _ in range(steps):
            if "r" in engines[here].requests:
                engines[here].step()
        if "r" not in engines[here].requests:
            break
        mg.migrate(engines[here], engines[1 - here], "r", strategy)
        assert engines[here].usage == 0.0
        here = 1 - here
        check_books(*engines)
    assert engines[here].run()["r"] == reference(tuple(prompt), sampling)
    assert engines[0].usage == engines[1].usage == 0.0


@given(
    prompt=prompts,
    max_new=st.integers(2, 6),
    bs=block_sizes,
    bs_dst=block_sizes,
    steps=st.integers(0, 4),
)
@examples(50)
def test_ship_and_recompute_leave_bitwise_the_same_kv_on_the_destination(
    prompt, max_new, bs, bs_dst, steps
):
    """Recompute is only a valid recovery because the kernels are batch-invariant: it rebuilds the very same bits."""
    record("ship and recompute give the same KV bits")
    dsts = {}
    for strategy in mg.STRATEGIES:
        src, dst = engine("A", bs, 50 + max_new), engine("B", bs_dst, 50 + max_new)
        src.add_request(prompt, SamplingParams(max_new_tokens=max_new), "r")
        for _ in range(1 + min(steps, max_new - 2)):
            src.step()
        mg.import_request(dst, mg.export_request(src, "r", strategy))
        req = dst.request("r")
        dsts[strategy] = dst.cache.read_kv(
            dst.block_table("r"), req.num_computed_tokens
        )
    assert np.array_equal(dsts["ship"], dsts["recompute"]) and np.array_equal(
        dsts["ship"], dsts["ship_all_but_last"]
    )


# --------------------------------------------------------------------------- out of memory
@given(
    prompt=st.lists(tokens_, min_size=5, max_size=40),
    bs=block_sizes,
    fill=st.lists(prompts, min_size=1, max_size=4),
    strategy=strategies,
    steps=st.integers(0, 3),
)
@examples(80)
def test_out_of_memory_is_raised_before_anything_changes(
    prompt, bs, fill, strategy, steps
):
    src = engine("A", bs, 60)
    src.add_request(prompt, SamplingParams(max_new_tokens=6), "r")
    for _ in range(1 + steps):
        src.step()
    need = blocks_needed(src.request("r").num_computed_tokens, bs)
    # a destination that could hold the request for life, whose residents leave exactly need - 1 blocks free
    resident_blocks = sum(blocks_needed(len(p), bs) for p in fill)
    num_blocks = max(
        blocks_needed(len(prompt) + 5, bs),
        resident_blocks + need - 1,
        blocks_needed(max(map(len, fill)) + 1, bs),
    )
    dst = Engine(
        MODEL,
        num_blocks=num_blocks,
        block_size_tokens=bs,
        name="B",
        max_batch_tokens=4096,
    )
    add_neighbours(dst, fill, 2, "b")
    gap = num_blocks - resident_blocks - (need - 1)
    if gap > 0:
        dst.add_request([7] * (gap * bs), SamplingParams(max_new_tokens=2), "filler")
    dst.step()
    assume(dst.free_blocks < need)
    record("OOM before any state change")
    snap = mg.export_request(src, "r", strategy)
    before = dst.state_fingerprint()
    with pytest.raises(
        OutOfBlocksError,
        match=r"need \d+ blocks of \d+ tokens, but only \d+ of \d+ blocks are free",
    ):
        mg.import_request(dst, snap)
    assert dst.state_fingerprint() == before, "nothing may be half-imported"
    assert "r" not in dst.requests and not dst.allocator.has_request("r")
    check_books(dst)
    # migrate() refuses before touching the source at all
    mg.import_request(src, snap)
    src_before = src.state_fingerprint()
    with pytest.raises(OutOfBlocksError, match="stays on 'A'"):
        mg.migrate(src, dst, "r", strategy)
    assert src.state_fingerprint() == src_before and dst.state_fingerprint() == before
    assert src.run()["r"] == reference(tuple(prompt), SamplingParams(max_new_tokens=6))


def test_a_snapshot_from_another_model_is_refused():
    other = TinyModel(MODEL.config.__class__(seed=99))
    a = Engine(other, num_blocks=8, block_size_tokens=4, name="A")
    b = Engine(MODEL, num_blocks=8, block_size_tokens=4, name="B")
    a.add_request([1, 2, 3], SamplingParams(max_new_tokens=3), "r")
    a.step()
    snap = mg.export_request(a, "r")
    before = b.state_fingerprint()
    with pytest.raises(
        ValueError, match="KV is only meaningful to the weights that computed it"
    ):
        mg.import_request(b, snap)
    assert b.state_fingerprint() == before


def test_an_import_the_destination_could_never_finish_is_refused_before_any_change():
    a = Engine(MODEL, num_blocks=16, block_size_tokens=4, name="A")
    b = Engine(
        MODEL, num_blocks=4, block_size_tokens=4, name="B"
    )  # 16 slots; the request may grow to 19 tokens
    a.add_request(list(range(12)), SamplingParams(max_new_tokens=8), "r")
    a.step()
    snap = mg.export_request(a, "r")
    before = b.state_fingerprint()
    with pytest.raises(
        ValueError,
        match=r"could need 5 blocks \(19 tokens of KV at 4 tokens per block\)",
    ):
        mg.import_request(b, snap)
    assert b.state_fingerprint() == before


def test_a_snapshot_with_a_foreign_token_is_refused_before_any_change():
    import dataclasses

    a, b = (Engine(MODEL, num_blocks=16, block_size_tokens=4, name=n) for n in "AB")
    a.add_request([1, 2, 3], SamplingParams(max_new_tokens=4), "r")
    a.step()
    snap = dataclasses.replace(mg.export_request(a, "r"), generated_tokens=(999,))
    before = b.state_fingerprint()
    with pytest.raises(ValueError, match="token 999 is not a token id of this model"):
        mg.import_request(b, snap)
    assert b.state_fingerprint() == before


def test_unknown_strategy_is_named():
    a = Engine(MODEL, num_blocks=8, block_size_tokens=4)
    a.add_request([1, 2], SamplingParams(max_new_tokens=2), "r")
    with pytest.raises(ValueError, match="'teleport'.*'ship', 'recompute'"):
        mg.export_request(a, "r", "teleport")


# --------------------------------------------------------------------------- long random sequences
class TwoEngines(RuleBasedStateMachine):
    """Random interleavings of arrivals, steps and moves (every strategy, into full engines too).

    Invariants after every rule: the books of both engines balance and every
    live request lives in exactly one engine. At the end, every request that
    ever ran produced exactly its solo output, and both pools are empty.
    """

    @initialize(
        bs_a=block_sizes,
        bs_b=block_sizes,
        room_a=st.integers(24, 90),
        room_b=st.integers(24, 90),
        budget=st.integers(4, 64),
    )
    def setup(self, bs_a, bs_b, room_a, room_b, budget):
        self.engines = [
            Engine(
                MODEL,
                num_blocks=blocks_needed(room_a, bs_a),
                block_size_tokens=bs_a,
                name="A",
                max_batch_tokens=budget,
            ),
            Engine(
                MODEL,
                num_blocks=blocks_needed(room_b, bs_b),
                block_size_tokens=bs_b,
                name="B",
                max_batch_tokens=budget,
            ),
        ]
        self.expected: dict[str, tuple[tuple[int, ...], SamplingParams]] = {}
        self.n = 0
        self.steps = 0

    def _live(self) -> list[tuple[int, str]]:
        return [(i, rid) for i, e in enumerate(self.engines) for rid in e.requests]

    @rule(
        where=st.integers(0, 1),
        prompt=st.lists(tokens_, min_size=1, max_size=16),
        max_new=st.integers(1, 8),
        sampled=st.booleans(),
    )
    def arrive(self, where, prompt, max_new, sampled):
        self.steps += 1
        rid = f"q{self.n}"
        sampling = sampling_(max_new, sampled, self.n)
        try:
            self.engines[where].add_request(prompt, sampling, rid)
        except ValueError:
            return  # could never fit this engine: refused up front, as it should be
        self.n += 1
        self.expected[rid] = (tuple(prompt), sampling)

    @rule(where=st.integers(0, 1))
    def step(self, where):
        self.steps += 1
        self.engines[where].step()

    @precondition(lambda self: self._live())
    @rule(data=st.data(), strategy=strategies)
    def move(self, data, strategy):
        self.steps += 1
        i, rid = data.draw(st.sampled_from(self._live()))
        src, dst = self.engines[i], self.engines[1 - i]
        fingerprints = (src.state_fingerprint(), dst.state_fingerprint())
        try:
            record_ = mg.migrate(src, dst, rid, strategy)
        except OutOfBlocksError:
            assert (src.state_fingerprint(), dst.state_fingerprint()) == fingerprints, (
                "a refused move changes nothing"
            )
            return
        assert record_.blocks_billed == blocks_needed(
            record_.kv_tokens, dst.block_size_tokens
        )
        assert record_.blocks_freed == len(record_.source_block_ids)

    @precondition(lambda self: self._live())
    @rule(data=st.data(), strategy=strategies)
    def raw_export_import(self, data, strategy):
        """The lab's two calls, bare: on OOM the destination is untouched and the source takes the request back."""
        self.steps += 1
        i, rid = data.draw(st.sampled_from(self._live()))
        src, dst = self.engines[i], self.engines[1 - i]
        before = dst.state_fingerprint()
        snap = mg.export_request(src, rid, strategy)
        try:
            mg.import_request(dst, snap)
        except OutOfBlocksError:
            assert dst.state_fingerprint() == before
            mg.import_request(
                src, snap
            )  # it just freed those very blocks, so this cannot fail

    @invariant()
    def books_balance(self):
        if hasattr(self, "engines"):
            check_books(*self.engines)
            a, b = (set(e.requests) for e in self.engines)
            assert not a & b, f"a request lives in two engines: {a & b}"

    def teardown(self):
        if not hasattr(self, "engines"):
            return
        record("state machine: arrivals, steps, moves", steps=self.steps)
        outputs = {}
        for e in self.engines:
            outputs.update(e.run())
        for rid, (prompt, sampling) in self.expected.items():
            assert outputs[rid] == reference(prompt, sampling), (
                f"{rid} changed by its travels"
            )
        for e in self.engines:
            assert e.usage == 0.0 and e.free_blocks == e.num_blocks, (
                f"{e.name} leaked blocks"
            )


TestTwoEngines = TwoEngines.TestCase
TestTwoEngines.settings = settings(examples(60), stateful_step_count=40)


# --------------------------------------------------------------------------- pricing
def test_pricing_both_strategies_for_llama_8b_over_200_gbps():
    p = mg.price_recovery_for_model("meta-llama/Llama-3.1-8B-Instruct", 2048, 200)
    ship, rec, vllm = p["ship"], p["recompute"], p["ship_all_but_last"]
    assert ship.bytes_moved == 256 * 2**20 and ship.tokens_recomputed == 0
    assert ship.transfer_s == pytest.approx(256 * 2**20 * 8 / 200e9)
    assert (
        rec.bytes_moved == 0 and rec.tokens_recomputed == 2048 and rec.transfer_s == 0.0
    )
    assert vllm.bytes_moved == 2047 * 131072 and vllm.tokens_recomputed == 1
    assert vllm.recompute_s < rec.recompute_s
    gbps = mg.ship_breakeven_link_gbps(2048, 131072, rec.recompute_s)
    at = mg.price_recovery_for_model("meta-llama/Llama-3.1-8B-Instruct", 2048, gbps)
    assert at["ship"].transfer_s == pytest.approx(at["recompute"].recompute_s), (
        "break-even: equal times"
    )


def test_pricing_a_real_snapshot_of_the_toy_engine():
    a = Engine(MODEL, num_blocks=16, block_size_tokens=4)
    a.add_request(list(range(30)), SamplingParams(max_new_tokens=4), "r")
    a.step()
    snap = mg.export_request(a, "r", "ship")
    bill = mg.price_snapshot(snap, link_gbps=100, recompute_tokens_per_s=5000)
    assert bill.bytes_moved == 30 * MODEL.config.kv_bytes_per_token == 30 * 512
    assert bill.tokens_recomputed == 0 and bill.recompute_s == 0.0
    flat = mg.price_both(30, 512, 100, 5000)
    assert (
        flat["recompute"].recompute_s == pytest.approx(30 / 5000)
        and flat["ship"].bytes_moved == bill.bytes_moved
    )
    with pytest.raises(ValueError, match="Gb/s"):
        mg.price_recovery("ship", 30, 512, 0, 5000)


# --------------------------------------------------------------------------- the proof has teeth
def _moved_with(tamper) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Move a request mid-decode after ``tamper(snapshot, source_table)`` rewrites its snapshot."""
    import dataclasses

    prompt = tuple(int(t) for t in np.random.default_rng(3).integers(0, 256, size=30))
    sampling = SamplingParams(max_new_tokens=10, temperature=0.8, seed=5)
    a = Engine(MODEL, num_blocks=32, block_size_tokens=4, name="A")
    b = Engine(MODEL, num_blocks=32, block_size_tokens=4, name="B")
    a.add_request(
        [9] * 9, SamplingParams(max_new_tokens=3), "first"
    )  # so r's blocks are not 0, 1, 2, ...
    a.step()
    a.step()
    a.step()
    a.add_request(prompt, sampling, "r")
    a.step()
    a.step()
    snap = mg.export_request(a, "r", "ship")
    mg.import_request(b, dataclasses.replace(snap, **tamper(snap)))
    return b.run()["r"], reference(prompt, sampling)


def test_an_honest_move_is_invisible():
    got, want = _moved_with(lambda snap, **_: {})
    assert got == want


def test_copying_whole_blocks_in_the_wrong_order_would_change_the_output():
    """Reverse the *blocks* (the partial last block lands first, its empty slots counted as tokens)."""

    def blocks_reversed(snap):
        bs, n = 4, snap.kv_tokens
        assert n % bs, "the last block must be partial for this bug to bite"
        padded = np.zeros(
            snap.kv.shape[:2] + (-(-n // bs) * bs,) + snap.kv.shape[3:],
            dtype=snap.kv.dtype,
        )
        padded[:, :, :n] = snap.kv
        blocks = padded.reshape(padded.shape[:2] + (-1, bs) + padded.shape[3:])[
            :, :, ::-1
        ]
        return {"kv": blocks.reshape(padded.shape)[:, :, :n]}

    got, want = _moved_with(blocks_reversed)
    assert got != want, "a scrambled move must be caught by the identity test"


def test_reversing_token_order_is_invisible_to_attention_but_not_to_the_bits():
    """RoPE stamps each key with its position before it is cached: to attention the cache is a *set* of (k, v)
    pairs. Logical order still decides which slots are valid and where the next token goes, and it fixes the
    order of the additions, so bitwise KV equality (what the ship/recompute test checks) does see it."""

    def tokens_reversed(snap):
        return {"kv": snap.kv[:, :, ::-1]}

    got, want = _moved_with(tokens_reversed)
    assert (
        got == want
    )  # the softmax-weighted sum does not care about key order (up to rounding)


def test_forgetting_the_random_stream_would_change_a_sampled_output():
    def fresh_stream(snap):
        state = np.random.Generator(
            np.random.PCG64(snap.sampling.seed)
        ).bit_generator.state
        return {"rng_state": state}

    got, want = _moved_with(fresh_stream)
    assert got != want, "sampling state is part of a request's identity"
