"""Exercises of the chapter "Two GPUs": each answer is computed here, from the step-time model and the simulator."""

from __future__ import annotations

from labs_py.book.exercises import Exercise, Exercises
from labs_py.defaults import DEFAULT_ENGINE, LLAMA_8B
from labs_py.models import get_model
from labs_py.sim import Colocated, max_throughput_rps
from labs_py.sim.fleets import engine_with_allreduce
from labs_py.sim.scenarios import CHAT
from labs_py.steptime import engine_profile, step_coefficients

__all__ = [
    "EXERCISES",
    "check",
    "allreduce_ms_per_step",
    "free_allreduce_speedup",
    "tp2_throughput_share",
]


def allreduce_ms_per_step() -> float:
    """Llama-3.1-8B at TP=2: the fixed all-reduce latency of every step, ms (two all-reduces per layer)."""
    return (
        2
        * get_model(LLAMA_8B).num_hidden_layers
        * engine_profile(DEFAULT_ENGINE).allreduce_latency_s
        * 1e3
    )


def free_allreduce_speedup() -> float:
    """A TP=1 decode step over a TP=2 one whose all-reduces cost only their bytes (batch 16, 512 tokens each)."""
    free = engine_with_allreduce(DEFAULT_ENGINE, 0.0)
    return step_coefficients(LLAMA_8B).decode_seconds(16, 512) / step_coefficients(
        LLAMA_8B, tp=2, engine=free
    ).decode_seconds(16, 512)


def tp2_throughput_share() -> float:
    """One TP=2 engine's throughput as a fraction of two colocated replicas', on the chat workload."""
    return max_throughput_rps(
        Colocated(1, tp=2, chunk_tokens=512), CHAT
    ) / max_throughput_rps(Colocated(2, chunk_tokens=512), CHAT)


EXERCISES = Exercises(
    Exercise(
        label="two-gpu-ex-allreduce",
        question=(
            "Llama-3.1-8B at TP=2 under the default engine profile: how many milliseconds of every step are the "
            "fixed latencies of its all-reduces?"
        ),
        answer=allreduce_ms_per_step,
        unit="ms",
        rel_tol=0.01,
        hint="Two all-reduces per layer, each allreduce_latency_s.",
    ),
    Exercise(
        label="two-gpu-ex-speedup",
        question=(
            "If all-reduces cost only their bytes (no fixed latency), how many times faster is a TP=2 decode "
            "step than a TP=1 step, at batch 16 with 512 tokens of context each?"
        ),
        answer=free_allreduce_speedup,
        unit="(ratio)",
        rel_tol=0.01,
        hint="decode_seconds(16, 512) of both; engine=FREE for TP=2.",
    ),
    Exercise(
        label="two-gpu-ex-throughput",
        question=(
            "With the fitted all-reduce latency, what fraction of two colocated replicas' throughput does one "
            "TP=2 engine reach on the chat workload?"
        ),
        answer=tp2_throughput_share,
        unit="(fraction)",
        rel_tol=0.01,
        hint="A ratio of two max_throughput_rps.",
    ),
)
check = EXERCISES.check
