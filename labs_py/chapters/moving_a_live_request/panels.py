"""Wiring for the chapter "Moving a live request": controls -> :mod:`labs_py.engine` -> :mod:`.figures`."""

from __future__ import annotations

from labs_py.book.explorable import Dropdown, Explorable, Slider, explorable_factory
from labs_py.chapters.controls import model_control, prompt_slider
from labs_py.chapters.moving_a_live_request import figures as viz
from labs_py.core.fmt import fmt_bytes, fmt_gbps, fmt_percent, fmt_seconds
from labs_py.defaults import H100_SXM
from labs_py.engine.migration import price_recovery_for_model, ship_breakeven_link_gbps
from labs_py.engine.trace import (
    MAX_NEW_TOKENS,
    ROUTER_ARRIVALS,
    ROUTER_PREFILL_BLOCKS,
    migration_readout,
    trace_migration,
    trace_router,
)
from labs_py.links import all_links
from labs_py.models import get_model

# --------------------------------------------------------------------------- one move, step by step
PROMPTS = (8, 16, 24, 40, 64)
BLOCK_SIZES = (2, 4, 8, 16)
#: Decode steps on the source before the move: 0 (right after prefill: the P->D handoff) to the last possible.
MOVE_AFTER = tuple(range(MAX_NEW_TOKENS - 1))
STRATEGY_CHOICES = (
    ("ship the KV", "ship"),
    ("recompute it on arrival", "recompute"),
    ("ship all but the last token (vLLM)", "ship_all_but_last"),
)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _id_runs(ids: list[int], limit: int = 4) -> str:
    """Block ids as runs, ``[3, 4, 5, 9]`` -> ``"3-5, 9"``; after ``limit`` runs, ``"…"``."""
    runs: list[list[int]] = []
    for b in ids:
        if runs and b == runs[-1][1] + 1:
            runs[-1][1] = b
        else:
            runs.append([b, b])
    text = ", ".join(f"{a}–{b}" if b > a else f"{a}" for a, b in runs[:limit])
    return text + (", …" if len(runs) > limit else "")


def _move_readout(
    prompt_tokens: int, block_size_tokens: int, migrate_at: int, strategy: str
) -> dict[str, str]:
    r = migration_readout(
        prompt_tokens, block_size_tokens, migrate_at, strategy=strategy
    )
    t = trace_migration(prompt_tokens, block_size_tokens, migrate_at, strategy=strategy)
    held, kv = len(t.source_block_ids), t.kv_tokens
    leak_free = r["source_usage_after"] == r["source_usage_without_request"]
    billed, expected = r["destination_blocks_billed"], r["blocks_expected"]
    same = sum(a == b for a, b in zip(t.migrated_tokens, t.reference_tokens))
    return {
        "source": (
            f"{fmt_percent(r['source_usage_before'])} → {fmt_percent(r['source_usage_after'])} in use "
            f"({_plural(held, 'block')} freed); without the request: {fmt_percent(r['source_usage_without_request'])}"
            + (", equal: nothing leaked" if leak_free else ", DIFFERENT: blocks leaked")
        ),
        "destination billed": (
            f"{_plural(billed, 'block')} = ceil({kv} tokens / {block_size_tokens} per block)"
            + ("" if billed == expected else f", expected {expected}")
        ),
        "block ids": (
            f"source {_id_runs(r['source_block_ids'])} → destination {_id_runs(r['destination_block_ids'])}; "
            f"KV contents {'bit-for-bit equal' if r['kv_contents_identical'] else 'DIFFERENT'}"
        ),
        "over the link": (
            f"{fmt_bytes(r['payload_bytes'])} of KV ({_plural(r['shipped_tokens'], 'token')}), "
            f"{_plural(r['tokens_recomputed'], 'token')} recomputed"
        ),
        "output": (
            f"{same} of {len(t.reference_tokens)} tokens identical to never moving "
            f"({r['tokens_generated_on_source']} made on the source)"
        ),
    }


def _move_figure(
    prompt_tokens: int, block_size_tokens: int, migrate_at: int, strategy: str
):
    return viz.migration_figure(
        trace_migration(prompt_tokens, block_size_tokens, migrate_at, strategy=strategy)
    )


@explorable_factory
def move() -> Explorable:
    """The chapter's main panel: one request moved from a source engine to a destination engine."""
    return Explorable(
        title="Move a live request: block tables, usage and tokens, before and after",
        controls=(
            prompt_slider(PROMPTS, 24, fmt="{} tokens"),
            Slider("block_size_tokens", "Block size", BLOCK_SIZES, 4, fmt="{} tokens"),
            Slider("migrate_at", "Move after", MOVE_AFTER, 0, fmt="{} decode steps"),
            Dropdown("strategy", "Recovery", STRATEGY_CHOICES, "ship"),
        ),
        figure_fn=_move_figure,
        readout_fn=_move_readout,
        alt=(
            "Top: the KV block pools of a source and a destination engine, before and after the move, one cell per "
            "physical block. The moving request's blocks are labelled with their logical index (L0, L1, "
            "...); after the "
            "move the same labels sit at different physical blocks on the destination, and the source's blocks turn "
            "into just-freed cells. Middle left: both pools' usage before and after; the source's bar falls exactly to "
            "the mark of the same engine had the request never come, and the destination grows by ceil(tokens / block "
            "size) blocks. Middle right: how many of the request's tokens of KV were shipped and how many "
            "recomputed on "
            "arrival; blocks whose contents were recomputed on the destination rather than shipped are marked with a "
            "circular arrow instead of an L. Bottom: the output tokens with the move and without it, coloured by the "
            "engine that made them: they are the same tokens for every setting."
        ),
    )


# --------------------------------------------------------------------------- ship or recompute, for a real model
RECOVERY_PROMPTS = (512, 2048, 8192, 32768)
CATALOG_LINKS = ("10gbe", "25gbe", "100gbe", "ib-hdr", "ib-ndr", "nvlink4")
GPU = H100_SXM


def _recovery_prices(model: str, prompt_tokens: int) -> dict:
    """Both strategies' times over the figure's links (recompute does not depend on the link)."""
    return {
        g: price_recovery_for_model(model, prompt_tokens, g, gpu=GPU)
        for g in viz.RECOVERY_LINKS_GBPS
    }


def _breakeven(model: str, prompt_tokens: int) -> float:
    p = price_recovery_for_model(model, prompt_tokens, 100.0, gpu=GPU)
    return ship_breakeven_link_gbps(
        prompt_tokens,
        get_model(model).kv_bytes_per_token("bf16"),
        p["recompute"].recompute_s,
    )


def _recovery_figure(model: str, prompt_tokens: int):
    prices = _recovery_prices(model, prompt_tokens)
    links = {_link_name(i): gbps for i, gbps in _catalog_links().items()}
    return viz.recovery_figure(
        link_gbps=list(prices),
        seconds={
            s: [prices[g][s].total_s for g in prices]
            for s in ("ship", "recompute", "ship_all_but_last")
        },
        breakeven_gbps=_breakeven(model, prompt_tokens),
        catalog_links=links,
    )


def _catalog_links() -> dict[str, float]:
    return {link.id: link.gbps for link in all_links() if link.id in CATALOG_LINKS}


def _link_name(link_id: str) -> str:
    return next(link.name.split(" (")[0] for link in all_links() if link.id == link_id)


def _recovery_readout(model: str, prompt_tokens: int) -> dict[str, str]:
    p = price_recovery_for_model(model, prompt_tokens, 200.0, gpu=GPU)
    be = _breakeven(model, prompt_tokens)
    return {
        "ship": f"{fmt_bytes(p['ship'].bytes_moved)}, {fmt_seconds(p['ship'].transfer_s)} at 200 Gb/s",
        f"recompute ({GPU})": f"{p['recompute'].tokens_recomputed:,} tokens, {fmt_seconds(p['recompute'].recompute_s)}",
        "ship all but the last": (
            f"{fmt_seconds(p['ship_all_but_last'].total_s)} at 200 Gb/s "
            f"(+{fmt_seconds(p['ship_all_but_last'].recompute_s)} for the last token)"
        ),
        "shipping wins above": fmt_gbps(be),
    }


@explorable_factory
def recovery() -> Explorable:
    """Ship or recompute: both recovery strategies priced for a catalog model, against the link speed."""
    return Explorable(
        title=f"Ship the KV or recompute it? Time until the destination can decode (calibrated step model, {GPU})",
        controls=(model_control(), prompt_slider(RECOVERY_PROMPTS, 2048, "KV to move")),
        figure_fn=_recovery_figure,
        readout_fn=_recovery_readout,
        alt=(
            "Time to get a request's KV onto another engine against the link speed, both on log scales. Shipping "
            "falls in proportion to the link speed; recomputing is a flat line, the prefill time of the tokens on the "
            "fewest H100s that hold the model; shipping all but the last token follows the shipping line but never "
            "drops below one forward pass. "
            "The lines cross at the break-even link speed, marked: faster links ship, slower ones recompute. Bigger "
            "models do more arithmetic per byte of KV, so their break-even sits at slower links."
        ),
    )


# --------------------------------------------------------------------------- the 1P:2D router
DECODE_POOLS = (12, 14, 16, 20)
LEASES = (1, 2, 3, 4, 6, 8)


def _story(trace, rid: str) -> str:
    """What happened to one request, from the trace: where it waited and how it got to a decode engine."""
    row = trace.place[trace.request_ids.index(rid)]
    on_p, as_tokens = row.count(1), row.count(2)
    placed = next(
        (
            (s, e, why)
            for s, r, kind, e, why in trace.events
            if r == rid and kind == "placed"
        ),
        None,
    )
    parts = []
    if on_p:
        parts.append(f"parked on P with its KV for {_plural(on_p, 'step')}")
    if as_tokens:
        parts.append(
            f"lease expired, waited {_plural(as_tokens, 'step')} as tokens only"
        )
    if placed:
        how = (
            "KV recomputed there" if placed[2].startswith("recompute") else "KV shipped"
        )
        parts.append(f"placed on {placed[1]} at step {placed[0]}, {how}")
    return "; ".join(parts)


def _router_readout(decode_blocks: int, lease_steps: int) -> dict[str, str]:
    t = trace_router(decode_blocks, lease_steps)
    peak = max(t.prefill_used_blocks)
    return {
        "e": _story(t, "e"),
        "f": _story(t, "f"),
        "peak parked on P": f"{_plural(peak, 'block')} of {ROUTER_PREFILL_BLOCKS}",
        "outputs": (
            "all identical to solo runs"
            if t.outputs_identical
            else "DIFFERENT from solo runs"
        )
        + (
            "; every pool empty at the end"
            if t.pools_empty_at_end
            else "; blocks LEAKED"
        ),
    }


@explorable_factory
def router() -> Explorable:
    """One prefill engine, two decode engines: placement by headroom, and what happens when both are nearly full."""
    return Explorable(
        title=f"A 1 prefill : 2 decode router ({len(ROUTER_ARRIVALS)} requests, blocks of 4 tokens)",
        controls=(
            Slider(
                "decode_blocks", "Decode pools", DECODE_POOLS, 16, fmt="{} blocks each"
            ),
            Slider("lease_steps", "Lease on P", LEASES, 3, fmt="{} steps"),
        ),
        figure_fn=lambda decode_blocks, lease_steps: viz.router_figure(
            trace_router(decode_blocks, lease_steps)
        ),
        readout_fn=_router_readout,
        alt=(
            "Top: the capacity signal, each decode engine's headroom (free blocks minus one per running request) at "
            "every router step, with a dotted line at the 4 blocks request e needs. Middle: blocks parked on the "
            "prefill engine. Bottom: where each of six requests is after each step. Requests a to d are placed on "
            "whichever decode engine has more headroom. When e and f arrive, both decode engines are nearly full: they "
            "wait on the prefill engine holding their KV, until a decode engine has room or their lease expires; then "
            "the prefill engine frees their blocks and the decode engine that takes them recomputes the KV. Bigger "
            "decode pools remove the wait; longer leases keep the KV parked longer and avoid the recompute."
        ),
    )
