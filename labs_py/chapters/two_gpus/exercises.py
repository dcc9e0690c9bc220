"""Exercises of the chapter "Two GPUs": each answer is computed here, from the step-time model and the simulator."""

from __future__ import annotations

from labs_py.book.exercises import Exercise, Exercises
from labs_py.defaults import LLAMA_8B
from labs_py.sim import Colocated, max_throughput_rps
from labs_py.sim.scenarios import CHAT
from labs_py.steptime import step_coefficients

__all__ = [
    "EXERCISES",
    "check",
    "allreduce_ms_per_step",
    "tp2_decode_speedup",
    "tp2_throughput_share",
]

#: The decode step the exercises price: 16 requests with 512 tokens of KV each.
BATCH, CONTEXT = 16, 512


def allreduce_ms_per_step() -> float:
    """Llama-3.1-8B at TP=2 on H100 SXMs: the all-reduce part of a decode step of 16 x 512, ms."""
    co = step_coefficients(LLAMA_8B, tp=2)
    return (
        co.parts(decode_requests=BATCH, decode_context_tokens=BATCH * CONTEXT)[
            "allreduce"
        ]
        * 1e3
    )


def tp2_decode_speedup() -> float:
    """A TP=1 decode step of 16 x 512 over a TP=2 one (Llama-3.1-8B, H100 SXM)."""
    return step_coefficients(LLAMA_8B, tp=1).decode_seconds(
        BATCH, CONTEXT
    ) / step_coefficients(LLAMA_8B, tp=2).decode_seconds(BATCH, CONTEXT)


def tp2_throughput_share() -> float:
    """One TP=2 engine's throughput as a fraction of two colocated replicas', on the chat workload."""
    return max_throughput_rps(
        Colocated(1, tp=2, chunk_tokens=512), CHAT
    ) / max_throughput_rps(Colocated(2, chunk_tokens=512), CHAT)


EXERCISES = Exercises(
    Exercise(
        label="two-gpu-ex-allreduce",
        question=(
            "Llama-3.1-8B at TP=2 on two H100 SXMs: how many milliseconds of a decode step (16 requests, 512 "
            "tokens of KV each) are its all-reduces?"
        ),
        answer=allreduce_ms_per_step,
        unit="ms",
        rel_tol=0.01,
        hint="step_coefficients(..., tp=2).parts(decode_requests=16, decode_context_tokens=16 * 512)",
    ),
    Exercise(
        label="two-gpu-ex-speedup",
        question=(
            "How many times faster is a TP=2 decode step than a TP=1 step, at batch 16 with 512 tokens of "
            "context each?"
        ),
        answer=tp2_decode_speedup,
        unit="(ratio)",
        rel_tol=0.01,
        hint="decode_seconds(16, 512) of both.",
    ),
    Exercise(
        label="two-gpu-ex-throughput",
        question=(
            "What fraction of two colocated replicas' throughput does one TP=2 engine reach on the chat workload?"
        ),
        answer=tp2_throughput_share,
        unit="(fraction)",
        rel_tol=0.01,
        hint="A ratio of two max_throughput_rps.",
    ),
)
check = EXERCISES.check
