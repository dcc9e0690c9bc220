"""The arithmetic of a transformer step: the FLOPs it does and the bytes it reads.

**Prefill is compute-bound.** A prompt of ``n`` tokens multiplies every token by
every weight: about ``2 * params * n`` FLOPs, plus attention's ``QK^T`` and ``PV``
products, which grow with the square of the prompt (causal, so half the square).
Each weight is read once for all ``n`` tokens, so FLOPs per byte read is high.

**Decode is bandwidth-bound.** Each step produces one token per running request,
but still reads every weight, plus each request's whole KV cache. At small batch
that is about 1 FLOP per byte read, far below a GPU's ridge.

Nothing here depends on a GPU or an engine: :mod:`labs_py.steptime.model` turns
these counts into seconds.
"""

from __future__ import annotations

from labs_py.core.validate import non_negative_int, one_of, positive_int
from labs_py.models import KV_DTYPE_BYTES, ModelSpec, get_model

__all__ = [
    "WEIGHT_DTYPE_BYTES",
    "body_params",
    "qk_dim",
    "attention_flops",
    "chunk_attention_pairs",
    "prefill_flops",
    "resident_weight_bytes",
    "expert_bytes",
    "weight_bytes",
    "decode_bytes_read",
    "step_flops_and_bytes",
    "arithmetic_intensity",
    "norm_bytes_per_token",
]

WEIGHT_DTYPE_BYTES = {"bf16": 2, "fp16": 2, "fp8": 1}


def body_params(spec: ModelSpec) -> int:
    """Active weights outside the embedding table: what every token multiplies through (the LM head is apart).

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, interference, goodput_and_split, two_gpus, real_pair,
        plan_a_deployment, compression_and_pooling.
    """
    embed = spec.vocab_size * spec.hidden_size
    return spec.params_active() - embed * (1 if spec.tie_word_embeddings else 2)


def qk_dim(spec: ModelSpec) -> int:
    """Numbers a query and a key share per head: ``head_dim``, or MLA's no-rope plus rope parts.

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, interference, goodput_and_split, two_gpus, real_pair,
        plan_a_deployment, compression_and_pooling.
    """
    return (
        spec.head_dim
        if spec.mla is None
        else spec.mla.qk_nope_head_dim + spec.mla.qk_rope_head_dim
    )


def attention_flops(spec: ModelSpec, new_tokens: int, context_tokens: int) -> float:
    """FLOPs of the attention products for ``new_tokens`` attending to ``context_tokens`` earlier tokens.

    Each new token's query meets every earlier key (``QK^T``) and value (``PV``):
    ``2 * 2 * heads * head_dim`` FLOPs per pair per layer. Under the causal mask
    the i-th new token sees ``context + i`` keys, so the pairs total
    ``new * context + new * (new + 1) / 2`` (:func:`chunk_attention_pairs`).

    Taught in: no chapter calls it directly; it works behind why_split, goodput_and_split.
    """
    return (
        4.0
        * spec.num_hidden_layers
        * spec.num_attention_heads
        * qk_dim(spec)
        * chunk_attention_pairs(new_tokens, context_tokens)
    )


def chunk_attention_pairs(chunk_tokens: float, context_tokens: float = 0.0) -> float:
    """(query, key) pairs of a causal chunk of ``chunk_tokens`` after ``context_tokens`` cached tokens.

    The i-th new token (1-based) sees the context plus ``i`` new tokens:
    ``chunk * context + chunk * (chunk + 1) / 2``. Splitting a prompt into chunks
    does not change the total: the pairs add up to the whole prompt's.

    Taught in: interference, two_gpus.
    """
    return chunk_tokens * context_tokens + chunk_tokens * (chunk_tokens + 1) / 2.0


def prefill_flops(
    model: str | ModelSpec, prompt_tokens: int, context_tokens: int = 0
) -> float:
    """FLOPs to prefill ``prompt_tokens`` (after ``context_tokens`` already cached).

    The linear layers cost 2 FLOPs (a multiply and an add) per weight per token;
    the LM head runs once, for the last token only.

    Taught in: goodput_and_split.
    """
    spec = get_model(model)
    n = positive_int("prompt_tokens", prompt_tokens, "tokens")
    ctx = non_negative_int("context_tokens", context_tokens, "tokens")
    lm_head = 2.0 * spec.vocab_size * spec.hidden_size
    return 2.0 * body_params(spec) * n + attention_flops(spec, n, ctx) + lm_head


def resident_weight_bytes(model: str | ModelSpec, weight_dtype: str = "bf16") -> float:
    """Bytes of weights a GPU group must hold: every parameter (all experts of a mixture-of-experts).

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, interference, goodput_and_split, two_gpus, real_pair,
        plan_a_deployment, compression_and_pooling.
    """
    spec = get_model(model)
    one_of("weight_dtype", weight_dtype, tuple(WEIGHT_DTYPE_BYTES), "weight dtype")
    return float(spec.params_total() * WEIGHT_DTYPE_BYTES[weight_dtype])


def expert_bytes(model: str | ModelSpec, weight_dtype: str = "bf16") -> float:
    """Bytes of one expert across every mixture-of-experts layer (0 for a dense model).

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, interference, goodput_and_split, two_gpus, real_pair,
        plan_a_deployment, compression_and_pooling.
    """
    spec = get_model(model)
    if spec.moe is None:
        return 0.0
    m = spec.moe
    matrices = 3 if spec.mlp == "gated" else 2
    return float(
        matrices
        * spec.hidden_size
        * m.expert_intermediate_size
        * (spec.num_hidden_layers - m.dense_layers)
        * WEIGHT_DTYPE_BYTES[weight_dtype]
    )


def weight_bytes(
    model: str | ModelSpec, weight_dtype: str = "bf16", batch_size: int = 1
) -> float:
    """Bytes of weights one step reads: every weight once (for mixture-of-experts, the experts a batch reaches).

    A batch touches more experts than one token does; we charge the experts a batch
    of ``batch_size`` tokens can reach (at most all of them).

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, interference, goodput_and_split, two_gpus, real_pair,
        plan_a_deployment, compression_and_pooling.
    """
    spec = get_model(model)
    one_of("weight_dtype", weight_dtype, tuple(WEIGHT_DTYPE_BYTES), "weight dtype")
    b = positive_int("batch_size", batch_size, "requests")
    dense = float(spec.params_active() * WEIGHT_DTYPE_BYTES[weight_dtype])
    if spec.moe is None:
        return dense
    m = spec.moe
    touched = min(m.num_experts, b * m.experts_per_token)
    return dense + (touched - m.experts_per_token) * expert_bytes(spec, weight_dtype)


def decode_bytes_read(
    model: str | ModelSpec,
    batch_size: int,
    context_tokens: int,
    *,
    kv_dtype: str = "bf16",
    weight_dtype: str = "bf16",
) -> float:
    """Bytes one decode step reads from memory: the weights once, plus every request's KV cache.

    Taught in: goodput_and_split.
    """
    spec = get_model(model)
    b = positive_int("batch_size", batch_size, "requests")
    ctx = non_negative_int("context_tokens", context_tokens, "tokens per request")
    one_of("kv_dtype", kv_dtype, tuple(KV_DTYPE_BYTES), "KV cache dtype")
    return weight_bytes(spec, weight_dtype, b) + b * ctx * spec.kv_bytes_per_token(
        kv_dtype
    )


def norm_bytes_per_token(spec: ModelSpec, tp: int = 1) -> float:
    """Bytes the small operations of one layer move per token: two norms and the MLP's activation.

    Each RMSNorm reads and writes the hidden vector (``2 * hidden`` numbers, on every
    GPU of a TP group); the gated activation reads gate and up and writes their product
    (``3 * intermediate / tp`` numbers per GPU). Two bytes per number (bf16). These
    are memory-bound, so they scale with tokens, not with FLOPs.

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, interference, goodput_and_split, two_gpus, real_pair,
        plan_a_deployment, compression_and_pooling.
    """
    act = (3 if spec.mlp == "gated" else 2) * spec.intermediate_size / tp
    return 2.0 * (2 * 2 * spec.hidden_size + act)


def step_flops_and_bytes(
    model: str | ModelSpec, tokens_per_step: int, context_tokens: int = 0
) -> tuple[float, float]:
    """FLOPs and bytes read of a step that multiplies ``tokens_per_step`` tokens through the weights.

    FLOPs: 2 per weight per token through the transformer body, plus attention over
    ``context_tokens`` for each token. Bytes: every weight once, plus each token's
    KV read (``context_tokens`` of it, for decode-like tokens).

    Taught in: no chapter calls it directly; it works behind why_split.
    """
    spec = get_model(model)
    n = positive_int("tokens_per_step", tokens_per_step, "tokens")
    ctx = non_negative_int("context_tokens", context_tokens, "tokens")
    flops = 2.0 * body_params(spec) * n + attention_flops(spec, 1, ctx) * n
    bytes_read = weight_bytes(spec) + n * ctx * spec.kv_bytes_per_token()
    return flops, float(bytes_read)


def arithmetic_intensity(
    model: str | ModelSpec, tokens_per_step: int, context_tokens: int = 0
) -> float:
    """FLOPs per byte read of one step that multiplies ``tokens_per_step`` tokens through the weights.

    The weights are read once per step, however many tokens multiply them, so
    intensity grows with the batch: about 1 FLOP/byte for one decode token (bf16: 2
    FLOPs per 2-byte weight), hundreds for a prefill chunk. Compare with
    :attr:`labs_py.gpus.GPU.ridge_flops_per_byte` (about 295 on an H100 SXM) to see
    which roof a step is under. ``context_tokens`` adds one request's KV read per
    token (decode-like tokens), which pulls intensity down.

    Taught in: why_split.
    """
    flops, bytes_read = step_flops_and_bytes(model, tokens_per_step, context_tokens)
    return flops / bytes_read
