"""A decoder-only transformer in numpy, at toy width, with the equations of a real one.

The layer is the Llama/Qwen recipe, in this order (pre-norm residual blocks):

    h = x + Attention(RMSNorm(x))          # GQA, RoPE on q and k, causal
    x' = h + MLP(RMSNorm(h))               # SwiGLU: W_down (silu(W_gate h) * W_up h)

and the output is ``RMSNorm(x) @ W_lm`` over the vocabulary. Weights are random
but *seeded*, so every engine built from the same :class:`TinyConfig` holds the
same model, and the model's :attr:`TinyModel.fingerprint` says so.

**Attention reads its K and V through the block table.** The forward pass writes
each new token's K and V into the paged pool (:class:`labs_py.engine.kvcache.PagedKVCache`)
and then gathers the context back, in logical order, from whatever physical
blocks the request holds. The dense reference (:func:`dense_reference_logits`)
computes the same thing with no cache at all; a test checks that they agree.

**Batch-invariant reductions.** The promise of this chapter is that a migrated
request produces *exactly* the tokens it would have produced without moving.
That needs the arithmetic for one request to be bit-for-bit the same whatever
else shares its batch, and whether a token's K/V came from a prefill of many
tokens or a decode step of one. A BLAS ``matmul`` does not promise that: it picks
its blocking (and so the order of its additions) from the matrix shapes, and
floating-point addition is not associative. We measured it: the same row
multiplied alone and inside a batch of 300 rows can differ in the last bit.
(Horace He and Thinking Machines Lab, "Defeating Nondeterminism in LLM
Inference", 2025, make the same point about GPU kernels and call the fix
*batch-invariant* kernels.) So every reduction here -- matrix products, the
RMSNorm mean, attention's dot products and its softmax sums -- adds its terms in
one fixed order, left to right, independent of how many rows are in flight
(:func:`seq_matmul`, :func:`seq_sum`). Elementwise operations are exact IEEE
operations and need no care; ``exp`` is evaluated in float64 and rounded to
float32, so that which vector code path numpy picks cannot show.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from labs_py.core.validate import positive_float, positive_int
from labs_py.models import ModelSpec

__all__ = [
    "TOY_SHAPE",
    "TinyConfig",
    "TinyModel",
    "Chunk",
    "seq_matmul",
    "seq_matmul_loop",
    "seq_sum",
    "rms_norm",
    "apply_rope",
    "paged_attention",
    "dense_reference_logits",
]

F32 = np.float32
#: Most elements a kernel materialises at once (4 MiB of float32). Bigger
#: products are split into pieces that are independent rows, or, for a matrix
#: product, into a loop over the shared axis: same additions, same order, same bits.
_PRODUCT_BUDGET = 1 << 20


#: The toy model's shape: 2 layers of width 64, 4 query heads sharing 2 KV heads (GQA, 2 queries
#: per KV head), 16 numbers per head, a 256-token vocabulary (one token per byte). One token of
#: context costs ``2 * layers * kv_heads * head_dim * 4`` = 512 bytes of float32 KV.
TOY_SHAPE = ModelSpec(
    id="labs-py/numpy-toy",
    short_name="numpy toy",
    attention="gqa",
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    hidden_size=64,
    intermediate_size=128,
    vocab_size=256,
    tie_word_embeddings=False,
    explicit_head_dim=16,
)
#: The toy model computes and caches in float32.
KV_DTYPE = "fp32"


@dataclass(frozen=True)
class TinyConfig:
    """The toy model: a shape (:class:`~labs_py.models.ModelSpec`, the book's one shape type) and how to run it.

    Besides the shape: RoPE with base ``rope_theta``, positions up to ``max_position``,
    RMSNorm's ``rms_eps``, and the ``seed`` its random weights are drawn from.

    Taught in: no chapter calls it directly; it works behind moving_a_live_request.
    """

    shape: ModelSpec = TOY_SHAPE
    rope_theta: float = 10000.0
    max_position: int = 2048
    rms_eps: float = 1e-5
    seed: int = 0

    def __post_init__(self) -> None:
        if self.shape.attention != "gqa":
            raise ValueError(
                f"the numpy engine implements grouped-query attention; got {self.shape.attention!r}"
            )
        positive_int("max_position", self.max_position, "tokens")
        positive_float("rope_theta", self.rope_theta, "(RoPE base, no unit)")
        positive_float("rms_eps", self.rms_eps, "(no unit)")
        if self.head_dim % 2:
            raise ValueError(
                f"head_dim must be even for RoPE (it rotates pairs of numbers); got {self.head_dim}"
            )

    # the shape, in the names the forward pass uses
    @property
    def vocab_size(self) -> int:
        return self.shape.vocab_size

    @property
    def hidden_size(self) -> int:
        return self.shape.hidden_size

    @property
    def num_layers(self) -> int:
        return self.shape.num_hidden_layers

    @property
    def num_heads(self) -> int:
        return self.shape.num_attention_heads

    @property
    def num_kv_heads(self) -> int:
        return self.shape.num_key_value_heads

    @property
    def head_dim(self) -> int:
        return self.shape.head_dim

    @property
    def intermediate_size(self) -> int:
        return self.shape.intermediate_size

    @property
    def queries_per_kv_head(self) -> int:
        return self.num_heads // self.num_kv_heads

    @property
    def kv_bytes_per_token(self) -> int:
        """KV bytes per token of context over all layers (float32): the freight of a migration."""
        return self.shape.kv_bytes_per_token(KV_DTYPE)

    def fields(self) -> dict[str, float]:
        """Every number that determines the weights, by name (what the model's fingerprint hashes)."""
        return dict(
            vocab_size=self.vocab_size,
            hidden_size=self.hidden_size,
            num_layers=self.num_layers,
            num_heads=self.num_heads,
            num_kv_heads=self.num_kv_heads,
            head_dim=self.head_dim,
            intermediate_size=self.intermediate_size,
            rope_theta=self.rope_theta,
            max_position=self.max_position,
            rms_eps=self.rms_eps,
            seed=self.seed,
        )


@dataclass(frozen=True)
class Chunk:
    """A run of consecutive tokens of one request, computed in one forward pass.

    ``start_position`` is the position of the first token (the number of tokens
    whose KV is already cached); ``block_table`` must already hold slots for
    ``start_position + len(token_ids)`` tokens. ``want_logits`` asks for the
    last token's logits (needed only when the chunk reaches the end of what the
    request knows, so that the next token can be sampled).

    Taught in: no chapter calls it directly; it works behind moving_a_live_request.
    """

    token_ids: np.ndarray
    start_position: int
    block_table: tuple[int, ...]
    want_logits: bool = True


# --------------------------------------------------------------------------- fixed-order kernels
def seq_sum(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Sum along ``axis`` strictly in index order: ``((x0 + x1) + x2) + ...``.

    Why not ``np.sum``? Along a contiguous axis numpy sums *pairwise* (in
    blocks), so the grouping of the additions depends on the axis length, and
    with it the rounding. We move the summed axis to the front and reduce
    over it: numpy then adds whole rows elementwise, ``out += x[j]`` for
    ``j = 0, 1, ...``, and each output is a left-to-right sum whatever the
    other dimensions are. Two consequences the engine relies on: trailing
    exact zeros (masked keys) never change a sum, ``s + 0.0 == s``; and an
    output does not depend on how many other outputs were computed with it.
    (If the other dimensions hold a single element, numpy would see a 1-D
    reduction and go pairwise again, so we pad them to two.)

    Taught in: no chapter calls it directly; it works behind moving_a_live_request.
    """
    x = np.asarray(x)
    ax = axis % x.ndim
    a = x if ax == 0 else x.transpose((ax, *(i for i in range(x.ndim) if i != ax)))
    rest = a.shape[1:]
    flat = np.ascontiguousarray(a).reshape(a.shape[0], -1)
    width = flat.shape[1]
    if width < 2:
        flat = np.concatenate(
            [flat, np.zeros((flat.shape[0], 2 - width), dtype=flat.dtype)], axis=1
        )
    return np.add.reduce(flat, axis=0)[:width].reshape(rest)


def seq_matmul(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``x @ w`` with every output summed over the shared axis in order ``k = 0, 1, 2, ...``.

    Row ``i`` of the result depends on row ``i`` of ``x`` and on ``w`` only, not
    on how many rows came with it: the kernel is batch-invariant. Small
    products are formed all at once and reduced with :func:`seq_sum`'s
    row-by-row rule; big ones loop over ``k`` explicitly. Both perform the same
    additions in the same order and return the same bits (a test checks).

    Taught in: no chapter calls it directly; it works behind moving_a_live_request.
    """
    n, k = x.shape
    m = w.shape[1]
    if n * k * m <= _PRODUCT_BUDGET:
        return seq_sum(
            np.multiply(
                np.ascontiguousarray(x.T)[:, :, None], w[:, None, :], order="C"
            ),
            axis=0,
        )
    out = x[:, 0, None] * w[0]
    for j in range(1, k):
        out += x[:, j, None] * w[j]
    return out


def seq_matmul_loop(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The definition :func:`seq_matmul` must match bit for bit: an explicit loop over ``k``.

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    out = x[:, 0, None] * w[0]
    for j in range(1, x.shape[1]):
        out = out + x[:, j, None] * w[j]
    return out


def _exp32(x: np.ndarray) -> np.ndarray:
    """``exp`` in float64, rounded to float32: immune to which SIMD path numpy takes."""
    return np.exp(x.astype(np.float64)).astype(F32)


def rms_norm(x: np.ndarray, weight: np.ndarray, eps: float) -> np.ndarray:
    """RMSNorm (Zhang & Sennrich 2019): ``x / sqrt(mean(x**2) + eps) * weight``.

    No mean subtraction and no bias, unlike LayerNorm: Llama and Qwen use it.

    Taught in: no chapter calls it directly; it works behind moving_a_live_request.
    """
    ms = seq_sum(x * x, axis=-1) / F32(x.shape[-1])
    return (x / np.sqrt(ms + F32(eps))[..., None]) * weight


def rope_tables(
    head_dim: int, max_position: int, theta: float
) -> tuple[np.ndarray, np.ndarray]:
    """cos and sin of RoPE's angles, ``position * theta**(-2i/head_dim)``, shape ``(max_position, head_dim/2)``.

    Computed once in float64 and rounded: a position's angle never depends on
    how it was batched.

    Taught in: no chapter calls it directly; it works behind moving_a_live_request.
    """
    inv_freq = theta ** (-np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    ang = np.arange(max_position, dtype=np.float64)[:, None] * inv_freq[None, :]
    return np.cos(ang).astype(F32), np.sin(ang).astype(F32)


def apply_rope(
    x: np.ndarray, positions: np.ndarray, cos: np.ndarray, sin: np.ndarray
) -> np.ndarray:
    """Rotary position embedding (Su et al. 2021), "rotate-half" layout as in Llama/Qwen.

    Each pair ``(x1[i], x2[i])`` (first and second half of the head) is rotated
    by the angle of its position, so ``q . k`` depends on positions only through
    their difference. ``x`` is ``(tokens, heads, head_dim)``.

    Taught in: no chapter calls it directly; it works behind moving_a_live_request.
    """
    half = x.shape[-1] // 2
    c = cos[positions][:, None, :]
    s = sin[positions][:, None, :]
    x1, x2 = x[..., :half], x[..., half:]
    return np.concatenate([x1 * c - x2 * s, x2 * c + x1 * s], axis=-1)


def _silu(x: np.ndarray) -> np.ndarray:
    return x / (F32(1.0) + _exp32(-x))


def paged_attention(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    start_position: int,
    queries_per_kv_head: int,
) -> np.ndarray:
    """Causal GQA attention of ``n`` new queries over ``T = start_position + n`` cached keys.

    ``q`` is ``(n, heads, head_dim)`` already scaled by ``1/sqrt(head_dim)``;
    ``k, v`` are ``(T, kv_heads, head_dim)`` gathered through the block table.
    Query head ``h`` reads KV head ``h // queries_per_kv_head``: that sharing is
    what makes GQA's cache ``heads / kv_heads`` times smaller than MHA's.
    Query ``i`` (position ``start_position + i``) sees keys ``0 .. start_position + i``;
    the others get probability exactly 0. Queries are independent rows, so
    long prefills are processed in slices of queries to bound memory.

    Taught in: no chapter calls it directly; it works behind moving_a_live_request.
    """
    n, heads, hd = q.shape
    t = k.shape[0]
    kv_of_head = np.arange(heads) // queries_per_kv_head
    kh = np.ascontiguousarray(k[:, kv_of_head, :].transpose(2, 1, 0))[
        :, :, None, :
    ]  # (hd, H, 1, T)
    vh = np.ascontiguousarray(v[:, kv_of_head, :])[:, :, None, :]  # (T, H, 1, hd)
    step = max(1, _PRODUCT_BUDGET // (heads * t * hd))
    out = np.empty((n, heads, hd), dtype=F32)
    for a in range(0, n, step):
        b = min(n, a + step)
        qs = np.ascontiguousarray(q[a:b].transpose(2, 1, 0))[
            :, :, :, None
        ]  # (hd, H, c, 1)
        scores = seq_sum(
            np.multiply(qs, kh, order="C"), axis=0
        )  # (H, c, T): dot products over head_dim, in order
        visible = (
            np.arange(t)[None, :] <= (start_position + np.arange(a, b))[:, None]
        )  # (c, T)
        scores = np.where(visible[None], scores, F32(-np.inf))
        p = _exp32(
            scores - scores.max(axis=-1, keepdims=True)
        )  # masked keys: exp(-inf) = 0 exactly
        pt = np.ascontiguousarray(p.transpose(2, 0, 1))[:, :, :, None]  # (T, H, c, 1)
        weighted = seq_sum(
            np.multiply(pt, vh, order="C"), axis=0
        )  # (H, c, hd): values weighted, summed in key order
        out[a:b] = (weighted / seq_sum(p, axis=-1)[..., None]).transpose(1, 0, 2)
    return out


# --------------------------------------------------------------------------- the model
class TinyModel:
    """Seeded random weights and a forward pass over paged KV.

    Weights are drawn once from ``np.random.default_rng(config.seed)``; the
    linear layers are fused the way serving engines fuse them (one matrix for
    q, k and v; one for gate and up), which changes nothing in the arithmetic.

    Taught in: moving_a_live_request.
    """

    def __init__(self, config: TinyConfig | None = None) -> None:
        self.config = c = config or TinyConfig()
        rng = np.random.default_rng(c.seed)

        def w(fan_in: int, fan_out: int, gain: float = 1.0) -> np.ndarray:
            return (
                rng.standard_normal((fan_in, fan_out)) * (gain / np.sqrt(fan_in))
            ).astype(F32)

        q_out, kv_out = c.num_heads * c.head_dim, c.num_kv_heads * c.head_dim
        self.embed = rng.standard_normal((c.vocab_size, c.hidden_size)).astype(F32)
        self.layers: list[dict[str, np.ndarray]] = []
        for _ in range(c.num_layers):
            self.layers.append(
                {
                    "attn_norm": (
                        1.0 + 0.1 * rng.standard_normal(c.hidden_size)
                    ).astype(F32),
                    "w_qkv": w(c.hidden_size, q_out + 2 * kv_out, gain=1.5),
                    "w_o": w(q_out, c.hidden_size),
                    "mlp_norm": (1.0 + 0.1 * rng.standard_normal(c.hidden_size)).astype(
                        F32
                    ),
                    "w_gate_up": w(c.hidden_size, 2 * c.intermediate_size),
                    "w_down": w(c.intermediate_size, c.hidden_size),
                }
            )
        self.final_norm = (1.0 + 0.1 * rng.standard_normal(c.hidden_size)).astype(F32)
        self.lm_head = w(c.hidden_size, c.vocab_size, gain=2.0)
        self.rope_cos, self.rope_sin = rope_tables(
            c.head_dim, c.max_position, c.rope_theta
        )
        self.fingerprint: str = hashlib.sha256(
            repr(sorted(c.fields().items())).encode()
        ).hexdigest()[:16]

    # ----------------------------------------------------------------- pieces
    def _split_qkv(self, qkv: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        c = self.config
        q_out, kv_out = c.num_heads * c.head_dim, c.num_kv_heads * c.head_dim
        n = qkv.shape[0]
        q = qkv[:, :q_out].reshape(n, c.num_heads, c.head_dim)
        k = qkv[:, q_out : q_out + kv_out].reshape(n, c.num_kv_heads, c.head_dim)
        v = qkv[:, q_out + kv_out :].reshape(n, c.num_kv_heads, c.head_dim)
        return q, k, v

    def _mlp(self, x: np.ndarray, layer: dict[str, np.ndarray]) -> np.ndarray:
        gu = seq_matmul(
            rms_norm(x, layer["mlp_norm"], self.config.rms_eps), layer["w_gate_up"]
        )
        gate, up = (
            gu[:, : self.config.intermediate_size],
            gu[:, self.config.intermediate_size :],
        )
        return seq_matmul(_silu(gate) * up, layer["w_down"])

    def logits(self, x_last: np.ndarray) -> np.ndarray:
        """Final RMSNorm and the LM head: hidden states ``(rows, hidden)`` -> logits ``(rows, vocab)``."""
        return seq_matmul(
            rms_norm(x_last, self.final_norm, self.config.rms_eps), self.lm_head
        )

    # ----------------------------------------------------------------- forward
    def forward(self, chunks: Sequence[Chunk], cache) -> list[np.ndarray | None]:
        """Run several requests' chunks as one batch; write their K/V; return last-token logits.

        Linear layers see all rows of all chunks stacked together (that is what
        batching buys); attention is per chunk, over that request's own blocks.
        Returns, per chunk, the logits of its last token (``None`` where
        ``want_logits`` is false).
        """
        if not chunks:
            return []
        c = self.config
        tokens = np.concatenate(
            [np.asarray(ch.token_ids, dtype=np.int64) for ch in chunks]
        )
        positions = np.concatenate(
            [
                np.arange(ch.start_position, ch.start_position + len(ch.token_ids))
                for ch in chunks
            ]
        )
        if positions.max() >= c.max_position:
            raise ValueError(
                f"position {int(positions.max())} is past the model's max_position ({c.max_position} tokens)"
            )
        bounds = np.cumsum([0] + [len(ch.token_ids) for ch in chunks])
        scale = F32(1.0 / np.sqrt(c.head_dim))
        x = self.embed[tokens]
        for li, layer in enumerate(self.layers):
            q, k, v = self._split_qkv(
                seq_matmul(rms_norm(x, layer["attn_norm"], c.rms_eps), layer["w_qkv"])
            )
            q = apply_rope(q, positions, self.rope_cos, self.rope_sin) * scale
            k = apply_rope(k, positions, self.rope_cos, self.rope_sin)
            outs = []
            for ci, ch in enumerate(chunks):
                a, b = bounds[ci], bounds[ci + 1]
                cache.write_layer(li, ch.block_table, ch.start_position, k[a:b], v[a:b])
                k_ctx, v_ctx = cache.gather_layer(
                    li, ch.block_table, ch.start_position + (b - a)
                )
                outs.append(
                    paged_attention(
                        q[a:b], k_ctx, v_ctx, ch.start_position, c.queries_per_kv_head
                    )
                )
            attn = np.concatenate(outs).reshape(len(tokens), c.num_heads * c.head_dim)
            x = x + seq_matmul(attn, layer["w_o"])
            x = x + self._mlp(x, layer)
        want = [ci for ci, ch in enumerate(chunks) if ch.want_logits]
        result: list[np.ndarray | None] = [None] * len(chunks)
        if want:
            lg = self.logits(x[[bounds[ci + 1] - 1 for ci in want]])
            for row, ci in enumerate(want):
                result[ci] = lg[row]
        return result


# --------------------------------------------------------------------------- dense reference
def dense_reference_logits(model: TinyModel, token_ids: Sequence[int]) -> np.ndarray:
    """Logits at every position of ``token_ids``, computed the textbook way: no cache, no pages.

    Plain ``@`` (BLAS), ``np.repeat`` for GQA, a causal mask and a standard
    softmax. It shares no attention code with the engine, so agreement (to
    float32 rounding) checks the paged path: block tables, slot mapping,
    gathering, RoPE positions and the causal mask.

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    c = model.config
    tokens = np.asarray(token_ids, dtype=np.int64)
    n = len(tokens)
    pos = np.arange(n)
    x = model.embed[tokens].astype(np.float64)

    def norm(h: np.ndarray, w: np.ndarray) -> np.ndarray:
        return h / np.sqrt((h * h).mean(-1, keepdims=True) + c.rms_eps) * w

    cos, sin = model.rope_cos.astype(np.float64), model.rope_sin.astype(np.float64)
    mask = np.tril(np.ones((n, n), dtype=bool))
    for layer in model.layers:
        qkv = norm(x, layer["attn_norm"]) @ layer["w_qkv"]
        q, k, v = model._split_qkv(qkv)
        q, k = apply_rope(q, pos, cos, sin), apply_rope(k, pos, cos, sin)
        k = np.repeat(k, c.queries_per_kv_head, axis=1)
        v = np.repeat(v, c.queries_per_kv_head, axis=1)
        s = np.einsum("qhd,khd->hqk", q, k) / np.sqrt(c.head_dim)
        s = np.where(mask[None], s, -np.inf)
        p = np.exp(s - s.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        attn = np.einsum("hqk,khd->qhd", p, v).reshape(n, -1)
        x = x + attn @ layer["w_o"]
        gu = norm(x, layer["mlp_norm"]) @ layer["w_gate_up"]
        g, u = gu[:, : c.intermediate_size], gu[:, c.intermediate_size :]
        x = x + (g / (1 + np.exp(-g)) * u) @ layer["w_down"]
    return norm(x, model.final_norm) @ model.lm_head
