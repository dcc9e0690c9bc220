"""The tiny model the real vLLM pair serves, as data: its shape and how it is built.

No model can be downloaded here, and none is needed: the pair's behaviour
(who prefills, what crosses the link, when tokens arrive) depends on the
architecture's shapes, not on what the weights know. So the pair serves a
Qwen2-architecture model with random weights drawn from a seed, built locally
by :func:`labs_py.pair.tiny_model.build_tiny_model` (torch, in the pair's
environment). This module is the light half: the recipe (:class:`TinyModelSpec`)
and the KV arithmetic that captures are read with, no torch needed.

The shape is a :class:`~labs_py.models.ModelSpec`, the book's one shape type, so
one token's KV comes from the same formula as every catalog model's:

    2 (K and V) x layers x kv_heads x head_dim x bytes_per_element

which is 2 x 4 x 2 x 64 x 4 = 4096 bytes for the default spec in float32, i.e.
128 KiB per 32-token block.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from labs_py.core import validate
from labs_py.models import ModelSpec

__all__ = [
    "TORCH_DTYPES",
    "TINY_SHAPE",
    "TinyModelSpec",
    "spec_of",
    "kv_bytes_per_token",
    "kv_block_bytes",
    "kv_blocks_for_prompt",
    "parameter_count",
]

#: The model's dtype (torch's name) -> the KV dtype name of :data:`labs_py.models.KV_DTYPE_BYTES`.
TORCH_DTYPES: dict[str, str] = {
    "float32": "fp32",
    "bfloat16": "bf16",
    "float16": "fp16",
}

#: The tiny Qwen2's shape: 4 layers of width 256, 4 query heads sharing 2 KV heads of 64, a 4,096-token vocabulary.
TINY_SHAPE = ModelSpec(
    id="labs-py/tiny-qwen2",
    short_name="tiny-qwen2",
    attention="gqa",
    num_hidden_layers=4,
    num_attention_heads=4,
    num_key_value_heads=2,
    hidden_size=256,
    intermediate_size=768,
    vocab_size=4096,
    tie_word_embeddings=True,
    explicit_head_dim=64,
)
#: The shape fields a capture stores, in Hugging Face's names.
_SHAPE_FIELDS = (
    "vocab_size",
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
)


@dataclass(frozen=True)
class TinyModelSpec:
    """The recipe of the pair's tiny model: its shape, its dtype, and how its random weights are drawn.

    Taught in: no chapter calls it directly; it works behind real_pair, plan_a_deployment.
    """

    shape: ModelSpec = TINY_SHAPE
    max_position_embeddings: int = 4096
    dtype: str = "float32"
    seed: int = 0
    # Std of the random weights. HF's default 0.02 makes a 4-layer model emit one token
    # forever (greedy), which would make "token-for-token identical" a vacuous check;
    # at 0.1 greedy continuations are varied (32 distinct tokens in 32 on random prompts).
    initializer_range: float = 0.1

    def __post_init__(self) -> None:
        validate.positive_int(
            "max_position_embeddings", self.max_position_embeddings, "tokens"
        )
        validate.one_of("dtype", self.dtype, tuple(TORCH_DTYPES), "dtype")
        validate.positive_float(
            "initializer_range", self.initializer_range, "(std of weights)"
        )

    # the shape, in Hugging Face's names (the builder writes them into config.json)
    @property
    def vocab_size(self) -> int:
        return self.shape.vocab_size

    @property
    def hidden_size(self) -> int:
        return self.shape.hidden_size

    @property
    def intermediate_size(self) -> int:
        return self.shape.intermediate_size

    @property
    def num_hidden_layers(self) -> int:
        return self.shape.num_hidden_layers

    @property
    def num_attention_heads(self) -> int:
        return self.shape.num_attention_heads

    @property
    def num_key_value_heads(self) -> int:
        return self.shape.num_key_value_heads

    @property
    def head_dim(self) -> int:
        return self.shape.head_dim

    @property
    def kv_dtype(self) -> str:
        """The KV cache dtype, in the catalog's names (``"fp32"`` for float32)."""
        return TORCH_DTYPES[self.dtype]

    def to_dict(self) -> dict:
        """The recipe as the flat dict that captures and the build manifest store."""
        flat = {name: getattr(self, name) for name in _SHAPE_FIELDS}
        flat.update(
            max_position_embeddings=self.max_position_embeddings,
            dtype=self.dtype,
            seed=self.seed,
            initializer_range=self.initializer_range,
        )
        return {k: flat[k] for k in _FLAT_ORDER}

    @classmethod
    def from_dict(cls, flat: dict) -> TinyModelSpec:
        """Read the flat dict a capture stores (every key optional: missing ones take the defaults)."""
        unknown = set(flat) - set(_FLAT_ORDER)
        if unknown:
            raise ValueError(
                f"unknown tiny-model fields {sorted(unknown)}; expected some of {list(_FLAT_ORDER)}"
            )
        shape_kw = {
            ("explicit_head_dim" if k == "head_dim" else k): flat[k]
            for k in _SHAPE_FIELDS
            if k in flat
        }
        rest = {
            k: flat[k]
            for k in ("max_position_embeddings", "dtype", "seed", "initializer_range")
            if k in flat
        }
        return cls(shape=replace(TINY_SHAPE, **shape_kw), **rest)


#: The order of the flat dict (as the first captures wrote it).
_FLAT_ORDER = (
    "vocab_size",
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "max_position_embeddings",
    "dtype",
    "seed",
    "initializer_range",
)


def spec_of(capture: dict) -> TinyModelSpec:
    """The recipe of the model a capture ran (the default recipe if the capture does not record one).

    Taught in: real_pair.
    """
    model = capture.get("model") or {}
    return TinyModelSpec.from_dict(model.get("spec", {}))


def kv_bytes_per_token(spec: TinyModelSpec = TinyModelSpec()) -> int:
    """Bytes of KV cache one token occupies: the shape's formula (:meth:`labs_py.models.ModelSpec.kv_bytes_per_token`)
    at the model's dtype.

    Taught in: real_pair.
    """
    return spec.shape.kv_bytes_per_token(spec.kv_dtype)


def kv_block_bytes(
    block_size_tokens: int, spec: TinyModelSpec = TinyModelSpec()
) -> int:
    """Bytes of one KV block of ``block_size_tokens`` tokens.

    Taught in: real_pair.
    """
    validate.positive_int("block_size_tokens", block_size_tokens, "tokens")
    return block_size_tokens * kv_bytes_per_token(spec)


def kv_blocks_for_prompt(prompt_tokens: int, block_size_tokens: int) -> int:
    """Blocks a prompt of ``prompt_tokens`` occupies: the last, partial block counts whole.

    Taught in: real_pair.
    """
    validate.positive_int("prompt_tokens", prompt_tokens, "tokens")
    validate.positive_int("block_size_tokens", block_size_tokens, "tokens")
    return -(-prompt_tokens // block_size_tokens)


def parameter_count(spec: TinyModelSpec = TinyModelSpec()) -> int:
    """Parameters of the model (tied input/output embeddings, Qwen2 q/k/v biases).

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    h, kv = spec.hidden_size, spec.num_key_value_heads * spec.head_dim
    q = spec.num_attention_heads * spec.head_dim
    attn = h * q + q + 2 * (h * kv + kv) + q * h
    mlp = 3 * h * spec.intermediate_size
    norms = 2 * h
    return spec.vocab_size * h + spec.num_hidden_layers * (attn + mlp + norms) + h
