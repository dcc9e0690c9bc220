"""What the chapter "Interference" simulates, and the numbers it reads off.

Three experiments, each cached, because a figure, its readout and an exercise ask
for the same runs:

* :func:`trace`: one decode stream while a long prompt arrives
  (:func:`labs_py.sim.interference.interference_trace`), colocated or disaggregated;
* :func:`numbers`: the key numbers of one colocated trace (the bumps, the worst gap, p50/p99);
* :func:`tail_arms`: two GPUs at one Poisson rate, colocated against 1P1D, every gap of every request.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from labs_py.core.stats import percentile
from labs_py.core.validate import positive_float, positive_int
from labs_py.defaults import DEFAULT_GPU, DEFAULT_MODEL
from labs_py.sim.fleets import Colocated, Disaggregated, Fleet
from labs_py.sim.goodput import Scenario, run
from labs_py.sim.interference import (
    InterferenceTrace,
    interference_trace,
    prefill_gap_share,
)

__all__ = [
    "WATCH_S",
    "TAIL_REQUESTS",
    "TRADE_CHUNKS",
    "TAIL_QS",
    "trace",
    "numbers",
    "tail_percentiles",
    "tail_arms",
    "tail_numbers",
]

#: The interference figure watches this long after the prompt arrives (the slowest prefill on its grid fits).
WATCH_S = 1.0
#: Requests per run in the ITL-tail figure: enough for a p99 that does not jitter.
TAIL_REQUESTS = 1000
#: Chunk sizes of the trade-off figure, smallest first; None (no chunking) last.
TRADE_CHUNKS: tuple[int | None, ...] = (128, 256, 512, 1024, 2048, None)
#: Percentiles drawn by the tail figure: every 1% up to 99, then the last half percent.
TAIL_QS = np.concatenate([np.arange(1.0, 100.0), [99.5, 99.9]])
MS = 1e3


@lru_cache(maxsize=512)
def trace(
    chunk_tokens: int | None,
    prompt_tokens: int,
    batch: int,
    model: str = DEFAULT_MODEL,
    gpu: str = DEFAULT_GPU,
    disaggregated: bool = False,
) -> InterferenceTrace:
    """One decode stream of ``batch`` while a ``prompt_tokens`` prompt arrives (cached)."""
    positive_int("prompt_tokens", prompt_tokens, "tokens")
    positive_int("batch", batch, "requests")
    return interference_trace(
        batch=batch,
        prompt_tokens=prompt_tokens,
        chunk_tokens=chunk_tokens,
        model=model,
        gpu=gpu,
        disaggregated=disaggregated,
        watch_s=WATCH_S,
    )


def numbers(
    chunk_tokens: int | None = 512,
    prompt_tokens: int = 4096,
    batch: int = 16,
    model: str = DEFAULT_MODEL,
    gpu: str = DEFAULT_GPU,
) -> dict[str, float]:
    """Key numbers of the colocated trace (milliseconds unless named otherwise).

    ``extra_ms_per_chunk_step`` is the mean excess of the chunk-carrying steps over a
    clean step and ``extra_spread`` their spread (max - min over mean: equal bumps give
    a small number). ``itl_p50_ms``/``itl_p99_ms`` are over a 256-token stream in which
    the prompt's chunks land: the p50 is a clean step, the p99 a chunk-carrying one.
    """
    tr = trace(chunk_tokens, prompt_tokens, batch, model, gpu)
    extra = tr.extra_ms_per_chunk_step
    gaps = tr.gap_ms
    stream = np.concatenate([gaps, np.full(max(0, 256 - gaps.size), tr.clean_step_ms)])[
        : max(256, gaps.size)
    ]
    mean_extra = float(extra.mean()) if extra.size else 0.0
    return {
        "clean_step_ms": tr.clean_step_ms,
        "worst_gap_ms": float(gaps.max()),
        "chunk_steps": int(tr.chunk_steps.sum()),
        "extra_ms_per_chunk_step": mean_extra,
        "extra_spread": float((extra.max() - extra.min()) / mean_extra)
        if extra.size and mean_extra > 0
        else 0.0,
        "worst_over_clean": float(gaps.max() / tr.clean_step_ms),
        "prompt_ttft_ms": tr.prompt_ttft_ms,
        "itl_p50_ms": percentile(stream, 50),
        "itl_p99_ms": percentile(stream, 99),
    }


def tail_percentiles(gaps_ms: np.ndarray) -> np.ndarray:
    """The gaps' percentiles at ``TAIL_QS``, in one pass: the book's definition (numpy's linear, as
    :func:`labs_py.core.stats.percentile`), vectorised over q."""
    if not np.size(gaps_ms):
        raise ValueError("percentiles of an empty sample are undefined; got 0 gaps")
    return np.percentile(np.asarray(gaps_ms, float), TAIL_QS)


def _tail_scenario(
    prompt_tokens: int, output_tokens: int, model: str, gpu: str
) -> Scenario:
    return Scenario(
        model=model,
        gpu=gpu,
        prompt_tokens=positive_int("prompt_tokens", prompt_tokens, "tokens"),
        output_tokens=positive_int("output_tokens", output_tokens, "tokens"),
        n_requests=TAIL_REQUESTS,
    )


@lru_cache(maxsize=256)
def tail_arms(
    rate_per_s: float,
    chunk_tokens: int | None,
    prompt_tokens: int = 1024,
    output_tokens: int = 128,
    link_gbps: float = 200.0,
    model: str = DEFAULT_MODEL,
    gpu: str = DEFAULT_GPU,
) -> tuple[tuple[Fleet, np.ndarray, dict[str, float]], ...]:
    """Per arm (2x colocated, 1P1D): the fleet, its gaps' percentiles at TAIL_QS (ms), and its numbers
    (cached: the percentiles of ~10^5 gaps are worth computing once)."""
    sc = _tail_scenario(prompt_tokens, output_tokens, model, gpu)
    rate = positive_float("rate_per_s", rate_per_s, "requests per second")
    link = positive_float("link_gbps", link_gbps, "Gb/s")
    out = []
    for f in (Colocated(2, chunk_tokens=chunk_tokens), Disaggregated(1, 1, link)):
        r = run(f, sc, rate, True)
        values = {
            "itl_p50_ms": r.percentile_ms("itl", 50),
            "itl_p90_ms": r.percentile_ms("itl", 90),
            "itl_p99_ms": r.percentile_ms("itl", 99),
            "prefill_gap_share": prefill_gap_share(r),
        }
        out.append((f, tail_percentiles(r.itl_s * MS), values))
    return tuple(out)


def tail_numbers(
    rate_per_s: float = 8.0,
    chunk_tokens: int | None = 512,
    prompt_tokens: int = 1024,
    output_tokens: int = 128,
    link_gbps: float = 200.0,
    model: str = DEFAULT_MODEL,
    gpu: str = DEFAULT_GPU,
) -> dict[str, dict[str, float]]:
    """Per arm: ITL p50/p90/p99 (ms) and the share of gaps that carried prefill work."""
    arms = tail_arms(
        float(rate_per_s),
        chunk_tokens,
        prompt_tokens,
        output_tokens,
        float(link_gbps),
        model,
        gpu,
    )
    return {f.label: dict(values) for f, _, values in arms}
