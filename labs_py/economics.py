"""The economics of disaggregation: both ledgers, priced from a model's config and a link's speed.

The lab's five functions are re-exported from the reference solution
(``labs_py.labs.lab03.solution``); this module adds the chapter's "going further":

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

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from labs_py.labs.lab03.solution import (
    colocated_itl_worst,
    disagg_ttft_penalty,
    disagg_wins,
    kv_payload_bytes,
    transfer_seconds,
)
from labs_py.labs.lab03.verdict import LINK_TOO_SLOW, NO_INTERFERENCE, REASONS, SPLIT_PAYS, Verdict
from labs_py.models import get_model
from labs_py.steptime import prefill_seconds
from labs_py.validate import fraction, non_negative_float, one_of, positive_float, positive_int

__all__ = [
    "kv_payload_bytes", "transfer_seconds", "colocated_itl_worst", "disagg_ttft_penalty", "disagg_wins",
    "Verdict", "REASONS", "SPLIT_PAYS", "LINK_TOO_SLOW", "NO_INTERFERENCE",
    "effective_transfer", "overlap_needed", "Ledgers", "ledgers", "ledger_sweep", "breakeven_link_gbps",
    "QUEUE_MODELS", "prefill_queue_wait_s", "disagg_ttft_s", "RequestClass", "decide_per_class",
]


# --------------------------------------------------------------------------- overlap
def effective_transfer(transfer_s: float, prefill_s: float, overlap: float) -> float:
    """The part of the transfer toll that TTFT still sees when transfer overlaps prefill.

    With layer-wise streaming, layer ``i``'s KV can leave while layer ``i+1`` is
    computed. ``overlap`` is the fraction of the prefill time during which the
    link is already busy (0 = ship after prefill ends, 1 = the link runs for the
    whole prefill). The hidden part is at most the whole transfer:

        exposed = transfer_s - min(transfer_s, overlap * prefill_s)
    """
    t = non_negative_float("transfer_s", transfer_s, "seconds")
    p = positive_float("prefill_s", prefill_s, "seconds")
    f = fraction("overlap", overlap)
    return t - min(t, f * p)


def overlap_needed(transfer_s: float, prefill_s: float, max_ttft_penalty: float) -> float:
    """The overlap fraction that brings the exposed toll down to ``max_ttft_penalty`` of prefill.

    Solves ``transfer_s - overlap * prefill_s = max_ttft_penalty * prefill_s``.
    Returns 0 when no overlap is needed. A result above 1 means that even a link
    busy for the whole prefill cannot hide enough: the link is too slow, overlap or not.
    """
    t = non_negative_float("transfer_s", transfer_s, "seconds")
    p = positive_float("prefill_s", prefill_s, "seconds")
    budget = positive_float("max_ttft_penalty", max_ttft_penalty, "fraction of prefill time")
    return max(0.0, (t - budget * p) / p)


# --------------------------------------------------------------------------- both ledgers
@dataclass(frozen=True)
class Ledgers:
    """Both ledgers for one prompt on one model, link and schedule.

    The *interference tax* is paid per output token, by every decode step that
    carries a prefill chunk; the *transfer toll* is paid once per request, in TTFT.
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

    @property
    def tax_per_token_s(self) -> float:
        """Extra time a decode step pays when it carries a chunk: the chunk itself."""
        return self.itl_worst_s - self.decode_step_s

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
    decode_step_s: float,
    chunk_s: float,
    kv_dtype: str = "bf16",
    gpu: str = "H100-SXM",
    prefill_s: float | None = None,
) -> Ledgers:
    """Price both ledgers. Prefill time comes from the step-time model unless given."""
    spec = get_model(model)
    payload = kv_payload_bytes(prompt_tokens, spec.kv_bytes_per_token(kv_dtype))
    pre = prefill_seconds(spec, prompt_tokens, gpu) if prefill_s is None else positive_float(
        "prefill_s", prefill_s, "seconds"
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
        decode_step_s=float(decode_step_s),
        chunk_s=float(chunk_s),
        itl_worst_s=colocated_itl_worst(decode_step_s, chunk_s),
    )


def ledger_sweep(
    model: str,
    link_gbps: float,
    prompt_tokens: Sequence[int] | None = None,
    *,
    kv_dtype: str = "bf16",
    gpu: str = "H100-SXM",
    prefill_tokens_per_s: float | None = None,
) -> dict[str, np.ndarray]:
    """Both ledgers over a range of prompt lengths (default: powers of two, 128 to 32k tokens).

    With ``prefill_tokens_per_s`` given, prefill time is linear in the prompt
    (as the seed lab assumes), and so is the payload: the penalty ratio is flat.
    Without it, prefill comes from the step-time model, whose attention term grows
    with the square of the prompt, so the ratio falls slowly for long prompts.
    """
    grid = np.array(prompt_tokens if prompt_tokens is not None else 2 ** np.arange(7, 16), dtype=np.int64)
    spec = get_model(model)
    per_token = spec.kv_bytes_per_token(kv_dtype)
    payload = np.array([kv_payload_bytes(int(n), per_token) for n in grid], dtype=np.int64)
    transfer = np.array([transfer_seconds(int(b), link_gbps) for b in payload])
    if prefill_tokens_per_s is None:
        prefill = np.array([prefill_seconds(spec, int(n), gpu) for n in grid])
    else:
        rate = positive_float("prefill_tokens_per_s", prefill_tokens_per_s, "tokens per second")
        prefill = grid / rate
    return {
        "prompt_tokens": grid,
        "payload_bytes": payload,
        "transfer_s": transfer,
        "prefill_s": prefill,
        "ttft_penalty": transfer / prefill,
    }


def breakeven_link_gbps(payload_bytes: int, prefill_s: float, max_ttft_penalty: float) -> float:
    """The slowest link (Gb/s) at which the toll stays within ``max_ttft_penalty`` of prefill.

    From ``payload * 8 / (gbps * 1e9) = max_ttft_penalty * prefill_s``. Halving the
    bytes per token (FP8 KV, fewer KV heads, MLA) halves this speed: compression
    moves the decision boundary toward slower links.
    """
    b = positive_int("payload_bytes", payload_bytes, "bytes")
    p = positive_float("prefill_s", prefill_s, "seconds")
    budget = positive_float("max_ttft_penalty", max_ttft_penalty, "fraction of prefill time")
    return b * 8 / (budget * p * 1e9)


# --------------------------------------------------------------------------- queueing
QUEUE_MODELS: tuple[str, ...] = ("M/D/1", "M/M/1")


def prefill_queue_wait_s(prefill_s: float, utilisation: float, queue_model: str = "M/D/1") -> float:
    """Mean time a prompt waits for a busy prefill engine before its prefill starts.

    We use **M/D/1** by default, as DistServe does (Zhong et al., OSDI 2024, sec. 3):
    arrivals are Poisson (M), and the service time of a prefill is *deterministic*
    (D) for a given prompt length, because prefill is compute-bound and runs one
    prompt at a time at a fixed speed. The Pollaczek-Khinchine formula gives

        W = rho * D / (2 * (1 - rho))            (M/D/1)

    M/M/1 assumes exponentially varying service and waits twice as long,
    ``rho * D / (1 - rho)``: it is shown only to make the point that service-time
    variance, not just utilisation, sets the queue.
    """
    d = positive_float("prefill_s", prefill_s, "seconds")
    rho = fraction("utilisation", utilisation, inclusive_high=False)
    one_of("queue_model", queue_model, QUEUE_MODELS, "queueing model")
    wait = rho * d / (1.0 - rho)
    return wait / 2.0 if queue_model == "M/D/1" else wait


def disagg_ttft_s(prefill_s: float, transfer_s: float, utilisation: float, queue_model: str = "M/D/1") -> float:
    """Mean TTFT of a disaggregated request: queue wait + prefill + exposed transfer."""
    return prefill_queue_wait_s(prefill_s, utilisation, queue_model) + prefill_s + non_negative_float(
        "transfer_s", transfer_s, "seconds"
    )


# --------------------------------------------------------------------------- per request class
@dataclass(frozen=True)
class RequestClass:
    """A kind of request with its own shape and its own TTFT budget."""

    name: str
    prompt_tokens: int
    output_tokens: int
    max_ttft_penalty: float  # how much extra TTFT (fraction of prefill) this class tolerates


def decide_per_class(
    classes: Sequence[RequestClass],
    model: str,
    link_gbps: float,
    *,
    decode_step_s: float,
    chunk_s: float,
    kv_dtype: str = "bf16",
    gpu: str = "H100-SXM",
    min_itl_inflation: float = 1.25,
) -> dict[str, Verdict]:
    """The split decision for each request class, rather than once for the whole cluster.

    Classes differ in prompt length (so in payload and in prefill time), in output
    length (a class that emits a single token has no inter-token latency to protect)
    and in how much TTFT they can give up. A router can send each class its own way.
    """
    spec = get_model(model)
    out: dict[str, Verdict] = {}
    for c in classes:
        positive_int("output_tokens", c.output_tokens, "tokens")
        pre = prefill_seconds(spec, c.prompt_tokens, gpu)
        # one output token means no decode steps after the first: no ITL, nothing to cure
        chunk = chunk_s if c.output_tokens > 1 else 0.0
        out[c.name] = disagg_wins(
            prompt_tokens=c.prompt_tokens,
            kv_bytes_per_token=spec.kv_bytes_per_token(kv_dtype),
            link_gbps=link_gbps,
            prefill_s=pre,
            decode_step_s=decode_step_s,
            chunk_s=chunk,
            max_ttft_penalty=c.max_ttft_penalty,
            min_itl_inflation=min_itl_inflation,
        )
    return out
