"""How long one engine step takes, for a model on a GPU at a tensor-parallel degree, under an engine.

A serving engine runs *steps*: one forward pass over a batch that may mix prefill
chunks with decode tokens. A step's time is the sum of five parts, each the price
of one kind of work:

==============  ==========================================================================================
part            what it pays for, and why it has this shape
==============  ==========================================================================================
GEMMs           every weight multiplies every token of the step. The weights are read once per step
                (``weight_bytes / bandwidth``) and multiplied once per token (``flops / compute``). A
                small batch waits on the read (decode), a prompt on the multiplications (prefill): a
                roofline, whose corner is rounded by a fitted *sharpness* (real kernels overlap loads
                and math imperfectly)
attention       each request attends over its own context, so this adds up request by request: a fixed
                cost per layer (kernel launch), the FLOPs of a prompt's (query, key) pairs, and each
                decoding request's KV read from memory
small ops       norms, the activation and the embedding: a fixed cost per layer plus bytes per token
all-reduce      with ``tp > 1``, two all-reduces per layer put the activations back together: a latency
                plus the bytes over the GPUs' link, fitted per GPU and TP degree from measured tables
host            what the CPU side costs per step (scheduling, sampling), fitted on a measured serving run
==============  ==========================================================================================

The efficiencies and costs of each part are an :class:`EngineProfile`, one per engine
and GPU, fitted by ``python -m labs_py.steptime fit`` (:mod:`labs_py.steptime.fit`) and
stored in ``labs_py/data/calibration.json`` with their provenance. How well the model
agrees with measurements it was and was not fitted on is ``python -m labs_py.steptime
validate`` (:mod:`labs_py.steptime.validation`).

A client sees more than the step: HTTP, tokenisation and the engine's bookkeeping add
a fixed *client overhead* to every request's TTFT. It is a separate number
(:attr:`StepCoefficients.client_overhead_s`), so that "prefill compute"
(:meth:`StepCoefficients.prefill_seconds`) and "the TTFT a client sees"
(:meth:`StepCoefficients.client_ttft_seconds`) are two numbers.

The simulator (``labs_py.sim``) needs step times millions of times, so
:func:`step_coefficients` folds a (model, GPU, TP, engine) combination into a handful
of floats once, and :meth:`StepCoefficients.step_seconds` is then plain arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cache

from labs_py.core import catalog
from labs_py.core.validate import (
    fraction,
    non_negative_float,
    one_of,
    positive_float,
    positive_int,
)
from labs_py.defaults import DEFAULT_ENGINE, DEFAULT_GPU
from labs_py.gpus import GPU, get_gpu
from labs_py.models import KV_DTYPE_BYTES, ModelSpec, get_model
from labs_py.steptime import placement
from labs_py.steptime.transformer import (
    WEIGHT_DTYPE_BYTES,
    body_params,
    chunk_attention_pairs,
    expert_bytes,
    norm_bytes_per_token,
    qk_dim,
    weight_bytes,
)

__all__ = [
    "IDEAL_COMPUTE_EFFICIENCY",
    "IDEAL_BANDWIDTH_EFFICIENCY",
    "AllReduce",
    "EngineProfile",
    "ROOFLINE",
    "STEP_PARTS",
    "engine_names",
    "engine_profile",
    "StepCoefficients",
    "step_coefficients",
    "prefill_seconds",
    "decode_step_seconds",
]

#: What one H100 SXM reached in micro-benchmarks: an 8192^3 bf16 matmul at ~798 of 989 TFLOP/s, a
#: device-to-device copy at ~3.0 of 3.35 TB/s (labs_py/data/gpus.json). The ideal engine uses them.
IDEAL_COMPUTE_EFFICIENCY = 798 / 989
IDEAL_BANDWIDTH_EFFICIENCY = 3.0 / 3.35


@dataclass(frozen=True)
class AllReduce:
    """One all-reduce over ``tp`` GPUs: ``latency + bytes / bandwidth``, for graphed and for eager steps.

    A decode-only step runs as a captured CUDA graph, whose all-reduce kernel has a lower
    latency (about 4 us on an H100, against about 20 us eager); a step that carries
    prefill runs eagerly, with large messages, so its bandwidth matters more.

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, interference, goodput_and_split, two_gpus, real_pair,
        plan_a_deployment, compression_and_pooling.
    """

    tp: int
    graph_latency_s: float
    graph_bytes_per_s: float
    eager_latency_s: float
    eager_bytes_per_s: float

    def scaled(self, factor: float) -> AllReduce:
        """The same all-reduce with its latencies scaled by ``factor`` (a what-if)."""
        return replace(
            self,
            graph_latency_s=self.graph_latency_s * factor,
            eager_latency_s=self.eager_latency_s * factor,
        )

    def over_link(self, factor: float) -> AllReduce:
        """The same all-reduce over a link ``factor`` times as fast (latencies unchanged)."""
        return replace(
            self,
            graph_bytes_per_s=self.graph_bytes_per_s * factor,
            eager_bytes_per_s=self.eager_bytes_per_s * factor,
        )


@dataclass(frozen=True)
class EngineProfile:
    """How close one serving engine gets to one GPU's roofs, and what it pays regardless.

    Efficiencies are fractions of the GPU's datasheet roofs; times are in seconds.

    * GEMMs: ``bandwidth_efficiency`` (reading weights), ``compute_efficiency`` (bf16
      FLOPs), ``sharpness`` of the roofline's corner (``k`` of ``(m^k + c^k)^(1/k)``: 1
      adds the two, infinity takes the larger), and ``gemm_layer_s`` per layer per step
      (small GEMMs, split many ways, stop scaling: launch and tail costs);
    * attention: ``attention_layer_s`` per layer per step, ``attention_efficiency`` of a
      prompt's FLOPs, ``kv_bandwidth_efficiency`` of decode's KV reads;
    * small ops: ``other_layer_s`` per layer per step, ``other_bandwidth_efficiency`` of
      their bytes per token (:func:`labs_py.steptime.transformer.norm_bytes_per_token`);
    * ``allreduce``: one :class:`AllReduce` per TP degree;
    * host: ``step_overhead_s`` per step, ``sequence_overhead_s`` per request in the step;
    * ``client_overhead_s``: what a client's TTFT adds to the prefill step (HTTP,
      tokenisation, admission), per request.

    ``derived_from`` names the GPU whose fit this profile borrows its efficiencies from,
    when this GPU has no measurements of its own (its roofs and link are its own).

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, interference, goodput_and_split, two_gpus, real_pair,
        plan_a_deployment, compression_and_pooling.
    """

    engine: str
    gpu: str
    compute_efficiency: float
    bandwidth_efficiency: float
    sharpness: float
    gemm_layer_s: float
    attention_layer_s: float
    attention_efficiency: float
    kv_bandwidth_efficiency: float
    other_layer_s: float
    other_bandwidth_efficiency: float
    allreduce: tuple[AllReduce, ...] = ()
    step_overhead_s: float = 0.0
    sequence_overhead_s: float = 0.0
    client_overhead_s: float = 0.0
    derived_from: str | None = None
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        for name in (
            "compute_efficiency",
            "bandwidth_efficiency",
            "attention_efficiency",
            "kv_bandwidth_efficiency",
            "other_bandwidth_efficiency",
        ):
            if fraction(name, getattr(self, name)) == 0:
                raise ValueError(
                    f"{name} must be greater than 0 (a fraction of the roof); got 0"
                )
        for name in (
            "gemm_layer_s",
            "attention_layer_s",
            "other_layer_s",
            "step_overhead_s",
            "sequence_overhead_s",
            "client_overhead_s",
        ):
            non_negative_float(name, getattr(self, name), "seconds")
        if not self.sharpness >= 1:
            raise ValueError(
                f"sharpness must be >= 1 (1 adds the roofs, inf takes the larger); got {self.sharpness!r}"
            )

    @property
    def name(self) -> str:
        """``"<engine> on <gpu>"``, for labels."""
        return f"{self.engine} on {self.gpu}"

    def allreduce_for(self, tp: int) -> AllReduce:
        """The all-reduce at ``tp`` GPUs (raises, listing the calibrated degrees, when there is none)."""
        for ar in self.allreduce:
            if ar.tp == tp:
                return ar
        known = ", ".join(str(a.tp) for a in self.allreduce) or "none"
        raise ValueError(
            f"{self.name} has no all-reduce calibration for tp={tp}; calibrated tp: {known}"
        )

    def allreduce_latency_s(self, tp: int = 2) -> float:
        """The fixed cost of one all-reduce of a decode step at ``tp`` GPUs, in seconds."""
        return self.allreduce_for(tp).graph_latency_s

    def with_allreduce(self, factor: float) -> EngineProfile:
        """This profile with every all-reduce latency scaled by ``factor`` (0: all-reduces cost only bytes)."""
        non_negative_float(
            "factor", factor, "(multiple of the fitted all-reduce latency)"
        )
        return replace(
            self,
            engine=f"{self.engine}, all-reduce x{factor:g}",
            allreduce=tuple(a.scaled(factor) for a in self.allreduce),
        )


def _roofline(gpu: GPU) -> EngineProfile:
    """The ideal engine on ``gpu``: micro-benchmark efficiencies, no fixed costs, all-reduces at the link's rate."""
    bps = gpu.tp_link.gbps_per_direction * 1e9 / 8
    ars = tuple(
        AllReduce(t, 0.0, bps, 0.0, bps)
        for t in placement.TP_CANDIDATES[1:]
        if t <= gpu.tp_link.max_tp
    )
    return EngineProfile(
        engine="roofline",
        gpu=gpu.id,
        compute_efficiency=IDEAL_COMPUTE_EFFICIENCY,
        bandwidth_efficiency=IDEAL_BANDWIDTH_EFFICIENCY,
        sharpness=float("inf"),
        gemm_layer_s=0.0,
        attention_layer_s=0.0,
        attention_efficiency=IDEAL_COMPUTE_EFFICIENCY,
        kv_bandwidth_efficiency=IDEAL_BANDWIDTH_EFFICIENCY,
        other_layer_s=0.0,
        other_bandwidth_efficiency=IDEAL_BANDWIDTH_EFFICIENCY,
        allreduce=ars,
        source="the roofline: H100 SXM micro-benchmark efficiencies (798/989 TFLOP/s, 3.0/3.35 TB/s), no fixed costs",
    )


#: The five parts of a step, in the order :meth:`StepCoefficients.parts` gives them.
STEP_PARTS = ("gemm", "attention", "small_ops", "allreduce", "host")

#: The ideal engine, by GPU: what the roofline chapter draws.
ROOFLINE = "roofline"


def _profile_from(engine: str, gpu: str, p: dict, source: str) -> EngineProfile:
    ars = tuple(
        AllReduce(int(t), **a)
        for t, a in sorted(p.get("allreduce", {}).items(), key=lambda kv: int(kv[0]))
    )
    c = p["coefficients"]
    return EngineProfile(
        engine=engine,
        gpu=gpu,
        allreduce=ars,
        derived_from=p.get("derived_from"),
        source=p.get("source", source),
        **c,
    )


@cache
def _calibrated() -> dict[tuple[str, str], EngineProfile]:
    data = catalog.load("calibration")
    out = {}
    for engine, e in data["engines"].items():
        for gpu, p in e["gpus"].items():
            out[(engine, gpu)] = _profile_from(engine, gpu, p, e.get("source", ""))
    return out


def engine_names() -> list[str]:
    """Every engine the book can price: ``"roofline"`` and the calibrated ones (``"vllm"``, ``"distserve"``).

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, interference, goodput_and_split, two_gpus, real_pair,
        plan_a_deployment, compression_and_pooling.
    """
    return [ROOFLINE, *dict.fromkeys(e for e, _ in _calibrated())]


def engine_profile(
    engine: str | EngineProfile = DEFAULT_ENGINE, gpu: str | GPU = DEFAULT_GPU
) -> EngineProfile:
    """The profile of ``engine`` on ``gpu`` (an :class:`EngineProfile` passes through unchanged).

    Raises, listing what is calibrated, when the engine has no profile for that GPU.

    Taught in: two_gpus.
    """
    if isinstance(engine, EngineProfile):
        return engine
    g = gpu if isinstance(gpu, GPU) else get_gpu(gpu)
    if engine == ROOFLINE:
        return _roofline(g)
    profiles = _calibrated()
    if (engine, g.id) in profiles:
        return profiles[(engine, g.id)]
    if engine not in engine_names():
        raise catalog.unknown("engine", engine, engine_names())
    have = sorted(gpu_id for e, gpu_id in profiles if e == engine)
    raise ValueError(
        f"engine {engine!r} is not calibrated on {g.id}; it is on: {', '.join(have)} "
        f"(engine='roofline' prices any GPU, ideally)"
    )


@dataclass(frozen=True)
class StepCoefficients:
    """One (model, GPU, TP, engine) folded into the numbers a step time needs (every rate is for the whole TP group).

    :meth:`step_seconds` is the simulator's inner loop; :meth:`parts` gives the same
    time split into its five parts, for figures and for reconciling with measurements.

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, interference, goodput_and_split, two_gpus, real_pair,
        plan_a_deployment, compression_and_pooling.
    """

    model_id: str
    gpu_id: str
    tp: int
    engine: str
    layers: int
    weight_bytes: float
    expert_bytes: float
    experts_per_token: int
    num_experts: int
    linear_flops_per_token: float
    lm_head_flops_per_sequence: float
    attention_flops_per_pair: float
    kv_bytes_per_token: float
    compute_flops_per_s: float
    attention_flops_per_s: float
    memory_bytes_per_s: float
    kv_bytes_per_s: float
    sharpness: float
    gemm_floor_s: float
    attention_floor_s: float
    other_floor_s: float
    other_s_per_token: float
    allreduce_graph_s_per_step: float
    allreduce_graph_s_per_token: float
    allreduce_eager_s_per_step: float
    allreduce_eager_s_per_token: float
    overhead_s: float
    sequence_overhead_s: float
    client_overhead_s: float

    def _terms(
        self,
        prefill_tokens: float,
        prefill_pairs: float,
        prefill_sequences: float,
        decode_requests: float,
        decode_context_tokens: float,
    ) -> tuple[float, float, float, float, float]:
        tokens = prefill_tokens + decode_requests
        if tokens <= 0:
            return 0.0, 0.0, 0.0, 0.0, 0.0
        weights = self.weight_bytes
        if (
            self.expert_bytes
        ):  # a mixture of experts reads every expert some token of the step routes to
            weights += self.expert_bytes * (
                min(self.num_experts, self.experts_per_token * tokens)
                - self.experts_per_token
            )
        lin = self.linear_flops_per_token * tokens + self.lm_head_flops_per_sequence * (
            prefill_sequences + decode_requests
        )
        mem, comp = weights / self.memory_bytes_per_s, lin / self.compute_flops_per_s
        hi, lo = (mem, comp) if mem > comp else (comp, mem)
        k = self.sharpness
        gemm = self.gemm_floor_s + (
            hi if k == float("inf") else hi * (1.0 + (lo / hi) ** k) ** (1.0 / k)
        )
        attn = (
            self.attention_floor_s
            + self.attention_flops_per_pair * prefill_pairs / self.attention_flops_per_s
            + self.kv_bytes_per_token * decode_context_tokens / self.kv_bytes_per_s
        )
        small = self.other_floor_s + self.other_s_per_token * tokens
        if self.tp == 1:
            comm = 0.0
        elif prefill_tokens > 0:
            comm = (
                self.allreduce_eager_s_per_step
                + self.allreduce_eager_s_per_token * tokens
            )
        else:
            comm = (
                self.allreduce_graph_s_per_step
                + self.allreduce_graph_s_per_token * tokens
            )
        host = self.overhead_s + self.sequence_overhead_s * (
            prefill_sequences + decode_requests
        )
        return gemm, attn, small, comm, host

    def parts(
        self,
        prefill_tokens: float = 0.0,
        prefill_pairs: float = 0.0,
        prefill_sequences: float = 0.0,
        decode_requests: float = 0.0,
        decode_context_tokens: float = 0.0,
    ) -> dict[str, float]:
        """The step's seconds, part by part: ``gemm``, ``attention``, ``small_ops``, ``allreduce``, ``host``."""
        return dict(
            zip(
                STEP_PARTS,
                self._terms(
                    prefill_tokens,
                    prefill_pairs,
                    prefill_sequences,
                    decode_requests,
                    decode_context_tokens,
                ),
            )
        )

    def step_seconds(
        self,
        prefill_tokens: float = 0.0,
        prefill_pairs: float = 0.0,
        prefill_sequences: float = 0.0,
        decode_requests: float = 0.0,
        decode_context_tokens: float = 0.0,
    ) -> float:
        """Seconds for one step (no input checks: this is the simulator's inner loop); the sum of :meth:`parts`.

        ``prefill_pairs`` is the number of (query, key) pairs of the prefill chunks
        (:func:`labs_py.steptime.transformer.chunk_attention_pairs`); ``decode_context_tokens``
        is the sum over decoding requests of the tokens each one attends to (its KV length).
        """
        return sum(
            self._terms(
                prefill_tokens,
                prefill_pairs,
                prefill_sequences,
                decode_requests,
                decode_context_tokens,
            )
        )

    def prefill_seconds(self, prompt_tokens: int, context_tokens: int = 0) -> float:
        """One prompt (or one chunk after ``context_tokens``) alone in a step: prefill compute, no client overhead."""
        return self.step_seconds(
            prompt_tokens, chunk_attention_pairs(prompt_tokens, context_tokens), 1, 0, 0
        )

    def decode_seconds(self, batch_size: float, context_tokens: float) -> float:
        """A decode-only step of ``batch_size`` requests with ``context_tokens`` of KV each."""
        return self.step_seconds(0, 0, 0, batch_size, batch_size * context_tokens)

    def client_ttft_seconds(self, prompt_tokens: int) -> float:
        """The TTFT a client sees for a lone request: the client overhead plus the prefill step."""
        return self.client_overhead_s + self.prefill_seconds(prompt_tokens)


def step_coefficients(
    model: str | ModelSpec,
    gpu: str | GPU = DEFAULT_GPU,
    *,
    tp: int | None = None,
    engine: str | EngineProfile = DEFAULT_ENGINE,
    kv_dtype: str = "bf16",
    weight_dtype: str = "bf16",
) -> StepCoefficients:
    """Fold a model, GPU, TP degree and engine into :class:`StepCoefficients`.

    Tensor parallelism splits every weight and every head ``tp`` ways, so each GPU
    reads and multiplies ``1/tp`` of the work, and two all-reduces per layer put the
    activations back together. The model must split evenly and fit
    (:func:`labs_py.steptime.placement.check`): a 70B model is never priced on one
    80 GB GPU; the error says which degrees would work. ``tp=None`` takes the fewest
    GPUs that hold the model (:func:`labs_py.steptime.placement.smallest_tp`); the
    result's ``tp`` says which.

    Taught in: disaggregation_trade, interference, goodput_and_split, two_gpus, plan_a_deployment,
        compression_and_pooling.
    """
    spec = get_model(model)
    g = gpu if isinstance(gpu, GPU) else get_gpu(gpu)
    if tp is None:
        tp = placement.smallest_tp(
            spec, g, kv_dtype=kv_dtype, weight_dtype=weight_dtype
        )
    tp = positive_int("tp", tp, "GPUs")
    one_of("weight_dtype", weight_dtype, tuple(WEIGHT_DTYPE_BYTES), "weight dtype")
    one_of("kv_dtype", kv_dtype, tuple(KV_DTYPE_BYTES), "KV cache dtype")
    placement.check(spec, g, tp, kv_dtype=kv_dtype, weight_dtype=weight_dtype)
    prof = engine_profile(engine, g)
    if (
        isinstance(engine, EngineProfile)
        and engine.gpu != g.id
        and engine.engine != ROOFLINE
    ):
        raise ValueError(f"the profile {engine.name!r} is for {engine.gpu}, not {g.id}")
    layers = spec.num_hidden_layers
    if tp > 1:
        ar = prof.allreduce_for(tp)
        act_bytes = (
            spec.hidden_size * 2
        )  # bf16 activations, one vector per token per all-reduce
        ar_graph, ar_eager = (
            2 * layers * ar.graph_latency_s,
            2 * layers * ar.eager_latency_s,
        )
        ar_graph_tok = 2 * layers * act_bytes / ar.graph_bytes_per_s
        ar_eager_tok = 2 * layers * act_bytes / ar.eager_bytes_per_s
    else:
        ar_graph = ar_eager = ar_graph_tok = ar_eager_tok = 0.0
    bw = (
        g.bytes_per_s
    )  # one GPU's: the small ops run on every GPU of the group on its share
    return StepCoefficients(
        model_id=spec.id,
        gpu_id=g.id,
        tp=tp,
        engine=prof.engine,
        layers=layers,
        weight_bytes=weight_bytes(spec, weight_dtype),
        expert_bytes=expert_bytes(spec, weight_dtype),
        experts_per_token=spec.moe.experts_per_token if spec.moe else 0,
        num_experts=spec.moe.num_experts if spec.moe else 0,
        linear_flops_per_token=2.0 * body_params(spec),
        lm_head_flops_per_sequence=2.0 * spec.vocab_size * spec.hidden_size,
        attention_flops_per_pair=4.0 * layers * spec.num_attention_heads * qk_dim(spec),
        kv_bytes_per_token=float(spec.kv_bytes_per_token(kv_dtype)),
        compute_flops_per_s=g.flops_per_s * prof.compute_efficiency * tp,
        attention_flops_per_s=g.flops_per_s * prof.attention_efficiency * tp,
        memory_bytes_per_s=bw * prof.bandwidth_efficiency * tp,
        kv_bytes_per_s=bw * prof.kv_bandwidth_efficiency * tp,
        sharpness=prof.sharpness,
        gemm_floor_s=layers * prof.gemm_layer_s,
        attention_floor_s=layers * prof.attention_layer_s,
        other_floor_s=layers * prof.other_layer_s,
        other_s_per_token=layers
        * norm_bytes_per_token(spec, tp)
        / (bw * prof.other_bandwidth_efficiency),
        allreduce_graph_s_per_step=ar_graph,
        allreduce_graph_s_per_token=ar_graph_tok,
        allreduce_eager_s_per_step=ar_eager,
        allreduce_eager_s_per_token=ar_eager_tok,
        overhead_s=prof.step_overhead_s,
        sequence_overhead_s=prof.sequence_overhead_s,
        client_overhead_s=prof.client_overhead_s,
    )


def prefill_seconds(
    model: str | ModelSpec,
    prompt_tokens: int,
    gpu: str | GPU = DEFAULT_GPU,
    *,
    tp: int | None = None,
    context_tokens: int = 0,
    engine: str | EngineProfile = DEFAULT_ENGINE,
) -> float:
    """Seconds to prefill a prompt on ``tp`` GPUs: the calibrated step (prefill compute, no client overhead).

    The same number the simulator uses: ``step_coefficients(...).prefill_seconds(...)``.
    ``tp=None`` takes the fewest GPUs that hold the model.

    Taught in: compression_and_pooling.
    """
    positive_float("prompt_tokens", prompt_tokens, "tokens")
    return step_coefficients(model, gpu, tp=tp, engine=engine).prefill_seconds(
        prompt_tokens, context_tokens
    )


def decode_step_seconds(
    model: str | ModelSpec,
    batch_size: int,
    context_tokens: int,
    gpu: str | GPU = DEFAULT_GPU,
    *,
    tp: int | None = None,
    kv_dtype: str = "bf16",
    engine: str | EngineProfile = DEFAULT_ENGINE,
) -> float:
    """Seconds for one decode step of ``batch_size`` requests with ``context_tokens`` each, on ``tp`` GPUs.

    ``tp=None`` takes the fewest GPUs that hold the model, as :func:`step_coefficients` does.

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request.
    """
    positive_int("batch_size", batch_size, "requests")
    return step_coefficients(
        model, gpu, tp=tp, engine=engine, kv_dtype=kv_dtype
    ).decode_seconds(batch_size, context_tokens)
