"""The paged KV cache: a pool of fixed-size blocks, a free list, and one block table per request.

Why pages? A request's KV cache grows by one token per decode step, and nobody
knows in advance how long it will get. Reserving the maximum length up front
wastes most of the memory; growing a contiguous buffer means copying it. vLLM's
*PagedAttention* (Kwon et al., SOSP 2023, arXiv 2309.06180) borrows the answer
from operating systems: cut the cache into **blocks** of ``block_size_tokens``
token slots, hand them out one at a time from a **free list**, and give each
request a **block table** that maps its logical block ``i`` (tokens
``i*block_size .. (i+1)*block_size - 1``) to whichever physical block it got.

Two consequences this chapter leans on:

* A request of ``n`` tokens holds exactly ``ceil(n / block_size_tokens)``
  blocks: at most one partly filled block, so waste is under one block.
* Physical block ids mean nothing outside their pool. When a request moves to
  another engine its *contents* travel in logical order; its *block ids* do not.

Two classes live here, one idea: :class:`BlockAllocator` is the bookkeeping
(who owns which block), :class:`PagedKVCache` is the memory those blocks name.
The allocator refuses to be corrupted: a double free, a block id from another
pool, or an allocation beyond the free list is an error that names the value
and its unit, raised before anything changes.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable, Sequence

import numpy as np

from labs_py.core.validate import non_negative_int, positive_int

__all__ = [
    "KVCacheError",
    "OutOfBlocksError",
    "DoubleFreeError",
    "ForeignBlockError",
    "UnknownRequestError",
    "blocks_needed",
    "BlockAllocator",
    "PagedKVCache",
]


# --------------------------------------------------------------------------- errors
class KVCacheError(Exception):
    """Base class of every KV-cache bookkeeping error.

    Taught in: moving_a_live_request.
    """


class OutOfBlocksError(KVCacheError):
    """The pool has fewer free blocks than an allocation (or an import) needs.

    Raised *before* any state changes: a failed allocation allocates nothing.

    Taught in: moving_a_live_request.
    """


class DoubleFreeError(KVCacheError):
    """A block (or a request's blocks) was freed when it was already free.

    Taught in: no chapter calls it directly; it works behind moving_a_live_request.
    """


class ForeignBlockError(KVCacheError):
    """A block id that this pool did not hand to this request: out of range, or someone else's.

    Taught in: no chapter calls it directly; it works behind moving_a_live_request.
    """


class UnknownRequestError(KVCacheError, LookupError):
    """A request id this engine or pool does not hold.

    Taught in: moving_a_live_request.
    """


# --------------------------------------------------------------------------- arithmetic
def blocks_needed(num_tokens: int, block_size_tokens: int) -> int:
    """Blocks that hold ``num_tokens`` token slots: ``ceil(num_tokens / block_size_tokens)``.

    Integer ceiling, ``-(-a // b)``, so no float rounding can bill a block too
    few or too many. Zero tokens need zero blocks.

    >>> blocks_needed(33, 16)
    3
    >>> blocks_needed(32, 16)
    2
    >>> blocks_needed(0, 16)
    0

    Taught in: no chapter calls it directly; it works behind moving_a_live_request.
    """
    n = non_negative_int("num_tokens", num_tokens, "tokens")
    bs = positive_int("block_size_tokens", block_size_tokens, "tokens per block")
    return -(-n // bs)


# --------------------------------------------------------------------------- allocator
class BlockAllocator:
    """Hands out the blocks of one pool and remembers which request holds which.

    The free list is first-in first-out: a freed block goes to the back, so the
    block a request just gave up is the *last* one handed out again. (That is
    also why a request that leaves and comes back generally gets different ids.)

    Invariants, checked by :meth:`check_invariants` and by the property tests:
    every block is either free or owned by exactly one request, never both;
    ``used_blocks + free_blocks == num_blocks``.

    Taught in: moving_a_live_request.
    """

    def __init__(
        self, num_blocks: int, block_size_tokens: int, *, name: str = "pool"
    ) -> None:
        self.num_blocks: int = positive_int("num_blocks", num_blocks, "blocks")
        self.block_size_tokens: int = positive_int(
            "block_size_tokens", block_size_tokens, "tokens per block"
        )
        self.name = name
        self._free: deque[int] = deque(range(self.num_blocks))
        self._is_free: list[bool] = [True] * self.num_blocks
        self._owner: list[str | None] = [None] * self.num_blocks
        self._tables: dict[str, list[int]] = {}
        self._released: set[str] = (
            set()
        )  # request ids whose blocks were freed (to name double frees)

    # ----------------------------------------------------------------- reading
    @property
    def free_blocks(self) -> int:
        """Number of blocks on the free list."""
        return len(self._free)

    @property
    def used_blocks(self) -> int:
        """Number of blocks some request holds."""
        return self.num_blocks - len(self._free)

    @property
    def usage(self) -> float:
        """Fraction of the pool in use, ``used_blocks / num_blocks`` (0.0 to 1.0).

        A ratio of two whole numbers, so giving back exactly the blocks taken
        restores exactly the same float: the anti-leak test can compare with ``==``.
        """
        return self.used_blocks / self.num_blocks

    @property
    def capacity_tokens(self) -> int:
        """Token slots in the whole pool: ``num_blocks * block_size_tokens``."""
        return self.num_blocks * self.block_size_tokens

    def blocks_needed(self, num_tokens: int) -> int:
        """Blocks this pool needs for ``num_tokens`` tokens (its own block size)."""
        return blocks_needed(num_tokens, self.block_size_tokens)

    def block_table(self, request_id: str) -> tuple[int, ...]:
        """The physical block ids of ``request_id``, in logical order (a copy)."""
        if request_id not in self._tables:
            raise self._unknown(request_id)
        return tuple(self._tables[request_id])

    def has_request(self, request_id: str) -> bool:
        return request_id in self._tables

    @property
    def request_ids(self) -> tuple[str, ...]:
        return tuple(self._tables)

    def owner(self, block_id: int) -> str | None:
        """Which request holds ``block_id`` (``None`` if it is free)."""
        self._check_in_range(block_id)
        return self._owner[block_id]

    def owners(self) -> list[str | None]:
        """The owner of every physical block, indexed by block id (``None`` = free)."""
        return list(self._owner)

    def free_list(self) -> tuple[int, ...]:
        """The free list, in the order blocks will be handed out."""
        return tuple(self._free)

    # ----------------------------------------------------------------- writing
    def allocate(self, request_id: str, num_blocks: int) -> list[int]:
        """Append ``num_blocks`` free blocks to ``request_id``'s table and return their ids.

        Creates the table if the request is new. Raises :class:`OutOfBlocksError`
        (and changes nothing) when the free list is too short.
        """
        if not isinstance(request_id, str) or not request_id:
            raise TypeError(
                f"request_id must be a non-empty string; got {request_id!r}"
            )
        n = non_negative_int("num_blocks", num_blocks, "blocks")
        if n > len(self._free):
            raise OutOfBlocksError(
                f"pool {self.name!r}: request {request_id!r} needs {n} more blocks "
                f"({n * self.block_size_tokens} token slots at {self.block_size_tokens} tokens per block) "
                f"but only {len(self._free)} of {self.num_blocks} blocks are free; nothing was allocated"
            )
        if n == 0:
            return []  # nothing to hand out; a request that holds no blocks has no table
        table = self._tables.setdefault(request_id, [])
        self._released.discard(request_id)
        got = [self._free.popleft() for _ in range(n)]
        for b in got:
            self._is_free[b] = False
            self._owner[b] = request_id
        table.extend(got)
        return got

    def allocate_tokens(self, request_id: str, total_tokens: int) -> list[int]:
        """Grow ``request_id``'s table until it holds ``total_tokens`` token slots.

        Returns the newly allocated block ids (often none: the last block still
        had room). All or nothing: raises :class:`OutOfBlocksError` before any change.
        """
        have = len(self._tables.get(request_id, ()))
        need = self.blocks_needed(total_tokens)
        return self.allocate(request_id, max(0, need - have))

    def free(self, request_id: str) -> list[int]:
        """Return every block of ``request_id`` to the free list; forget its table.

        Freeing a request twice is a :class:`DoubleFreeError`; freeing one this
        pool never saw is an :class:`UnknownRequestError`.
        """
        if request_id not in self._tables:
            if request_id in self._released:
                raise DoubleFreeError(
                    f"pool {self.name!r}: request {request_id!r} was already freed; it holds 0 blocks"
                )
            raise self._unknown(request_id)
        blocks = list(self._tables[request_id])
        self.free_blocks_of(request_id, blocks)
        return blocks

    def free_blocks_of(self, request_id: str, block_ids: Iterable[int]) -> None:
        """Return specific blocks of ``request_id`` to the free list.

        Every id is checked before any is freed, so a bad id frees nothing:
        an id outside ``0 .. num_blocks-1`` or held by another request is a
        :class:`ForeignBlockError`; an id already free is a :class:`DoubleFreeError`.
        When the request's table becomes empty, the request is forgotten.
        """
        ids = list(block_ids)
        if request_id not in self._tables:
            if request_id in self._released:
                raise DoubleFreeError(
                    f"pool {self.name!r}: request {request_id!r} was already freed; it holds 0 blocks"
                )
            raise self._unknown(request_id)
        seen: set[int] = set()
        for b in ids:
            self._check_in_range(b)
            if self._is_free[b] or b in seen:
                raise DoubleFreeError(
                    f"pool {self.name!r}: block {b} is already free (double free by request {request_id!r})"
                )
            if self._owner[b] != request_id:
                raise ForeignBlockError(
                    f"pool {self.name!r}: block {b} belongs to request {self._owner[b]!r}, not {request_id!r}"
                )
            seen.add(b)
        table = self._tables[request_id]
        for b in ids:
            table.remove(b)
            self._is_free[b] = True
            self._owner[b] = None
            self._free.append(b)
        if not table:
            del self._tables[request_id]
            self._released.add(request_id)

    # ----------------------------------------------------------------- checking
    def check_invariants(self) -> None:
        """Raise ``AssertionError`` if the books do not balance (used by the tests)."""
        owned = [b for t in self._tables.values() for b in t]
        assert len(owned) == len(set(owned)), (
            f"pool {self.name!r}: a block is in two tables"
        )
        assert not set(owned) & set(self._free), (
            f"pool {self.name!r}: a block is both free and owned"
        )
        assert len(self._free) == len(set(self._free)), (
            f"pool {self.name!r}: a block is twice on the free list"
        )
        assert len(owned) + len(self._free) == self.num_blocks, (
            f"pool {self.name!r}: {len(owned)} owned + {len(self._free)} free != {self.num_blocks} blocks (a leak)"
        )
        for rid, t in self._tables.items():
            assert t, f"pool {self.name!r}: request {rid!r} has an empty table"
            for b in t:
                assert self._owner[b] == rid and not self._is_free[b]

    def digest(self) -> str:
        """A hash of the whole bookkeeping state: free-list order, tables and owners."""
        h = hashlib.sha256()
        h.update(
            repr(
                (
                    tuple(self._free),
                    sorted((k, tuple(v)) for k, v in self._tables.items()),
                )
            ).encode()
        )
        return h.hexdigest()

    # ----------------------------------------------------------------- helpers
    def _check_in_range(self, block_id: object) -> None:
        if isinstance(block_id, bool) or not isinstance(block_id, (int, np.integer)):
            raise ForeignBlockError(
                f"pool {self.name!r}: block id must be a whole number; got {block_id!r}"
            )
        if not 0 <= int(block_id) < self.num_blocks:
            raise ForeignBlockError(
                f"pool {self.name!r}: block {block_id} is not one of this pool's {self.num_blocks} blocks "
                f"(ids 0 to {self.num_blocks - 1}); a block id from another engine means nothing here"
            )

    def _unknown(self, request_id: str) -> UnknownRequestError:
        held = ", ".join(repr(r) for r in list(self._tables)[:8]) or "none"
        return UnknownRequestError(
            f"pool {self.name!r} holds no blocks for request {request_id!r} (it holds: {held})"
        )


# --------------------------------------------------------------------------- storage
class PagedKVCache:
    """The memory the blocks name: one K pool and one V pool per layer, addressed by block table.

    Layout: ``k[layer, block, slot, kv_head, head_dim]`` (and the same for ``v``),
    the "NHD" layout within a block. Token ``p`` of a request lives in physical
    block ``block_table[p // block_size]`` at slot ``p % block_size``; reading a
    request's cache is a gather through its block table, and the result is in
    *logical* (token) order whatever the physical ids were.

    ``poison_freed=True`` fills freed blocks with NaN. A real engine does not
    bother, but here it turns any read of memory the request does not own into
    NaN logits, which the tests would catch: use-after-free cannot hide.

    Taught in: no chapter calls it directly; it works behind moving_a_live_request.
    """

    def __init__(
        self,
        *,
        num_layers: int,
        num_kv_heads: int,
        head_dim: int,
        num_blocks: int,
        block_size_tokens: int,
        dtype: type = np.float32,
        name: str = "pool",
        poison_freed: bool = True,
    ) -> None:
        self.allocator = BlockAllocator(num_blocks, block_size_tokens, name=name)
        self.num_layers = positive_int("num_layers", num_layers, "layers")
        self.num_kv_heads = positive_int("num_kv_heads", num_kv_heads, "KV heads")
        self.head_dim = positive_int("head_dim", head_dim, "numbers per head")
        self.dtype = np.dtype(dtype)
        self.poison_freed = poison_freed
        shape = (
            self.num_layers,
            self.allocator.num_blocks,
            self.allocator.block_size_tokens,
            self.num_kv_heads,
            self.head_dim,
        )
        fill = np.nan if poison_freed else 0.0
        self.k = np.full(shape, fill, dtype=self.dtype)
        self.v = np.full(shape, fill, dtype=self.dtype)

    @property
    def block_size_tokens(self) -> int:
        return self.allocator.block_size_tokens

    @property
    def kv_bytes_per_token(self) -> int:
        """Bytes one token occupies, over all layers: ``2 (K and V) * layers * kv_heads * head_dim * itemsize``."""
        return (
            2
            * self.num_layers
            * self.num_kv_heads
            * self.head_dim
            * self.dtype.itemsize
        )

    @property
    def bytes_per_block(self) -> int:
        return self.kv_bytes_per_token * self.block_size_tokens

    def _slots(
        self, block_table: Sequence[int], start_token: int, num_tokens: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Physical (block, slot) of logical tokens ``start_token .. start_token + num_tokens - 1``."""
        bs = self.block_size_tokens
        pos = np.arange(start_token, start_token + num_tokens)
        if num_tokens and (pos[-1] // bs) >= len(block_table):
            raise ValueError(
                f"token position {int(pos[-1])} needs logical block {int(pos[-1]) // bs}, but the block table "
                f"has only {len(block_table)} blocks of {bs} tokens"
            )
        table = np.asarray(block_table, dtype=np.int64)
        return table[pos // bs], pos % bs

    def write_layer(
        self,
        layer: int,
        block_table: Sequence[int],
        start_token: int,
        k: np.ndarray,
        v: np.ndarray,
    ) -> None:
        """Write ``k, v`` of shape ``(tokens, kv_heads, head_dim)`` at logical positions from ``start_token``."""
        blocks, slots = self._slots(block_table, start_token, k.shape[0])
        self.k[layer, blocks, slots] = k
        self.v[layer, blocks, slots] = v

    def gather_layer(
        self, layer: int, block_table: Sequence[int], num_tokens: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Read the first ``num_tokens`` tokens' K and V of one layer, in logical order."""
        blocks, slots = self._slots(block_table, 0, num_tokens)
        return self.k[layer, blocks, slots], self.v[layer, blocks, slots]

    def read_kv(self, block_table: Sequence[int], num_tokens: int) -> np.ndarray:
        """Every layer's K and V for tokens ``0 .. num_tokens-1``, in logical order.

        Shape ``(layers, 2, num_tokens, kv_heads, head_dim)``: index 0 of the
        second axis is K, 1 is V. This is what a migration ships; block ids are
        gone from it, the token order is all that remains.
        """
        n = non_negative_int("num_tokens", num_tokens, "tokens")
        blocks, slots = self._slots(block_table, 0, n)
        return np.stack([self.k[:, blocks, slots], self.v[:, blocks, slots]], axis=1)

    def write_kv(
        self, block_table: Sequence[int], kv: np.ndarray, start_token: int = 0
    ) -> None:
        """Scatter ``kv`` (as returned by :meth:`read_kv`) into ``block_table`` from ``start_token`` on."""
        expect = (self.num_layers, 2, self.num_kv_heads, self.head_dim)
        if (
            kv.ndim != 5
            or (kv.shape[0], kv.shape[1], kv.shape[3], kv.shape[4]) != expect
        ):
            raise ValueError(
                f"KV contents must have shape (layers={expect[0]}, 2, tokens, kv_heads={expect[2]}, "
                f"head_dim={expect[3]}); "
                f"got {kv.shape}"
            )
        blocks, slots = self._slots(block_table, start_token, kv.shape[2])
        self.k[:, blocks, slots] = kv[:, 0]
        self.v[:, blocks, slots] = kv[:, 1]

    def free(self, request_id: str) -> list[int]:
        """Free a request's blocks (and poison them, if enabled)."""
        blocks = self.allocator.free(request_id)
        if self.poison_freed and blocks:
            self.k[:, blocks] = np.nan
            self.v[:, blocks] = np.nan
        return blocks

    def digest(self) -> str:
        """A hash of bookkeeping *and* contents: equal digests mean nothing changed."""
        h = hashlib.sha256(self.allocator.digest().encode())
        h.update(self.k.tobytes())
        h.update(self.v.tobytes())
        return h.hexdigest()
