"""Pooled KV (Mooncake, LMCache): when fetching a cached prefix beats recomputing it.

A prefix whose KV was computed before (a system prompt, a document, an earlier
turn) can be *recomputed* by prefilling it again, or *fetched* from wherever its
KV was kept (CPU memory, a neighbour's GPU, a distributed pool). Fetching moves
``prefix_tokens x kv_bytes_per_token`` bytes over a link; recomputing spends GPU
time at the prefill rate. So reuse pays when the link delivers KV bytes faster
than prefill produces them:

    link bytes/s  >  kv_bytes_per_token x prefill tokens/s            (Mooncake's condition)

Both sides come from the book's single models: transfer time from
:func:`labs_py.economics.transfer_seconds`, prefill time from the simulator's
step-time model (:func:`labs_py.steptime.step_coefficients`, default engine).
Because attention makes long prefills super-linear, the condition gets easier
to meet for longer prefixes, and KV compression (FP8, GQA, MLA) lowers the bytes
side: both push the balance toward reuse.
"""

from __future__ import annotations

from dataclasses import dataclass

from labs_py.core.validate import non_negative_float, non_negative_int, positive_int
from labs_py.defaults import DEFAULT_ENGINE, DEFAULT_GPU
from labs_py.economics import kv_payload_bytes, transfer_seconds
from labs_py.models import get_model
from labs_py.steptime import step_coefficients


@dataclass(frozen=True)
class FetchOrRecompute:
    """The two ways to get a cached prefix's KV back, priced.

    Taught in: no chapter calls it directly; it works behind compression_and_pooling.
    """

    prefix_tokens: int
    payload_bytes: int
    fetch_s: float
    recompute_s: float
    breakeven_gbps: float  # the link speed at which both take equally long

    @property
    def fetch_pays(self) -> bool:
        return self.fetch_s < self.recompute_s

    @property
    def speedup(self) -> float:
        """How many times faster fetching is than recomputing (below 1: slower)."""
        return self.recompute_s / self.fetch_s


def recompute_seconds(
    model: str,
    prefix_tokens: int,
    gpu: str = DEFAULT_GPU,
    *,
    engine: str = DEFAULT_ENGINE,
) -> float:
    """Seconds to prefill ``prefix_tokens`` again, alone in a step, on one GPU.

    Taught in: no chapter calls it directly; it works behind compression_and_pooling.
    """
    n = positive_int("prefix_tokens", prefix_tokens, "tokens")
    return step_coefficients(model, gpu, engine=engine).prefill_seconds(n)


def fetch_or_recompute(
    model: str,
    prefix_tokens: int,
    link_gbps: float,
    gpu: str = DEFAULT_GPU,
    *,
    kv_dtype: str = "bf16",
    fetch_setup_s: float = 0.0,
    engine: str = DEFAULT_ENGINE,
) -> FetchOrRecompute:
    """Price both ways of recovering a prefix's KV; ``fetch_setup_s`` is a fixed cost per fetch.

    Taught in: compression_and_pooling.
    """
    positive_int("prefix_tokens", prefix_tokens, "tokens")
    payload = kv_payload_bytes(
        prefix_tokens, get_model(model).kv_bytes_per_token(kv_dtype)
    )
    setup = non_negative_float("fetch_setup_s", fetch_setup_s, "seconds")
    fetch = transfer_seconds(payload, link_gbps) + setup
    recompute = recompute_seconds(model, prefix_tokens, gpu, engine=engine)
    if recompute <= setup:
        breakeven = float(
            "inf"
        )  # the setup alone costs more than recomputing: no link is fast enough
    else:
        breakeven = payload * 8 / ((recompute - setup) * 1e9)
    return FetchOrRecompute(int(prefix_tokens), payload, fetch, recompute, breakeven)


def warm_prefill_seconds(
    model: str,
    prompt_tokens: int,
    cached_tokens: int,
    link_gbps: float,
    gpu: str = DEFAULT_GPU,
    *,
    kv_dtype: str = "bf16",
    engine: str = DEFAULT_ENGINE,
) -> float:
    """Prefill time of a prompt whose first ``cached_tokens`` come from a KV pool.

    The cached KV is fetched first, then only the suffix is prefilled (its attention
    still reaches back over the cached prefix). No overlap between the two is assumed,
    which is conservative: LMCache and Mooncake overlap loading with compute layer by layer.

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    p = positive_int("prompt_tokens", prompt_tokens, "tokens")
    h = non_negative_int("cached_tokens", cached_tokens, "tokens")
    if h > p:
        raise ValueError(
            f"cached_tokens ({h} tokens) cannot exceed prompt_tokens ({p} tokens)"
        )
    coef = step_coefficients(model, gpu, engine=engine)
    fetch = (
        0.0
        if h == 0
        else transfer_seconds(
            kv_payload_bytes(h, get_model(model).kv_bytes_per_token(kv_dtype)),
            link_gbps,
        )
    )
    suffix = p - h
    # a fully cached prompt still runs one token to get logits for the first output token (as vLLM does)
    return fetch + coef.prefill_seconds(max(suffix, 1), context_tokens=min(h, p - 1))
