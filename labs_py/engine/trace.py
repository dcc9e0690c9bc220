"""One migration, recorded for the chapter's figures and its readout.

:func:`trace_migration` runs the chapter's experiment for one setting of its
three sliders -- prompt length, block size, migration point -- and returns a
:class:`MigrationTrace` of plain data: who owned which physical block on each
engine just before and just after the move, both engines' usage, the token
streams with and without the move, and the bill.

The setup: a *source* engine (think: the prefill instance) runs the request
next to one other request; a *destination* engine (the decode instance) already
holds two others, so the free blocks it hands out are not the ones the source
used. After the move the destination decodes the request alongside them.
``migrate_at = 0`` moves the request right after prefill, with its first token
sampled: that is exactly the P->D handoff of a disaggregated deployment.
``migrate_at = k`` moves it after ``k`` decode steps.

Everything is seeded, and results are memoised per setting, so a slider that
returns to a position it has visited costs nothing.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np

from labs_py.core.validate import non_negative_int, one_of, positive_int
from labs_py.engine import Engine, SamplingParams, TinyModel
from labs_py.engine.kvcache import blocks_needed
from labs_py.engine.migration import STRATEGIES, migrate
from labs_py.engine.router import PDRouter

__all__ = [
    "MOVING",
    "OTHER",
    "FREE",
    "MigrationTrace",
    "trace_migration",
    "migration_readout",
    "PROMPT_TOKENS_RANGE",
    "BLOCK_SIZES",
    "MAX_NEW_TOKENS",
    "ROUTER_ARRIVALS",
    "ROUTER_PLACES",
    "RouterTrace",
    "trace_router",
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
    """Plain data about one move (lists of ints, floats, strings: JSON-ready via :meth:`to_dict`).

    Taught in: no chapter calls it directly; it works behind moving_a_live_request.
    """

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
    tokens_before_move: (
        int  # how many of the output tokens were generated on the source
    )
    migrated_tokens: tuple[int, ...]
    reference_tokens: tuple[int, ...]
    shipped_tokens: int = (
        0  # tokens whose KV crossed the link (the rest were recomputed on arrival)
    )
    source_usage_without_request: float = (
        0.0  # the same source, same steps, had the request never arrived
    )
    kv_contents_identical: bool = (
        False  # the destination's KV for the request equals the source's, bit for bit
    )

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
    """Blocks per engine in the chapter's setup: room for the longest request and the neighbours, with slack.

    Taught in: no chapter calls it directly; it works behind moving_a_live_request.
    """
    worst = (
        PROMPT_TOKENS_RANGE[1]
        + MAX_NEW_TOKENS
        + sum(_DEST_NEIGHBOUR_TOKENS)
        + 2 * MAX_NEW_TOKENS
    )
    return blocks_needed(worst, block_size_tokens) + 4


@lru_cache(maxsize=128)
def _reference(prompt_tokens: int, max_new_tokens: int) -> tuple[int, ...]:
    ref = Engine(
        _model(),
        num_blocks=blocks_needed(prompt_tokens + max_new_tokens, 16) + 1,
        block_size_tokens=16,
        name="alone",
    )
    rid = ref.add_request(
        _prompt(prompt_tokens), SamplingParams(max_new_tokens=max_new_tokens), "request"
    )
    return ref.run()[rid]


def _owners(engine: Engine, moving: str) -> tuple[str, ...]:
    return tuple(
        FREE if o is None else (MOVING if o == moving else OTHER)
        for o in engine.allocator.owners()
    )


_REQUEST_ID = "request"


@lru_cache(maxsize=32)
def _before_the_move(
    prompt_tokens: int, block_size_tokens: int, max_new_tokens: int
) -> tuple[tuple[Engine, ...], Engine]:
    """Both engines just before the move, for every migration point: ``(sources[k], destination)``.

    The source runs once -- prefill, then decode steps, the neighbour decoding
    alongside -- and is copied after prefill and after each decode step; the
    destination's residents are prefilled once. Every setting of the sliders
    with the same prompt and block size starts from these copies, so the
    chapter's grid runs the source's steps once instead of once per setting.
    """
    model, blocks = _model(), pool_blocks(block_size_tokens)
    src = Engine(
        model, num_blocks=blocks, block_size_tokens=block_size_tokens, name="source"
    )
    dst = Engine(
        model,
        num_blocks=blocks,
        block_size_tokens=block_size_tokens,
        name="destination",
    )
    src.add_request(
        _neighbour_prompt(_SOURCE_NEIGHBOUR_TOKENS, 1),
        SamplingParams(max_new_tokens=_NEIGHBOUR_NEW_TOKENS),
        "src-other",
    )
    for i, length in enumerate(_DEST_NEIGHBOUR_TOKENS):
        dst.add_request(
            _neighbour_prompt(length, 10 + i),
            SamplingParams(max_new_tokens=_NEIGHBOUR_NEW_TOKENS),
            f"dst-other-{i}",
        )
    src.add_request(
        _prompt(prompt_tokens),
        SamplingParams(max_new_tokens=max_new_tokens),
        _REQUEST_ID,
    )
    src.step()  # prefill (the neighbour's too): the request now has its first token
    dst.step()  # the destination's residents are prefilled and hold their blocks
    sources = [_fresh_copy(src)]
    for _ in range(max_new_tokens - 2):
        src.step()  # a decode step on the source, the neighbour decoding alongside
        sources.append(_fresh_copy(src))
    return tuple(sources), dst


def _fresh_copy(engine: Engine) -> Engine:
    """An independent copy of ``engine`` (pool, queues, requests, random streams) that shares its model."""
    return copy.deepcopy(engine, {id(engine.model): engine.model})


@lru_cache(maxsize=64)
def _source_alone_usage(block_size_tokens: int, decode_steps: int) -> float:
    """Usage of the chapter's source engine after prefill and ``decode_steps`` steps, had the request never come.

    This is the value the anti-leak invariant promises: after the export, the
    source must be exactly where it would be without the request.
    """
    src = Engine(
        _model(),
        num_blocks=pool_blocks(block_size_tokens),
        block_size_tokens=block_size_tokens,
        name="source",
    )
    src.add_request(
        _neighbour_prompt(_SOURCE_NEIGHBOUR_TOKENS, 1),
        SamplingParams(max_new_tokens=_NEIGHBOUR_NEW_TOKENS),
        "src-other",
    )
    for _ in range(1 + decode_steps):
        src.step()
    return src.usage


@lru_cache(maxsize=1024)
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

    Taught in: moving_a_live_request.
    """
    n = positive_int("prompt_tokens", prompt_tokens, "tokens")
    if n > PROMPT_TOKENS_RANGE[1]:
        raise ValueError(
            f"prompt_tokens must be at most {PROMPT_TOKENS_RANGE[1]} tokens in the chapter's setup; got {n} tokens"
        )
    bs = positive_int("block_size_tokens", block_size_tokens, "tokens per block")
    k = non_negative_int("migrate_at", migrate_at, "decode steps")
    new = positive_int("max_new_tokens", max_new_tokens, "tokens")
    if k > new - 2:
        raise ValueError(
            f"migrate_at must leave a token to generate after the move: at most {new - 2} decode steps "
            f"for max_new_tokens={new}; got {k} decode steps"
        )
    one_of("strategy", strategy, STRATEGIES, "recovery strategy")

    model, blocks, rid = _model(), pool_blocks(bs), _REQUEST_ID
    src_states, dst_state = _before_the_move(n, bs, new)
    src, dst = _fresh_copy(src_states[k]), _fresh_copy(dst_state)

    src_owners_before, dst_owners_before = _owners(src, rid), _owners(dst, rid)
    src_usage_before, dst_usage_before = src.usage, dst.usage
    tokens_before = len(src.output(rid))
    kv_before = src.cache.read_kv(
        src.block_table(rid), src.request(rid).num_computed_tokens
    )
    record = migrate(src, dst, rid, strategy)
    kv_after = dst.cache.read_kv(dst.block_table(rid), record.kv_tokens)
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
        shipped_tokens=record.shipped_tokens,
        source_usage_without_request=_source_alone_usage(bs, k),
        kv_contents_identical=bool(
            kv_before.shape == kv_after.shape and np.array_equal(kv_before, kv_after)
        ),
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
    ``tokens_recomputed``, ``tokens_identical`` (the proof),
    ``tokens_generated_on_source``, ``shipped_tokens`` (KV that crossed the
    link), ``source_usage_without_request`` (the same source had the request
    never come: the value ``source_usage_after`` must equal exactly) and
    ``kv_contents_identical`` (the destination's KV equals the source's, bit
    for bit, whatever the strategy).

    Taught in: moving_a_live_request.
    """
    t = trace_migration(
        prompt_tokens,
        block_size_tokens,
        migrate_at,
        strategy=strategy,
        max_new_tokens=max_new_tokens,
    )
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
        "shipped_tokens": t.shipped_tokens,
        "source_usage_without_request": t.source_usage_without_request,
        "kv_contents_identical": t.kv_contents_identical,
    }


# --------------------------------------------------------------------------- the 1P:2D router
#: The router experiment's arrivals: (request id, router step it arrives at, prompt tokens, max new tokens).
#: Two long requests fill the decode engines, two more top them up, then ``e`` and ``f`` find no room.
ROUTER_ARRIVALS: tuple[tuple[str, int, int, int], ...] = (
    ("a", 1, 24, 12),
    ("b", 1, 24, 12),
    ("c", 3, 16, 8),
    ("d", 4, 16, 8),
    ("e", 5, 16, 6),
    ("f", 6, 8, 4),
)
#: Where a request can be after a router step, in the order :attr:`RouterTrace.place` codes them.
ROUTER_PLACES: tuple[str, ...] = (
    "not here",
    "on P, holding its KV",
    "waiting as tokens only",
    "on D0",
    "on D1",
)
ROUTER_BLOCK_SIZE = 4
ROUTER_PREFILL_BLOCKS = 24


@dataclass(frozen=True)
class RouterTrace:
    """One run of the 1 prefill : 2 decode router, step by step, as plain data.

    Taught in: no chapter calls it directly; it works behind moving_a_live_request.
    """

    decode_blocks: int  # per decode engine
    lease_steps: int
    block_size_tokens: int
    steps: tuple[int, ...]  # router steps 1..n
    headroom_blocks: tuple[
        tuple[int, ...], ...
    ]  # per decode engine (D0, D1), per step: the signal the router read
    prefill_used_blocks: tuple[
        int, ...
    ]  # blocks the prefill engine holds after each step
    request_ids: tuple[str, ...]
    place: tuple[
        tuple[int, ...], ...
    ]  # per request, per step: index into ROUTER_PLACES, after the step
    finished_at: tuple[int | None, ...]  # per request: the step it finished in
    events: tuple[
        tuple[int, str, str, str, str], ...
    ]  # (step, request, kind, engine, reason), kinds but "finished"
    blocks_needed_now: tuple[
        int, ...
    ]  # per request: blocks its KV needs at hand-off (prompt tokens)
    outputs_identical: bool  # every request's tokens equal its solo run's
    pools_empty_at_end: bool  # every engine back to usage 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def _router_prompt(request_index: int, tokens: int) -> tuple[int, ...]:
    return tuple(
        int(t)
        for t in np.random.default_rng(100 + request_index).integers(
            0, 256, size=tokens
        )
    )


@lru_cache(maxsize=256)
def _solo(prompt: tuple[int, ...], max_new_tokens: int) -> tuple[int, ...]:
    e = Engine(
        _model(),
        num_blocks=blocks_needed(len(prompt) + max_new_tokens, 16) + 1,
        block_size_tokens=16,
        name="solo",
    )
    rid = e.add_request(prompt, SamplingParams(max_new_tokens=max_new_tokens), "solo")
    return e.run()[rid]


@lru_cache(maxsize=256)
def trace_router(
    decode_blocks: int = 16, lease_steps: int = 3, *, max_steps: int = 60
) -> RouterTrace:
    """Run :data:`ROUTER_ARRIVALS` through a 1P:2D :class:`~labs_py.engine.router.PDRouter` and record every step.

    The prefill engine has :data:`ROUTER_PREFILL_BLOCKS` blocks, each decode
    engine ``decode_blocks``, all of :data:`ROUTER_BLOCK_SIZE` tokens. A parked
    request whose hand-off waits ``lease_steps`` router steps loses its KV on
    the prefill engine and is recomputed where it finally lands.

    Taught in: moving_a_live_request.
    """
    nd = positive_int("decode_blocks", decode_blocks, "blocks")
    lease = non_negative_int("lease_steps", lease_steps, "router steps")
    model, bs = _model(), ROUTER_BLOCK_SIZE
    prefill = Engine(
        model,
        num_blocks=ROUTER_PREFILL_BLOCKS,
        block_size_tokens=bs,
        name="P",
        role="prefill",
    )
    decodes = [
        Engine(model, num_blocks=nd, block_size_tokens=bs, name=f"D{i}")
        for i in range(2)
    ]
    router = PDRouter(prefill, decodes, strategy="ship", lease_steps=lease)
    ids = tuple(rid for rid, *_ in ROUTER_ARRIVALS)
    prompts = {
        rid: _router_prompt(i, n) for i, (rid, _, n, _) in enumerate(ROUTER_ARRIVALS)
    }
    steps, headroom, p_used, events = [], [], [], []
    place: dict[str, list[int]] = {rid: [] for rid in ids}
    finished_at: dict[str, int | None] = dict.fromkeys(ids)
    for step in range(1, max_steps + 1):
        for rid, at, _, new in ROUTER_ARRIVALS:
            if at == step:
                router.submit(prompts[rid], SamplingParams(max_new_tokens=new), rid)
        signal = router.headroom()  # what the router reads when it hands off this step
        for ev in router.step():
            if ev.kind == "finished":
                finished_at[ev.request_id] = step
            else:
                events.append(
                    (step, ev.request_id, ev.kind, ev.engine or "", ev.reason)
                )
        pending = {p.request_id: p for p in router.pending}
        for rid in ids:
            if (
                rid in router.outputs
                or step < dict((r, a) for r, a, *_ in ROUTER_ARRIVALS)[rid]
            ):
                code = 0
            elif rid in pending:
                code = 1 if pending[rid].snapshot is None else 2
            else:
                code = {"P": 1, "D0": 3, "D1": 4}[router.where(rid)]
            place[rid].append(code)
        steps.append(step)
        headroom.append(tuple(signal[d.name] for d in decodes))
        p_used.append(prefill.allocator.used_blocks)
        if not router.has_work():
            break
    identical = all(
        router.outputs.get(rid) == _solo(prompts[rid], new)
        for rid, _, _, new in ROUTER_ARRIVALS
    )
    return RouterTrace(
        decode_blocks=nd,
        lease_steps=lease,
        block_size_tokens=bs,
        steps=tuple(steps),
        headroom_blocks=tuple(
            tuple(h[i] for h in headroom) for i in range(len(decodes))
        ),
        prefill_used_blocks=tuple(p_used),
        request_ids=ids,
        place=tuple(tuple(place[rid]) for rid in ids),
        finished_at=tuple(finished_at[rid] for rid in ids),
        events=tuple(events),
        blocks_needed_now=tuple(blocks_needed(n, bs) for _, _, n, _ in ROUTER_ARRIVALS),
        outputs_identical=identical,
        pools_empty_at_end=prefill.usage == 0.0
        and all(d.usage == 0.0 for d in decodes),
    )
