"""The model catalog: the shapes that set how big a prompt's KV cache is.

Each entry is a Hugging Face ``config.json`` read into a :class:`ModelSpec`, with
its source cited in ``labs_py/data/models.json``. The central quantity of the
book is :func:`kv_bytes_per_token`: the bytes of key/value cache that one token
of context occupies, summed over layers. A prompt of ``n`` tokens leaves
``n * kv_bytes_per_token`` bytes behind after prefill, and that is the freight a
disaggregated deployment must move from the prefill engine to the decode engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from labs_py.core import catalog
from labs_py.core.validate import one_of, positive_int

#: How a model attends: grouped-query (MHA and MQA are its special cases) or multi-head latent (DeepSeek).
ATTENTIONS: tuple[str, ...] = ("gqa", "mla")
#: How a layer's MLP is built: SwiGLU's three matrices, or a plain up and down projection (OPT).
MLPS: tuple[str, ...] = ("gated", "plain")
#: Bytes per element of the KV cache for each dtype the book discusses.
KV_DTYPE_BYTES: dict[str, int] = {"fp32": 4, "bf16": 2, "fp16": 2, "fp8": 1}


@dataclass(frozen=True)
class MoE:
    """Mixture-of-experts shape: how many expert MLPs exist and how many each token uses.

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, interference, goodput_and_split, two_gpus, real_pair,
        plan_a_deployment, compression_and_pooling.
    """

    num_experts: int
    experts_per_token: int
    expert_intermediate_size: int
    shared_experts: int = 0
    dense_layers: int = 0  # leading layers that use a dense MLP instead of experts


@dataclass(frozen=True)
class MLA:
    """Multi-head latent attention shape (DeepSeek-V2/V3).

    MLA caches, per token per layer, one compressed latent of ``kv_lora_rank``
    numbers plus one rope key of ``qk_rope_head_dim`` numbers shared by all heads.
    The per-head K and V are re-expanded from the latent at attention time.

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, interference, goodput_and_split, two_gpus, real_pair,
        plan_a_deployment, compression_and_pooling.
    """

    kv_lora_rank: int
    q_lora_rank: int
    qk_rope_head_dim: int
    qk_nope_head_dim: int
    v_head_dim: int


@dataclass(frozen=True)
class ModelSpec:
    """One model's transformer shape, as its ``config.json`` gives it.

    This is the book's only shape type: the catalog's models, the numpy engine's
    toy model (:data:`labs_py.engine.model.TOY_SHAPE`) and the tiny model the real
    vLLM pair serves (:class:`labs_py.captures.tiny_model.TinyModelSpec`) are all
    ``ModelSpec``s, so they share one KV-bytes formula (:meth:`kv_bytes_per_token`).

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, interference, goodput_and_split, two_gpus, real_pair,
        plan_a_deployment, compression_and_pooling.
    """

    id: str
    short_name: str
    attention: str  # "gqa" (includes MHA and MQA as special cases) or "mla"
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    hidden_size: int
    intermediate_size: int
    vocab_size: int
    tie_word_embeddings: bool
    explicit_head_dim: int | None = None
    mlp: str = "gated"  # "gated" (SwiGLU: gate, up, down) or "plain" (two matrices, as OPT's fc1, fc2)
    moe: MoE | None = None
    mla: MLA | None = None
    aliases: tuple[str, ...] = ()
    source: dict[str, str] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        one_of("attention", self.attention, ATTENTIONS, "attention kind")
        one_of("mlp", self.mlp, MLPS, "MLP kind")
        for name, unit in (
            ("num_hidden_layers", "layers"),
            ("num_attention_heads", "heads"),
            ("num_key_value_heads", "KV heads"),
            ("hidden_size", "numbers"),
            ("intermediate_size", "numbers"),
            ("vocab_size", "tokens"),
        ):
            positive_int(name, getattr(self, name), unit)
        if self.explicit_head_dim is not None:
            positive_int("head_dim", self.explicit_head_dim, "numbers per head")
        if (
            self.attention == "gqa"
            and self.num_attention_heads % self.num_key_value_heads
        ):
            raise ValueError(
                f"num_attention_heads ({self.num_attention_heads} heads) must be a multiple of num_key_value_heads "
                f"({self.num_key_value_heads} KV heads): in GQA every KV head serves the same number of query heads"
            )

    @property
    def head_dim(self) -> int:
        """Per-head width. An explicit ``head_dim`` in the config wins over hidden/heads."""
        if self.explicit_head_dim is not None:
            return self.explicit_head_dim
        return self.hidden_size // self.num_attention_heads

    @property
    def attention_label(self) -> str:
        """``"MHA"`` (a KV head per query head), ``"MQA"`` (one KV head), ``"GQA"`` (between) or ``"MLA"``."""
        if self.attention == "mla":
            return "MLA"
        if self.num_key_value_heads == self.num_attention_heads:
            return "MHA"
        return "MQA" if self.num_key_value_heads == 1 else "GQA"

    def kv_elements_per_token(self) -> int:
        """Numbers cached per token, summed over all layers.

        GQA: a K and a V vector per KV head per layer: ``2 * layers * kv_heads * head_dim``.
        MLA: one latent plus one rope key per layer: ``layers * (kv_lora_rank + rope_dim)``.
        """
        if self.mla is not None:
            return self.num_hidden_layers * (
                self.mla.kv_lora_rank + self.mla.qk_rope_head_dim
            )
        return 2 * self.num_hidden_layers * self.num_key_value_heads * self.head_dim

    def kv_bytes_per_token(self, kv_dtype: str = "bf16") -> int:
        """Bytes of KV cache per token of context, for the given KV dtype."""
        one_of("kv_dtype", kv_dtype, tuple(KV_DTYPE_BYTES), "KV cache dtype")
        return self.kv_elements_per_token() * KV_DTYPE_BYTES[kv_dtype]

    # --- parameters: what a forward pass reads (decode) and multiplies (prefill) ---
    def _attention_params_per_layer(self) -> int:
        h, hd = self.hidden_size, self.head_dim
        if self.mla is not None:
            m = self.mla
            q = h * m.q_lora_rank + m.q_lora_rank * self.num_attention_heads * (
                m.qk_nope_head_dim + m.qk_rope_head_dim
            )
            kv = h * (
                m.kv_lora_rank + m.qk_rope_head_dim
            ) + m.kv_lora_rank * self.num_attention_heads * (
                m.qk_nope_head_dim + m.v_head_dim
            )
            o = self.num_attention_heads * m.v_head_dim * h
            return q + kv + o
        q = h * self.num_attention_heads * hd
        kv = 2 * h * self.num_key_value_heads * hd
        o = self.num_attention_heads * hd * h
        return q + kv + o

    def _mlp_params(self, active_only: bool) -> int:
        """SwiGLU MLPs have three matrices (gate, up, down) of hidden x intermediate; plain ones two."""
        h, L = self.hidden_size, self.num_hidden_layers
        matrices = 3 if self.mlp == "gated" else 2
        if self.moe is None:
            return L * matrices * h * self.intermediate_size
        m = self.moe
        dense = m.dense_layers * matrices * h * self.intermediate_size
        experts_used = m.experts_per_token if active_only else m.num_experts
        per_moe_layer = (
            experts_used + m.shared_experts
        ) * matrices * h * m.expert_intermediate_size + h * m.num_experts
        return dense + (L - m.dense_layers) * per_moe_layer

    def _embedding_params(self) -> int:
        return (
            self.vocab_size * self.hidden_size * (1 if self.tie_word_embeddings else 2)
        )

    def params_total(self) -> int:
        """All weights (norms and biases omitted: they are < 0.1% of any catalog model)."""
        return (
            self._embedding_params()
            + self.num_hidden_layers * self._attention_params_per_layer()
            + self._mlp_params(False)
        )

    def params_active(self) -> int:
        """Weights a single token multiplies by: for MoE, only the routed experts count."""
        return (
            self._embedding_params()
            + self.num_hidden_layers * self._attention_params_per_layer()
            + self._mlp_params(True)
        )


def _spec(entry: dict) -> ModelSpec:
    return ModelSpec(
        id=entry["id"],
        short_name=entry["short_name"],
        attention=entry["attention"],
        num_hidden_layers=entry["num_hidden_layers"],
        num_attention_heads=entry["num_attention_heads"],
        num_key_value_heads=entry["num_key_value_heads"],
        hidden_size=entry["hidden_size"],
        intermediate_size=entry["intermediate_size"],
        vocab_size=entry["vocab_size"],
        tie_word_embeddings=entry["tie_word_embeddings"],
        explicit_head_dim=entry.get("head_dim"),
        mlp=entry.get("mlp", "gated"),
        moe=MoE(**entry["moe"]) if entry.get("moe") else None,
        mla=MLA(**entry["mla"]) if entry.get("mla") else None,
        aliases=tuple(entry.get("aliases", ())),
        source=entry["source"],
    )


@lru_cache(maxsize=1)
def _catalog() -> tuple[ModelSpec, ...]:
    return tuple(_spec(e) for e in catalog.load("models")["models"])


def all_models() -> list[ModelSpec]:
    """Every catalog model, in catalog order.

    Taught in: why_split, moving_a_live_request, disaggregation_trade, interference,
        goodput_and_split, two_gpus, plan_a_deployment, compression_and_pooling.
    """
    return list(_catalog())


def model_ids() -> list[str]:
    """The canonical Hugging Face repo ids of the catalog.

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, interference, goodput_and_split, two_gpus, real_pair,
        plan_a_deployment, compression_and_pooling.
    """
    return [m.id for m in all_models()]


def get_model(model: str | ModelSpec) -> ModelSpec:
    """Find a model by its Hugging Face repo id, an alias, or its short name.

    >>> get_model("meta-llama/Llama-3.1-8B-Instruct").num_hidden_layers
    32

    Taught in: moving_a_live_request, disaggregation_trade, goodput_and_split, plan_a_deployment,
        compression_and_pooling.
    """
    if isinstance(model, ModelSpec):
        return model
    if not isinstance(model, str):
        raise TypeError(
            f"model must be a Hugging Face repo id string; got {model!r} ({type(model).__name__})"
        )
    for spec in _catalog():
        if model == spec.id or model in spec.aliases or model == spec.short_name:
            return spec
    raise catalog.unknown("model", model, model_ids())


def kv_bytes_per_token(model: str, kv_dtype: str = "bf16") -> int:
    """Bytes of KV cache one token of context occupies in ``model``, summed over layers.

    ``model`` is a Hugging Face repo id from the catalog (``labs_py.models.model_ids()``).

    >>> kv_bytes_per_token("meta-llama/Llama-3.1-8B-Instruct")  # 2 * 32 layers * 8 heads * 128 * 2 B
    131072
    >>> kv_bytes_per_token("meta-llama/Llama-3.1-8B-Instruct", kv_dtype="fp8")
    65536

    Taught in: moving_a_live_request, disaggregation_trade.
    """
    return get_model(model).kv_bytes_per_token(kv_dtype)
