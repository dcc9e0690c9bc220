"""The book's named loads, defined once: what the harness sends the pair and what ``capture-endpoint`` sends others.

Taught in: no chapter: the real pair's harness (docs/runbook.md).
"""

from __future__ import annotations

__all__ = ["MIXED", "MIXED_DESCRIPTION"]

#: lab 15-02's traffic: steady decode streams with big prompts fired into them. 10 interruptions in 400
#: tokens are 2.5% of a stream's gaps, so a prefill stall lands in ITL's p99.
MIXED = {
    "n_streams": 4,
    "stream_prompt_tokens": 64,
    "stream_output_tokens": 400,
    "n_big": 10,
    "big_prompt_tokens": 2000,
    "big_output_tokens": 16,
    "big_interval_s": 0.4,
    "first_big_at_s": 0.5,
    "stream_stagger_s": 0.05,
}
MIXED_DESCRIPTION = (
    "4 steady decode streams (64 prompt tokens, 400 output tokens) with 10 prompts of 2000 tokens "
    "(16 output tokens) fired into them every 0.4 s from 0.5 s"
)
