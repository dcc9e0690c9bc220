"""Exercises of the chapter "Stand up a real prefill/decode pair": answers computed from the committed captures."""

from __future__ import annotations

from labs_py.book.exercises import Exercise, Exercises
from labs_py.captures.capture import committed as captures
from labs_py.captures.report import itl_tail_ratio, link_speed
from labs_py.captures.tiny_model import (
    kv_block_bytes,
    kv_blocks_for_prompt,
    kv_bytes_per_token,
    spec_of,
)
from labs_py.economics import kv_payload_bytes, transfer_seconds

__all__ = ["EXERCISES", "check", "payload_2000_bytes", "itl_p99_ratio", "wire_ms_3000"]


def payload_2000_bytes() -> int:
    """Bytes a 2,000-token prompt sends from producer to consumer in 32-token blocks (whole blocks move)."""
    spec = spec_of(captures()["pair-1each__sweep"])
    return kv_blocks_for_prompt(2000, 32) * kv_block_bytes(32, spec)


def itl_p99_ratio() -> float:
    """Streams' ITL p99 under mixed load: one instance on 2 cores over the pair."""
    caps = captures()
    return itl_tail_ratio(caps["single-2core__mixed"], caps["pair-1each__mixed"])[
        "itl_p99_ratio_single_over_pair"
    ]


def wire_ms_3000() -> float:
    """The wire alone for a 3,000-token prompt at the link speed NIXL measured in the sweep, ms."""
    sweep = captures()["pair-1each__sweep"]
    per_token = kv_bytes_per_token(spec_of(sweep))
    return (
        transfer_seconds(kv_payload_bytes(3000, per_token), link_speed(sweep)["gbps"])
        * 1e3
    )


EXERCISES = Exercises(
    Exercise(
        label="pair-ex-blocks",
        question="Bytes a 2,000-token prompt sends from producer to consumer (32-token blocks)?",
        answer=payload_2000_bytes,
        unit="bytes",
        rel_tol=0.0,
        hint="Whole blocks move: ceil(2000 / 32) blocks of 32 tokens, each token 2 x layers x KV heads x "
        "head_dim x 4 B.",
    ),
    Exercise(
        label="pair-ex-ratio",
        question="Streams' ITL p99, one instance on 2 cores over the pair, under mixed load?",
        answer=itl_p99_ratio,
        unit="x",
        hint="capture['summary']['stream']['itl_ms']['p99'] of both mixed captures.",
    ),
    Exercise(
        label="pair-ex-wire",
        question="Milliseconds the wire alone adds for a 3,000-token prompt at the sweep's measured link speed?",
        answer=wire_ms_3000,
        unit="ms",
        hint="labs_py.captures.report.link_speed(capture)['gbps'], then economics.transfer_seconds.",
    ),
)
check = EXERCISES.check
