"""How long one engine step takes: the roofline applied to a transformer.

**Prefill is compute-bound.** A prompt of ``n`` tokens multiplies every token by
every weight: about ``2 * params * n`` FLOPs, plus attention's ``QK^T`` and
``PV`` products, which grow with the square of the prompt (causal, so half the
square). Each weight is read once for all ``n`` tokens, so FLOPs per byte read
is high: prefill sits on the compute roof.

**Decode is bandwidth-bound.** Each step produces one token per running request,
but still reads every weight, plus each request's whole KV cache, from HBM. At
small batch that is ~1 FLOP per byte, far below the ridge: decode sits on the
bandwidth roof, and its time is bytes read / bandwidth.

The efficiencies (the fraction of a roof a real kernel reaches) default to what
one H100 SXM measured: an 8192^3 bf16 matmul at ~798 of 989 TFLOP/s (0.81) and
a copy at ~3.0 of 3.35 TB/s (0.90) (shared/notes/sources.md).
"""

from __future__ import annotations

from labs_py.gpus import GPU, get_gpu
from labs_py.models import KV_DTYPE_BYTES, ModelSpec, get_model
from labs_py.validate import fraction, non_negative_int, one_of, positive_int

#: Measured fraction of the compute roof (H100 SXM: ~798 / 989 TFLOP/s).
DEFAULT_COMPUTE_EFFICIENCY = 798 / 989
#: Measured fraction of the bandwidth roof (H100 SXM: ~3.0 / 3.35 TB/s).
DEFAULT_BANDWIDTH_EFFICIENCY = 3.0 / 3.35
WEIGHT_DTYPE_BYTES = {"bf16": 2, "fp16": 2, "fp8": 1}


def _gpu(gpu: str | GPU) -> GPU:
    return gpu if isinstance(gpu, GPU) else get_gpu(gpu)


def _body_params(spec: ModelSpec) -> int:
    """Active weights outside the embedding table: what every token multiplies through."""
    embed = spec.vocab_size * spec.hidden_size
    return spec.params_active() - embed * (1 if spec.tie_word_embeddings else 2)


def attention_flops(spec: ModelSpec, new_tokens: int, context_tokens: int) -> float:
    """FLOPs of the attention products for ``new_tokens`` attending to ``context_tokens`` earlier tokens.

    Each new token's query meets every earlier key (``QK^T``) and value (``PV``):
    ``2 * 2 * heads * head_dim`` FLOPs per pair per layer. Under the causal mask
    the i-th new token sees ``context + i`` keys, so the pairs total
    ``new * context + new * (new + 1) / 2``.
    """
    qk_dim = spec.head_dim if spec.mla is None else spec.mla.qk_nope_head_dim + spec.mla.qk_rope_head_dim
    pairs = new_tokens * context_tokens + new_tokens * (new_tokens + 1) / 2
    return 4.0 * spec.num_hidden_layers * spec.num_attention_heads * qk_dim * pairs


def prefill_flops(model: str | ModelSpec, prompt_tokens: int, context_tokens: int = 0) -> float:
    """FLOPs to prefill ``prompt_tokens`` (after ``context_tokens`` already cached).

    The linear layers cost 2 FLOPs (a multiply and an add) per weight per token;
    the LM head runs once, for the last token only.
    """
    spec = get_model(model)
    n = positive_int("prompt_tokens", prompt_tokens, "tokens")
    ctx = non_negative_int("context_tokens", context_tokens, "tokens")
    lm_head = 2.0 * spec.vocab_size * spec.hidden_size
    return 2.0 * _body_params(spec) * n + attention_flops(spec, n, ctx) + lm_head


def prefill_seconds(
    model: str | ModelSpec,
    prompt_tokens: int,
    gpu: str | GPU = "H100-SXM",
    *,
    tp: int = 1,
    context_tokens: int = 0,
    compute_efficiency: float = DEFAULT_COMPUTE_EFFICIENCY,
) -> float:
    """Seconds to prefill a prompt on ``tp`` GPUs: FLOPs / (dense bf16 FLOP/s x efficiency x tp).

    Tensor parallelism splits every matmul ``tp`` ways; its all-reduces are
    ignored here (NVLink-class links make them small next to a long prefill).
    """
    g = _gpu(gpu)
    tp = positive_int("tp", tp, "GPUs")
    eff = fraction("compute_efficiency", compute_efficiency)
    if eff == 0:
        raise ValueError("compute_efficiency must be greater than 0 (a fraction of the compute roof); got 0")
    return prefill_flops(model, prompt_tokens, context_tokens) / (g.flops_per_s * eff * tp)


def decode_bytes_read(
    model: str | ModelSpec, batch_size: int, context_tokens: int, *, kv_dtype: str = "bf16", weight_dtype: str = "bf16"
) -> float:
    """Bytes one decode step reads from memory: the weights once, plus every request's KV cache.

    For mixture-of-experts models, a batch touches more experts than one token does;
    we charge the experts a batch can reach (at most all of them).
    """
    spec = get_model(model)
    b = positive_int("batch_size", batch_size, "requests")
    ctx = non_negative_int("context_tokens", context_tokens, "tokens per request")
    one_of("weight_dtype", weight_dtype, tuple(WEIGHT_DTYPE_BYTES), "weight dtype")
    one_of("kv_dtype", kv_dtype, tuple(KV_DTYPE_BYTES), "KV cache dtype")
    weights = spec.params_active()
    if spec.moe is not None:
        m = spec.moe
        touched = min(m.num_experts, b * m.experts_per_token)
        per_expert = 3 * spec.hidden_size * m.expert_intermediate_size * (spec.num_hidden_layers - m.dense_layers)
        weights += (touched - m.experts_per_token) * per_expert
    return weights * WEIGHT_DTYPE_BYTES[weight_dtype] + b * ctx * spec.kv_bytes_per_token(kv_dtype)


def decode_step_seconds(
    model: str | ModelSpec,
    batch_size: int,
    context_tokens: int,
    gpu: str | GPU = "H100-SXM",
    *,
    tp: int = 1,
    kv_dtype: str = "bf16",
    bandwidth_efficiency: float = DEFAULT_BANDWIDTH_EFFICIENCY,
    compute_efficiency: float = DEFAULT_COMPUTE_EFFICIENCY,
) -> float:
    """Seconds for one decode step of ``batch_size`` requests, each with ``context_tokens`` of context.

    The roofline: the step takes as long as the slower of reading its bytes and
    doing its FLOPs. At small batch the bytes win (bandwidth-bound); at very large
    batch the FLOPs catch up, which is where batching stops being free.
    """
    g = _gpu(gpu)
    spec = get_model(model)
    tp = positive_int("tp", tp, "GPUs")
    bw_eff = fraction("bandwidth_efficiency", bandwidth_efficiency)
    c_eff = fraction("compute_efficiency", compute_efficiency)
    if bw_eff == 0 or c_eff == 0:
        raise ValueError("efficiencies must be greater than 0 (a fraction of the roof); got 0")
    b = positive_int("batch_size", batch_size, "requests")
    memory_s = decode_bytes_read(spec, b, context_tokens, kv_dtype=kv_dtype) / (g.bytes_per_s * bw_eff * tp)
    flops = 2.0 * spec.params_active() * b + attention_flops(spec, 1, context_tokens) * b
    compute_s = flops / (g.flops_per_s * c_eff * tp)
    return max(memory_s, compute_s)
