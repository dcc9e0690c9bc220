"""Exercises of the opening chapter, "Why split prefill from decode": each answer is computed here."""

from __future__ import annotations

from labs_py.book.exercises import Exercise, Exercises
from labs_py.chapters.why_split.experiment import batching_schedule
from labs_py.defaults import H100_SXM, LLAMA_8B
from labs_py.roofline import min_compute_bound_tokens
from labs_py.steptime import arithmetic_intensity

__all__ = [
    "EXERCISES",
    "check",
    "decode_intensity",
    "compute_bound_prompt",
    "chunk_steps_of_e",
]


def decode_intensity() -> float:
    """Llama-3.1-8B, a decode step of 32 requests with 1,024 tokens of context each: FLOP per byte read."""
    return arithmetic_intensity(LLAMA_8B, 32, 1024)


def compute_bound_prompt() -> int:
    """The shortest prompt whose prefill step reaches an H100 SXM's ridge, for Llama-3.1-8B (tokens)."""
    return min_compute_bound_tokens(LLAMA_8B, H100_SXM)


def chunk_steps_of_e() -> int:
    """With 512-token chunks: the engine steps that carry part of request E's 2,048-token prefill."""
    return sum("E (long)" in s.prefill for s in batching_schedule(512))


EXERCISES = Exercises(
    Exercise(
        label="why-ex-intensity",
        question=(
            "Arithmetic intensity of a decode step of 32 requests with 1,024 tokens of context each, "
            "Llama-3.1-8B?"
        ),
        answer=decode_intensity,
        unit="FLOP/byte",
        hint="labs_py.steptime.arithmetic_intensity(model, tokens_per_step, context_tokens).",
    ),
    Exercise(
        label="why-ex-prompt",
        question="The shortest prompt whose prefill step is compute-bound for Llama-3.1-8B on an H100 SXM?",
        answer=compute_bound_prompt,
        unit="tokens",
        rel_tol=0.0,
        hint="Find the first tokens-per-step whose intensity reaches the GPU's ridge_flops_per_byte.",
    ),
    Exercise(
        label="why-ex-chunks",
        question="With 512-token chunks, how many engine steps carry part of request E's 2,048-token prefill?",
        answer=chunk_steps_of_e,
        unit="steps",
        rel_tol=0.0,
        hint="Count the steps of batching_schedule(512) whose .prefill contains 'E (long)'.",
    ),
)
check = EXERCISES.check
