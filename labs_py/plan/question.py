"""The question a planner answers: a model, a GPU and how many, a workload and its SLOs.

Taught in: plan_a_deployment.
"""

from __future__ import annotations

from dataclasses import dataclass

from labs_py.core.validate import non_negative_float, positive_float, positive_int
from labs_py.defaults import DEFAULT_ENGINE
from labs_py.gpus import get_gpu
from labs_py.models import get_model

__all__ = ["Question", "DEFAULT_LINKS_GBPS"]

#: Links the planner tries between prefill and decode engines when the question names none, Gb/s one way:
#: 100 GbE, InfiniBand NDR, and NVLink within a node (the catalog's, labs_py/data/links.json).
DEFAULT_LINKS_GBPS = (100.0, 400.0, 3600.0)


@dataclass(frozen=True)
class Question:
    """What to serve, on what, and how fast it must be (SLOs on the 90th percentile, as DistServe writes them).

    ``isl`` and ``osl`` are mean input and output lengths in tokens; ``isl_sigma`` and ``osl_sigma``
    give them a log-normal spread (0: every request exactly the mean). ``link_gbps`` fixes the link
    between prefill and decode engines (``None``: try :data:`DEFAULT_LINKS_GBPS`). ``rate_rps``, when
    given, asks whether a layout sustains that rate, not what its goodput is.

    Taught in: plan_a_deployment.
    """

    model: str
    gpu: str
    gpus: int
    isl: int
    osl: int
    ttft_ms: float
    tpot_ms: float
    link_gbps: float | None = None
    rate_rps: float | None = None
    isl_sigma: float = 0.0
    osl_sigma: float = 0.0
    engine: str = DEFAULT_ENGINE
    target: float = 0.90

    def __post_init__(self) -> None:
        object.__setattr__(self, "model", get_model(self.model).id)
        object.__setattr__(self, "gpu", get_gpu(self.gpu).id)
        positive_int("gpus", self.gpus, "GPUs")
        positive_int("isl", self.isl, "tokens (mean input length)")
        positive_int("osl", self.osl, "tokens (mean output length)")
        if self.osl < 2:
            raise ValueError(
                f"osl must be at least 2 tokens (TPOT needs a second token); got {self.osl}"
            )
        positive_float("ttft_ms", self.ttft_ms, "ms")
        positive_float("tpot_ms", self.tpot_ms, "ms")
        if self.link_gbps is not None:
            positive_float("link_gbps", self.link_gbps, "Gb/s")
        if self.rate_rps is not None:
            positive_float("rate_rps", self.rate_rps, "requests per second")
        non_negative_float(
            "isl_sigma", self.isl_sigma, "(log-space standard deviation)"
        )
        non_negative_float(
            "osl_sigma", self.osl_sigma, "(log-space standard deviation)"
        )

    @property
    def links_gbps(self) -> tuple[float, ...]:
        """The links the search tries between prefill and decode."""
        return (
            DEFAULT_LINKS_GBPS if self.link_gbps is None else (float(self.link_gbps),)
        )

    @property
    def ttft_s(self) -> float:
        return self.ttft_ms / 1e3

    @property
    def tpot_s(self) -> float:
        return self.tpot_ms / 1e3
