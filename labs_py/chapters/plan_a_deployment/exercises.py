"""Exercises of the chapter "Plan a deployment": each answer is computed here, with the planner."""

from __future__ import annotations

from functools import lru_cache

from labs_py.book.exercises import Exercise, Exercises
from labs_py.chapters.plan_a_deployment import experiment
from labs_py.defaults import H100_SXM, LLAMA_8B
from labs_py.plan import Question, Result, plan

__all__ = [
    "EXERCISES",
    "check",
    "RAG",
    "rag_plan",
    "rag_goodput_per_gpu",
    "slowest_winning_link",
    "longest_winning_prompt_100gbe",
]

#: The fleet the reader plans: RAG on 8 H100s, with 100 GbE between nodes.
RAG = Question(LLAMA_8B, H100_SXM, 8, 8192, 256, 2000, 15, link_gbps=100)


@lru_cache(maxsize=1)
def rag_plan() -> Result:
    """Both stages of the planner on :data:`RAG`."""
    return plan(RAG, progress=None)


def rag_goodput_per_gpu() -> float:
    """The best layout's goodput per GPU for :data:`RAG`, requests/s."""
    return rag_plan().best.goodput_rps_per_gpu


def slowest_winning_link() -> float:
    """The slowest link of the link sweep at which the best split still beats the best colocated layout, Gb/s."""
    rows = experiment.link_sweep()
    wins = [r for r in rows if r["split_per_gpu"] > r["colocated_per_gpu"]]
    return min(r["link_gbps"] for r in wins)


def longest_winning_prompt_100gbe() -> int:
    """Week 16's Q1 at 100 Gb/s: the longest prompt of the sweep at which the split still wins, tokens."""
    n = experiment.crossover_lengths(100.0)[1]
    if n is None:
        raise ValueError("the split wins at no prompt length of the sweep at 100 Gb/s")
    return n


EXERCISES = Exercises(
    Exercise(
        label="plan-ex-fleet",
        question=(
            "Plan Llama-3.1-8B on 8 H100s for a RAG service: 8,192 tokens in, 256 out, TTFT <= 2 s and TPOT <= "
            "15 ms at the 90th percentile, 100 Gb/s between nodes. What goodput per GPU does the best layout reach?"
        ),
        answer=rag_goodput_per_gpu,
        unit="requests/s per GPU",
        rel_tol=0.01,
        hint="plan(Question(LLAMA_8B, H100_SXM, 8, 8192, 256, 2000, 15, link_gbps=100)).best",
    ),
    Exercise(
        label="plan-ex-link",
        question=(
            "On the tight chat question (2,048 in, 128 out, TTFT 400 ms, TPOT 12 ms, 8 H100s), what is the "
            "slowest link of the sweep at which the best split still beats the best colocated layout?"
        ),
        answer=slowest_winning_link,
        unit="Gb/s",
        rel_tol=0.001,
        hint="experiment.link_sweep(): compare split_per_gpu and colocated_per_gpu at each link.",
    ),
    Exercise(
        label="plan-ex-crossover",
        question=(
            "Week 16's Q1 with the planner: over 100 Gb/s, what is the longest prompt of the sweep (256 to 16,384 "
            "tokens) at which the best split still beats the best colocated layout on 8 H100s? What stops it "
            "beyond?"
        ),
        answer=longest_winning_prompt_100gbe,
        unit="tokens",
        rel_tol=0.001,
        hint="experiment.crossover()[100.0]: the ratio column.",
    ),
)
check = EXERCISES.check
