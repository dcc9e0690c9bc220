"""Exercises of the chapter "KV compression and pooled KV"."""

from labs_py import economics as econ
from labs_py import pooling
from labs_py.book.exercises import Exercise, Exercises
from labs_py.defaults import DEEPSEEK_V3, H100_SXM, LLAMA_70B, QWEN3_32B
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
    return (
        m.num_hidden_layers
        * m.num_attention_heads
        * (k_dim + v_dim)
        * KV_DTYPE_BYTES[kv_dtype]
    )


def mla_factor() -> float:
    """DeepSeek-V3: bytes per token of plain MHA with its 128 heads, over its MLA cache's."""
    return (
        mha_equivalent_bytes_per_token(DEEPSEEK_V3)
        / get_model(DEEPSEEK_V3).kv_bytes_per_token()
    )


def qwen3_fp8_breakeven_gbps() -> float:
    """Qwen3-32B, 2,048-token prompts, FP8 KV, prefill on one H100 SXM: the slowest link within a 10% toll, Gb/s."""
    payload = econ.kv_payload_bytes(
        2048, get_model(QWEN3_32B).kv_bytes_per_token("fp8")
    )
    return econ.breakeven_link_gbps(
        payload, prefill_seconds(QWEN3_32B, 2048, H100_SXM), 0.10
    )


def fetch_breakeven_70b_gbps() -> float:
    """Llama-3.1-70B, a 4,096-token cached prefix: the link speed above which fetching beats recomputing, Gb/s."""
    return pooling.fetch_or_recompute(LLAMA_70B, 4096, 100).breakeven_gbps


EXERCISES = Exercises(
    Exercise(
        label="comp-ex-mla",
        question="How many times smaller is DeepSeek-V3's MLA cache per token than plain MHA with its 128 "
        "heads would be?",
        answer=mla_factor,
        unit="x",
        hint="MHA caches, per layer and head, a key (nope + rope = 192 numbers) and a value (v_head_dim = 128).",
    ),
    Exercise(
        label="comp-ex-qwen3",
        question="Qwen3-32B, 2,048-token prompts, FP8 KV, prefill on one H100 SXM: the slowest link (Gb/s) at which "
        "the split's toll stays within 10% of prefill?",
        answer=qwen3_fp8_breakeven_gbps,
        unit="Gb/s",
        hint="economics.breakeven_link_gbps(payload_bytes, prefill_s, 0.10), prefill_s from steptime.prefill_seconds.",
    ),
    Exercise(
        label="comp-ex-fetch",
        question="Llama-3.1-70B on the fewest H100 SXMs that hold it (two): above what link speed (Gb/s) does "
        "fetching a 4,096-token cached "
        "prefix beat recomputing it?",
        answer=fetch_breakeven_70b_gbps,
        unit="Gb/s",
        hint="pooling.fetch_or_recompute(model, prefix_tokens, any_link_gbps).breakeven_gbps",
    ),
)
check = EXERCISES.check
