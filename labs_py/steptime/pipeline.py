"""Pipeline parallelism, the third way to spread a model over GPUs, and its bubbles.

Tensor parallelism (TP) splits every layer across the GPUs and pays two all-reduces per layer.
Pipeline parallelism (PP) gives each of ``stages`` GPUs a contiguous share of the layers; only
activations cross between neighbours, once per stage boundary, so PP needs little bandwidth. Its
cost is the *bubble*: a batch split into ``microbatches`` flows through the stages like an
assembly line, and while the line fills and drains some stages have nothing to do. Of the
``microbatches + stages - 1`` slots each stage waits through, ``stages - 1`` are idle
(GPipe's accounting), so more microbatches shrink the bubble.

:func:`pipeline_decode_step` prices one decode step on the calibrated step model: each
microbatch's pass through one stage is the layer work of a step of that microbatch, divided by
the number of stages, plus the activations' trip to the next stage; the engine's per-step host
cost is paid once.

Taught in: two_gpus.
"""

from __future__ import annotations

from dataclasses import dataclass

from labs_py.core.validate import positive_float, positive_int
from labs_py.models import get_model
from labs_py.steptime.model import step_coefficients

__all__ = ["bubble_fraction", "PipelineStep", "pipeline_decode_step"]


def bubble_fraction(stages: int, microbatches: int) -> float:
    """The share of a pipelined step each stage spends idle: ``(p - 1) / (m + p - 1)``.

    Taught in: two_gpus.
    """
    p = positive_int("stages", stages, "pipeline stages (GPUs)")
    m = positive_int("microbatches", microbatches, "microbatches per step")
    return (p - 1) / (m + p - 1)


@dataclass(frozen=True)
class PipelineStep:
    """One pipelined decode step: its time, the idle share of each stage, tokens per second.

    Taught in: no chapter calls it directly; it works behind two_gpus.
    """

    stages: int
    microbatches: int
    step_s: float
    bubble: float
    tokens_per_s: float


def pipeline_decode_step(
    model: str,
    gpu: str,
    stages: int,
    microbatches: int,
    batch: int,
    context_tokens: int,
    link_gbps: float = 3600.0,
) -> PipelineStep:
    """A decode step of ``batch`` requests (``context_tokens`` each) over ``stages`` GPUs in ``microbatches``.

    ``link_gbps`` carries each microbatch's activations (hidden size x 2 bytes per request) between
    neighbouring stages (default: NVLink 4, one way).

    Taught in: two_gpus.
    """
    p = positive_int("stages", stages, "pipeline stages (GPUs)")
    m = positive_int("microbatches", microbatches, "microbatches per step")
    b = positive_int("batch", batch, "requests")
    if m > b:
        raise ValueError(
            f"microbatches must be at most the batch ({b} requests); got {m}"
        )
    link = positive_float("link_gbps", link_gbps, "Gb/s")
    co = step_coefficients(model, gpu, tp=1)
    per_mb = b / m
    layers = co.decode_seconds(per_mb, context_tokens) - co.overhead_s
    hop = per_mb * get_model(model).hidden_size * 2 * 8 / (link * 1e9)
    stage = layers / p + hop
    step = co.overhead_s + (m + p - 1) * stage
    return PipelineStep(p, m, step, bubble_fraction(p, m), b / step)
