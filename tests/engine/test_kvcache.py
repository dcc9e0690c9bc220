"""The block allocator and the paged pool: arithmetic, errors that name their values, and no leaks."""

import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from labs_py.engine.kvcache import (
    BlockAllocator,
    DoubleFreeError,
    ForeignBlockError,
    OutOfBlocksError,
    PagedKVCache,
    UnknownRequestError,
    blocks_needed,
)
from tests.engine.cases import examples, record


def test_blocks_needed_is_an_integer_ceiling():
    assert [blocks_needed(n, 16) for n in (0, 1, 15, 16, 17, 32, 33)] == [
        0,
        1,
        1,
        1,
        2,
        2,
        3,
    ]
    assert (
        blocks_needed(2048, 16) == 128
    )  # the lab-02 capture: 127 blocks for 2031 tokens, 128 for 2048
    assert blocks_needed(2031, 16) == 127


@pytest.mark.parametrize(
    "args, needles",
    [
        ((10, 0), ("0", "tokens per block")),
        ((-1, 16), ("-1", "tokens")),
        ((1.5, 16), ("1.5", "tokens")),
    ],
)
def test_blocks_needed_rejects_bad_input_naming_value_and_unit(args, needles):
    with pytest.raises((ValueError, TypeError)) as err:
        blocks_needed(*args)
    for needle in needles:
        assert needle in str(err.value)


def test_allocate_free_and_usage_is_exact():
    a = BlockAllocator(8, 4, name="A")
    assert a.usage == 0.0 and a.free_blocks == 8
    got = a.allocate_tokens("r", 9)  # 9 tokens at 4 per block: 3 blocks
    assert got == [0, 1, 2] and a.block_table("r") == (0, 1, 2)
    assert a.usage == 3 / 8
    assert a.allocate_tokens("r", 12) == []  # the third block still had room
    assert a.allocate_tokens("r", 13) == [3]
    a.allocate("s", 2)
    assert a.free("r") == [0, 1, 2, 3]
    assert a.usage == 2 / 8
    assert a.free_list()[:2] == (6, 7), "freed blocks go to the back of the free list"
    a.check_invariants()


def test_over_allocation_raises_and_allocates_nothing():
    a = BlockAllocator(4, 16, name="A")
    a.allocate("r", 3)
    before = a.digest()
    with pytest.raises(OutOfBlocksError) as err:
        a.allocate("s", 2)
    msg = str(err.value)
    assert (
        "2 more blocks" in msg
        and "1 of 4 blocks are free" in msg
        and "32 token slots" in msg
    )
    assert a.digest() == before and not a.has_request("s")


def test_double_free_of_a_request_is_named():
    a = BlockAllocator(4, 16, name="A")
    a.allocate("r", 2)
    a.free("r")
    with pytest.raises(DoubleFreeError, match="'r' was already freed"):
        a.free("r")


def test_double_free_of_a_block_is_named_and_frees_nothing():
    a = BlockAllocator(4, 16, name="A")
    a.allocate("r", 3)
    before = a.digest()
    with pytest.raises(DoubleFreeError, match="block 1 is already free"):
        a.free_blocks_of("r", [1, 1])
    assert a.digest() == before


def test_foreign_block_ids_are_refused():
    a = BlockAllocator(4, 16, name="A")
    a.allocate("r", 2)
    a.allocate("s", 2)
    with pytest.raises(
        ForeignBlockError, match="block 9 is not one of this pool's 4 blocks"
    ):
        a.free_blocks_of("r", [9])
    with pytest.raises(
        ForeignBlockError, match="block 2 belongs to request 's', not 'r'"
    ):
        a.free_blocks_of("r", [0, 2])
    assert a.block_table("r") == (0, 1), (
        "a refused free frees nothing, not even the good ids"
    )
    with pytest.raises(UnknownRequestError, match="'nobody'"):
        a.free("nobody")
    a.check_invariants()


def test_bad_pool_shapes_are_rejected():
    with pytest.raises(ValueError, match="0 blocks"):
        BlockAllocator(0, 16)
    with pytest.raises(ValueError, match="tokens per block"):
        BlockAllocator(4, 0)


def test_pool_reads_in_logical_order_whatever_the_physical_ids():
    pool = PagedKVCache(
        num_layers=2, num_kv_heads=2, head_dim=4, num_blocks=6, block_size_tokens=3
    )
    kv = np.random.default_rng(0).standard_normal((2, 2, 7, 2, 4)).astype(np.float32)
    table = [4, 0, 5]  # scattered on purpose
    pool.write_kv(table, kv)
    assert np.array_equal(pool.read_kv(table, 7), kv)
    assert np.array_equal(pool.k[1, 0, 1], kv[1, 0, 4]), (
        "token 4 lives in logical block 1 = physical block 0, slot 1"
    )
    with pytest.raises(ValueError, match="logical block 3"):
        pool.read_kv(table, 10)


def test_freed_blocks_are_poisoned_so_use_after_free_shows():
    pool = PagedKVCache(
        num_layers=1, num_kv_heads=1, head_dim=2, num_blocks=2, block_size_tokens=2
    )
    table = pool.allocator.allocate("r", 1)
    pool.write_kv(table, np.ones((1, 2, 2, 1, 2), dtype=np.float32))
    pool.free("r")
    assert np.isnan(pool.k[0, table[0]]).all()


class AllocatorMachine(RuleBasedStateMachine):
    """Long random sequences of allocations and frees: the books always balance, nothing leaks."""

    def __init__(self):
        super().__init__()
        self.a = BlockAllocator(12, 4, name="M")
        self.model: dict[str, int] = {}  # request id -> blocks it should hold
        self.steps = 0

    @rule(rid=st.sampled_from("abcdef"), tokens=st.integers(0, 40))
    def grow(self, rid, tokens):
        self.steps += 1
        have = self.model.get(rid, 0)
        need = max(have, -(-tokens // 4))
        if need - have > self.a.free_blocks:
            before = self.a.digest()
            with pytest.raises(OutOfBlocksError):
                self.a.allocate_tokens(rid, tokens)
            assert self.a.digest() == before
        else:
            self.a.allocate_tokens(rid, tokens)
            if need:
                self.model[rid] = need

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def free(self, data):
        self.steps += 1
        rid = data.draw(st.sampled_from(sorted(self.model)))
        assert len(self.a.free(rid)) == self.model.pop(rid)

    @rule(rid=st.sampled_from("abcdef"))
    def free_again_is_an_error(self, rid):
        self.steps += 1
        if rid not in self.model:
            with pytest.raises((DoubleFreeError, UnknownRequestError)):
                self.a.free(rid)

    @rule(block=st.integers(-3, 20), rid=st.sampled_from("abcdef"))
    def stray_free_changes_nothing(self, block, rid):
        self.steps += 1
        before = self.a.digest()
        owner = self.a.owner(block) if 0 <= block < 12 else None
        if owner == rid:
            return
        with pytest.raises((ForeignBlockError, DoubleFreeError, UnknownRequestError)):
            self.a.free_blocks_of(rid, [block])
        assert self.a.digest() == before

    @invariant()
    def books_balance(self):
        self.a.check_invariants()
        assert self.a.used_blocks == sum(self.model.values())
        assert self.a.usage == sum(self.model.values()) / 12

    def teardown(self):
        record("allocator state machine", steps=self.steps)
        for rid in list(self.model):
            self.a.free(rid)
        assert self.a.usage == 0.0 and self.a.free_blocks == 12


TestAllocatorMachine = AllocatorMachine.TestCase
TestAllocatorMachine.settings = examples(50)
