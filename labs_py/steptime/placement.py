"""Which tensor-parallel degrees a model can run at on a GPU: it must split evenly and it must fit.

Two rules, both checked before any step is priced:

* **it splits evenly.** Tensor parallelism gives each GPU ``1/tp`` of the attention
  heads, so ``tp`` must divide the query heads; KV heads are split too, or
  replicated when there are fewer of them than GPUs, so ``tp`` must divide them or
  be a multiple of them. And the GPUs must share a link that joins ``tp`` of them
  (:attr:`labs_py.gpus.GPU.tp_link`: eight on an NVSwitch, two on a bridge).
* **it fits.** The weights, split ``tp`` ways, must leave room in 90% of the GPUs'
  memory for the KV cache of at least one 2,048-token request (:data:`MIN_KV_TOKENS`).
  A 70B model's bf16 weights (141 GB) never fit on one 80 GB GPU.

Every function that prices a model on a GPU calls :func:`check`, so a model is never
priced where it does not fit, and the error says which degrees would work.
"""

from __future__ import annotations

from dataclasses import dataclass

from labs_py.core.fmt import fmt_bytes
from labs_py.core.validate import positive_int
from labs_py.gpus import GPU, get_gpu
from labs_py.models import ModelSpec, get_model
from labs_py.steptime.transformer import resident_weight_bytes

__all__ = [
    "MIN_KV_TOKENS",
    "MEMORY_UTILISATION",
    "TP_CANDIDATES",
    "even_split",
    "kv_capacity_tokens",
    "fitting_tp",
    "smallest_tp",
    "check",
    "Placement",
    "place",
]

#: A placement must leave KV room for at least this many tokens: one 2,048-token request (OPT's whole
#: context; DistServe served OPT-66B on two 80 GB A100s, where about 5,300 tokens of KV fit).
MIN_KV_TOKENS = 2048
#: The share of each GPU's memory a serving engine takes (vLLM's ``gpu_memory_utilization``).
MEMORY_UTILISATION = 0.9
#: The degrees we consider: powers of two, as tensor parallelism is deployed.
TP_CANDIDATES = (1, 2, 4, 8, 16)


def _gpu(gpu: str | GPU) -> GPU:
    return gpu if isinstance(gpu, GPU) else get_gpu(gpu)


def even_split(spec: ModelSpec, gpu: GPU, tp: int) -> str | None:
    """Why ``tp`` cannot split ``spec`` on ``gpu``, or ``None`` when it can.

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, interference, goodput_and_split, two_gpus, real_pair,
        plan_a_deployment, compression_and_pooling.
    """
    heads, kv = spec.num_attention_heads, spec.num_key_value_heads
    if heads % tp:
        return f"tp={tp} does not divide {spec.short_name}'s {heads} attention heads"
    if kv % tp and tp % kv:
        return f"tp={tp} neither divides nor is a multiple of {spec.short_name}'s {kv} KV heads"
    if tp > gpu.tp_link.max_tp:
        return f"{gpu.id}'s {gpu.tp_link.name} joins at most {gpu.tp_link.max_tp} GPUs, not {tp}"
    return None


def kv_capacity_tokens(
    model: str | ModelSpec,
    gpu: str | GPU,
    tp: int = 1,
    *,
    kv_dtype: str = "bf16",
    weight_dtype: str = "bf16",
    utilisation: float = MEMORY_UTILISATION,
) -> int:
    """Tokens of KV cache that fit beside the weights on ``tp`` GPUs (0 when the weights alone do not fit).

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, interference, goodput_and_split, two_gpus, real_pair,
        plan_a_deployment, compression_and_pooling.
    """
    spec, g = get_model(model), _gpu(gpu)
    tp = positive_int("tp", tp, "GPUs")
    free = g.memory_bytes * tp * utilisation - resident_weight_bytes(spec, weight_dtype)
    return max(0, int(free // spec.kv_bytes_per_token(kv_dtype)))


def fitting_tp(
    model: str | ModelSpec,
    gpu: str | GPU,
    *,
    kv_dtype: str = "bf16",
    weight_dtype: str = "bf16",
) -> list[int]:
    """Every degree of :data:`TP_CANDIDATES` at which the model splits evenly and fits on ``gpu``.

    Taught in: why_split, moving_a_live_request, disaggregation_trade, interference,
        goodput_and_split, two_gpus, plan_a_deployment, compression_and_pooling.
    """
    spec, g = get_model(model), _gpu(gpu)
    return [
        t
        for t in TP_CANDIDATES
        if even_split(spec, g, t) is None
        and kv_capacity_tokens(spec, g, t, kv_dtype=kv_dtype, weight_dtype=weight_dtype)
        >= MIN_KV_TOKENS
    ]


def smallest_tp(
    model: str | ModelSpec,
    gpu: str | GPU,
    *,
    kv_dtype: str = "bf16",
    weight_dtype: str = "bf16",
) -> int:
    """The fewest GPUs the model fits on (raises, saying why, when no degree fits).

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, interference, goodput_and_split, two_gpus, real_pair,
        plan_a_deployment, compression_and_pooling.
    """
    g = _gpu(gpu)
    ok = fitting_tp(model, g, kv_dtype=kv_dtype, weight_dtype=weight_dtype)
    if not ok:  # raise with the reason at the largest degree the GPUs' link joins
        check(
            model,
            g,
            max(t for t in TP_CANDIDATES if t <= g.tp_link.max_tp),
            kv_dtype=kv_dtype,
            weight_dtype=weight_dtype,
        )
    return ok[0]


def check(
    model: str | ModelSpec,
    gpu: str | GPU,
    tp: int,
    *,
    kv_dtype: str = "bf16",
    weight_dtype: str = "bf16",
) -> None:
    """Raise ``ValueError`` unless ``model`` splits evenly over ``tp`` GPUs of ``gpu`` and fits there.

    The message names the bad value and what would work.

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, interference, goodput_and_split, two_gpus, real_pair,
        plan_a_deployment, compression_and_pooling.
    """
    spec, g = get_model(model), _gpu(gpu)
    tp = positive_int("tp", tp, "GPUs")
    ok = fitting_tp(spec, g, kv_dtype=kv_dtype, weight_dtype=weight_dtype)
    would = (
        f"it runs at tp={', '.join(map(str, ok))}"
        if ok
        else f"no tp up to {min(max(TP_CANDIDATES), g.tp_link.max_tp)} fits it on {g.id}: try FP8 weights "
        f"(weight_dtype='fp8') or a GPU with more memory"
    )
    why = even_split(spec, g, tp)
    if why:
        raise ValueError(f"{why}; {would}")
    room = kv_capacity_tokens(spec, g, tp, kv_dtype=kv_dtype, weight_dtype=weight_dtype)
    if room < MIN_KV_TOKENS:
        w = resident_weight_bytes(spec, weight_dtype)
        raise ValueError(
            f"{spec.short_name} does not fit on {tp} x {g.id} ({g.memory_gb:g} GB each): its {weight_dtype} weights "
            f"take {fmt_bytes(w)} of {fmt_bytes(g.memory_bytes * tp * MEMORY_UTILISATION)} usable, leaving KV room "
            f"for {room:,} tokens (at least {MIN_KV_TOKENS:,} needed); {would}"
        )


@dataclass(frozen=True)
class Placement:
    """Where a model runs: ``tp`` GPUs of ``gpu``, with weights in ``weight_dtype``.

    Taught in: compression_and_pooling.
    """

    gpu: str
    tp: int
    weight_dtype: str

    def label(self, home_gpu: str | None = None) -> str:
        """``"TP=2"``, or the GPU and dtype too when they are not the home GPU's bf16: ``"8 x H200, FP8 weights"``."""
        if self.gpu == home_gpu and self.weight_dtype == "bf16":
            return f"TP={self.tp}"
        dtype = (
            ""
            if self.weight_dtype == "bf16"
            else f", {self.weight_dtype.upper()} weights"
        )
        return f"{self.tp} x {self.gpu}{dtype}"


def place(
    model: str | ModelSpec, gpu: str | GPU, *, fallback_gpus: tuple[str, ...] = ()
) -> Placement:
    """The fewest GPUs of ``gpu`` that hold the model in bf16; else in FP8 weights; else the same on ``fallback_gpus``.

    DeepSeek-V3 (671B parameters) fits on no number of H100s up to eight, even in FP8;
    with ``fallback_gpus=("H200",)`` it is placed on eight H200s in FP8, as it is served.
    Raises, saying why, when nothing fits.

    Taught in: compression_and_pooling.
    """
    spec = get_model(model)
    for g in (_gpu(gpu).id, *fallback_gpus):
        for dtype in ("bf16", "fp8"):
            ok = fitting_tp(spec, g, weight_dtype=dtype)
            if ok:
                return Placement(g, ok[0], dtype)
    smallest_tp(spec, gpu, weight_dtype="fp8")  # raises with the reason
    raise AssertionError("unreachable")  # pragma: no cover
