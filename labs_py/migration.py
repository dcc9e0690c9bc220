"""Moving a live request between engines, and what each way of moving it costs.

The lab's three functions (``blocks_needed``, ``export_request``,
``import_request``) are re-exported from the reference solution
(:mod:`labs_py.labs.lab01.solution`). This module adds:

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

from labs_py.economics import breakeven_link_gbps, kv_payload_bytes, transfer_seconds
from labs_py.engine.engine import Engine
from labs_py.engine.request import RequestSnapshot
from labs_py.kvcache import OutOfBlocksError
from labs_py.labs.lab01.solution import STRATEGIES, blocks_needed, export_request, import_request
from labs_py.models import get_model
from labs_py.steptime import decode_step_seconds, prefill_seconds
from labs_py.validate import non_negative_int, one_of, positive_float, positive_int

__all__ = [
    "STRATEGIES", "blocks_needed", "export_request", "import_request",
    "MoveRecord", "can_accept", "migrate",
    "TOKEN_ID_BYTES", "RecoveryPrice", "price_recovery", "price_both", "recompute_seconds",
    "price_recovery_for_model", "ship_breakeven_link_gbps", "price_snapshot",
]


# --------------------------------------------------------------------------- moving
@dataclass(frozen=True)
class MoveRecord:
    """What one move did, with the numbers the invariants are stated in."""

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
    """Whether ``engine`` has the free blocks for ``kv_tokens`` tokens of KV right now."""
    return engine.allocator.blocks_needed(kv_tokens) <= engine.free_blocks


def migrate(source: Engine, destination: Engine, request_id: str, strategy: str = "ship") -> MoveRecord:
    """Move ``request_id`` from ``source`` to ``destination``; return what happened.

    Order matters. A bare export-then-import would free the source first and
    could then fail on a full destination, leaving the request nowhere. So we
    check the destination first (same model, free id, enough blocks) and raise
    :class:`~labs_py.kvcache.OutOfBlocksError` with the request still on the
    source. Should the import fail anyway, the snapshot goes back to the source.
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
    src_before, dst_before = source.allocator.used_blocks, destination.allocator.used_blocks
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
        request_id=req.request_id, prompt_tokens=tuple(req.prompt_tokens), generated_tokens=tuple(req.generated_tokens),
        sampling=req.sampling, rng_state=None, kv_tokens=req.num_computed_tokens, kv=None,
        model_fingerprint=engine.model.fingerprint, source_engine=engine.name,
    )


# --------------------------------------------------------------------------- pricing
#: Bytes per token id on the wire (int32). Both strategies send the token ids;
#: next to KV (512 B/token in the toy, 128 KiB/token for Llama-3.1-8B) they are noise.
TOKEN_ID_BYTES = 4


@dataclass(frozen=True)
class RecoveryPrice:
    """The bill for getting ``kv_tokens`` tokens of KV onto another engine one way."""

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
    return {"ship": kv_tokens, "recompute": 0, "ship_all_but_last": max(0, kv_tokens - 1)}[strategy]


def price_recovery(
    strategy: str, kv_tokens: int, kv_bytes_per_token: int, link_gbps: float, recompute_tokens_per_s: float
) -> RecoveryPrice:
    """Price one strategy with a flat recompute rate (tokens per second of prefill).

    ``bytes_moved = shipped_tokens * kv_bytes_per_token``;
    ``transfer_s = bytes_moved * 8 / (link_gbps * 1e9)``;
    ``recompute_s = tokens_recomputed / recompute_tokens_per_s``.
    """
    one_of("strategy", strategy, STRATEGIES, "recovery strategy")
    tokens = non_negative_int("kv_tokens", kv_tokens, "tokens")
    per_token = positive_int("kv_bytes_per_token", kv_bytes_per_token, "bytes per token")
    rate = positive_float("recompute_tokens_per_s", recompute_tokens_per_s, "tokens per second")
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


def price_both(kv_tokens: int, kv_bytes_per_token: int, link_gbps: float, recompute_tokens_per_s: float) -> dict[str, RecoveryPrice]:
    """Every strategy's bill for the same move, keyed by strategy."""
    return {s: price_recovery(s, kv_tokens, kv_bytes_per_token, link_gbps, recompute_tokens_per_s) for s in STRATEGIES}


def recompute_seconds(model: str, tokens: int, context_tokens: int = 0, gpu: str = "H100-SXM") -> float:
    """Roofline time to run ``tokens`` tokens through ``model`` after ``context_tokens`` cached ones.

    A forward pass reads every weight once however many tokens it carries, so
    it takes at least a decode step's memory time; a long one is compute-bound.
    We take the larger: ``max(prefill_seconds, decode_step_seconds)``
    (:mod:`labs_py.steptime`). Recomputing one token is thus a decode step, not
    a 1/2048th of a prefill.
    """
    n = non_negative_int("tokens", tokens, "tokens")
    if n == 0:
        return 0.0
    return max(
        prefill_seconds(model, n, gpu, context_tokens=context_tokens),
        decode_step_seconds(model, 1, context_tokens + n - 1, gpu),
    )


def price_recovery_for_model(
    model: str, kv_tokens: int, link_gbps: float, *, gpu: str = "H100-SXM", kv_dtype: str = "bf16"
) -> dict[str, RecoveryPrice]:
    """Every strategy's bill for a catalog model: bytes from its KV shape, recompute from the roofline.

    >>> p = price_recovery_for_model("meta-llama/Llama-3.1-8B-Instruct", 2048, 200)
    >>> p["ship"].bytes_moved / 2**20, round(p["ship"].transfer_s * 1e3, 1)   # 256 MiB, 10.7 ms
    (256.0, 10.7)
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


def ship_breakeven_link_gbps(kv_tokens: int, kv_bytes_per_token: int, recompute_s: float) -> float:
    """The link speed (Gb/s) at which shipping the KV takes as long as recomputing it.

    Ship over a faster link; recompute over a slower one. It is
    :func:`labs_py.economics.breakeven_link_gbps` with a budget of 100% of the
    recompute time: ``kv_tokens * kv_bytes_per_token * 8 / (recompute_s * 1e9)``.
    """
    return breakeven_link_gbps(kv_payload_bytes(kv_tokens, kv_bytes_per_token), recompute_s, 1.0)


def price_snapshot(snapshot: RequestSnapshot, link_gbps: float, recompute_tokens_per_s: float) -> RecoveryPrice:
    """The bill of an actual snapshot: what it ships, and what the destination must recompute."""
    rate = positive_float("recompute_tokens_per_s", recompute_tokens_per_s, "tokens per second")
    return RecoveryPrice(
        strategy="ship" if snapshot.recompute_tokens == 0 else ("recompute" if snapshot.kv is None else "ship_all_but_last"),
        kv_tokens=snapshot.kv_tokens,
        bytes_moved=snapshot.payload_bytes,
        tokens_recomputed=snapshot.recompute_tokens,
        transfer_s=transfer_seconds(snapshot.payload_bytes, link_gbps),
        recompute_s=snapshot.recompute_tokens / rate,
    )
