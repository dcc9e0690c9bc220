"""What the chapter "Goodput and the P:D split" simulates: N chunked colocated replicas against every xPyD split.

A figure and its readout share the same cached attainment curves
(:func:`labs_py.sim.curves.cached_curve`): SLO controls only re-judge cached runs.
"""

from __future__ import annotations

from labs_py.core.validate import positive_float, positive_int
from labs_py.defaults import DEFAULT_MODEL
from labs_py.sim.curves import (
    Curve,
    cached_curve,
    figure_scenario,
    rate_grid,
    slo_from_ms,
    split_fleets,
)
from labs_py.sim.fleets import Colocated, Fleet
from labs_py.sim.goodput import SLO

__all__ = ["goodput_fleets", "curves", "numbers"]


def goodput_fleets(gpus: int, link_gbps: float, stalling: bool = False) -> list[Fleet]:
    """The fleets of the goodput figure: chunked colocated replicas (and, if asked, unchunked ones),
    then every split."""
    n = positive_int("gpus", gpus, "GPUs")
    fleets: list[Fleet] = [Colocated(n, chunk_tokens=512)]
    if stalling:
        fleets.append(Colocated(n, chunk_tokens=None))
    return fleets + list(
        split_fleets(n, positive_float("link_gbps", link_gbps, "Gb/s"))
    )


def curves(
    ttft_slo_ms: float = 400,
    decode_slo_ms: float = 15,
    decode_metric: str = "tpot",
    prompt_tokens: int = 1024,
    output_tokens: int = 128,
    link_gbps: float = 200,
    model: str = DEFAULT_MODEL,
    gpus: int = 2,
    stalling: bool = False,
) -> tuple[list[Curve], list[Fleet], SLO]:
    """Every fleet's attainment curve on a shared rate grid, the fleets, and the SLO judged."""
    sc = figure_scenario(prompt_tokens, output_tokens, model)
    slo = slo_from_ms(ttft_slo_ms, decode_slo_ms, decode_metric)
    grid = rate_grid(sc, gpus)
    fleets = goodput_fleets(gpus, link_gbps, stalling)
    return [cached_curve(f, sc, grid, slo) for f in fleets], fleets, slo


def numbers(
    ttft_slo_ms: float = 400,
    decode_slo_ms: float = 15,
    decode_metric: str = "tpot",
    prompt_tokens: int = 1024,
    output_tokens: int = 128,
    link_gbps: float = 200,
    model: str = DEFAULT_MODEL,
    gpus: int = 2,
    stalling: bool = False,
) -> dict[str, object]:
    """Goodput and throughput (req/s) of every fleet of the figure, by label, and the winners.

    ``best_split`` is the xPyD split with the highest goodput (fewer prefill engines on ties);
    the winners are over every fleet drawn.
    """
    cs, _, _ = curves(
        ttft_slo_ms,
        decode_slo_ms,
        decode_metric,
        prompt_tokens,
        output_tokens,
        link_gbps,
        model,
        gpus,
        stalling,
    )
    colo = cs[0]
    splits = [c for c in cs if "P" in c.label and "D @" in c.label]
    best = max(splits, key=lambda c: c.goodput_rps)
    return {
        "colocated_goodput_rps": colo.goodput_rps,
        "colocated_throughput_rps": colo.throughput_rps,
        "goodput_rps": {c.label: c.goodput_rps for c in cs},
        "throughput_rps": {c.label: c.throughput_rps for c in cs},
        "split_goodput_rps": {c.label: c.goodput_rps for c in splits},
        "split_throughput_rps": {c.label: c.throughput_rps for c in splits},
        "best_split": best.label,
        "best_split_goodput_rps": best.goodput_rps,
        "winner_on_goodput": max(cs, key=lambda c: c.goodput_rps).label,
        "winner_on_throughput": max(cs, key=lambda c: c.throughput_rps).label,
    }
