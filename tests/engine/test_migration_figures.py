"""The chapter's trace, readout and figures: right numbers, valid plotly, same output for the same sliders."""

import itertools
import json

import pytest

from labs_py.chapters.moving_a_live_request import figures as vm
from labs_py.engine.trace import (
    BLOCK_SIZES,
    FREE,
    MAX_NEW_TOKENS,
    MOVING,
    OTHER,
    PROMPT_TOKENS_RANGE,
    migration_readout,
    trace_migration,
)
from labs_py.figures.spec import to_figure

GRID = list(itertools.product((1, 9, 24, 64), BLOCK_SIZES, (0, 4, MAX_NEW_TOKENS - 2)))


@pytest.mark.parametrize("prompt_tokens, block_size, migrate_at", GRID)
def test_every_slider_setting_proves_the_invariants(
    prompt_tokens, block_size, migrate_at
):
    t = trace_migration(prompt_tokens, block_size, migrate_at)
    assert t.identical, "the moved request's tokens must equal the never-moved ones"
    assert t.blocks_billed == t.blocks_expected == -(-t.kv_tokens // block_size)
    assert t.kv_tokens == prompt_tokens + migrate_at, (
        "after prefill and k decode steps, k + prompt tokens have KV"
    )
    assert t.tokens_before_move == 1 + migrate_at
    held = len(t.source_block_ids)
    used_before = round(t.source_usage_before * t.num_blocks)
    assert t.source_usage_after == (used_before - held) / t.num_blocks, (
        "the source gives back exactly its blocks"
    )
    assert (
        t.source_owners_after.count(MOVING) == 0
        and t.destination_owners_after.count(MOVING) == t.blocks_billed
    )
    assert t.destination_owners_before.count(MOVING) == 0
    assert sorted(t.destination_block_ids) == [
        b for b, o in enumerate(t.destination_owners_after) if o == MOVING
    ]
    assert set(t.source_owners_before) <= {MOVING, OTHER, FREE}


def test_the_handoff_setting_moves_after_prefill_and_ids_change():
    t = trace_migration(24, 4, 0)
    assert t.kv_tokens == 24 and t.blocks_billed == 6
    assert t.destination_block_ids != t.source_block_ids, (
        "block identity does not survive the move"
    )
    assert t.payload_bytes == 24 * 512 and t.tokens_recomputed == 0


def test_recompute_strategy_ships_nothing_and_bills_the_same():
    ship, rec = (
        trace_migration(24, 4, 3),
        trace_migration(24, 4, 3, strategy="recompute"),
    )
    assert rec.payload_bytes == 0 and rec.tokens_recomputed == rec.kv_tokens == 27
    assert rec.blocks_billed == ship.blocks_billed and rec.identical


def test_readout_has_stable_keys_and_the_proof():
    r = migration_readout(24, 4, 0)
    assert r["tokens_identical"] is True
    assert r["destination_blocks_billed"] == r["blocks_expected"] == 6
    assert r["source_usage_after"] == pytest.approx(
        r["source_usage_before"] - r["source_usage_released"]
    )
    keys = list(r)
    for args in ((1, 1, 0), (64, 16, MAX_NEW_TOKENS - 2)):
        assert list(migration_readout(*args)) == keys, (
            "readout keys must not change between slider settings"
        )
    json.dumps(r)


def test_bad_slider_values_are_named():
    with pytest.raises(ValueError, match="at most 64 tokens"):
        trace_migration(PROMPT_TOKENS_RANGE[1] + 1, 4, 0)
    with pytest.raises(ValueError, match="leave a token to generate"):
        trace_migration(8, 4, MAX_NEW_TOKENS - 1)
    with pytest.raises(ValueError, match="tokens per block"):
        trace_migration(8, 0, 0)


@pytest.mark.parametrize(
    "builder",
    [
        vm.block_tables_figure,
        vm.usage_figure,
        vm.token_streams_figure,
        vm.migration_figure,
    ],
)
def test_every_builder_returns_a_valid_plotly_spec(builder):
    spec = builder(trace_migration(24, 4, 3))
    to_figure(spec)  # validates every property
    json.dumps(spec)


def test_the_slider_entry_is_deterministic_and_keeps_its_layout():
    a, b = (
        vm.migration_figure(trace_migration(24, 4, 3)),
        vm.migration_figure(trace_migration(24, 4, 3)),
    )
    assert a == b
    c = vm.migration_figure(trace_migration(64, 1, 10))
    assert c["layout"] == a["layout"], "only traces change with the sliders"
    to_figure(c)


def test_block_cells_show_logical_indices_on_both_sides():
    t = trace_migration(24, 4, 0)
    spec = vm.block_tables_figure(t)
    src_before, dst_after = spec["data"][0], spec["data"][3]
    cols = len(src_before["text"][0])
    labels_src = [src_before["text"][b // cols][b % cols] for b in t.source_block_ids]
    labels_dst = [
        dst_after["text"][b // cols][b % cols] for b in t.destination_block_ids
    ]
    assert labels_src == labels_dst == [f"L{i}" for i in range(6)], (
        "contents keep their logical order"
    )


def test_token_streams_mark_where_each_token_was_made():
    t = trace_migration(16, 2, 5)
    heat, line = vm.token_streams_figure(t)["data"][:2]
    assert heat["z"][1][:6] == [1.5] * 6 and heat["z"][1][6:] == [2.5] * (
        MAX_NEW_TOKENS - 6
    )
    assert heat["text"][0] == heat["text"][1]
    assert line["x"] == [6.5, 6.5]
