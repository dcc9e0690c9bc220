"""The interference experiment: watch one decode stream while a long prompt arrives.

``batch`` requests are decoding steadily on one colocated engine. At ``arrival_s`` a
long prompt arrives. With chunked prefill, the next ``ceil(prompt / chunk)`` steps
each carry one chunk, and every one of them is slower than a clean decode step, by
about the same amount (the chunk's compute; a little more for later chunks, whose
attention reaches further back). The decode stream's inter-token gaps show a
*plateau*, not a spike: that is what "chunking caps interference" means. Without
chunking, the whole prefill runs in one step and the stream sees a single gap as long
as the whole prefill.

Why p50 does not move and p99 does: a request that emits 256 tokens while ~10 of its
steps carry chunks has ~4% slow gaps. The median gap is a clean step; the 99th
percentile is a chunk-carrying step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labs_py.core.validate import non_negative_float, positive_int
from labs_py.defaults import DEFAULT_ENGINE, DEFAULT_GPU, DEFAULT_MODEL
from labs_py.sim.fleets import Colocated, Disaggregated, simulate
from labs_py.sim.metrics import SimResult
from labs_py.sim.workload import Workload


@dataclass(frozen=True)
class InterferenceTrace:
    """One decode stream's tokens, and the steps of the engine it ran on.

    Taught in: interference.
    """

    token_s: (
        np.ndarray
    )  # when each token of the watched stream came out (seconds; tokens 2..)
    gap_ms: np.ndarray  # the gap before each of those tokens, ms
    clean_step_ms: float  # a decode step with nothing else in it
    step_start_s: np.ndarray  # every step of the engine
    step_ms: np.ndarray
    step_prefill_tokens: np.ndarray
    prompt_arrival_s: float
    prompt_ttft_ms: float  # the long prompt's TTFT

    @property
    def chunk_steps(self) -> np.ndarray:
        """Mask over steps: which carried prefill tokens of the long prompt (after its arrival)."""
        return (self.step_prefill_tokens > 0) & (
            self.step_start_s >= self.prompt_arrival_s
        )

    @property
    def extra_ms_per_chunk_step(self) -> np.ndarray:
        """How much slower than a clean step each chunk-carrying step was, ms."""
        return self.step_ms[self.chunk_steps] - self.clean_step_ms


def interference_trace(
    *,
    batch: int = 16,
    prompt_tokens: int = 4096,
    chunk_tokens: int | None = 512,
    model: str = DEFAULT_MODEL,
    gpu: str = DEFAULT_GPU,
    engine: str = DEFAULT_ENGINE,
    context_tokens: int = 512,
    arrival_s: float = 0.25,
    watch_s: float = 0.5,
    disaggregated: bool = False,
) -> InterferenceTrace:
    """Run the experiment: ``batch`` streams decoding, one ``prompt_tokens`` prompt arriving at ``arrival_s``.

    The streams start with ``context_tokens`` of context each and emit enough tokens to
    outlast the prompt by ``watch_s`` seconds; ``arrival_s`` counts from the moment all
    of them are decoding (their own prefills are over). ``disaggregated=True`` runs the same
    thing on 1P1D (a fast link): the streams live on the decode engine, the prompt on
    the prefill engine, and the trace stays flat.

    Taught in: why_split, interference.
    """
    b = positive_int("batch", batch, "requests")
    p = positive_int("prompt_tokens", prompt_tokens, "tokens")
    ctx = positive_int("context_tokens", context_tokens, "tokens")
    t0 = non_negative_float("arrival_s", arrival_s, "seconds")
    fleet = (
        Disaggregated(1, 1, link_gbps=3600.0)
        if disaggregated
        else Colocated(1, chunk_tokens=chunk_tokens)
    )
    ctx_prompts = np.full(b, ctx, dtype=np.int64)
    # The streams arrive together at t=0 with ctx-token prompts. Run them alone first to find when
    # they are all decoding: the prompt must arrive after that, or it would queue behind their
    # prefills. (A 2-token dry run underestimates it: in the real run, the streams that are already
    # decoding slow down the prefill steps of the others.) Events before the prompt arrives are the
    # same with or without it, so this run's first tokens are the real run's.
    guess = simulate(
        fleet,
        Workload(np.zeros(b), ctx_prompts, np.full(b, 2, dtype=np.int64)),
        model,
        gpu,
        engine=engine,
    )
    n_out = (
        int((4 * float(np.nanmax(guess.raw.first_token_s)) + t0 + watch_s) / 0.004) + 64
    )
    while True:
        warm = simulate(
            fleet,
            Workload(np.zeros(b), ctx_prompts, np.full(b, n_out, dtype=np.int64)),
            model,
            gpu,
            engine=engine,
        )
        warm_end = float(np.nanmax(warm.raw.first_token_s))
        if float(np.min(warm.last_token_s)) > warm_end + t0 + watch_s:
            break
        n_out *= 2  # the streams must outlast the window
    t0 = warm_end + t0
    arrivals = np.concatenate([np.zeros(b), [t0]])
    prompts = np.concatenate([ctx_prompts, [p]]).astype(np.int64)
    outs = np.concatenate([np.full(b, n_out), [2]]).astype(np.int64)
    res = simulate(
        fleet,
        Workload(arrivals, prompts, outs),
        model,
        gpu,
        engine=engine,
        record_steps=True,
    )
    sel = res.itl_owner == 0
    token_s = res._tokens[0][sel]
    gaps = res.itl_s[sel] * 1e3
    keep = (token_s > warm_end + 0.05) & (token_s <= t0 + watch_s)
    log = res.raw.step_log[-1] if disaggregated else res.raw.step_log[0]
    decode_only = (log[:, 2] == 0) & (log[:, 3] == b) & (log[:, 0] > warm_end)
    step_ms = (log[:, 1] - log[:, 0]) * 1e3
    clean = (
        float(np.median(step_ms[decode_only])) if decode_only.any() else float("nan")
    )
    return InterferenceTrace(
        token_s=token_s[keep],
        gap_ms=gaps[keep],
        clean_step_ms=clean,
        step_start_s=log[:, 0],
        step_ms=step_ms,
        step_prefill_tokens=log[:, 2].astype(np.int64),
        prompt_arrival_s=t0,
        prompt_ttft_ms=float(res.ttft_s[-1] * 1e3),
    )


def prefill_gap_share(result: SimResult) -> float:
    """The fraction of all inter-token gaps during which the engine also did prefill work.

    A decode step's gap runs from the engine's previous decode step to this one. It is
    *slow* if any prefill work happened in it: a chunk riding along in the same step
    (chunked prefill) or a whole prefill step in between (no chunking, the decodes
    stall). Each decode step gives one gap to every request it carries, so steps are
    weighted by their batch. This is the number behind "p50 does not move, p99 does":
    the median gap is a clean step while this share is under 50%, and the 99th
    percentile is a slow one as soon as it is over 1%. Needs a run with ``record_steps=True``.

    Taught in: interference.
    """
    if result.raw.step_log is None:
        raise ValueError(
            "prefill_gap_share needs the engines' step logs: simulate with record_steps=True"
        )
    slow = total = 0.0
    for log in result.raw.step_log:
        if not len(log):
            continue
        prefill_seen = np.cumsum(
            log[:, 2] > 0
        )  # prefill-carrying steps so far, this one included
        dec = np.flatnonzero(log[:, 3] > 0)
        if not dec.size:
            continue
        before = np.concatenate(
            [[0], prefill_seen[dec[:-1]]]
        )  # up to the previous decode step
        polluted = prefill_seen[dec] > before
        batch = log[dec, 3]
        slow += float(batch[polluted].sum())
        total += float(batch.sum())
    return slow / total if total else 0.0
