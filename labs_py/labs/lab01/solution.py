"""Lab 01, reference solution: move a live request from one engine to another.

Written to be read next to ``starter.py``, one step per line. The book's
chapters move requests with :mod:`labs_py.engine.migration`; ``tests/labs``
checks that this solution and that module produce the same snapshots and the
same engines, so simplifying this file can never change a number in the book.

The three rules: read the KV *before* freeing the source (afterwards the blocks
belong to the free list); check everything on the destination *before* changing
it (a failed import changes nothing); and bill the destination for
``ceil(kv_tokens / block_size)`` blocks of whatever ids its free list hands out.
"""

from __future__ import annotations

from labs_py.core.validate import non_negative_int, one_of, positive_int
from labs_py.engine.engine import Engine
from labs_py.engine.kvcache import OutOfBlocksError
from labs_py.engine.request import Request, RequestSnapshot

#: ``ship`` sends all the KV; ``recompute`` sends none; ``ship_all_but_last`` leaves
#: the last token's KV for the destination to recompute (as vLLM's decode side does).
STRATEGIES: tuple[str, ...] = ("ship", "recompute", "ship_all_but_last")


def blocks_needed(kv_tokens: int, block_size_tokens: int) -> int:
    """Blocks that hold ``kv_tokens`` tokens: the ceiling of tokens / block size (0 for 0)."""
    tokens = non_negative_int("kv_tokens", kv_tokens, "tokens")
    size = positive_int("block_size_tokens", block_size_tokens, "tokens per block")
    return (tokens + size - 1) // size


def export_request(
    engine: Engine, request_id: str, strategy: str = "ship"
) -> RequestSnapshot:
    """Snapshot the request, then free it on ``engine``."""
    one_of("strategy", strategy, STRATEGIES, "recovery strategy")
    request = engine.request(request_id)
    table = engine.block_table(request_id)
    cached = request.num_computed_tokens
    to_ship = {"ship": cached, "recompute": 0, "ship_all_but_last": max(0, cached - 1)}[
        strategy
    ]
    kv = (
        engine.cache.read_kv(table, to_ship) if to_ship else None
    )  # 1. read while the blocks are still ours
    snapshot = RequestSnapshot(
        request_id=request.request_id,
        prompt_tokens=tuple(request.prompt_tokens),
        generated_tokens=tuple(request.generated_tokens),
        sampling=request.sampling,
        rng_state=request.rng_state(),
        kv_tokens=cached,
        kv=kv,
        model_fingerprint=engine.model.fingerprint,
        source_engine=engine.name,
        source_block_ids=table,
    )
    engine.release(request_id)  # 2. only now free the source
    return snapshot


def import_request(engine: Engine, snapshot: RequestSnapshot) -> str:
    """Admit ``snapshot`` into ``engine``, or raise and change nothing."""
    engine.check_can_adopt(
        snapshot
    )  # 1. same model, a free id, a pool big enough for the whole request
    need = engine.allocator.blocks_needed(snapshot.kv_tokens)
    if need > engine.allocator.free_blocks:  # 2. room now?
        raise OutOfBlocksError(
            f"request {snapshot.request_id!r} needs {need} free blocks in engine {engine.name!r}; "
            f"{engine.allocator.free_blocks} are free. Nothing was changed."
        )
    request = Request.from_snapshot(snapshot)
    table = (
        engine.allocator.allocate(snapshot.request_id, need) if need else []
    )  # 3. claim, then fill
    if snapshot.shipped_tokens:
        engine.cache.write_kv(table, snapshot.kv)
    if snapshot.recompute_tokens:
        missing = snapshot.all_tokens[snapshot.shipped_tokens : snapshot.kv_tokens]
        engine.recompute_kv(table, missing, start_position=snapshot.shipped_tokens)
    engine.adopt(request)
    return snapshot.request_id
