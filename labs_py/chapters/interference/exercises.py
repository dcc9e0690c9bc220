"""Exercises of the chapter "Interference": each answer is computed here, by the simulator (seeded)."""

from __future__ import annotations

from labs_py.book.exercises import Exercise, Exercises
from labs_py.chapters.interference import experiment

__all__ = [
    "EXERCISES",
    "check",
    "CHUNK_CHOICES",
    "extra_ms_per_chunk_step",
    "best_chunk_under",
    "prefill_gap_share_at_16_rps",
]

#: Chunk sizes the interference exercise chooses from.
CHUNK_CHOICES = (128, 256, 512, 1024, 2048)


def extra_ms_per_chunk_step() -> float:
    """16 streams, an 8,192-token prompt in 1,024-token chunks: the mean excess of a chunk-carrying step, ms."""
    return experiment.numbers(1024, 8192, 16)["extra_ms_per_chunk_step"]


def best_chunk_under(
    worst_gap_ms: float = 20.0, prompt_tokens: int = 4096, batch: int = 16
) -> int:
    """The chunk size of CHUNK_CHOICES with the shortest prompt TTFT whose worst gap stays under ``worst_gap_ms``."""
    ok = [
        (experiment.numbers(c, prompt_tokens, batch)["prompt_ttft_ms"], c)
        for c in CHUNK_CHOICES
        if experiment.numbers(c, prompt_tokens, batch)["worst_gap_ms"] < worst_gap_ms
    ]
    if not ok:
        raise ValueError(
            f"no chunk size in {CHUNK_CHOICES} keeps every gap under {worst_gap_ms} ms"
        )
    return min(ok)[1]


def prefill_gap_share_at_16_rps() -> float:
    """Two colocated replicas, 512-token chunks, 1,024/128 tokens, 16 req/s: the share of gaps that carry prefill."""
    return experiment.tail_numbers(16.0, 512)["2x colocated (chunk 512)"][
        "prefill_gap_share"
    ]


EXERCISES = Exercises(
    Exercise(
        label="interf-ex-extra",
        question=(
            "16 streams decoding, an 8,192-token prompt arriving in 1,024-token chunks: by how many ms is each "
            "chunk-carrying step slower than a clean decode step, on average?"
        ),
        answer=extra_ms_per_chunk_step,
        unit="ms",
        rel_tol=0.03,
        hint="The mean of interference_trace(...).extra_ms_per_chunk_step.",
    ),
    Exercise(
        label="interf-ex-chunk",
        question=(
            "16 streams, a 4,096-token prompt: which chunk size (128, 256, 512, 1,024 or 2,048 tokens) keeps "
            "every gap of the streams under 20 ms with the shortest TTFT for the prompt?"
        ),
        answer=best_chunk_under,
        unit="tokens",
        rel_tol=0.0,
        hint="experiment.numbers(chunk, 4096, 16) for each chunk size.",
    ),
    Exercise(
        label="interf-ex-share",
        question=(
            "Two colocated replicas with 512-token chunks, 1,024-token prompts, 128-token outputs, 16 requests "
            "per second: what fraction of all inter-token gaps carry prefill work?"
        ),
        answer=prefill_gap_share_at_16_rps,
        unit="(fraction of gaps)",
        rel_tol=0.02,
        hint="prefill_gap_share of a run(..., record_steps=True).",
    ),
)
check = EXERCISES.check
