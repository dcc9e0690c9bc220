"""What the planner prices steps with: a calibrated GPU, or a device measured from the real pair's captures.

A *device* answers, for a tensor-parallel degree, how long a step takes (a
:class:`labs_py.steptime.StepCoefficients`, or anything with its ``step_seconds``), how many
tokens of KV fit, and what fixed costs a request pays outside the steps. The book's GPUs are
:class:`GpuDevice` (the calibrated step model); the 2-core CPU that runs the real pair is a
:class:`labs_py.plan.validation.PairDevice`, built from captures, so that the planner's model can
be checked against the real pair.

Taught in: plan_a_deployment.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from labs_py.models import get_model
from labs_py.steptime import placement, step_coefficients

__all__ = ["Device", "GpuDevice"]


class Device(Protocol):
    """The planner's view of hardware (see the module docstring).

    Taught in: no chapter yet: a tool for readers' own experiments.
    """

    name: str
    #: what a request's TTFT pays outside the steps when it crosses to a decode engine (handshake, HTTP), s
    split_overhead_s: float
    #: the fraction of a link's rate the KV moves at (TCP framing; 1.0: the economics' price)
    wire_efficiency: float

    def fitting_tp(self) -> list[int]: ...

    def timer(self, tp: int): ...

    def kv_capacity_tokens(self, tp: int) -> int: ...


@dataclass(frozen=True)
class GpuDevice:
    """``gpu`` running ``model`` under the calibrated ``engine`` (``labs_py.steptime``).

    Taught in: plan_a_deployment.
    """

    model: str
    gpu: str
    engine: str = "vllm"
    split_overhead_s: float = 0.0
    wire_efficiency: float = 1.0

    @property
    def name(self) -> str:
        return f"{get_model(self.model).short_name} on {self.gpu}"

    def fitting_tp(self) -> list[int]:
        return placement.fitting_tp(self.model, self.gpu)

    def timer(self, tp: int):
        return _coefficients(self.model, self.gpu, tp, self.engine)

    def kv_capacity_tokens(self, tp: int) -> int:
        return _kv_capacity(self.model, self.gpu, tp)


@lru_cache(maxsize=256)
def _coefficients(model: str, gpu: str, tp: int, engine: str):
    return step_coefficients(model, gpu, tp=tp, engine=engine)


@lru_cache(maxsize=256)
def _kv_capacity(model: str, gpu: str, tp: int) -> int:
    return placement.kv_capacity_tokens(model, gpu, tp)
