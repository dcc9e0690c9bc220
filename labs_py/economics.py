"""The economics of disaggregation: both ledgers, priced from a model's config and a link's speed.

**Colocated** serving pays an *interference tax*: a decode step that shares the
GPU with a prefill chunk waits for that chunk. Chunked prefill caps the tax at
one chunk per step, but every step that carries a chunk still pays it, and
those steps make up the tail of the inter-token latency (ITL p99).

**Disaggregated** serving removes the tax and pays a *transfer toll* instead:
the prompt's KV cache must cross the link from the prefill engine to the decode
engine before decoding can start, so it lands in time-to-first-token (TTFT).

Lab 15-03's five functions price both ledgers (:func:`kv_payload_bytes`,
:func:`transfer_seconds`, :func:`colocated_itl_worst`, :func:`disagg_ttft_penalty`,
:func:`disagg_wins`); the lab's own reference, ``labs_py/labs/lab03/solution.py``,
is written separately for learners, and a test checks that the two agree.
This module adds the chapter's "going further":

* **layer-wise overlap** (:func:`effective_transfer`, :func:`overlap_needed`):
  a prefill engine can ship layer ``i``'s KV while it computes layer ``i+1``,
  hiding part of the toll behind compute;
* **the sweep** (:func:`ledger_sweep`): both ledgers from 128 to 32k tokens;
* **queueing** (:func:`prefill_queue_wait_s`): a busy prefill fleet adds waiting to TTFT;
* **the decision per request class** (:func:`decide_per_class`);
* **the boundary** (:func:`breakeven_link_gbps`): the link speed at which the split starts to pay,
  which KV compression (GQA, MLA, FP8) moves.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from labs_py.core.validate import (
    UnitError,
    fraction,
    non_negative_float,
    non_negative_int,
    one_of,
    positive_float,
    positive_int,
)
from labs_py.defaults import DEFAULT_ENGINE, DEFAULT_GPU
from labs_py.models import get_model
from labs_py.steptime import chunk_attention_pairs, step_coefficients

__all__ = [
    "kv_payload_bytes",
    "transfer_seconds",
    "colocated_itl_worst",
    "disagg_ttft_penalty",
    "disagg_wins",
    "Verdict",
    "REASONS",
    "SPLIT_PAYS",
    "LINK_TOO_SLOW",
    "NO_INTERFERENCE",
    "effective_transfer",
    "overlap_needed",
    "LEDGER_DECODE_BATCH",
    "LEDGER_CHUNK_TOKENS",
    "StepTimes",
    "step_times",
    "Ledgers",
    "ledgers",
    "ledger_sweep",
    "breakeven_link_gbps",
    "QUEUE_MODELS",
    "prefill_queue_wait_s",
    "disagg_ttft_s",
    "RequestClass",
    "decide_per_class",
]


# --------------------------------------------------------------------------- the verdict
SPLIT_PAYS = "split pays"
LINK_TOO_SLOW = "link too slow"
NO_INTERFERENCE = "no interference to cure"
REASONS: tuple[str, ...] = (SPLIT_PAYS, LINK_TOO_SLOW, NO_INTERFERENCE)


@dataclass(frozen=True)
class Verdict:
    """Whether disaggregating pays, the reason, and the numbers behind it.

    Taught in: disaggregation_trade.
    """

    wins: bool
    reason: str  # one of REASONS
    payload_bytes: int  # KV cache the prompt leaves behind
    transfer_s: float  # time to move it over the link
    ttft_penalty: float  # transfer_s / prefill_s, a fraction
    itl_worst_s: (
        float  # colocated worst inter-token latency: a decode step plus a prefill chunk
    )
    itl_inflation: float  # itl_worst_s / decode_step_s: the interference tax as a ratio
    max_ttft_penalty: float  # the budget the penalty was held to
    min_itl_inflation: float  # the inflation below which there is nothing to cure

    def __post_init__(self) -> None:
        if self.reason not in REASONS:
            raise ValueError(f"reason must be one of {REASONS}; got {self.reason!r}")
        if self.wins != (self.reason == SPLIT_PAYS):
            raise ValueError(f"wins={self.wins} contradicts reason {self.reason!r}")

    def __str__(self) -> str:
        head = "Disaggregate" if self.wins else "Stay colocated"
        return (
            f"{head}: {self.reason}. TTFT penalty {self.ttft_penalty:.1%} (budget {self.max_ttft_penalty:.0%}); "
            f"colocated worst ITL {self.itl_worst_s * 1e3:.1f} ms = {self.itl_inflation:.2f}x a clean step "
            f"(cure needed above {self.min_itl_inflation:.2f}x)."
        )


# --------------------------------------------------------------------------- the five functions of lab 15-03
#: No real link is 100 Tb/s one way. A "Gb/s" figure above this is a figure in
#: bits/s (or another unit) that was not converted: an error, not a fast link.
IMPLAUSIBLE_GBPS = 1e5


def kv_payload_bytes(prompt_tokens: int, kv_bytes_per_token: int) -> int:
    """Bytes of KV cache a prompt leaves behind after prefill.

    Every prompt token leaves one K and one V vector per KV head in every layer,
    so the payload is linear in the prompt: ``prompt_tokens * kv_bytes_per_token``.

    >>> kv_payload_bytes(2048, 131072) / 2**20   # Llama-3.1-8B, bf16: 256 MiB
    256.0

    Taught in: disaggregation_trade, real_pair, plan_a_deployment, compression_and_pooling.
    """
    tokens = positive_int("prompt_tokens", prompt_tokens, "tokens")
    per_token = positive_int(
        "kv_bytes_per_token", kv_bytes_per_token, "bytes per token"
    )
    return tokens * per_token


def _link_gbps(link_gbps: object) -> float:
    """Validate a link speed in Gb/s, and catch the two common unit mistakes."""
    if isinstance(link_gbps, str):
        m = re.fullmatch(r"\s*([0-9.]+)\s*([GMT][bB])(?:/s|ps)?\s*", link_gbps)
        hint = ""
        if m and m.group(2) in ("GB", "TB"):
            factor = 8 if m.group(2) == "GB" else 8000
            hint = f" {link_gbps!r} is in bytes per second: that is {float(m.group(1)) * factor:g} Gb/s."
        raise UnitError(
            f"link_gbps must be a number in gigabits per second (Gb/s, 1 Gb = 1e9 bits); got the string "
            f"{link_gbps!r}.{hint} Convert quotes with labs_py.links.to_gbps(value, unit)."
        )
    gbps = positive_float("link_gbps", link_gbps, "Gb/s")
    if gbps > IMPLAUSIBLE_GBPS:
        raise UnitError(
            f"link_gbps={link_gbps!r} Gb/s is faster than any link ({IMPLAUSIBLE_GBPS:g} Gb/s); "
            f"it looks like bits per second. link_gbps is in Gb/s, e.g. 200 for a 200 Gb/s fabric."
        )
    return gbps


def transfer_seconds(payload_bytes: int, link_gbps: float) -> float:
    """Seconds to push ``payload_bytes`` over a link of ``link_gbps`` gigabits per second.

    Bytes become bits (x8), and a Gb/s link moves 1e9 bits per second:
    ``seconds = payload_bytes * 8 / (link_gbps * 1e9)``. This is the line-rate
    lower bound; a real transfer adds per-transfer setup and protocol overhead.

    >>> round(transfer_seconds(256 * 2**20, 200) * 1e3, 1)   # 256 MiB over 200 Gb/s
    10.7

    Taught in: disaggregation_trade, goodput_and_split, real_pair, plan_a_deployment.
    """
    payload = non_negative_int("payload_bytes", payload_bytes, "bytes")
    gbps = _link_gbps(link_gbps)
    return payload * 8 / (gbps * 1e9)


def colocated_itl_worst(decode_step_s: float, chunk_s: float) -> float:
    """Worst inter-token latency when prefill chunks ride along with decode steps.

    With chunked prefill, a step carries at most one chunk, so the worst step is
    a clean decode step plus one chunk's worth of prefill compute.

    >>> round(colocated_itl_worst(0.010, 0.025), 3)
    0.035

    Taught in: disaggregation_trade.
    """
    step = positive_float("decode_step_s", decode_step_s, "seconds")
    chunk = non_negative_float("chunk_s", chunk_s, "seconds")
    return step + chunk


def disagg_ttft_penalty(transfer_s: float, prefill_s: float) -> float:
    """The transfer toll as a fraction of the prefill it follows: ``transfer_s / prefill_s``.

    0.05 means TTFT grows by 5% over colocated prefill; above 1.0 the KV takes
    longer to move than it took to compute.

    Taught in: no chapter calls it directly; it works behind disaggregation_trade, real_pair.
    """
    transfer = non_negative_float("transfer_s", transfer_s, "seconds")
    prefill = positive_float("prefill_s", prefill_s, "seconds")
    return transfer / prefill


def disagg_wins(
    *,
    prompt_tokens: int,
    kv_bytes_per_token: int,
    link_gbps: float,
    prefill_s: float,
    decode_step_s: float,
    chunk_s: float,
    max_ttft_penalty: float = 0.10,
    min_itl_inflation: float = 1.25,
) -> Verdict:
    """Decide whether splitting prefill from decode pays, and say why.

    Two questions, in this order:

    1. **Is there interference to cure?** Colocated, the worst ITL is a step plus
       a chunk. If that is less than ``min_itl_inflation`` times a clean step,
       the tail is already fine: the split has nothing to buy.
    2. **Is the link fast enough?** The split's toll is the KV transfer. If it
       adds more than ``max_ttft_penalty`` (a fraction) to TTFT, the link is too slow.

    Otherwise the split pays: clean decode steps for an affordable toll.

    Taught in: disaggregation_trade.
    """
    budget = positive_float(
        "max_ttft_penalty", max_ttft_penalty, "fraction of prefill time (0.10 = 10%)"
    )
    cure_above = positive_float(
        "min_itl_inflation", min_itl_inflation, "ratio of worst ITL to a clean step"
    )
    if cure_above < 1.0:
        raise ValueError(
            f"min_itl_inflation must be a ratio of at least 1.0 (worst ITL / clean step); got {min_itl_inflation!r}"
        )
    payload = kv_payload_bytes(prompt_tokens, kv_bytes_per_token)
    transfer = transfer_seconds(payload, link_gbps)
    penalty = disagg_ttft_penalty(transfer, prefill_s)
    itl_worst = colocated_itl_worst(decode_step_s, chunk_s)
    inflation = itl_worst / decode_step_s

    if inflation < cure_above:
        wins, reason = False, NO_INTERFERENCE
    elif penalty > budget:
        wins, reason = False, LINK_TOO_SLOW
    else:
        wins, reason = True, SPLIT_PAYS
    return Verdict(
        wins=wins,
        reason=reason,
        payload_bytes=payload,
        transfer_s=transfer,
        ttft_penalty=penalty,
        itl_worst_s=itl_worst,
        itl_inflation=inflation,
        max_ttft_penalty=budget,
        min_itl_inflation=cure_above,
    )


# --------------------------------------------------------------------------- overlap
def effective_transfer(transfer_s: float, prefill_s: float, overlap: float) -> float:
    """The part of the transfer toll that TTFT still sees when transfer overlaps prefill.

    With layer-wise streaming, layer ``i``'s KV can leave while layer ``i+1`` is
    computed. ``overlap`` is the fraction of the prefill time during which the
    link is already busy (0 = ship after prefill ends, 1 = the link runs for the
    whole prefill). The hidden part is at most the whole transfer:

        exposed = transfer_s - min(transfer_s, overlap * prefill_s)

    Taught in: disaggregation_trade.
    """
    t = non_negative_float("transfer_s", transfer_s, "seconds")
    p = positive_float("prefill_s", prefill_s, "seconds")
    f = fraction("overlap", overlap)
    return t - min(t, f * p)


def overlap_needed(
    transfer_s: float, prefill_s: float, max_ttft_penalty: float
) -> float:
    """The overlap fraction that brings the exposed toll down to ``max_ttft_penalty`` of prefill.

    Solves ``transfer_s - overlap * prefill_s = max_ttft_penalty * prefill_s``.
    Returns 0 when no overlap is needed. A result above 1 means that even a link
    busy for the whole prefill cannot hide enough: the link is too slow, overlap or not.

    Taught in: disaggregation_trade.
    """
    t = non_negative_float("transfer_s", transfer_s, "seconds")
    p = positive_float("prefill_s", prefill_s, "seconds")
    budget = positive_float(
        "max_ttft_penalty", max_ttft_penalty, "fraction of prefill time"
    )
    return max(0.0, (t - budget * p) / p)


# --------------------------------------------------------------------------- step times, from one source
#: The decode batch the ledgers price a clean step at, unless told: a loaded but not saturated engine.
LEDGER_DECODE_BATCH = 16
#: The prefill chunk the ledgers price, unless told (vLLM's chunked prefill works in chunks of this order).
LEDGER_CHUNK_TOKENS = 512


@dataclass(frozen=True)
class StepTimes:
    """The step times both ledgers need, for one prompt on one model, GPU and TP, from the calibrated step model.

    * ``prefill_s``: the whole prompt prefilled alone in one step (compute, no client overhead);
    * ``decode_step_s``: a clean decode step of ``decode_batch`` requests, each with the prompt's KV;
    * ``chunk_s``: what such a step gains when it also carries one ``chunk_tokens`` chunk of the
      prompt (averaged over the prompt's chunks: later chunks attend to more context);
    * ``client_overhead_s``: what a client's TTFT adds to the prefill (HTTP, tokenisation, admission).

    Taught in: disaggregation_trade.
    """

    model_id: str
    gpu: str
    tp: int
    prompt_tokens: int
    decode_batch: int
    chunk_tokens: int
    prefill_s: float
    decode_step_s: float
    chunk_s: float
    client_overhead_s: float

    @property
    def client_ttft_s(self) -> float:
        """The TTFT a client sees for this prompt alone: client overhead + prefill."""
        return self.client_overhead_s + self.prefill_s


def step_times(
    model: str,
    prompt_tokens: int,
    *,
    gpu: str = DEFAULT_GPU,
    tp: int | None = None,
    decode_batch: int = LEDGER_DECODE_BATCH,
    chunk_tokens: int = LEDGER_CHUNK_TOKENS,
    kv_dtype: str = "bf16",
    engine: str = DEFAULT_ENGINE,
) -> StepTimes:
    """Prefill, clean decode step and chunk time for one prompt: one calibrated source for every ledger.

    ``tp=None`` takes the fewest GPUs that hold the model (a 70B model is never priced on one 80 GB GPU).

    Taught in: disaggregation_trade.
    """
    n = positive_int("prompt_tokens", prompt_tokens, "tokens")
    b = positive_int("decode_batch", decode_batch, "requests")
    c = positive_int("chunk_tokens", chunk_tokens, "tokens per chunk")
    co = step_coefficients(model, gpu, tp=tp, engine=engine, kv_dtype=kv_dtype)
    clean = co.decode_seconds(b, n)
    starts = range(0, n, c)
    extra = [
        co.step_seconds(
            min(c, n - s), chunk_attention_pairs(min(c, n - s), s), 1, b, b * n
        )
        - clean
        for s in starts
    ]
    return StepTimes(
        model_id=co.model_id,
        gpu=co.gpu_id,
        tp=co.tp,
        prompt_tokens=n,
        decode_batch=b,
        chunk_tokens=c,
        prefill_s=co.prefill_seconds(n),
        decode_step_s=clean,
        chunk_s=sum(extra) / len(extra),
        client_overhead_s=co.client_overhead_s,
    )


# --------------------------------------------------------------------------- both ledgers
@dataclass(frozen=True)
class Ledgers:
    """Both ledgers for one prompt on one model, link and schedule.

    The *interference tax* is paid per output token, by every decode step that
    carries a prefill chunk; the *transfer toll* is paid once per request, in TTFT.
    ``client_overhead_s`` is what a client's TTFT adds on both sides of the trade
    (0 when the step times were given by hand).

    Taught in: disaggregation_trade.
    """

    model_id: str
    prompt_tokens: int
    kv_dtype: str
    link_gbps: float
    payload_bytes: int
    prefill_s: float
    transfer_s: float
    ttft_penalty: float
    decode_step_s: float
    chunk_s: float
    itl_worst_s: float
    client_overhead_s: float = 0.0

    @property
    def tax_per_token_s(self) -> float:
        """Extra time a decode step pays when it carries a chunk: the chunk itself."""
        return self.itl_worst_s - self.decode_step_s

    @property
    def client_ttft_penalty(self) -> float:
        """The toll as a fraction of the TTFT a client sees (client overhead + prefill), not of prefill alone."""
        return self.transfer_s / (self.client_overhead_s + self.prefill_s)

    @property
    def chunks_per_prompt(self) -> int:
        """How many steps a colocated prefill of this prompt spreads its chunks over."""
        if self.chunk_s == 0:
            return 0
        return int(np.ceil(self.prefill_s / self.chunk_s - 1e-9))


def ledgers(
    model: str,
    prompt_tokens: int,
    link_gbps: float,
    *,
    decode_step_s: float | None = None,
    chunk_s: float | None = None,
    prefill_s: float | None = None,
    kv_dtype: str = "bf16",
    gpu: str = DEFAULT_GPU,
    tp: int | None = None,
) -> Ledgers:
    """Price both ledgers. Step times not given come from :func:`step_times` (the calibrated step model).

    Give all three (``prefill_s``, ``decode_step_s``, ``chunk_s``) to price a lab's stated
    example, such as the course's 205 ms prefill, 10 ms step and 25 ms chunk.

    Taught in: disaggregation_trade.
    """
    spec = get_model(model)
    payload = kv_payload_bytes(prompt_tokens, spec.kv_bytes_per_token(kv_dtype))
    given = (prefill_s, decode_step_s, chunk_s)
    st = (
        None
        if None not in given
        else step_times(spec.id, prompt_tokens, gpu=gpu, tp=tp, kv_dtype=kv_dtype)
    )
    pre = (
        st.prefill_s
        if prefill_s is None
        else positive_float("prefill_s", prefill_s, "seconds")
    )
    step = (
        st.decode_step_s
        if decode_step_s is None
        else positive_float("decode_step_s", decode_step_s, "seconds")
    )
    chunk = (
        st.chunk_s
        if chunk_s is None
        else non_negative_float("chunk_s", chunk_s, "seconds")
    )
    t = transfer_seconds(payload, link_gbps)
    return Ledgers(
        model_id=spec.id,
        prompt_tokens=int(prompt_tokens),
        kv_dtype=kv_dtype,
        link_gbps=float(link_gbps),
        payload_bytes=payload,
        prefill_s=pre,
        transfer_s=t,
        ttft_penalty=disagg_ttft_penalty(t, pre),
        decode_step_s=step,
        chunk_s=chunk,
        itl_worst_s=colocated_itl_worst(step, chunk),
        client_overhead_s=st.client_overhead_s if st is not None else 0.0,
    )


def ledger_sweep(
    model: str,
    link_gbps: float,
    prompt_tokens: Sequence[int] | None = None,
    *,
    kv_dtype: str = "bf16",
    gpu: str = DEFAULT_GPU,
    tp: int | None = None,
    prefill_tokens_per_s: float | None = None,
    chunk_tokens: int = 512,
    decode_batch: int = 16,
    decode_context_tokens: int = 1024,
) -> dict[str, np.ndarray]:
    """Both ledgers over a range of prompt lengths (default: powers of two, 128 to 32k tokens).

    The split's ledger is the toll (``transfer_s``, the prompt's KV over the link) against
    prefill (``ttft_penalty``). The colocated ledger is the tax: a colocated engine runs the
    prompt in ``ceil(n / chunk_tokens)`` chunks, each inside a step that also decodes
    ``decode_batch`` requests of ``decode_context_tokens`` context, and every one of those
    requests waits for the chunk's extra time (``chunk_extra_s``) in that step. ``tax_s`` is
    the total one co-running stream pays for the prompt; ``worst_itl_s`` its worst gap.

    With ``prefill_tokens_per_s`` given, prefill time is linear in the prompt
    (as the course's lab assumes), a chunk costs its share of it, and the tax equals the
    prefill. Without it, both come from the calibrated step model, whose fixed costs make
    short prompts relatively slow and whose attention term grows with the square of
    the prompt, so the penalty ratio rises and then falls.

    Taught in: disaggregation_trade.
    """
    grid = np.array(
        prompt_tokens if prompt_tokens is not None else 2 ** np.arange(7, 16),
        dtype=np.int64,
    )
    spec = get_model(model)
    per_token = spec.kv_bytes_per_token(kv_dtype)
    payload = np.array(
        [kv_payload_bytes(int(n), per_token) for n in grid], dtype=np.int64
    )
    transfer = np.array([transfer_seconds(int(b), link_gbps) for b in payload])
    chunk = positive_int("chunk_tokens", chunk_tokens, "tokens")
    batch = positive_int("decode_batch", decode_batch, "requests")
    ctx = positive_int("decode_context_tokens", decode_context_tokens, "tokens")
    n_chunks = -(-grid // chunk)
    if prefill_tokens_per_s is None:
        co = step_coefficients(spec, gpu, tp=tp, kv_dtype=kv_dtype)
        prefill = np.array([co.prefill_seconds(int(n)) for n in grid])
        clean = co.decode_seconds(batch, ctx)
        extra = []
        for n, k in zip(grid, n_chunks):
            c = int(n) / int(
                k
            )  # the prompt in k equal chunks; chunk i attends to the i-1 before it
            pairs = sum(c * c * (i + 0.5) for i in range(int(k))) / k
            mixed = co.step_seconds(c, pairs, 1, batch, batch * ctx)
            extra.append(mixed - clean)
        chunk_extra = np.array(extra)
    else:
        rate = positive_float(
            "prefill_tokens_per_s", prefill_tokens_per_s, "tokens per second"
        )
        prefill = grid / rate
        clean = 0.0
        chunk_extra = np.minimum(grid, chunk) / rate
    return {
        "prompt_tokens": grid,
        "payload_bytes": payload,
        "transfer_s": transfer,
        "prefill_s": prefill,
        "ttft_penalty": transfer / prefill,
        "chunk_extra_s": chunk_extra,
        "tax_s": n_chunks * chunk_extra,
        "worst_itl_s": clean + chunk_extra,
    }


def breakeven_link_gbps(
    payload_bytes: int, prefill_s: float, max_ttft_penalty: float
) -> float:
    """The slowest link (Gb/s) at which the toll stays within ``max_ttft_penalty`` of prefill.

    From ``payload * 8 / (gbps * 1e9) = max_ttft_penalty * prefill_s``. Halving the
    bytes per token (FP8 KV, fewer KV heads, MLA) halves this speed: compression
    moves the decision boundary toward slower links.

    Taught in: disaggregation_trade, compression_and_pooling.
    """
    b = positive_int("payload_bytes", payload_bytes, "bytes")
    p = positive_float("prefill_s", prefill_s, "seconds")
    budget = positive_float(
        "max_ttft_penalty", max_ttft_penalty, "fraction of prefill time"
    )
    return b * 8 / (budget * p * 1e9)


# --------------------------------------------------------------------------- queueing
QUEUE_MODELS: tuple[str, ...] = ("M/D/1", "M/M/1")


def prefill_queue_wait_s(
    prefill_s: float, utilisation: float, queue_model: str = "M/D/1"
) -> float:
    """Mean time a prompt waits for a busy prefill engine before its prefill starts.

    We use **M/D/1** by default, as DistServe does (Zhong et al., OSDI 2024, sec. 3):
    arrivals are Poisson (M), and the service time of a prefill is *deterministic*
    (D) for a given prompt length, because prefill is compute-bound and runs one
    prompt at a time at a fixed speed. The Pollaczek-Khinchine formula gives

        W = rho * D / (2 * (1 - rho))            (M/D/1)

    M/M/1 assumes exponentially varying service and waits twice as long,
    ``rho * D / (1 - rho)``: it is shown only to make the point that service-time
    variance, not just utilisation, sets the queue.

    Taught in: goodput_and_split.
    """
    d = positive_float("prefill_s", prefill_s, "seconds")
    rho = fraction("utilisation", utilisation, inclusive_high=False)
    one_of("queue_model", queue_model, QUEUE_MODELS, "queueing model")
    wait = rho * d / (1.0 - rho)
    return wait / 2.0 if queue_model == "M/D/1" else wait


def disagg_ttft_s(
    prefill_s: float, transfer_s: float, utilisation: float, queue_model: str = "M/D/1"
) -> float:
    """Mean TTFT of a disaggregated request: queue wait + prefill + exposed transfer.

    Taught in: disaggregation_trade.
    """
    return (
        prefill_queue_wait_s(prefill_s, utilisation, queue_model)
        + prefill_s
        + non_negative_float("transfer_s", transfer_s, "seconds")
    )


# --------------------------------------------------------------------------- per request class
@dataclass(frozen=True)
class RequestClass:
    """A kind of request with its own shape and its own TTFT budget.

    Taught in: disaggregation_trade.
    """

    name: str
    prompt_tokens: int
    output_tokens: int
    max_ttft_penalty: (
        float  # how much extra TTFT (fraction of prefill) this class tolerates
    )


def decide_per_class(
    classes: Sequence[RequestClass],
    model: str,
    link_gbps: float,
    *,
    decode_step_s: float | None = None,
    chunk_s: float | None = None,
    kv_dtype: str = "bf16",
    gpu: str = DEFAULT_GPU,
    tp: int | None = None,
    min_itl_inflation: float = 1.25,
) -> dict[str, Verdict]:
    """The split decision for each request class, rather than once for the whole cluster.

    Classes differ in prompt length (so in payload and in prefill time), in output
    length (a class that emits a single token has no inter-token latency to protect)
    and in how much TTFT they can give up. A router can send each class its own way.
    Step times not given come from :func:`step_times`, per class.

    Taught in: disaggregation_trade.
    """
    spec = get_model(model)
    out: dict[str, Verdict] = {}
    for c in classes:
        positive_int("output_tokens", c.output_tokens, "tokens")
        st = step_times(spec.id, c.prompt_tokens, gpu=gpu, tp=tp, kv_dtype=kv_dtype)
        step = st.decode_step_s if decode_step_s is None else decode_step_s
        # one output token means no decode steps after the first: no ITL, nothing to cure
        chunk = (
            (st.chunk_s if chunk_s is None else chunk_s) if c.output_tokens > 1 else 0.0
        )
        out[c.name] = disagg_wins(
            prompt_tokens=c.prompt_tokens,
            kv_bytes_per_token=spec.kv_bytes_per_token(kv_dtype),
            link_gbps=link_gbps,
            prefill_s=st.prefill_s,
            decode_step_s=step,
            chunk_s=chunk,
            max_ttft_penalty=c.max_ttft_penalty,
            min_itl_inflation=min_itl_inflation,
        )
    return out
