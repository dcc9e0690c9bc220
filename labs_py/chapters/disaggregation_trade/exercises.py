"""Exercises of the chapter "The disaggregation trade" (lab 15-03): each answer is computed here."""

from __future__ import annotations

from labs_py import course
from labs_py import economics as econ
from labs_py.book.exercises import Exercise, Exercises
from labs_py.defaults import LLAMA_8B, LLAMA_70B, QWEN3_32B
from labs_py.models import kv_bytes_per_token

__all__ = [
    "EXERCISES",
    "check",
    "qwen3_fp8_payload_mib",
    "breakeven_70b_gbps",
    "overlap_on_25gbe",
]

MIB = 2**20
#: The TTFT budget of the exercises: the toll may add 10% to prefill.
BUDGET = 0.10


def qwen3_fp8_payload_mib() -> float:
    """MiB of KV a 4,096-token prompt leaves behind in Qwen3-32B with an FP8 KV cache."""
    return econ.kv_payload_bytes(4096, kv_bytes_per_token(QWEN3_32B, "fp8")) / MIB


def breakeven_70b_gbps() -> float:
    """Llama-3.1-70B, the course's 2,048-token prompt and 205 ms of prefill: the slowest link within a 10% toll."""
    payload = econ.kv_payload_bytes(
        course.EXAMPLE_PROMPT_TOKENS, kv_bytes_per_token(LLAMA_70B)
    )
    return econ.breakeven_link_gbps(payload, course.EXAMPLE_PREFILL_S, BUDGET)


def overlap_on_25gbe() -> float:
    """Llama-3.1-8B, 2,048 tokens, 205 ms of prefill, 25 GbE: the overlap that leaves a 10% toll exposed."""
    payload = econ.kv_payload_bytes(
        course.EXAMPLE_PROMPT_TOKENS, kv_bytes_per_token(LLAMA_8B)
    )
    return econ.overlap_needed(
        econ.transfer_seconds(payload, 25), course.EXAMPLE_PREFILL_S, BUDGET
    )


EXERCISES = Exercises(
    Exercise(
        label="econ-ex-payload",
        question="How many MiB of KV cache does a 4,096-token prompt leave behind in Qwen3-32B with an FP8 KV cache?",
        answer=qwen3_fp8_payload_mib,
        unit="MiB",
        hint="Use kv_bytes_per_token(model, kv_dtype='fp8') and kv_payload_bytes; 1 MiB = 2**20 bytes.",
    ),
    Exercise(
        label="econ-ex-breakeven",
        question=(
            "Llama-3.1-70B, a 2,048-token prompt, 205 ms of prefill: what is the slowest link, in Gb/s, "
            "that keeps the transfer toll within 10% of prefill?"
        ),
        answer=breakeven_70b_gbps,
        unit="Gb/s",
        hint="Solve payload * 8 / (gbps * 1e9) = 0.10 * 0.205 for gbps.",
    ),
    Exercise(
        label="econ-ex-overlap",
        question=(
            "Llama-3.1-8B, 2,048 tokens, 205 ms of prefill, 25 GbE: what fraction of the prefill must the "
            "transfer overlap so that the exposed toll is 10% of prefill?"
        ),
        answer=overlap_on_25gbe,
        unit="(fraction of prefill)",
        hint="The exposed toll is transfer - overlap * prefill.",
    ),
)
check = EXERCISES.check
