"""The course's serving runs, predicted from step times: Week 16's tables and standalone prefills, lab 15-02's pair.

Each run is a measurement of a whole serving engine under a load, so predicting it
takes a little queueing on top of the step model. The predictions here are closed
forms, so that they can be checked without the simulator:

* **Week 16 serving rows** (vLLM, Llama-3.1-8B, 100 ShareGPT requests at 2 or 6 req/s).
  The decode batch is what Little's law gives: ``rate x end-to-end latency`` requests in
  flight, found as a fixed point (the latency depends on the batch's step time). Each
  request's KV averages ``prompt + output / 2`` tokens while it decodes. The lab's ITL is
  each request's *average* time between tokens (its glossary: "average time between
  consecutive output tokens"), so its percentiles are over requests: a decode step at the
  batch a request shared, plus its share of the prompts prefilled meanwhile.
* **The "TTFT" columns of the Week 16 tables** are end-to-end latencies: the lab's client
  timed ``requests.post`` with streaming off, so its first byte came with its last token.
  The table proves it: in all eight rows the reported TTFT equals the mean output length
  (from the rows' own output rate and duration) times the ITL p50, within 1%
  (:func:`week16_ttft_is_end_to_end`). So the prediction for that column is a request's
  end-to-end latency: the client overhead, its prefill and its decode steps.
* **Standalone prefill** (one request at a time, 30-token answers, H100): the client
  overhead plus one prefill step.
* **Lab 15-02's 2xL4 pair** (Qwen2.5-0.5B, vLLM 0.22.1): the prefill leg, both TTFTs and
  the ITL p50 and p99 of a single instance and of the pair.

ShareGPT cannot be downloaded here. Where its lengths matter, the prompts follow a
log-normal with ShareGPT's published mean, 161 tokens (vLLM's paper, Kwon et al.,
SOSP 2023, Fig. 11) and a spread assumed to be ``sigma = 1``; the outputs are the
table's own mean.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from labs_py import course
from labs_py.defaults import A100_PCIE, H100_SXM, L4, LLAMA_8B, QWEN25_05B
from labs_py.models import get_model
from labs_py.steptime.model import StepCoefficients, step_coefficients
from labs_py.steptime.transformer import chunk_attention_pairs

__all__ = [
    "SHAREGPT_MEAN_INPUT_TOKENS",
    "SHAREGPT_SIGMA",
    "Week16Row",
    "week16_rows",
    "week16_ttft_is_end_to_end",
    "Week16Prediction",
    "predict_week16",
    "standalone_rows",
    "standalone_ttft_seconds",
    "L4_KV_LINK_GBPS",
    "l4_capture",
    "l4_decode_step_seconds",
    "L4Prediction",
    "predict_l4",
]

#: ShareGPT's mean prompt length (Kwon et al., SOSP 2023, Fig. 11: 161.31 tokens).
SHAREGPT_MEAN_INPUT_TOKENS = 161.31
#: The spread of the log-normal prompt lengths (an assumption: ShareGPT's spread is not published as a number).
SHAREGPT_SIGMA = 1.0
#: The course's GPU names -> the catalog's.
WEEK16_GPUS = {"H100": H100_SXM, "A100": A100_PCIE}
#: The link lab 15-02's pair moved KV over, assumed: two L4s in one host, PCIe Gen4 x16 (the link is not stated).
L4_KV_LINK_GBPS = 256.0


@dataclass(frozen=True)
class Week16Row:
    """One row of the Week 16 serving table, as measured.

    Taught in: no chapter calls it directly; it works behind interference, two_gpus.
    """

    gpu: str
    tp: int
    rate_per_s: float
    ttft_p50_ms: float
    ttft_p99_ms: float
    itl_p50_ms: float
    itl_p99_ms: float
    output_tok_per_s: float
    duration_s: float
    requests: int = 100

    @property
    def mean_output_tokens(self) -> float:
        """Output tokens per request, from the row's own output rate and duration."""
        return self.output_tok_per_s * self.duration_s / self.requests

    @property
    def label(self) -> str:
        return f"Week 16 {self.gpu} TP{self.tp} {self.rate_per_s:g} req/s"


def week16_rows() -> list[Week16Row]:
    """The eight rows of the Week 16 serving table (:func:`labs_py.course.measurements`).

    Taught in: interference, two_gpus.
    """
    t = course.measurements("week16_serving")
    out = []
    for row in t["rows"]:
        r = dict(zip(t["columns"], row))
        out.append(
            Week16Row(
                gpu=WEEK16_GPUS[r["gpu"]],
                tp=r["tp"],
                rate_per_s=r["rate_per_s"],
                ttft_p50_ms=r["ttft_p50_ms"],
                ttft_p99_ms=r["ttft_p99_ms"],
                itl_p50_ms=r["itl_p50_ms"],
                itl_p99_ms=r["itl_p99_ms"],
                output_tok_per_s=r["output_tok_per_s"],
                duration_s=r["duration_s"],
            )
        )
    return out


def week16_ttft_is_end_to_end(row: Week16Row) -> float:
    """The row's reported TTFT p50 over (mean output tokens x ITL p50): about 1 when the column is end-to-end.

    Taught in: interference.
    """
    return row.ttft_p50_ms / (row.mean_output_tokens * row.itl_p50_ms)


def _lognormal_quantile(mean: float, sigma: float, q: float) -> float:
    """The ``q`` quantile of a log-normal with this mean and ``sigma``."""
    from statistics import NormalDist

    mu = math.log(mean) - sigma**2 / 2
    return math.exp(mu + sigma * NormalDist().inv_cdf(q))


def _poisson_quantile(mean: float, q: float) -> int:
    """The ``q`` quantile of a Poisson count with this mean."""
    k, p, total = 0, math.exp(-mean), math.exp(-mean)
    while total < q:
        k += 1
        p *= mean / k
        total += p
    return k


@dataclass(frozen=True)
class Week16Prediction:
    """What the step model predicts for one Week 16 row (milliseconds unless named).

    Taught in: no chapter calls it directly; it works behind interference, two_gpus.
    """

    batch: float
    batch_p99: float
    context_tokens: float
    itl_p50_ms: float
    itl_p99_ms: float
    e2e_p50_ms: float
    e2e_p99_ms: float
    duration_s: float
    output_tok_per_s: float


def _prefill_extra(
    co: StepCoefficients, batch: float, ctx: float, prompt: float
) -> float:
    """What a step gains when it also carries a ``prompt``-token prefill beside ``batch`` decodes."""
    return co.step_seconds(
        prompt, chunk_attention_pairs(prompt), 1, batch, batch * ctx
    ) - co.decode_seconds(batch, ctx)


def predict_week16(row: Week16Row, engine="vllm") -> Week16Prediction:
    """The row predicted from the step model alone (its measured latencies are not used).

    The lab defines ITL as each request's *average* time between its output tokens,
    and reports percentiles of that average over the 100 requests. A request's
    average is a decode step at the batch it shared, plus its share of the prompts
    that arrived while it decoded (each rides in one step, making it longer):
    ``decode(b) + arrivals / (outputs - 1) x extra(prompt)``. By Little's law the
    arrivals during one request's life are about the number in flight, ``b``. p50
    uses the mean; p99 the 99th-percentile batch (Poisson) for both.

    Taught in: two_gpus.
    """
    co = step_coefficients(LLAMA_8B, row.gpu, tp=row.tp, engine=engine)
    n_in, n_out = SHAREGPT_MEAN_INPUT_TOKENS, row.mean_output_tokens
    prompt = round(n_in)
    ctx = n_in + n_out / 2

    def itl(b: float) -> float:
        return co.decode_seconds(b, ctx) + b / (n_out - 1) * _prefill_extra(
            co, b, ctx, prompt
        )

    batch = 1.0
    for _ in range(
        100
    ):  # Little's law: in flight = rate x (prefill + output x step(batch))
        e2e = co.prefill_seconds(prompt) + (n_out - 1) * itl(batch)
        new = max(1.0, row.rate_per_s * e2e)
        if abs(new - batch) < 1e-6:
            break
        batch = new
    b99 = max(batch, float(_poisson_quantile(batch, 0.99)))
    itl50, itl99 = itl(batch), itl(b99)
    e2e50 = co.client_overhead_s + co.prefill_seconds(prompt) + (n_out - 1) * itl50
    n99 = round(_lognormal_quantile(n_in, SHAREGPT_SIGMA, 0.99))
    e2e99 = co.client_overhead_s + co.prefill_seconds(n99) + (n_out - 1) * itl99
    duration = (row.requests - 1) / row.rate_per_s + e2e50
    return Week16Prediction(
        batch=batch,
        batch_p99=b99,
        context_tokens=ctx,
        itl_p50_ms=itl50 * 1e3,
        itl_p99_ms=itl99 * 1e3,
        e2e_p50_ms=e2e50 * 1e3,
        e2e_p99_ms=e2e99 * 1e3,
        duration_s=duration,
        output_tok_per_s=row.requests * n_out / duration,
    )


def standalone_rows() -> list[tuple[int, float]]:
    """Week 16's standalone prefill table: (input tokens, TTFT ms), one request at a time on one H100.

    Taught in: disaggregation_trade.
    """
    t = course.measurements("week16_standalone_prefill")
    return [tuple(r) for r in t["rows"]]


def l4_capture() -> dict:
    """Lab 15-02's 2xL4 capture, with the model, GPU and prompt the step model needs.

    Taught in: no chapter calls it directly; it works behind interference.
    """
    c = course.measurements("lab15_02_capture")
    spec = get_model(QWEN25_05B)
    return {
        **c,
        "model": spec.id,
        "gpu": L4,
        "kv_bytes": c["prompt_tokens"] * spec.kv_bytes_per_token(),
    }


def standalone_ttft_seconds(prompt_tokens: int, engine="vllm") -> float:
    """A lone request's TTFT on one H100 (Week 16's standalone table): client overhead plus one prefill step.

    Taught in: no chapter calls it directly; it works behind interference.
    """
    return step_coefficients(LLAMA_8B, H100_SXM, engine=engine).client_ttft_seconds(
        prompt_tokens
    )


def l4_decode_step_seconds(engine="vllm") -> float:
    """One decode step of lab 15-02's capture: one request attending to its 2,031-token prompt.

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    c = l4_capture()
    return step_coefficients(QWEN25_05B, L4, engine=engine).decode_seconds(
        1, c["prompt_tokens"]
    )


@dataclass(frozen=True)
class L4Prediction:
    """Lab 15-02's 2xL4 capture predicted from the step model (milliseconds), with the terms of each sum.

    Taught in: no chapter calls it directly; it works behind interference.
    """

    prefill_step_ms: float
    client_ms: float
    decode_step_ms: float
    mixed_step_ms: float
    transfer_ms: float
    prefill_leg_ms: float
    single_ttft_ms: float
    single_itl_p50_ms: float
    single_itl_p99_ms: float
    pair_ttft_ms: float
    pair_itl_p50_ms: float
    pair_itl_p99_ms: float


def predict_l4(engine="vllm", link_gbps: float = L4_KV_LINK_GBPS) -> L4Prediction:
    """The capture, term by term. One decode request at a time is assumed (the capture does not state its load).

    * prefill leg = client overhead + the 2,031-token prefill step;
    * single TTFT = the same (a lone request);
    * single ITL p50 = a decode step; p99 = a step that also carries a whole 2,031-token prompt (vLLM's
      chunk budget on a 24 GB GPU, 2,048 tokens, holds it in one step);
    * pair TTFT = the prefill leg + the KV payload over ``link_gbps`` + the decode side's first step;
    * pair ITL p50 and p99 = a decode step: no prompt ever shares the decode GPU's steps.

    Taught in: no chapter calls it directly; it works behind interference.
    """
    c = l4_capture()
    co = step_coefficients(QWEN25_05B, L4, engine=engine)
    n = c["prompt_tokens"]
    pre, dec = co.prefill_seconds(n), co.decode_seconds(1, n)
    mixed = co.step_seconds(n, chunk_attention_pairs(n), 1, 1, n)
    transfer = c["kv_bytes"] * 8 / (link_gbps * 1e9)
    leg = co.client_overhead_s + pre
    ms = 1e3
    return L4Prediction(
        prefill_step_ms=pre * ms,
        client_ms=co.client_overhead_s * ms,
        decode_step_ms=dec * ms,
        mixed_step_ms=mixed * ms,
        transfer_ms=transfer * ms,
        prefill_leg_ms=leg * ms,
        single_ttft_ms=leg * ms,
        single_itl_p50_ms=dec * ms,
        single_itl_p99_ms=mixed * ms,
        pair_ttft_ms=(leg + transfer + dec) * ms,
        pair_itl_p50_ms=dec * ms,
        pair_itl_p99_ms=dec * ms,
    )
