"""The answer type of ``disagg_wins``, shared by the starter and the solution.

A verdict is never a bare yes/no: it says *why*, and carries the numbers behind
the reason, so a reader can check the arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass

SPLIT_PAYS = "split pays"
LINK_TOO_SLOW = "link too slow"
NO_INTERFERENCE = "no interference to cure"
REASONS: tuple[str, ...] = (SPLIT_PAYS, LINK_TOO_SLOW, NO_INTERFERENCE)


@dataclass(frozen=True)
class Verdict:
    """Whether disaggregating pays, the reason, and the numbers behind it."""

    wins: bool
    reason: str  # one of REASONS
    payload_bytes: int  # KV cache the prompt leaves behind
    transfer_s: float  # time to move it over the link
    ttft_penalty: float  # transfer_s / prefill_s, a fraction
    itl_worst_s: float  # colocated worst inter-token latency: a decode step plus a prefill chunk
    itl_inflation: float  # itl_worst_s / decode_step_s: the interference tax as a ratio
    max_ttft_penalty: float  # the budget the penalty was held to
    min_itl_inflation: float  # the inflation below which there is nothing to cure

    def __post_init__(self) -> None:
        if self.reason not in REASONS:
            raise ValueError(f"reason must be one of {REASONS}; got {self.reason!r}")
        if self.wins != (self.reason == SPLIT_PAYS):
            raise ValueError(f"wins={self.wins} contradicts reason {self.reason!r}")

    def __str__(self) -> str:
        head = "Disaggregate" if self.wins else "Stay colocated"
        return (
            f"{head}: {self.reason}. TTFT penalty {self.ttft_penalty:.1%} (budget {self.max_ttft_penalty:.0%}); "
            f"colocated worst ITL {self.itl_worst_s * 1e3:.1f} ms = {self.itl_inflation:.2f}x a clean step "
            f"(cure needed above {self.min_itl_inflation:.2f}x)."
        )
