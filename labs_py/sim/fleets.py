"""The three ways to spend GPUs on one model, and :func:`simulate`, which runs any of them.

* :class:`Colocated` -- ``replicas`` independent engines, each doing prefill and decode
  on ``tp`` GPUs. With ``chunk_tokens`` set, prompts are cut into chunks that ride
  along with decode steps (stall-free batching: the tail ITL is capped, not cured);
  with ``chunk_tokens=None`` a whole prompt runs in a step of its own and every
  running decode waits for it (the worst ITL is a whole prefill).
  ``Colocated(replicas=1, tp=2)`` is the **TP=2** arm of a 2-GPU budget: one engine,
  twice the roofs, all-reduces on every layer.
* :class:`Disaggregated` -- an xPyD fleet: ``prefill`` engines that only prefill and
  ``decode`` engines that only decode, joined by a link of ``link_gbps``. Every
  request's KV crosses it, priced by :func:`labs_py.economics.transfer_seconds`.
  Two proxy designs decide where that toll lands:

  - ``"ttft_on_decode"`` (vLLM's disaggregation proxy): prefill's token is discarded,
    decode produces the first token after the KV arrives, so **TTFT pays the toll**;
  - ``"first_token_from_prefill"``: the first token streams straight from prefill, so
    TTFT does not see the link, and the toll lands on the **second token's gap**.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from labs_py.core.validate import (
    non_negative_float,
    one_of,
    positive_float,
    positive_int,
)
from labs_py.defaults import DEFAULT_ENGINE, DEFAULT_GPU, DEFAULT_MODEL
from labs_py.economics import transfer_seconds
from labs_py.gpus import get_gpu
from labs_py.models import get_model
from labs_py.sim import eventloop as eng
from labs_py.sim.metrics import SimResult
from labs_py.sim.workload import Workload
from labs_py.steptime import (
    EngineProfile,
    StepCoefficients,
    engine_profile,
    placement,
    step_coefficients,
)


def _chunk(value: int | None) -> int | None:
    return (
        None
        if value is None
        else positive_int("chunk_tokens", value, "tokens per step")
    )


@dataclass(frozen=True)
class Colocated:
    """``replicas`` engines that each prefill and decode, on ``tp`` GPUs each.

    Taught in: why_split, interference, goodput_and_split, two_gpus.
    """

    replicas: int = 1
    tp: int = 1
    chunk_tokens: int | None = 512
    token_budget: int | None = None
    max_batch: int = 256
    prefix_cache: str = (
        "none"  # "none", "local" (LMCache beside each replica) or "pool" (shared)
    )
    cache_link_gbps: float = (
        504.0  # where cached KV comes from: PCIe Gen5 x16 by default (CPU memory)
    )

    def __post_init__(self) -> None:
        one_of("prefix_cache", self.prefix_cache, eng.PREFIX_CACHES, "prefix cache")
        positive_float("cache_link_gbps", self.cache_link_gbps, "Gb/s")
        positive_int("replicas", self.replicas, "engines")
        positive_int("tp", self.tp, "GPUs per engine")
        _chunk(self.chunk_tokens)
        if self.token_budget is not None:
            positive_int("token_budget", self.token_budget, "tokens per step")
        positive_int("max_batch", self.max_batch, "requests")

    @property
    def gpus(self) -> int:
        """GPUs the fleet uses."""
        return self.replicas * self.tp

    @property
    def label(self) -> str:
        """A short name for legends: ``"2x colocated (chunk 512)"``, ``"TP=2 (no chunking)"``."""
        chunk = f"chunk {self.chunk_tokens}" if self.chunk_tokens else "no chunking"
        head = (
            f"TP={self.tp}"
            if self.tp > 1 and self.replicas == 1
            else f"{self.replicas}x colocated"
        )
        return f"{head} ({chunk})"


@dataclass(frozen=True)
class Disaggregated:
    """An xPyD fleet: ``prefill`` prefill engines, ``decode`` decode engines, a link of ``link_gbps`` Gb/s.

    Taught in: why_split, disaggregation_trade, interference, goodput_and_split, two_gpus.
    """

    prefill: int = 1
    decode: int = 1
    link_gbps: float = 200.0
    proxy: str = "ttft_on_decode"
    prefill_tp: int = 1
    decode_tp: int = 1
    prefill_batch_tokens: int | None = None
    transfer_latency_s: float = 0.0
    max_batch: int = 256
    prefix_cache: str = "none"  # "none", "local" (LMCache on each prefill engine) or "pool" (Mooncake-style)
    cache_link_gbps: float = (
        504.0  # where cached KV comes from: PCIe Gen5 x16 (local) or the pool's network
    )

    def __post_init__(self) -> None:
        one_of("prefix_cache", self.prefix_cache, eng.PREFIX_CACHES, "prefix cache")
        positive_float("cache_link_gbps", self.cache_link_gbps, "Gb/s")
        positive_int("prefill", self.prefill, "prefill engines")
        positive_int("decode", self.decode, "decode engines")
        positive_float("link_gbps", self.link_gbps, "Gb/s")
        one_of("proxy", self.proxy, eng.PROXIES, "proxy design")
        positive_int("prefill_tp", self.prefill_tp, "GPUs per prefill engine")
        positive_int("decode_tp", self.decode_tp, "GPUs per decode engine")
        if self.prefill_batch_tokens is not None:
            positive_int(
                "prefill_batch_tokens",
                self.prefill_batch_tokens,
                "tokens per prefill step",
            )
        non_negative_float("transfer_latency_s", self.transfer_latency_s, "seconds")
        positive_int("max_batch", self.max_batch, "requests")

    @property
    def gpus(self) -> int:
        """GPUs the fleet uses."""
        return self.prefill * self.prefill_tp + self.decode * self.decode_tp

    @property
    def label(self) -> str:
        """A short name for legends: ``"1P1D @ 200 Gb/s"`` (``", 1st token from P"`` when prefill streams it)."""
        tail = ", 1st token from P" if self.proxy == "first_token_from_prefill" else ""
        tps = (
            ""
            if self.prefill_tp == self.decode_tp == 1
            else f" (TP {self.prefill_tp}/{self.decode_tp})"
        )
        return f"{self.prefill}P{self.decode}D{tps} @ {self.link_gbps:g} Gb/s{tail}"


Fleet = Colocated | Disaggregated


@lru_cache(maxsize=64)
def engine_with_allreduce(
    engine: str | EngineProfile, gpu: str, factor: float
) -> str | EngineProfile:
    """``engine`` on ``gpu`` with its all-reduce latencies scaled by ``factor`` (a what-if for tensor parallelism).

    The latencies are fitted per GPU from vLLM's custom all-reduce kernels
    (``labs_py/data/calibration.json``). ``factor=0`` makes all-reduces cost only their
    bytes over the link: an upper bound for what TP can gain. ``factor=1`` returns
    ``engine`` itself, so simulations are shared with the unscaled engine. Only fleets
    with ``tp > 1`` see a difference.

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    if factor == 1:
        return engine
    return engine_profile(engine, gpu).with_allreduce(factor)


#: ``timer_for(tp) -> step_seconds``: replaces the step-time model (e.g. with another simulator's).
TimerFactory = Callable[[int], eng.StepTimer]


@lru_cache(maxsize=256)
def _coefficients(
    model: str, gpu: str, tp: int, engine: str | EngineProfile, kv_dtype: str = "bf16"
) -> StepCoefficients:
    return step_coefficients(model, gpu, tp=tp, engine=engine, kv_dtype=kv_dtype)


def _kv_transfer_s(
    prompt_tokens: np.ndarray,
    kv_bytes_per_token: int,
    link_gbps: float,
    latency_s: float,
) -> np.ndarray:
    """Per request: the link's price for its prompt's KV (line rate + setup latency), seconds."""
    uniq, inv = np.unique(prompt_tokens, return_inverse=True)
    per = (
        np.array(
            [transfer_seconds(int(p) * kv_bytes_per_token, link_gbps) for p in uniq]
        )
        + latency_s
    )
    return per[inv]


def _caching(fleet: Fleet, workload: Workload, spec, kv_dtype: str) -> dict:
    """The engine's prefix-caching arguments for this fleet and workload (none unless both ask for it)."""
    if fleet.prefix_cache == "none":
        return {}
    if workload.prefix_id is None:
        raise ValueError(
            f"prefix_cache={fleet.prefix_cache!r} needs a workload with shared prefixes "
            "(labs_py.sim.workload.make_prefix_workload)"
        )
    per_token = spec.kv_bytes_per_token(kv_dtype)
    gbps = fleet.cache_link_gbps
    return dict(
        prefix_id=workload.prefix_id,
        prefix_tokens=workload.prefix_tokens,
        prefix_cache=fleet.prefix_cache,
        fetch_seconds=lambda tokens: transfer_seconds(int(tokens) * per_token, gbps),
    )


def simulate(
    fleet: Fleet,
    workload: Workload,
    model: str = DEFAULT_MODEL,
    gpu: str = DEFAULT_GPU,
    *,
    engine: str | EngineProfile = DEFAULT_ENGINE,
    kv_dtype: str = "bf16",
    timer_for: TimerFactory | None = None,
    kv_capacity_tokens: int | None = None,
    record_steps: bool = False,
) -> SimResult:
    """Serve ``workload`` on ``fleet`` and return every request's latencies.

    Step times come from :mod:`labs_py.steptime` for ``model`` on ``gpu`` under the
    ``engine`` profile (see ``labs_py/data/calibration.json``), unless ``timer_for``
    supplies another step-time function. With both ``timer_for`` and
    ``kv_capacity_tokens`` given (measured step times, say of a CPU), ``gpu`` is not
    used and ``model`` may be any :class:`~labs_py.models.ModelSpec`. KV space per engine is what the GPUs'
    memory holds beside the weights (90% utilisation), unless ``kv_capacity_tokens``
    is given.

    Taught in: goodput_and_split.
    """
    spec = get_model(model)
    custom = timer_for is not None and kv_capacity_tokens is not None
    g = None if custom else get_gpu(gpu)

    def timer_and_capacity(tp: int) -> tuple[eng.StepTimer, int]:
        if custom:  # measured step times (e.g. a CPU): no catalog GPU or model coefficients needed
            return timer_for(tp), positive_int(
                "kv_capacity_tokens", kv_capacity_tokens, "tokens"
            )
        co = _coefficients(
            spec.id, g.id, tp, engine, kv_dtype
        )  # raises, saying what fits, if the model does not
        cap = (
            kv_capacity_tokens
            if kv_capacity_tokens is not None
            else placement.kv_capacity_tokens(spec, g, tp, kv_dtype=kv_dtype)
        )
        return (timer_for(tp) if timer_for is not None else co.step_seconds), cap

    if isinstance(fleet, Colocated):
        timer, cap = timer_and_capacity(fleet.tp)
        inst = [
            eng.InstanceSpec(
                "colocated",
                timer,
                fleet.chunk_tokens,
                fleet.token_budget,
                None,
                fleet.max_batch,
                cap,
                fleet.tp,
            )
            for _ in range(fleet.replicas)
        ]
        raw = eng.run(
            inst,
            workload.arrival_s,
            workload.prompt_tokens,
            workload.output_tokens,
            record_steps=record_steps,
            **_caching(fleet, workload, spec, kv_dtype),
        )
    elif isinstance(fleet, Disaggregated):
        pt, pcap = timer_and_capacity(fleet.prefill_tp)
        dt, dcap = timer_and_capacity(fleet.decode_tp)
        inst = [
            eng.InstanceSpec(
                "prefill",
                pt,
                None,
                None,
                fleet.prefill_batch_tokens,
                fleet.max_batch,
                pcap,
                fleet.prefill_tp,
            )
            for _ in range(fleet.prefill)
        ]
        inst += [
            eng.InstanceSpec(
                "decode", dt, None, None, None, fleet.max_batch, dcap, fleet.decode_tp
            )
            for _ in range(fleet.decode)
        ]
        xfer = _kv_transfer_s(
            workload.prompt_tokens,
            spec.kv_bytes_per_token(kv_dtype),
            fleet.link_gbps,
            fleet.transfer_latency_s,
        )
        raw = eng.run(
            inst,
            workload.arrival_s,
            workload.prompt_tokens,
            workload.output_tokens,
            proxy=fleet.proxy,
            kv_transfer_s=xfer,
            record_steps=record_steps,
            **_caching(fleet, workload, spec, kv_dtype),
        )
    else:
        raise TypeError(
            f"fleet must be a Colocated or Disaggregated fleet; got {fleet!r} ({type(fleet).__name__})"
        )
    return SimResult(
        workload,
        raw,
        fleet.gpus,
        label=fleet.label,
        meta={
            "model": spec.id,
            "gpu": g.id if g is not None else "custom timer",
            "engine": "custom timer" if custom else getattr(engine, "name", engine),
        },
    )
