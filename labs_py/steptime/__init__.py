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

from dataclasses import dataclass

from labs_py.core.validate import (
    fraction,
    non_negative_float,
    non_negative_int,
    one_of,
    positive_float,
    positive_int,
)
from labs_py.defaults import DEFAULT_ENGINE, DEFAULT_GPU
from labs_py.gpus import GPU, get_gpu
from labs_py.models import KV_DTYPE_BYTES, ModelSpec, get_model

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

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, compression_and_pooling.
    """
    qk_dim = (
        spec.head_dim
        if spec.mla is None
        else spec.mla.qk_nope_head_dim + spec.mla.qk_rope_head_dim
    )
    pairs = new_tokens * context_tokens + new_tokens * (new_tokens + 1) / 2
    return 4.0 * spec.num_hidden_layers * spec.num_attention_heads * qk_dim * pairs


def prefill_flops(
    model: str | ModelSpec, prompt_tokens: int, context_tokens: int = 0
) -> float:
    """FLOPs to prefill ``prompt_tokens`` (after ``context_tokens`` already cached).

    The linear layers cost 2 FLOPs (a multiply and an add) per weight per token;
    the LM head runs once, for the last token only.

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, compression_and_pooling.
    """
    spec = get_model(model)
    n = positive_int("prompt_tokens", prompt_tokens, "tokens")
    ctx = non_negative_int("context_tokens", context_tokens, "tokens")
    lm_head = 2.0 * spec.vocab_size * spec.hidden_size
    return 2.0 * _body_params(spec) * n + attention_flops(spec, n, ctx) + lm_head


def prefill_seconds(
    model: str | ModelSpec,
    prompt_tokens: int,
    gpu: str | GPU = DEFAULT_GPU,
    *,
    tp: int = 1,
    context_tokens: int = 0,
    compute_efficiency: float = DEFAULT_COMPUTE_EFFICIENCY,
) -> float:
    """Seconds to prefill a prompt on ``tp`` GPUs: FLOPs / (dense bf16 FLOP/s x efficiency x tp).

    Tensor parallelism splits every matmul ``tp`` ways; its all-reduces are
    ignored here (NVLink-class links make them small next to a long prefill).

    Taught in: disaggregation_trade, compression_and_pooling.
    """
    g = _gpu(gpu)
    tp = positive_int("tp", tp, "GPUs")
    eff = fraction("compute_efficiency", compute_efficiency)
    if eff == 0:
        raise ValueError(
            "compute_efficiency must be greater than 0 (a fraction of the compute roof); got 0"
        )
    return prefill_flops(model, prompt_tokens, context_tokens) / (
        g.flops_per_s * eff * tp
    )


def decode_bytes_read(
    model: str | ModelSpec,
    batch_size: int,
    context_tokens: int,
    *,
    kv_dtype: str = "bf16",
    weight_dtype: str = "bf16",
) -> float:
    """Bytes one decode step reads from memory: the weights once, plus every request's KV cache.

    For mixture-of-experts models, a batch touches more experts than one token does;
    we charge the experts a batch can reach (at most all of them).

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        interference, goodput_and_split, two_gpus, real_pair, compression_and_pooling.
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
        per_expert = (
            3
            * spec.hidden_size
            * m.expert_intermediate_size
            * (spec.num_hidden_layers - m.dense_layers)
        )
        weights += (touched - m.experts_per_token) * per_expert
    return weights * WEIGHT_DTYPE_BYTES[
        weight_dtype
    ] + b * ctx * spec.kv_bytes_per_token(kv_dtype)


def decode_step_seconds(
    model: str | ModelSpec,
    batch_size: int,
    context_tokens: int,
    gpu: str | GPU = DEFAULT_GPU,
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

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request.
    """
    g = _gpu(gpu)
    spec = get_model(model)
    tp = positive_int("tp", tp, "GPUs")
    bw_eff = fraction("bandwidth_efficiency", bandwidth_efficiency)
    c_eff = fraction("compute_efficiency", compute_efficiency)
    if bw_eff == 0 or c_eff == 0:
        raise ValueError(
            "efficiencies must be greater than 0 (a fraction of the roof); got 0"
        )
    b = positive_int("batch_size", batch_size, "requests")
    memory_s = decode_bytes_read(spec, b, context_tokens, kv_dtype=kv_dtype) / (
        g.bytes_per_s * bw_eff * tp
    )
    flops = (
        2.0 * spec.params_active() * b + attention_flops(spec, 1, context_tokens) * b
    )
    compute_s = flops / (g.flops_per_s * c_eff * tp)
    return max(memory_s, compute_s)


# =========================================================================== engines and mixed steps
# Everything above prices one *kind* of work on an ideal engine. A serving engine
# runs *steps*: one forward pass over a batch that may mix prefill chunks with
# decode tokens, and every step also pays a fixed cost on the host (scheduling,
# kernel launches, sampling). The simulator (``labs_py.sim``) needs that step time
# millions of times, so the model below is split in two: :class:`StepCoefficients`
# folds a (model, GPU, TP, engine) combination into a handful of floats once, and
# :meth:`StepCoefficients.step_seconds` is then plain arithmetic.


@dataclass(frozen=True)
class EngineProfile:
    """How close a serving engine gets to the roofs, and what it pays per step regardless.

    * ``compute_efficiency``: fraction of the dense bf16 roof its GEMMs reach;
    * ``attention_efficiency``: the same for the attention kernels (often lower:
      older attention kernels were far from the roof);
    * ``bandwidth_efficiency``: fraction of the HBM roof its memory-bound kernels reach;
    * ``step_overhead_s``: the fixed cost of a step, in seconds, that no roof explains
      (host-side scheduling, kernel launches, sampling, Python);
    * ``sequence_overhead_s``: the cost per request in the step, in seconds (sampling,
      block tables, detokenisation: host work that grows with the batch);
    * ``allreduce_latency_s``: the fixed cost of one tensor-parallel all-reduce, in seconds
      (two per layer per step when ``tp > 1``);
    * ``tp_link_gbps``: the GPU-to-GPU link for those all-reduces, Gb/s per direction;
    * ``roofline_sharpness``: how sharply the GEMMs switch from the bandwidth roof to
      the compute roof. The ideal roofline is ``max(memory, compute)`` (sharpness
      infinite); real kernels overlap loads and math imperfectly, so near the ridge
      both costs show. We use the smooth maximum ``(m^k + c^k)^(1/k)``: ``k = 1`` adds
      them, ``k -> inf`` is the max. Fitted profiles get ``k`` from data.

    Profiles are fitted to published step latencies in ``labs_py/data/calibration.json``
    (see :func:`engine_profile`); ``ROOFLINE`` is the ideal engine of the roofline chapter.

    Taught in: no chapter calls it directly; it works behind why_split, interference,
        goodput_and_split, two_gpus, real_pair, compression_and_pooling.
    """

    name: str
    compute_efficiency: float
    attention_efficiency: float
    bandwidth_efficiency: float
    step_overhead_s: float = 0.0
    sequence_overhead_s: float = 0.0
    allreduce_latency_s: float = 0.0
    tp_link_gbps: float = 3600.0  # NVLink 4: 450 GB/s per direction
    roofline_sharpness: float = float("inf")
    source: str = ""

    def __post_init__(self) -> None:
        for name in (
            "compute_efficiency",
            "attention_efficiency",
            "bandwidth_efficiency",
        ):
            v = fraction(name, getattr(self, name))
            if v == 0:
                raise ValueError(
                    f"{name} must be greater than 0 (a fraction of the roof); got 0"
                )
        non_negative_float("step_overhead_s", self.step_overhead_s, "seconds")
        non_negative_float("sequence_overhead_s", self.sequence_overhead_s, "seconds")
        non_negative_float("allreduce_latency_s", self.allreduce_latency_s, "seconds")
        positive_float("tp_link_gbps", self.tp_link_gbps, "Gb/s")
        if not self.roofline_sharpness >= 1:
            raise ValueError(
                "roofline_sharpness must be >= 1 (1 adds the roofs, inf takes the max); got "
                f"{self.roofline_sharpness!r}"
            )


#: The ideal engine: the H100 micro-benchmark efficiencies and no per-step cost.
#: ``prefill_seconds`` and ``decode_step_seconds`` use exactly this engine.
ROOFLINE = EngineProfile(
    name="roofline",
    compute_efficiency=DEFAULT_COMPUTE_EFFICIENCY,
    attention_efficiency=DEFAULT_COMPUTE_EFFICIENCY,
    bandwidth_efficiency=DEFAULT_BANDWIDTH_EFFICIENCY,
    source="H100 SXM micro-benchmarks: 798/989 TFLOP/s matmul, 3.0/3.35 TB/s copy (shared/notes/sources.md)",
)


def engine_profiles() -> dict[str, EngineProfile]:
    """Every engine profile: ``"roofline"`` plus those fitted in ``labs_py/data/calibration.json``.

    Taught in: no chapter calls it directly; it works behind why_split, interference,
        goodput_and_split, two_gpus, real_pair, compression_and_pooling.
    """
    from labs_py.core import catalog

    out = {"roofline": ROOFLINE}
    for name, p in catalog.load("calibration")["profiles"].items():
        out[name] = EngineProfile(
            name=name,
            compute_efficiency=p["compute_efficiency"],
            attention_efficiency=p["attention_efficiency"],
            bandwidth_efficiency=p["bandwidth_efficiency"],
            step_overhead_s=p["step_overhead_s"],
            sequence_overhead_s=p.get("sequence_overhead_s", 0.0),
            allreduce_latency_s=p.get("allreduce_latency_s", 0.0),
            tp_link_gbps=p.get("tp_link_gbps", 3600.0),
            roofline_sharpness=float(p.get("roofline_sharpness", float("inf"))),
            source=p["source"],
        )
    return out


def engine_profile(profile: str | EngineProfile) -> EngineProfile:
    """Find an engine profile by name (``"roofline"``, ``"h100-serving"``, ...), or pass one through.

    Taught in: two_gpus.
    """
    if isinstance(profile, EngineProfile):
        return profile
    from labs_py.core import catalog

    profiles = engine_profiles()
    if profile not in profiles:
        raise catalog.unknown("engine profile", profile, list(profiles))
    return profiles[profile]


@dataclass(frozen=True)
class StepCoefficients:
    """One (model, GPU, TP, engine) folded into the few numbers a step time needs.

    A step processes ``tokens = prefill_tokens + decode_requests`` tokens. Its time is

        overhead + per-request overhead x requests
        + smoothmax(weight_bytes / bandwidth, linear_flops / compute)  # the GEMMs: shared by all tokens
        + attention_flops / attention_compute                        # per request: QK^T and PV
        + kv_bytes_read / bandwidth                                  # per request: decode reads its KV
        + all-reduces (tp > 1)

    **Why a max for the weights and a sum for attention.** Every token in the batch
    multiplies the *same* weights, which are read from HBM once per step. While the
    batch is small, reading them is the bottleneck (decode); once the batch holds a
    few hundred tokens, the multiplications are (prefill). That is the roofline.
    Attention is different: each request attends over its *own* context, so its
    cost adds up request by request and is never hidden behind the weight read.

    **Why a chunk makes a step slower by a fixed amount.** A decode-only step of
    a small batch sits on the bandwidth side of the max; adding a 512-token chunk
    moves it to the compute side. Every step that carries a chunk of the same size
    pays the same extra time (plus the chunk's attention, which grows slowly with
    how far into the prompt the chunk is).

    Taught in: no chapter calls it directly; it works behind why_split, interference,
        goodput_and_split, two_gpus, real_pair, compression_and_pooling.
    """

    model_id: str
    gpu_id: str
    tp: int
    engine: str
    weight_bytes: float
    linear_flops_per_token: float
    lm_head_flops_per_sequence: float
    attention_flops_per_pair: float
    kv_bytes_per_token: float
    compute_flops_per_s: float
    attention_flops_per_s: float
    memory_bytes_per_s: float
    overhead_s: float
    sequence_overhead_s: float
    allreduce_s_per_step: float
    allreduce_s_per_token: float
    sharpness: float = float("inf")

    def step_seconds(
        self,
        prefill_tokens: float = 0.0,
        prefill_pairs: float = 0.0,
        prefill_sequences: float = 0.0,
        decode_requests: float = 0.0,
        decode_context_tokens: float = 0.0,
    ) -> float:
        """Seconds for one step (no input checks: this is the simulator's inner loop).

        ``prefill_pairs`` is the number of (query, key) pairs of the prefill chunks
        (:func:`chunk_attention_pairs`); ``decode_context_tokens`` is the sum over
        decoding requests of the tokens each one attends to (its KV length).
        """
        tokens = prefill_tokens + decode_requests
        if tokens <= 0:
            return 0.0
        lin = self.linear_flops_per_token * tokens + self.lm_head_flops_per_sequence * (
            prefill_sequences + decode_requests
        )
        mem, comp = (
            self.weight_bytes / self.memory_bytes_per_s,
            lin / self.compute_flops_per_s,
        )
        k = self.sharpness
        if k == float("inf"):
            gemm = mem if mem > comp else comp
        else:
            hi = mem if mem > comp else comp
            gemm = hi * (1.0 + (min(mem, comp) / hi) ** k) ** (1.0 / k)
        attn = (
            self.attention_flops_per_pair
            * (prefill_pairs + decode_context_tokens)
            / self.attention_flops_per_s
        )
        kv = self.kv_bytes_per_token * decode_context_tokens / self.memory_bytes_per_s
        comm = (
            self.allreduce_s_per_step + self.allreduce_s_per_token * tokens
            if self.tp > 1
            else 0.0
        )
        host = self.overhead_s + self.sequence_overhead_s * (
            prefill_sequences + decode_requests
        )
        return host + gemm + attn + kv + comm

    def prefill_seconds(self, prompt_tokens: int, context_tokens: int = 0) -> float:
        """One prompt (or one chunk after ``context_tokens``) alone in a step."""
        return self.step_seconds(
            prompt_tokens, chunk_attention_pairs(prompt_tokens, context_tokens), 1, 0, 0
        )

    def decode_seconds(self, batch_size: int, context_tokens: int) -> float:
        """A decode-only step of ``batch_size`` requests with ``context_tokens`` each."""
        return self.step_seconds(0, 0, 0, batch_size, batch_size * context_tokens)

    def kv_capacity_tokens(
        self, gpu_memory_bytes: float, memory_utilisation: float = 0.9
    ) -> int:
        """Tokens of KV cache that fit beside the weights (``tp`` GPUs, each ``gpu_memory_bytes``)."""
        free = gpu_memory_bytes * self.tp * memory_utilisation - self.weight_bytes
        return max(0, int(free // self.kv_bytes_per_token))


def chunk_attention_pairs(chunk_tokens: float, context_tokens: float = 0.0) -> float:
    """(query, key) pairs of a causal chunk of ``chunk_tokens`` after ``context_tokens`` cached tokens.

    The i-th new token (1-based) sees the context plus ``i`` new tokens:
    ``chunk * context + chunk * (chunk + 1) / 2``. Splitting a prompt into chunks
    does not change the total: the pairs add up to the whole prompt's.

    Taught in: interference, two_gpus.
    """
    return chunk_tokens * context_tokens + chunk_tokens * (chunk_tokens + 1) / 2.0


def step_coefficients(
    model: str | ModelSpec,
    gpu: str | GPU = DEFAULT_GPU,
    *,
    tp: int = 1,
    engine: str | EngineProfile = DEFAULT_ENGINE,
    kv_dtype: str = "bf16",
    weight_dtype: str = "bf16",
) -> StepCoefficients:
    """Fold a model, GPU, TP degree and engine profile into :class:`StepCoefficients`.

    Tensor parallelism splits every weight and every head ``tp`` ways, so each GPU
    reads and multiplies ``1/tp`` of the work, and two all-reduces per layer put the
    activations back together (a ring all-reduce moves ``2 (tp-1)/tp`` of the
    activation bytes through each GPU's link, plus a fixed latency).

    Taught in: interference, goodput_and_split, two_gpus.
    """
    spec = get_model(model)
    g = _gpu(gpu)
    tp = positive_int("tp", tp, "GPUs")
    prof = engine_profile(engine)
    one_of("weight_dtype", weight_dtype, tuple(WEIGHT_DTYPE_BYTES), "weight dtype")
    embed = spec.vocab_size * spec.hidden_size
    qk_dim = (
        spec.head_dim
        if spec.mla is None
        else spec.mla.qk_nope_head_dim + spec.mla.qk_rope_head_dim
    )
    layers = spec.num_hidden_layers
    act_bytes_per_token = spec.hidden_size * 2  # bf16 activations
    link_bytes_per_s = prof.tp_link_gbps * 1e9 / 8
    return StepCoefficients(
        model_id=spec.id,
        gpu_id=g.id,
        tp=tp,
        engine=prof.name,
        weight_bytes=float(
            decode_bytes_read(spec, 1, 0, kv_dtype=kv_dtype, weight_dtype=weight_dtype)
        ),
        linear_flops_per_token=2.0 * _body_params(spec),
        lm_head_flops_per_sequence=2.0 * embed,
        attention_flops_per_pair=4.0 * layers * spec.num_attention_heads * qk_dim,
        kv_bytes_per_token=float(spec.kv_bytes_per_token(kv_dtype)),
        compute_flops_per_s=g.flops_per_s * prof.compute_efficiency * tp,
        attention_flops_per_s=g.flops_per_s * prof.attention_efficiency * tp,
        memory_bytes_per_s=g.bytes_per_s * prof.bandwidth_efficiency * tp,
        overhead_s=prof.step_overhead_s,
        sequence_overhead_s=prof.sequence_overhead_s,
        allreduce_s_per_step=2 * layers * prof.allreduce_latency_s,
        allreduce_s_per_token=2
        * layers
        * act_bytes_per_token
        * 2
        * (tp - 1)
        / tp
        / link_bytes_per_s,
        sharpness=prof.roofline_sharpness,
    )


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
    flops = 2.0 * _body_params(spec) * n + attention_flops(spec, 1, ctx) * n
    bytes_read = decode_bytes_read(spec, 1, 0) + n * ctx * spec.kv_bytes_per_token()
    return flops, float(bytes_read)


def arithmetic_intensity(
    model: str | ModelSpec, tokens_per_step: int, context_tokens: int = 0
) -> float:
    """FLOPs per byte read of one step that multiplies ``tokens_per_step`` tokens through the weights.

    The weights are read once per step, however many tokens multiply them, so
    intensity grows with the batch: ~1 FLOP/byte for one decode token (bf16: 2 FLOPs
    per 2-byte weight), hundreds for a prefill chunk. Compare with
    :attr:`labs_py.gpus.GPU.ridge_flops_per_byte` (about 295 on an H100 SXM) to see
    which roof a step is under. ``context_tokens`` adds one request's KV read per token
    (decode-like tokens), which pulls intensity down.

    Taught in: why_split.
    """
    flops, bytes_read = step_flops_and_bytes(model, tokens_per_step, context_tokens)
    return flops / bytes_read
