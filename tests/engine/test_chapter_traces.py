"""The migration chapter's traces: the invariants its readout claims, at every corner of its grid."""

import itertools

import pytest

from labs_py.chapters.moving_a_live_request import panels
from labs_py.engine.trace import trace_migration, trace_router


def _grid():
    ex = panels.move()
    return ex, [c for c in ex.combinations()]


def test_every_setting_of_the_move_panel_keeps_its_promises():
    ex, combos = _grid()
    corners = [
        combos[0],
        combos[len(combos) // 3],
        combos[2 * len(combos) // 3],
        combos[-1],
    ]
    for values in corners:
        t = trace_migration(**{k: v for k, v in values.items()})
        assert (
            t.source_usage_after == t.source_usage_without_request
        )  # nothing leaked on the source
        assert (
            t.blocks_billed
            == t.blocks_expected
            == -(-t.kv_tokens // t.block_size_tokens)
        )
        assert t.migrated_tokens == t.reference_tokens  # output-invisible
        if t.strategy == "ship":
            assert (
                t.kv_contents_identical
                and t.shipped_tokens == t.kv_tokens
                and t.tokens_recomputed == 0
            )
        assert len(set(t.source_block_ids)) == len(t.source_block_ids)


def test_recompute_ships_nothing_and_still_matches():
    t = trace_migration(24, 4, 3, strategy="recompute")
    assert (
        t.shipped_tokens == 0
        and t.payload_bytes == 0
        and t.tokens_recomputed == t.kv_tokens
    )
    assert t.migrated_tokens == t.reference_tokens


@pytest.mark.parametrize(
    "decode_blocks, lease_steps", list(itertools.product((12, 16, 24), (2, 3, 6)))
)
def test_router_trace_never_corrupts_and_empties_every_pool(decode_blocks, lease_steps):
    r = trace_router(decode_blocks, lease_steps)
    assert r.outputs_identical and r.pools_empty_at_end
    assert all(step is not None for step in r.finished_at), "every request finishes"
    placed = [e for e in r.events if e[2] == "placed"]
    assert placed and all(
        e[3] in ("D0", "D1") for e in placed
    )  # imports land on decode engines only


def test_a_tight_decode_pool_forces_lease_expiry_and_recompute():
    r = trace_router(12, 2)
    kinds = {kind for _, _, kind, _, _ in r.events}
    assert "lease_expired" in kinds and "held" in kinds, kinds
    assert r.outputs_identical and r.pools_empty_at_end
