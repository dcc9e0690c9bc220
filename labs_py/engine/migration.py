"""Moving a live request between engines, and what each way of moving it costs.

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
not travel, and hands the request to the scheduler. Block identity does not
survive a move; contents do.

These are lab 15-01's functions (:func:`export_request`, :func:`import_request`,
with :func:`labs_py.engine.kvcache.blocks_needed`); the lab's own reference,
``labs_py/labs/lab01/solution.py``, is written separately for learners. This
module adds:

* :func:`migrate`, a move that checks the destination *before* it touches the
  source, so a request is never stranded between two engines;
* the prices of the two **recovery strategies**. When a request's KV has to be
  somewhere else, there are two ways to get it there:

  - **ship** it: ``kv_tokens * kv_bytes_per_token`` bytes cross a link
    (:func:`labs_py.economics.kv_payload_bytes`, :func:`labs_py.economics.transfer_seconds`);
  - **recompute** it: send only the token ids (4 bytes each) and let the
    destination re-run prefill over ``kv_tokens`` tokens.

  Shipping costs bandwidth, recomputing costs FLOPs. The break-even link speed
  (:func:`ship_breakeven_link_gbps`) is where the two take the same time: above
  it, ship. Preemption in a single engine is the recompute strategy with the
  destination being the engine itself, later.
"""

from __future__ import annotations

from dataclasses import dataclass

from labs_py.core.validate import non_negative_int, one_of, positive_float, positive_int
from labs_py.defaults import DEFAULT_GPU
from labs_py.economics import breakeven_link_gbps, kv_payload_bytes, transfer_seconds
from labs_py.engine.engine import Engine
from labs_py.engine.kvcache import OutOfBlocksError, blocks_needed
from labs_py.engine.request import Request, RequestSnapshot
from labs_py.models import get_model
from labs_py.steptime import decode_step_seconds, prefill_seconds

__all__ = [
    "STRATEGIES",
    "blocks_needed",
    "export_request",
    "import_request",
    "MoveRecord",
    "can_accept",
    "migrate",
    "TOKEN_ID_BYTES",
    "RecoveryPrice",
    "price_recovery",
    "price_both",
    "recompute_seconds",
    "price_recovery_for_model",
    "ship_breakeven_link_gbps",
    "price_snapshot",
]


# --------------------------------------------------------------------------- export and import
#: ``ship``: send all the KV; ``recompute``: send none, the destination re-prefills;
#: ``ship_all_but_last``: send all but the last token's KV, the destination
#: recomputes that one (what vLLM's decode side does after a P->D pull).
STRATEGIES: tuple[str, ...] = ("ship", "recompute", "ship_all_but_last")


def export_request(
    engine: Engine, request_id: str, strategy: str = "ship"
) -> RequestSnapshot:
    """Snapshot ``request_id`` on ``engine``, then free it there. Returns the snapshot.

    The KV is read *before* the blocks are freed (after, they belong to the
    free list, and a poisoned pool would hand back NaN). With ``recompute``
    nothing is read: the snapshot is tokens and sampling state only.

    Taught in: moving_a_live_request.
    """
    one_of("strategy", strategy, STRATEGIES, "recovery strategy")
    req = engine.request(request_id)
    table = engine.block_table(request_id)
    kv_tokens = req.num_computed_tokens
    shipped = {
        "ship": kv_tokens,
        "recompute": 0,
        "ship_all_but_last": max(0, kv_tokens - 1),
    }[strategy]
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
    (:class:`~labs_py.engine.kvcache.OutOfBlocksError` for the last).

    Taught in: moving_a_live_request.
    """
    engine.check_can_adopt(snapshot)
    need = engine.allocator.blocks_needed(snapshot.kv_tokens)
    free = engine.allocator.free_blocks
    if need > free:
        raise OutOfBlocksError(
            f"cannot import request {snapshot.request_id!r} into engine {engine.name!r}: its "
            f"{snapshot.kv_tokens} tokens "
            f"of KV need {need} blocks of {engine.block_size_tokens} tokens, but only {free} of "
            f"{engine.allocator.num_blocks} blocks are free; nothing was changed"
        )
    request = Request.from_snapshot(
        snapshot
    )  # also validates the sampling state before anything changes
    table = engine.allocator.allocate(snapshot.request_id, need) if need else []
    if snapshot.shipped_tokens:
        engine.cache.write_kv(table, snapshot.kv)
    if snapshot.recompute_tokens:
        tokens = snapshot.all_tokens[snapshot.shipped_tokens : snapshot.kv_tokens]
        engine.recompute_kv(table, tokens, start_position=snapshot.shipped_tokens)
    engine.adopt(request)
    return snapshot.request_id


# --------------------------------------------------------------------------- moving
@dataclass(frozen=True)
class MoveRecord:
    """What one move did, with the numbers the invariants are stated in.

    Taught in: no chapter calls it directly; it works behind moving_a_live_request.
    """

    request_id: str
    source: str
    destination: str
    strategy: str
    kv_tokens: int
    shipped_tokens: int
    recomputed_tokens: int
    payload_bytes: int
    source_block_ids: tuple[int, ...]
    destination_block_ids: tuple[int, ...]
    source_used_blocks_before: int
    source_used_blocks_after: int
    destination_used_blocks_before: int
    destination_used_blocks_after: int

    @property
    def blocks_freed(self) -> int:
        return self.source_used_blocks_before - self.source_used_blocks_after

    @property
    def blocks_billed(self) -> int:
        return self.destination_used_blocks_after - self.destination_used_blocks_before


def can_accept(engine: Engine, kv_tokens: int) -> bool:
    """Whether ``engine`` has the free blocks for ``kv_tokens`` tokens of KV right now.

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    return engine.allocator.blocks_needed(kv_tokens) <= engine.free_blocks


def migrate(
    source: Engine, destination: Engine, request_id: str, strategy: str = "ship"
) -> MoveRecord:
    """Move ``request_id`` from ``source`` to ``destination``; return what happened.

    Order matters. A bare export-then-import would free the source first and
    could then fail on a full destination, leaving the request nowhere. So we
    check the destination first (same model, free id, enough blocks) and raise
    :class:`~labs_py.engine.kvcache.OutOfBlocksError` with the request still on the
    source. Should the import fail anyway, the snapshot goes back to the source.

    Taught in: moving_a_live_request.
    """
    one_of("strategy", strategy, STRATEGIES, "recovery strategy")
    req = source.request(request_id)
    destination.check_can_adopt(_preview(source, request_id))
    need = destination.allocator.blocks_needed(req.num_computed_tokens)
    if need > destination.free_blocks:
        raise OutOfBlocksError(
            f"cannot move request {request_id!r} to engine {destination.name!r}: its {req.num_computed_tokens} tokens "
            f"of KV need {need} blocks of {destination.block_size_tokens} tokens, but only {destination.free_blocks} "
            f"are free; the request stays on {source.name!r}"
        )
    src_before, dst_before = (
        source.allocator.used_blocks,
        destination.allocator.used_blocks,
    )
    snap = export_request(source, request_id, strategy)
    try:
        import_request(destination, snap)
    except Exception:
        import_request(source, snap)  # never strand a request between engines
        raise
    return MoveRecord(
        request_id=request_id,
        source=source.name,
        destination=destination.name,
        strategy=strategy,
        kv_tokens=snap.kv_tokens,
        shipped_tokens=snap.shipped_tokens,
        recomputed_tokens=snap.recompute_tokens,
        payload_bytes=snap.payload_bytes,
        source_block_ids=snap.source_block_ids,
        destination_block_ids=destination.block_table(request_id),
        source_used_blocks_before=src_before,
        source_used_blocks_after=source.allocator.used_blocks,
        destination_used_blocks_before=dst_before,
        destination_used_blocks_after=destination.allocator.used_blocks,
    )


def _preview(engine: Engine, request_id: str) -> RequestSnapshot:
    """The snapshot an export would produce, minus the KV: enough to check a destination."""
    req = engine.request(request_id)
    return RequestSnapshot(
        request_id=req.request_id,
        prompt_tokens=tuple(req.prompt_tokens),
        generated_tokens=tuple(req.generated_tokens),
        sampling=req.sampling,
        rng_state=None,
        kv_tokens=req.num_computed_tokens,
        kv=None,
        model_fingerprint=engine.model.fingerprint,
        source_engine=engine.name,
    )


# --------------------------------------------------------------------------- pricing
#: Bytes per token id on the wire (int32). Both strategies send the token ids;
#: next to KV (512 B/token in the toy, 128 KiB/token for Llama-3.1-8B) they are noise.
TOKEN_ID_BYTES = 4


@dataclass(frozen=True)
class RecoveryPrice:
    """The bill for getting ``kv_tokens`` tokens of KV onto another engine one way.

    Taught in: no chapter calls it directly; it works behind moving_a_live_request.
    """

    strategy: str
    kv_tokens: int
    bytes_moved: int  # KV bytes over the link (token ids not included)
    tokens_recomputed: int  # tokens the destination runs through the model again
    transfer_s: float  # bytes_moved over the link at line rate
    recompute_s: float  # the destination's compute for tokens_recomputed

    @property
    def total_s(self) -> float:
        """Time until the destination can decode, if transfer and recompute do not overlap."""
        return self.transfer_s + self.recompute_s


def _shipped(strategy: str, kv_tokens: int) -> int:
    return {
        "ship": kv_tokens,
        "recompute": 0,
        "ship_all_but_last": max(0, kv_tokens - 1),
    }[strategy]


def price_recovery(
    strategy: str,
    kv_tokens: int,
    kv_bytes_per_token: int,
    link_gbps: float,
    recompute_tokens_per_s: float,
) -> RecoveryPrice:
    """Price one strategy with a flat recompute rate (tokens per second of prefill).

    ``bytes_moved = shipped_tokens * kv_bytes_per_token``;
    ``transfer_s = bytes_moved * 8 / (link_gbps * 1e9)``;
    ``recompute_s = tokens_recomputed / recompute_tokens_per_s``.

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    one_of("strategy", strategy, STRATEGIES, "recovery strategy")
    tokens = non_negative_int("kv_tokens", kv_tokens, "tokens")
    per_token = positive_int(
        "kv_bytes_per_token", kv_bytes_per_token, "bytes per token"
    )
    rate = positive_float(
        "recompute_tokens_per_s", recompute_tokens_per_s, "tokens per second"
    )
    shipped = _shipped(strategy, tokens)
    payload = kv_payload_bytes(shipped, per_token) if shipped else 0
    return RecoveryPrice(
        strategy=strategy,
        kv_tokens=tokens,
        bytes_moved=payload,
        tokens_recomputed=tokens - shipped,
        transfer_s=transfer_seconds(payload, link_gbps),
        recompute_s=(tokens - shipped) / rate,
    )


def price_both(
    kv_tokens: int,
    kv_bytes_per_token: int,
    link_gbps: float,
    recompute_tokens_per_s: float,
) -> dict[str, RecoveryPrice]:
    """Every strategy's bill for the same move, keyed by strategy.

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    return {
        s: price_recovery(
            s, kv_tokens, kv_bytes_per_token, link_gbps, recompute_tokens_per_s
        )
        for s in STRATEGIES
    }


def recompute_seconds(
    model: str, tokens: int, context_tokens: int = 0, gpu: str = DEFAULT_GPU
) -> float:
    """Roofline time to run ``tokens`` tokens through ``model`` after ``context_tokens`` cached ones.

    A forward pass reads every weight once however many tokens it carries, so
    it takes at least a decode step's memory time; a long one is compute-bound.
    We take the larger: ``max(prefill_seconds, decode_step_seconds)``
    (:mod:`labs_py.steptime`). Recomputing one token is thus a decode step, not
    a 1/2048th of a prefill.

    Taught in: moving_a_live_request.
    """
    n = non_negative_int("tokens", tokens, "tokens")
    if n == 0:
        return 0.0
    return max(
        prefill_seconds(model, n, gpu, context_tokens=context_tokens),
        decode_step_seconds(model, 1, context_tokens + n - 1, gpu),
    )


def price_recovery_for_model(
    model: str,
    kv_tokens: int,
    link_gbps: float,
    *,
    gpu: str = DEFAULT_GPU,
    kv_dtype: str = "bf16",
) -> dict[str, RecoveryPrice]:
    """Every strategy's bill for a catalog model: bytes from its KV shape, recompute from the roofline.

    >>> p = price_recovery_for_model("meta-llama/Llama-3.1-8B-Instruct", 2048, 200)
    >>> p["ship"].bytes_moved / 2**20, round(p["ship"].transfer_s * 1e3, 1)   # 256 MiB, 10.7 ms
    (256.0, 10.7)

    Taught in: moving_a_live_request.
    """
    spec = get_model(model)
    per_token = spec.kv_bytes_per_token(kv_dtype)
    tokens = positive_int("kv_tokens", kv_tokens, "tokens")
    out: dict[str, RecoveryPrice] = {}
    for s in STRATEGIES:
        shipped = _shipped(s, tokens)
        payload = kv_payload_bytes(shipped, per_token) if shipped else 0
        out[s] = RecoveryPrice(
            strategy=s,
            kv_tokens=tokens,
            bytes_moved=payload,
            tokens_recomputed=tokens - shipped,
            transfer_s=transfer_seconds(payload, link_gbps),
            recompute_s=recompute_seconds(spec.id, tokens - shipped, shipped, gpu),
        )
    return out


def ship_breakeven_link_gbps(
    kv_tokens: int, kv_bytes_per_token: int, recompute_s: float
) -> float:
    """The link speed (Gb/s) at which shipping the KV takes as long as recomputing it.

    Ship over a faster link; recompute over a slower one. It is
    :func:`labs_py.economics.breakeven_link_gbps` with a budget of 100% of the
    recompute time: ``kv_tokens * kv_bytes_per_token * 8 / (recompute_s * 1e9)``.

    Taught in: moving_a_live_request.
    """
    return breakeven_link_gbps(
        kv_payload_bytes(kv_tokens, kv_bytes_per_token), recompute_s, 1.0
    )


def price_snapshot(
    snapshot: RequestSnapshot, link_gbps: float, recompute_tokens_per_s: float
) -> RecoveryPrice:
    """The bill of an actual snapshot: what it ships, and what the destination must recompute.

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    rate = positive_float(
        "recompute_tokens_per_s", recompute_tokens_per_s, "tokens per second"
    )
    return RecoveryPrice(
        strategy="ship"
        if snapshot.recompute_tokens == 0
        else ("recompute" if snapshot.kv is None else "ship_all_but_last"),
        kv_tokens=snapshot.kv_tokens,
        bytes_moved=snapshot.payload_bytes,
        tokens_recomputed=snapshot.recompute_tokens,
        transfer_s=transfer_seconds(snapshot.payload_bytes, link_gbps),
        recompute_s=snapshot.recompute_tokens / rate,
    )
