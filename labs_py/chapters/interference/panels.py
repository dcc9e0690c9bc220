"""Wiring for the chapter "Interference": controls -> :mod:`.experiment` -> :mod:`.figures`.

Control values are chosen so that the static page's precompute stays cheap: what costs is
the number of distinct *simulations*, not the number of combinations. Each factory's
docstring counts its simulations.
"""

from __future__ import annotations

from labs_py.book.explorable import Explorable, Slider, explorable_factory
from labs_py.chapters.controls import NO_CHUNKING, prompt_slider
from labs_py.chapters.controls import chunk_slider as _chunk_slider
from labs_py.chapters.controls import chunk_value as _chunk
from labs_py.chapters.controls import fmt_ms as _ms
from labs_py.chapters.interference import experiment, figures
from labs_py.figures.serving import arm_style

PROMPTS = (1024, 2048, 4096, 8192)
BATCHES = (1, 4, 16, 64)


def _interference_figure(chunk_tokens: int, prompt_tokens: int, batch: int):
    chunk = _chunk(chunk_tokens)
    return figures.interference_spec(
        experiment.trace(chunk, prompt_tokens, batch),
        experiment.trace(None, prompt_tokens, batch, disaggregated=True),
        chunk,
    )


def _interference_readout(
    chunk_tokens: int, prompt_tokens: int, batch: int
) -> dict[str, str]:
    r = experiment.numbers(_chunk(chunk_tokens), prompt_tokens, batch)
    if r["chunk_steps"] and chunk_tokens != NO_CHUNKING:
        slow = (
            f"{r['chunk_steps']} steps, each +{_ms(r['extra_ms_per_chunk_step'])} "
            f"(spread {r['extra_spread']:.0%})"
        )
    else:
        slow = "1 gap: the whole prefill"
    return {
        "clean step": _ms(r["clean_step_ms"]),
        "slow steps": slow,
        "worst gap": f"{_ms(r['worst_gap_ms'])} = {r['worst_over_clean']:.2g}× a clean step",
        "p50 / p99 of 256 gaps": f"{_ms(r['itl_p50_ms'])} / {_ms(r['itl_p99_ms'])}",
        "TTFT of the long prompt": _ms(r["prompt_ttft_ms"]),
    }


@explorable_factory
def interference() -> Explorable:
    """One decode stream while a long prompt arrives: chunk size, prompt length, batch.

    Simulations: 6 chunk sizes x 4 prompts x 4 batches colocated traces, plus 16 disaggregated
    ones (96 + 16 small runs, ~1 s in all).
    """
    return Explorable(
        title="One decode stream while a long prompt arrives (Llama-3.1-8B, one H100)",
        controls=(
            _chunk_slider((128, 256, 512, 1024, 2048, NO_CHUNKING)),
            prompt_slider(PROMPTS, 4096, "Long prompt"),
            Slider("batch", "Streams decoding", BATCHES, 16, fmt="{}"),
        ),
        figure_fn=_interference_figure,
        readout_fn=_interference_readout,
        alt=(
            "The gap before each token of one decode stream, over time, as a long prompt arrives at time zero. "
            "Colocated with chunked prefill, the gaps form a plateau: every step that carries a chunk is slower "
            "than a clean step by about the same amount, for as many steps as there are chunks. Without chunking "
            "there is one gap as long as the whole prefill. Disaggregated, the stream stays flat at a clean step."
        ),
    )


def _trade_figure(prompt_tokens: int, batch: int):
    """The chunk-size trade (bar labels: "worst gap × number of such steps")."""
    chunks = experiment.TRADE_CHUNKS
    rs = [experiment.numbers(c, prompt_tokens, batch) for c in chunks]
    labels = [f"{c:,}" if c else "none" for c in chunks]
    return figures.chunk_trade_spec(
        labels,
        [r["worst_gap_ms"] for r in rs],
        rs[0]["clean_step_ms"],
        [r["prompt_ttft_ms"] for r in rs],
        [r["chunk_steps"] if c else 1 for r, c in zip(rs, chunks)],
    )


def _trade_readout(prompt_tokens: int, batch: int) -> dict[str, str]:
    small = experiment.numbers(experiment.TRADE_CHUNKS[0], prompt_tokens, batch)
    whole = experiment.numbers(None, prompt_tokens, batch)
    return {
        f"{experiment.TRADE_CHUNKS[0]}-token chunks": (
            f"worst gap {_ms(small['worst_gap_ms'])}, "
            f"prompt TTFT {_ms(small['prompt_ttft_ms'])}"
        ),
        "no chunking": f"worst gap {_ms(whole['worst_gap_ms'])}, prompt TTFT {_ms(whole['prompt_ttft_ms'])}",
    }


@explorable_factory
def chunk_trade() -> Explorable:
    """Every chunk size at once: the worst gap against the long prompt's own TTFT.

    Simulations: the same traces as :func:`interference` (shared cache).
    """
    return Explorable(
        title="The chunk-size trade: a smaller bump, more of them, and a slower prompt",
        controls=(
            prompt_slider(PROMPTS, 4096, "Long prompt"),
            Slider("batch", "Streams decoding", BATCHES, 16, fmt="{}"),
        ),
        figure_fn=_trade_figure,
        readout_fn=_trade_readout,
        alt=(
            "Two bar charts over chunk sizes from 128 tokens to no chunking. Left: the worst gap a decode stream "
            "sees, labelled with how many steps are that slow; it grows with the chunk. Right: the long prompt's own "
            "time to first token, which falls as chunks grow, because every chunk step pays a whole step's fixed "
            "costs. No chunk size removes the tax: it only trades height for width."
        ),
    )


TAIL_RATES = (4, 8, 16, 24, 32)


def _tail_figure(rate_per_s: float, chunk_tokens: int):
    arms = experiment.tail_arms(float(rate_per_s), _chunk(chunk_tokens))
    return figures.itl_tail_spec([(f.label, arm_style(f), q) for f, q, _ in arms])


def _tail_readout(rate_per_s: float, chunk_tokens: int) -> dict[str, str]:
    ro = experiment.tail_numbers(float(rate_per_s), _chunk(chunk_tokens))
    (colo_label, colo), (pd_label, pd) = ro.items()
    return {
        "2× colocated p50 / p99": f"{_ms(colo['itl_p50_ms'])} / {_ms(colo['itl_p99_ms'])}",
        "1P1D p50 / p99": f"{_ms(pd['itl_p50_ms'])} / {_ms(pd['itl_p99_ms'])}",
        "colocated gaps that carry prefill work": f"{colo['prefill_gap_share']:.1%}",
    }


@explorable_factory
def itl_tail() -> Explorable:
    """Why p99 moves and p50 does not: every gap of every request, by percentile, at a rate.

    Simulations: 5 rates x (4 colocated chunk settings + 1P1D) = 25 runs of 1,000 requests (~2 s).
    """
    return Explorable(
        title="Two GPUs, Poisson arrivals, 1,024-token prompts, 128-token outputs: where the slow gaps land",
        controls=(
            Slider("rate_per_s", "Request rate", TAIL_RATES, 8, fmt="{} req/s"),
            _chunk_slider((256, 512, 1024, NO_CHUNKING)),
        ),
        figure_fn=_tail_figure,
        readout_fn=_tail_readout,
        alt=(
            "Inter-token gaps of every request sorted by percentile, for two colocated replicas and for 1P1D. The "
            "colocated line is flat at a clean decode step, then jumps to a chunk-carrying step at the percentile "
            "where the share of gaps that carried prefill work begins: p50 stays clean while that share is under "
            "half, and p99 is slow as soon as it is over 1%. The 1P1D line stays flat: its p99 sits next to its p50."
        ),
    )
