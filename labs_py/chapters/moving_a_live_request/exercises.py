"""Exercises of the chapter "Moving a live request" (lab 15-01): each answer is computed here."""

from labs_py.book.exercises import Exercise, Exercises
from labs_py.defaults import LLAMA_70B

__all__ = [
    "EXERCISES",
    "check",
    "blocks_billed_40_8_8",
    "ship_breakeven_70b_gbps",
    "expired_leases",
    "tokens_recomputed_after_leases",
]
from labs_py.engine.migration import recompute_seconds, ship_breakeven_link_gbps
from labs_py.engine.trace import ROUTER_ARRIVALS, trace_migration, trace_router
from labs_py.models import kv_bytes_per_token


def expired_leases(decode_blocks: int = 16, lease_steps: int = 3) -> list[str]:
    """Requests whose lease on the prefill engine expired in the router experiment (they waited as tokens only)."""
    t = trace_router(decode_blocks, lease_steps)
    return [rid for rid, row in zip(t.request_ids, t.place) if 2 in row]


def tokens_recomputed_after_leases(
    decode_blocks: int = 16, lease_steps: int = 3
) -> int:
    """Prompt tokens the router's decode engines recomputed because a request's lease on P expired."""
    prompt = {rid: n for rid, _, n, _ in ROUTER_ARRIVALS}
    return sum(prompt[rid] for rid in expired_leases(decode_blocks, lease_steps))


def blocks_billed_40_8_8() -> int:
    """A 40-token prompt moved after 8 decode steps into 8-token blocks: the blocks the destination bills."""
    return trace_migration(40, 8, 8).blocks_billed


def ship_breakeven_70b_gbps() -> float:
    """Llama-3.1-70B, 4,096 tokens of bf16 KV, recomputed on the fewest H100 SXMs that hold it (two).

    The link above which shipping wins, Gb/s.
    """
    return ship_breakeven_link_gbps(
        4096, kv_bytes_per_token(LLAMA_70B), recompute_seconds(LLAMA_70B, 4096)
    )


EXERCISES = Exercises(
    Exercise(
        label="mig-ex-blocks",
        question=(
            "A 40-token prompt is moved after 8 decode steps to a destination with blocks of 8 tokens. "
            "How many blocks does the destination bill?"
        ),
        answer=blocks_billed_40_8_8,
        unit="blocks",
        rel_tol=0.0,
        hint=(
            "Count the tokens whose K/V exist at the move: the prompt plus one per decode step. The token sampled "
            "last has no K/V yet. Then take the ceiling of tokens / block size."
        ),
    ),
    Exercise(
        label="mig-ex-breakeven",
        question=(
            "Llama-3.1-70B, a request holding 4,096 tokens of bf16 KV, recomputed on the fewest H100 SXMs that "
            "hold it (two): above which "
            "link speed does shipping the KV beat recomputing it?"
        ),
        answer=ship_breakeven_70b_gbps,
        unit="Gb/s",
        hint=(
            "Recompute time: labs_py.engine.migration.recompute_seconds(model, tokens). Ship time: payload * "
            "8 / (Gb/s * 1e9). "
            "Set them equal and solve for the link speed."
        ),
    ),
    Exercise(
        label="mig-ex-router",
        question=(
            "In the router experiment with 16-block decode pools and a 3-step lease, how many prompt tokens did the "
            "decode engines recompute because a lease on the prefill engine expired?"
        ),
        answer=tokens_recomputed_after_leases,
        unit="tokens",
        rel_tol=0.0,
        hint=(
            "Find the requests that waited as tokens only (their lease expired) in trace_router(16, 3).place, and add "
            "up their prompt lengths from ROUTER_ARRIVALS."
        ),
    ),
)
check = EXERCISES.check
