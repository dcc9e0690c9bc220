"""The roofline of one GPU, and where prefill and decode steps land on it.

A kernel's speed is capped by two roofs (Williams, Waterman & Patterson, 2009):
the compute roof (FLOP/s) and the memory roof (bytes/s times arithmetic
intensity, the FLOPs it does per byte it reads). The roofs meet at the *ridge*:
below it a kernel waits for memory, above it for arithmetic.

A transformer step reads every weight once, however many tokens it multiplies
through them. Prefill multiplies a whole prompt (hundreds or thousands of
tokens): high intensity, compute roof. Decode multiplies one token per request:
intensity about the batch size, far below an H100's ridge of ~295 FLOP/byte.

Every number here comes from :mod:`labs_py.steptime` (one source of truth).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labs_py.core.validate import positive_int
from labs_py.gpus import get_gpu
from labs_py.steptime import (
    IDEAL_BANDWIDTH_EFFICIENCY,
    IDEAL_COMPUTE_EFFICIENCY,
    ROOFLINE,
    arithmetic_intensity,
    decode_step_seconds,
    prefill_flops,
    prefill_seconds,
    smallest_tp,
    step_flops_and_bytes,
)

#: Intensities at which the roofs are drawn, FLOP/byte.
ROOF_INTENSITY_DEFAULT = np.geomspace(0.5, 30000, 120)


@dataclass(frozen=True)
class StepOnRoofline:
    """One engine step placed on the roofline.

    Taught in: no chapter calls it directly; it works behind why_split.
    """

    label: str
    tokens_per_step: int
    intensity_flops_per_byte: float
    flops: float
    seconds: float
    tp: int = 1

    @property
    def achieved_tflops(self) -> float:
        """TFLOP/s each GPU reaches (a step on ``tp`` GPUs splits its FLOPs ``tp`` ways)."""
        return self.flops / self.seconds / self.tp / 1e12


def roof_tflops(
    gpu: str, intensity: np.ndarray, *, measured: bool = False
) -> np.ndarray:
    """Attainable TFLOP/s at each intensity: ``min(compute roof, bandwidth x intensity)``.

    ``measured=True`` uses the roofs a benchmark reaches (the step-time model's
    efficiencies) instead of the datasheet's.

    Taught in: why_split.
    """
    g = get_gpu(gpu)
    c = IDEAL_COMPUTE_EFFICIENCY if measured else 1.0
    b = IDEAL_BANDWIDTH_EFFICIENCY if measured else 1.0
    return (
        np.minimum(
            g.flops_per_s * c, g.bytes_per_s * b * np.asarray(intensity, dtype=float)
        )
        / 1e12
    )


def prefill_on_roofline(
    model: str, gpu: str, prompt_tokens: int, tp: int | None = None
) -> StepOnRoofline:
    """A prompt prefilled alone in one step, on the ideal engine (the roofs' own efficiencies, no fixed costs).

    ``tp=None`` uses the fewest GPUs that hold the model; splitting a step ``tp`` ways
    splits its FLOPs and its bytes alike, so its intensity does not change.

    Taught in: why_split.
    """
    n = positive_int("prompt_tokens", prompt_tokens, "tokens")
    return StepOnRoofline(
        label="prefill",
        tokens_per_step=n,
        intensity_flops_per_byte=arithmetic_intensity(model, n),
        flops=prefill_flops(model, n),
        seconds=prefill_seconds(model, n, gpu, tp=tp, engine=ROOFLINE),
        tp=tp if tp is not None else smallest_tp(model, gpu),
    )


def decode_on_roofline(
    model: str, gpu: str, batch_size: int, context_tokens: int, tp: int | None = None
) -> StepOnRoofline:
    """A decode step of ``batch_size`` requests, each attending to ``context_tokens``, on the ideal engine.

    Its FLOPs and bytes are the ones that define its intensity, and its time is the
    step-time model's, so the point can never sit above the roof.

    Taught in: why_split.
    """
    b = positive_int("batch_size", batch_size, "requests")
    flops, bytes_read = step_flops_and_bytes(model, b, context_tokens)
    return StepOnRoofline(
        label="decode",
        tokens_per_step=b,
        intensity_flops_per_byte=flops / bytes_read,
        flops=flops,
        seconds=decode_step_seconds(
            model, b, context_tokens, gpu, tp=tp, engine=ROOFLINE
        ),
        tp=tp if tp is not None else smallest_tp(model, gpu),
    )


def min_compute_bound_tokens(model: str, gpu: str) -> int:
    """The fewest tokens per step whose arithmetic intensity reaches ``gpu``'s ridge.

    Intensity grows with tokens per step (the weights are read once per step), so
    a binary search finds the first step size that is compute-bound.

    Taught in: why_split.
    """
    ridge = get_gpu(gpu).ridge_flops_per_byte
    lo, hi = 1, 1
    while arithmetic_intensity(model, hi) < ridge:
        hi *= 2
        if hi > 1 << 24:
            raise ValueError(
                f"{model} never reaches the ridge of {gpu} ({ridge:.0f} FLOP/byte)"
            )
    while lo < hi:
        mid = (lo + hi) // 2
        if arithmetic_intensity(model, mid) >= ridge:
            hi = mid
        else:
            lo = mid + 1
    return lo
