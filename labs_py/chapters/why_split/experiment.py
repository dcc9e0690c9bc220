"""What the opening chapter runs: six requests through one GPU's continuous-batching scheduler."""

from __future__ import annotations

from functools import lru_cache

from labs_py import scheduling

__all__ = ["BATCHING_REQUESTS", "batching_schedule"]

#: Four short requests decoding, then a long prompt (E) and a medium one (F) arrive.
BATCHING_REQUESTS = (
    scheduling.Arrival("A", 0.0, 256, 40),
    scheduling.Arrival("B", 0.0, 256, 40),
    scheduling.Arrival("C", 0.0, 256, 40),
    scheduling.Arrival("D", 0.0, 256, 40),
    scheduling.Arrival("E (long)", 0.05, 2048, 10),
    scheduling.Arrival("F", 0.12, 512, 10),
)


@lru_cache(maxsize=8)
def batching_schedule(chunk_tokens: int) -> tuple[scheduling.Step, ...]:
    """The chapter's six requests on one H100 (``chunk_tokens=0`` means no chunking)."""
    return tuple(
        scheduling.schedule(list(BATCHING_REQUESTS), chunk_tokens=chunk_tokens or None)
    )
