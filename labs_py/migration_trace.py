"""One migration, recorded for the chapter's figures and its readout.

:func:`trace_migration` runs the chapter's experiment for one setting of its
three sliders -- prompt length, block size, migration point -- and returns a
:class:`MigrationTrace` of plain data: who owned which physical block on each
engine just before and just after the move, both engines' usage, the token
streams with and without the move, and the bill.

The setup: a *source* engine (think: the prefill instance) runs the request
next to one other request; a *destination* engine (the decode instance) already
holds two others, so the free blocks it hands out are not the ones the source
used. After the move the destination decodes the request alongside them. ``migrate_at = 0`` moves the request right after prefill, with its first
token sampled: that is exactly the P->D handoff of a disaggregated deployment.
``migrate_at = k`` moves it after ``k`` decode steps.

Everything is seeded, and results are memoised per setting, so a slider that
returns to a position it has visited costs nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np

from labs_py.engine import Engine, SamplingParams, TinyModel
from labs_py.kvcache import blocks_needed
from labs_py.migration import STRATEGIES, migrate
from labs_py.validate import non_negative_int, one_of, positive_int

__all__ = [
    "MOVING", "OTHER", "FREE", "MigrationTrace", "trace_migration", "migration_readout",
    "PROMPT_TOKENS_RANGE", "BLOCK_SIZES", "MAX_NEW_TOKENS",
]

MOVING, OTHER, FREE = "moving", "other", "free"
#: The sliders' ranges the chapter uses (any values in range work).
PROMPT_TOKENS_RANGE: tuple[int, int] = (1, 64)
BLOCK_SIZES: tuple[int, ...] = (1, 2, 4, 8, 16)
MAX_NEW_TOKENS = 12
_SOURCE_NEIGHBOUR_TOKENS = 6
_DEST_NEIGHBOUR_TOKENS = (10, 5)
_NEIGHBOUR_NEW_TOKENS = 40
_SEED = 2024


@dataclass(frozen=True)
class MigrationTrace:
    """Plain data about one move (lists of ints, floats, strings: JSON-ready via :meth:`to_dict`)."""

    prompt_tokens: int
    block_size_tokens: int
    migrate_at: int
    max_new_tokens: int
    strategy: str
    num_blocks: int  # per engine
    request_id: str
    source_owners_before: tuple[str, ...]  # per physical block: MOVING, OTHER or FREE
    source_owners_after: tuple[str, ...]
    destination_owners_before: tuple[str, ...]
    destination_owners_after: tuple[str, ...]
    source_block_ids: tuple[int, ...]  # the moving request's table, logical order
    destination_block_ids: tuple[int, ...]
    source_usage_before: float
    source_usage_after: float
    destination_usage_before: float
    destination_usage_after: float
    kv_tokens: int
    blocks_billed: int
    blocks_expected: int
    kv_bytes_per_token: int
    payload_bytes: int
    tokens_recomputed: int
    tokens_before_move: int  # how many of the output tokens were generated on the source
    migrated_tokens: tuple[int, ...]
    reference_tokens: tuple[int, ...]

    @property
    def identical(self) -> bool:
        return self.migrated_tokens == self.reference_tokens

    def to_dict(self) -> dict:
        d = asdict(self)
        d["identical"] = self.identical
        return d


@lru_cache(maxsize=1)
def _model() -> TinyModel:
    return TinyModel()


def _prompt(prompt_tokens: int) -> tuple[int, ...]:
    """The chapter's prompt: a fixed seeded sequence, cut to length (so longer prompts extend shorter ones)."""
    full = np.random.default_rng(_SEED).integers(0, 256, size=PROMPT_TOKENS_RANGE[1])
    return tuple(int(t) for t in full[:prompt_tokens])


def _neighbour_prompt(length: int, seed: int) -> list[int]:
    return np.random.default_rng(seed).integers(0, 256, size=length).tolist()


def pool_blocks(block_size_tokens: int) -> int:
    """Blocks per engine in the chapter's setup: room for the longest request and the neighbours, with slack."""
    worst = PROMPT_TOKENS_RANGE[1] + MAX_NEW_TOKENS + sum(_DEST_NEIGHBOUR_TOKENS) + 2 * MAX_NEW_TOKENS
    return blocks_needed(worst, block_size_tokens) + 4


@lru_cache(maxsize=128)
def _reference(prompt_tokens: int, max_new_tokens: int) -> tuple[int, ...]:
    ref = Engine(_model(), num_blocks=blocks_needed(prompt_tokens + max_new_tokens, 16) + 1, block_size_tokens=16, name="alone")
    rid = ref.add_request(_prompt(prompt_tokens), SamplingParams(max_new_tokens=max_new_tokens), "request")
    return ref.run()[rid]


def _owners(engine: Engine, moving: str) -> tuple[str, ...]:
    return tuple(FREE if o is None else (MOVING if o == moving else OTHER) for o in engine.allocator.owners())


@lru_cache(maxsize=512)
def trace_migration(
    prompt_tokens: int = 24,
    block_size_tokens: int = 4,
    migrate_at: int = 0,
    *,
    strategy: str = "ship",
    max_new_tokens: int = MAX_NEW_TOKENS,
) -> MigrationTrace:
    """Run the chapter's experiment for one slider setting and record it.

    ``migrate_at`` counts decode steps on the source after prefill (0 = the
    P->D handoff). It must leave at least one token to generate on the
    destination: ``0 <= migrate_at <= max_new_tokens - 2``.
    """
    n = positive_int("prompt_tokens", prompt_tokens, "tokens")
    if n > PROMPT_TOKENS_RANGE[1]:
        raise ValueError(f"prompt_tokens must be at most {PROMPT_TOKENS_RANGE[1]} tokens in the chapter's setup; got {n} tokens")
    bs = positive_int("block_size_tokens", block_size_tokens, "tokens per block")
    k = non_negative_int("migrate_at", migrate_at, "decode steps")
    new = positive_int("max_new_tokens", max_new_tokens, "tokens")
    if k > new - 2:
        raise ValueError(
            f"migrate_at must leave a token to generate after the move: at most {new - 2} decode steps "
            f"for max_new_tokens={new}; got {k} decode steps"
        )
    one_of("strategy", strategy, STRATEGIES, "recovery strategy")

    model, blocks = _model(), pool_blocks(bs)
    src = Engine(model, num_blocks=blocks, block_size_tokens=bs, name="source")
    dst = Engine(model, num_blocks=blocks, block_size_tokens=bs, name="destination")
    src.add_request(_neighbour_prompt(_SOURCE_NEIGHBOUR_TOKENS, 1), SamplingParams(max_new_tokens=_NEIGHBOUR_NEW_TOKENS), "src-other")
    for i, length in enumerate(_DEST_NEIGHBOUR_TOKENS):
        dst.add_request(_neighbour_prompt(length, 10 + i), SamplingParams(max_new_tokens=_NEIGHBOUR_NEW_TOKENS), f"dst-other-{i}")
    rid = "request"
    src.add_request(_prompt(n), SamplingParams(max_new_tokens=new), rid)

    src.step()  # prefill (the neighbour's too): the request now has its first token
    dst.step()  # the destination's residents are prefilled and hold their blocks
    for _ in range(k):
        src.step()  # decode steps on the source, the neighbour decoding alongside

    src_owners_before, dst_owners_before = _owners(src, rid), _owners(dst, rid)
    src_usage_before, dst_usage_before = src.usage, dst.usage
    tokens_before = len(src.output(rid))
    record = migrate(src, dst, rid, strategy)
    src_owners_after, dst_owners_after = _owners(src, rid), _owners(dst, rid)
    src_usage_after, dst_usage_after = src.usage, dst.usage

    while rid in dst.requests:
        dst.step()
    migrated = dst.output(rid)
    return MigrationTrace(
        prompt_tokens=n,
        block_size_tokens=bs,
        migrate_at=k,
        max_new_tokens=new,
        strategy=strategy,
        num_blocks=blocks,
        request_id=rid,
        source_owners_before=src_owners_before,
        source_owners_after=src_owners_after,
        destination_owners_before=dst_owners_before,
        destination_owners_after=dst_owners_after,
        source_block_ids=record.source_block_ids,
        destination_block_ids=record.destination_block_ids,
        source_usage_before=src_usage_before,
        source_usage_after=src_usage_after,
        destination_usage_before=dst_usage_before,
        destination_usage_after=dst_usage_after,
        kv_tokens=record.kv_tokens,
        blocks_billed=record.blocks_billed,
        blocks_expected=blocks_needed(record.kv_tokens, bs),
        kv_bytes_per_token=model.config.kv_bytes_per_token,
        payload_bytes=record.payload_bytes,
        tokens_recomputed=record.recomputed_tokens,
        tokens_before_move=tokens_before,
        migrated_tokens=tuple(migrated),
        reference_tokens=_reference(n, new),
    )


def migration_readout(
    prompt_tokens: int = 24,
    block_size_tokens: int = 4,
    migrate_at: int = 0,
    *,
    strategy: str = "ship",
    max_new_tokens: int = MAX_NEW_TOKENS,
) -> dict[str, object]:
    """The key numbers for one slider setting, for a readout next to the figure.

    Keys (units in the names): ``kv_tokens``, ``blocks_expected`` (ceil of
    tokens over block size), ``destination_blocks_billed``,
    ``source_usage_before`` / ``source_usage_after`` (usage with and without
    the request, 0..1), ``source_usage_released`` (the request's share,
    given back exactly), ``destination_usage_before`` / ``_after``,
    ``source_block_ids`` / ``destination_block_ids``, ``payload_bytes``,
    ``tokens_recomputed``, ``tokens_identical`` (the proof) and
    ``tokens_generated_on_source``.
    """
    t = trace_migration(prompt_tokens, block_size_tokens, migrate_at, strategy=strategy, max_new_tokens=max_new_tokens)
    held = len(t.source_block_ids)
    return {
        "kv_tokens": t.kv_tokens,
        "block_size_tokens": t.block_size_tokens,
        "blocks_expected": t.blocks_expected,
        "destination_blocks_billed": t.blocks_billed,
        "source_usage_before": t.source_usage_before,
        "source_usage_after": t.source_usage_after,
        "source_usage_released": held / t.num_blocks,
        "destination_usage_before": t.destination_usage_before,
        "destination_usage_after": t.destination_usage_after,
        "source_block_ids": list(t.source_block_ids),
        "destination_block_ids": list(t.destination_block_ids),
        "payload_bytes": t.payload_bytes,
        "tokens_recomputed": t.tokens_recomputed,
        "tokens_generated_on_source": t.tokens_before_move,
        "tokens_identical": t.identical,
    }
