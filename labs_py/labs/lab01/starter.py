"""Lab 01, your work: move a live request from one engine to another.

Fill in the three functions, then grade yourself:

    LAB_IMPL=starter python -m pytest tests/labs/test_lab01.py

or, in the chapter notebook, ``labs_py.labs.grade("lab01", starter)``.

What you have to work with (all in ``labs_py``):

* ``engine.request(request_id)`` -> the live :class:`~labs_py.engine.request.Request`
  (``prompt_tokens``, ``generated_tokens``, ``sampling``, ``num_computed_tokens``
  = tokens whose K/V are cached, and ``rng_state()``);
* ``engine.block_table(request_id)`` -> its physical block ids, in logical order;
* ``engine.cache.read_kv(block_table, num_tokens)`` / ``engine.cache.write_kv(block_table, kv)``
  -> K/V contents in *logical* order, shape ``(layers, 2, tokens, kv_heads, head_dim)``;
* ``engine.release(request_id)`` -> takes the request off the engine and frees its blocks;
* ``engine.allocator`` -> ``blocks_needed(tokens)``, ``free_blocks``, ``num_blocks``,
  ``allocate(request_id, num_blocks)`` (returns the new block ids);
* ``engine.check_can_adopt(snapshot)`` -> raises (changing nothing) if the id is taken,
  the model differs, or the pool could never hold the request to its end;
  ``engine.recompute_kv(block_table, tokens, start_position)``;
  ``engine.adopt(request)`` -> hands a request with its blocks to the scheduler;
* ``Request.from_snapshot(snapshot)`` -> a request rebuilt from a snapshot;
* ``labs_py.engine.kvcache.OutOfBlocksError`` -> the error for "not enough free blocks".

Units: tokens and blocks. A block holds ``block_size_tokens`` tokens.
"""

from __future__ import annotations

from labs_py.core.validate import one_of  # noqa: F401
from labs_py.engine.engine import Engine
from labs_py.engine.kvcache import OutOfBlocksError  # noqa: F401
from labs_py.engine.request import Request, RequestSnapshot  # noqa: F401

#: ``ship``: send all the KV; ``recompute``: send none, the destination re-prefills;
#: ``ship_all_but_last``: send all but the last token's KV, the destination recomputes it.
STRATEGIES: tuple[str, ...] = ("ship", "recompute", "ship_all_but_last")


def blocks_needed(kv_tokens: int, block_size_tokens: int) -> int:
    """Blocks that hold ``kv_tokens`` tokens of KV (0 tokens need 0 blocks).

    Hint: a ceiling, in integers. A block size of 0 or less is an error naming
    the value and its unit (``labs_py.core.validate.positive_int`` does that).
    """
    raise NotImplementedError(
        "blocks_needed: ceil(kv_tokens / block_size_tokens), without floats"
    )


def export_request(
    engine: Engine, request_id: str, strategy: str = "ship"
) -> RequestSnapshot:
    """Snapshot ``request_id`` on ``engine``, then free it there; return the snapshot.

    1. Read what identifies the request: prompt, generated tokens, sampling
       params and ``rng_state()``, and ``kv_tokens = num_computed_tokens``.
    2. Read the KV you will ship through its block table, in logical order:
       all ``kv_tokens`` for ``"ship"``, none (``kv=None``) for ``"recompute"``,
       all but the last for ``"ship_all_but_last"``.
    3. Only then release it: afterwards its blocks are someone else's.
    Fill ``model_fingerprint`` from ``engine.model.fingerprint``.
    """
    raise NotImplementedError(
        "export_request: snapshot first (tokens, sampling state, KV in logical order), free after"
    )


def import_request(engine: Engine, snapshot: RequestSnapshot) -> str:
    """Admit ``snapshot`` into ``engine``: claim blocks, write the KV, resume. Returns the request id.

    Check everything *before* changing anything: ``engine.check_can_adopt(snapshot)``,
    then enough free blocks for ``snapshot.kv_tokens``
    -- if not, raise ``OutOfBlocksError`` with a message naming the blocks
    needed and free. Then allocate, write the shipped KV, recompute the tokens
    that were not shipped (``snapshot.recompute_tokens``), and ``adopt``.
    """
    raise NotImplementedError(
        "import_request: check, then claim ceil(kv_tokens / block_size) blocks, write, recompute, adopt"
    )
