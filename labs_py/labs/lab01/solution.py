"""Lab 01, reference solution: move a live request from one engine to another.

**Export** freezes the request's transferable identity into a
:class:`~labs_py.engine.request.RequestSnapshot` -- prompt, generated tokens,
sampling state, and (for the "ship" strategy) its KV contents read through the
block table into logical order -- and only *then* frees it on the source. The
source's usage returns exactly to what it was before the request arrived: a
request that left must leave nothing behind (the anti-leak invariant).

**Import** is admission with prepaid compute. It checks everything first (same
model? id free? enough free blocks?) and raises before touching anything, so a
failed import leaves the destination exactly as it was. Then it claims
``ceil(kv_tokens / block_size)`` blocks -- whatever ids the destination's free
list hands out -- writes the contents in logical order, recomputes whatever did
not travel, and hands the request to the scheduler.

Block identity does not survive a move; contents do.
"""

from __future__ import annotations

from labs_py.engine.engine import Engine
from labs_py.engine.request import Request, RequestSnapshot
from labs_py.kvcache import OutOfBlocksError, blocks_needed as _blocks_needed
from labs_py.validate import one_of

#: ``ship``: send all the KV; ``recompute``: send none, the destination re-prefills;
#: ``ship_all_but_last``: send all but the last token's KV, the destination
#: recomputes that one (what vLLM's decode side does after a P->D pull).
STRATEGIES: tuple[str, ...] = ("ship", "recompute", "ship_all_but_last")


def blocks_needed(kv_tokens: int, block_size_tokens: int) -> int:
    """Blocks that hold ``kv_tokens`` tokens of KV: ``ceil(kv_tokens / block_size_tokens)``, 0 for 0.

    >>> blocks_needed(17, 16)
    2
    """
    return _blocks_needed(kv_tokens, block_size_tokens)


def export_request(engine: Engine, request_id: str, strategy: str = "ship") -> RequestSnapshot:
    """Snapshot ``request_id`` on ``engine``, then free it there. Returns the snapshot.

    The KV is read *before* the blocks are freed (after, they belong to the
    free list, and a poisoned pool would hand back NaN). With ``recompute``
    nothing is read: the snapshot is tokens and sampling state only.
    """
    one_of("strategy", strategy, STRATEGIES, "recovery strategy")
    req = engine.request(request_id)
    table = engine.block_table(request_id)
    kv_tokens = req.num_computed_tokens
    shipped = {"ship": kv_tokens, "recompute": 0, "ship_all_but_last": max(0, kv_tokens - 1)}[strategy]
    kv = engine.cache.read_kv(table, shipped) if shipped else None
    snapshot = RequestSnapshot(
        request_id=req.request_id,
        prompt_tokens=tuple(req.prompt_tokens),
        generated_tokens=tuple(req.generated_tokens),
        sampling=req.sampling,
        rng_state=req.rng_state(),
        kv_tokens=kv_tokens,
        kv=kv,
        model_fingerprint=engine.model.fingerprint,
        source_engine=engine.name,
        source_block_ids=table,
    )
    engine.release(request_id)
    return snapshot


def import_request(engine: Engine, snapshot: RequestSnapshot) -> str:
    """Admit ``snapshot`` into ``engine`` with its KV; returns the request id.

    All checks happen before any change: a different model, a request id
    already live here, a pool too small for the request's whole life, or too
    few free blocks now raise, and the engine is left untouched
    (:class:`~labs_py.kvcache.OutOfBlocksError` for the last).
    """
    engine.check_can_adopt(snapshot)
    need = engine.allocator.blocks_needed(snapshot.kv_tokens)
    free = engine.allocator.free_blocks
    if need > free:
        raise OutOfBlocksError(
            f"cannot import request {snapshot.request_id!r} into engine {engine.name!r}: its {snapshot.kv_tokens} tokens "
            f"of KV need {need} blocks of {engine.block_size_tokens} tokens, but only {free} of "
            f"{engine.allocator.num_blocks} blocks are free; nothing was changed"
        )
    request = Request.from_snapshot(snapshot)  # also validates the sampling state before anything changes
    table = engine.allocator.allocate(snapshot.request_id, need) if need else []
    if snapshot.shipped_tokens:
        engine.cache.write_kv(table, snapshot.kv)
    if snapshot.recompute_tokens:
        tokens = snapshot.all_tokens[snapshot.shipped_tokens : snapshot.kv_tokens]
        engine.recompute_kv(table, tokens, start_position=snapshot.shipped_tokens)
    engine.adopt(request)
    return snapshot.request_id
