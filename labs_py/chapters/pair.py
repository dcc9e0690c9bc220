"""Exercises of the chapter "Stand up a real prefill/decode pair" (answers computed from the captures)."""

from labs_py.economics import kv_payload_bytes, transfer_seconds
from labs_py.exercises import Exercise, register
from labs_py.pair.report import itl_tail_ratio, link_speed


def _caps():
    from labs_py.widgets.pair import captures

    return captures()


def _spec():
    from labs_py.pair.reconcile import tiny_spec

    return tiny_spec(_caps()["pair-1each__sweep"])


def _per_token() -> int:
    from labs_py.pair.tiny_model import kv_bytes_per_token

    return kv_bytes_per_token(_spec())


def _payload_bytes(prompt_tokens: int, block_size_tokens: int) -> int:
    from labs_py.pair.tiny_model import kv_block_bytes, kv_blocks_for_prompt

    return kv_blocks_for_prompt(prompt_tokens, block_size_tokens) * kv_block_bytes(block_size_tokens, _spec())


register(Exercise(
    id="pair-payload-2000",
    question="Bytes a 2,000-token prompt sends from producer to consumer (32-token blocks)?",
    expected=lambda: _payload_bytes(2000, 32),
    unit="bytes",
    rel_tol=0.0,
    hint="Whole blocks move: ceil(2000 / 32) blocks of 32 tokens, each token 2 x layers x KV heads x head_dim x 4 B.",
))

register(Exercise(
    id="pair-itl-ratio",
    question="Streams' ITL p99, one instance on 2 cores over the pair, under mixed load?",
    expected=lambda: itl_tail_ratio(_caps()["single-2core__mixed"],
                                    _caps()["pair-1each__mixed"])["itl_p99_ratio_single_over_pair"],
    unit="x",
    hint="capture['summary']['stream']['itl_ms']['p99'] of both mixed captures.",
))

register(Exercise(
    id="pair-wire-3000",
    question="Milliseconds the wire alone adds for a 3,000-token prompt at the sweep's measured link speed?",
    expected=lambda: transfer_seconds(kv_payload_bytes(3000, _per_token()),
                                      link_speed(_caps()["pair-1each__sweep"])["gbps"]) * 1e3,
    unit="ms",
    hint="labs_py.pair.report.link_speed(capture)['gbps'], then economics.transfer_seconds.",
))
