"""Exercises of the chapter "KV compression and pooled KV"."""

from labs_py import economics as econ
from labs_py import pooling
from labs_py.exercises import Exercise, register
from labs_py.models import get_model
from labs_py.steptime import prefill_seconds


def mha_equivalent_bytes_per_token(model: str, kv_dtype: str = "bf16") -> int:
    """What the model's KV would cost per token with one K and one V per *query* head (plain MHA)."""
    from labs_py.models import KV_DTYPE_BYTES

    m = get_model(model)
    if m.mla is None:
        k_dim = v_dim = m.head_dim
    else:  # MLA's per-head key is the no-rope part plus the rope part; its value has its own width
        k_dim, v_dim = m.mla.qk_nope_head_dim + m.mla.qk_rope_head_dim, m.mla.v_head_dim
    return m.num_hidden_layers * m.num_attention_heads * (k_dim + v_dim) * KV_DTYPE_BYTES[kv_dtype]


register(Exercise(
    id="comp-mla-factor",
    question="How many times smaller is DeepSeek-V3's MLA cache per token than plain MHA with its 128 heads would be?",
    expected=lambda: mha_equivalent_bytes_per_token("deepseek-ai/DeepSeek-V3") / get_model(
        "deepseek-ai/DeepSeek-V3").kv_bytes_per_token(),
    unit="x",
    hint="MHA caches, per layer and head, a key (nope + rope = 192 numbers) and a value (v_head_dim = 128).",
))

register(Exercise(
    id="comp-qwen3-fp8-breakeven",
    question="Qwen3-32B, 2,048-token prompts, FP8 KV, prefill on one H100 SXM: the slowest link (Gb/s) at which "
             "the split's toll stays within 10% of prefill?",
    expected=lambda: econ.breakeven_link_gbps(
        econ.kv_payload_bytes(2048, get_model("Qwen/Qwen3-32B").kv_bytes_per_token("fp8")),
        prefill_seconds("Qwen/Qwen3-32B", 2048, "H100-SXM"), 0.10),
    unit="Gb/s",
    hint="economics.breakeven_link_gbps(payload_bytes, prefill_s, 0.10), prefill_s from steptime.prefill_seconds.",
))

register(Exercise(
    id="comp-70b-fetch-breakeven",
    question="Llama-3.1-70B on one H100 SXM: above what link speed (Gb/s) does fetching a 4,096-token cached "
             "prefix beat recomputing it?",
    expected=lambda: pooling.fetch_or_recompute("meta-llama/Llama-3.1-70B-Instruct", 4096, 100).breakeven_gbps,
    unit="Gb/s",
    hint="pooling.fetch_or_recompute(model, prefix_tokens, any_link_gbps).breakeven_gbps",
))
