"""Exercises of the chapter "Goodput and the P:D split": each answer is computed here, by the simulator (seeded)."""

from __future__ import annotations

from dataclasses import replace

from labs_py.book.exercises import Exercise, Exercises
from labs_py.sim import (
    SLO,
    Colocated,
    Disaggregated,
    goodput,
    max_throughput_rps,
    split_search,
)
from labs_py.sim.scenarios import CHAT

__all__ = [
    "EXERCISES",
    "check",
    "goodput_1p1d_25g",
    "best_split_label",
    "best_split_long_prompts",
    "throughput_ratio_2048",
]


def goodput_1p1d_25g() -> float:
    """1P1D over 25 Gb/s, the chat workload, TTFT <= 400 ms and mean TPOT <= 9 ms: goodput, req/s."""
    return goodput(Disaggregated(1, 1, 25.0), CHAT, SLO(ttft_s=0.4, decode_s=0.009))


def best_split_label(
    gpus: int, prompt_tokens: int, output_tokens: int, slo: SLO
) -> str:
    """The best xPyD of ``gpus`` GPUs for a variant of the chat workload, as ``"2P1D"``."""
    sc = replace(CHAT, prompt_tokens=prompt_tokens, output_tokens=output_tokens)
    x, y = split_search(gpus, sc, slo).best
    return f"{x}P{y}D"


def best_split_long_prompts() -> str:
    """Three GPUs, 4,096-token prompts, 32-token outputs, TTFT <= 400 ms, mean TPOT <= 12 ms: the best split."""
    return best_split_label(3, 4096, 32, SLO(ttft_s=0.4, decode_s=0.012))


def throughput_ratio_2048() -> float:
    """2,048-token prompts, 256-token outputs: throughput of 2 chunked replicas over that of 1P1D."""
    sc = replace(CHAT, prompt_tokens=2048, output_tokens=256)
    return max_throughput_rps(Colocated(2, chunk_tokens=512), sc) / max_throughput_rps(
        Disaggregated(1, 1, 200.0), sc
    )


EXERCISES = Exercises(
    Exercise(
        label="goodput-ex-link",
        question=(
            "1P1D over a 25 Gb/s link, the chapter's chat workload, SLOs TTFT <= 400 ms and mean TPOT <= 9 ms: "
            "what is its goodput, in requests per second?"
        ),
        answer=goodput_1p1d_25g,
        unit="req/s",
        rel_tol=0.03,
        hint="goodput(fleet, CHAT, slo), with SLO times in seconds.",
    ),
    Exercise(
        label="goodput-ex-split",
        question=(
            "Three GPUs, 4,096-token prompts and 32-token outputs, SLOs TTFT <= 400 ms and mean TPOT <= 12 ms: "
            'which split has the most goodput? Answer as a string such as "1P2D".'
        ),
        answer=best_split_long_prompts,
        unit="(split)",
        hint="split_search(3, scenario, slo).best is (prefill, decode).",
    ),
    Exercise(
        label="goodput-ex-ratio",
        question=(
            "2,048-token prompts and 256-token outputs on two GPUs: by what factor does the throughput of two "
            "chunked colocated replicas exceed that of 1P1D?"
        ),
        answer=throughput_ratio_2048,
        unit="(ratio)",
        rel_tol=0.005,
        hint="max_throughput_rps of each fleet, on the new scenario.",
    ),
)
check = EXERCISES.check
