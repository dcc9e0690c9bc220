"""Sweeps: one knob at a time, everything else held, with a progress bar for the long ones.

Each sweep returns a dict of equal-length numpy arrays (a column per quantity), ready
for a plot or a table: the knob's values first, then p50/p99 of TTFT and ITL, SLO
attainment and (where asked) goodput.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

import numpy as np

from labs_py.sim.fleets import Colocated, Disaggregated, Fleet
from labs_py.sim.goodput import SLO, Scenario, goodput, run


def _progress(values: Sequence, desc: str, progress: bool) -> Iterable:
    if not progress:
        return values
    from tqdm.auto import tqdm

    return tqdm(values, desc=desc)


def _row(result, slo: SLO) -> dict[str, float]:
    return {
        "ttft_p50_ms": result.percentile_ms("ttft", 50),
        "ttft_p99_ms": result.percentile_ms("ttft", 99),
        "itl_p50_ms": result.percentile_ms("itl", 50),
        "itl_p99_ms": result.percentile_ms("itl", 99),
        "attainment": slo.attainment(result),
    }


def _collect(
    key: str, values: Sequence, rows: list[dict[str, float]]
) -> dict[str, np.ndarray]:
    out = {key: np.asarray(values)}
    for k in rows[0]:
        out[k] = np.array([r[k] for r in rows])
    return out


def sweep_rate(
    fleet: Fleet,
    scenario: Scenario,
    rates_per_s: Sequence[float],
    slo: SLO = SLO(),
    *,
    progress: bool = False,
) -> dict[str, np.ndarray]:
    """Latency percentiles and attainment of one fleet at each rate (requests/s).

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    rows = [
        _row(run(fleet, scenario, float(r)), slo)
        for r in _progress(rates_per_s, f"rates: {fleet.label}", progress)
    ]
    return _collect("rate_per_s", rates_per_s, rows)


def sweep_link(
    scenario: Scenario,
    rate_per_s: float,
    links_gbps: Sequence[float],
    slo: SLO = SLO(),
    *,
    prefill: int = 1,
    decode: int = 1,
    proxy: str = "ttft_on_decode",
    progress: bool = False,
) -> dict[str, np.ndarray]:
    """An xPyD fleet at one rate, for each link speed (Gb/s): where the toll starts to bite.

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    rows = [
        _row(
            run(
                Disaggregated(prefill, decode, float(g), proxy),
                scenario,
                float(rate_per_s),
            ),
            slo,
        )
        for g in _progress(links_gbps, "link speeds", progress)
    ]
    return _collect("link_gbps", links_gbps, rows)


def sweep_prompt(
    fleet: Fleet,
    scenario: Scenario,
    rate_per_s: float,
    prompts_tokens: Sequence[int],
    slo: SLO = SLO(),
    *,
    progress: bool = False,
) -> dict[str, np.ndarray]:
    """One fleet at one rate, for each prompt length (tokens).

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    rows = [
        _row(
            run(fleet, replace(scenario, prompt_tokens=int(p)), float(rate_per_s)), slo
        )
        for p in _progress(prompts_tokens, "prompt lengths", progress)
    ]
    return _collect("prompt_tokens", prompts_tokens, rows)


def sweep_chunk(
    scenario: Scenario,
    rate_per_s: float,
    chunks_tokens: Sequence[int | None],
    slo: SLO = SLO(),
    *,
    replicas: int = 1,
    progress: bool = False,
) -> dict[str, np.ndarray]:
    """A colocated fleet at one rate, for each chunk size (tokens per step; ``None`` = no chunking).

    Small chunks cap the tail ITL but spread each prefill over more steps (TTFT grows);
    large chunks do the opposite. There is no chunk size that removes the tax.

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    rows = [
        _row(run(Colocated(replicas, chunk_tokens=c), scenario, float(rate_per_s)), slo)
        for c in _progress(chunks_tokens, "chunk sizes", progress)
    ]
    return _collect(
        "chunk_tokens", [np.nan if c is None else c for c in chunks_tokens], rows
    )


def sweep_goodput(
    fleets: Sequence[Fleet], scenario: Scenario, slo: SLO, *, progress: bool = False
) -> dict[str, np.ndarray]:
    """Goodput (requests/s) and goodput per GPU of each fleet.

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    g = [goodput(f, scenario, slo) for f in _progress(fleets, "goodput", progress)]
    return {
        "label": np.array([f.label for f in fleets]),
        "goodput_rps": np.array(g),
        "goodput_per_gpu_rps": np.array([x / f.gpus for x, f in zip(g, fleets)]),
    }
