"""The accelerator catalog: the two roofs of the roofline.

Prefill is limited by the compute roof (dense bf16 FLOP/s); decode by the memory
roof (bytes/s the GPU can read from HBM). Datasheets quote bf16 "with sparsity";
the dense rate, which a transformer actually gets, is half of that.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from labs_py.core import catalog


@dataclass(frozen=True)
class TPLink:
    """The GPU-to-GPU link tensor parallelism runs over: its speed and how many GPUs it joins.

    An all-reduce crosses it twice per layer per step when ``tp > 1``; ``max_tp`` is the
    largest tensor-parallel group it can join (eight GPUs on an NVSwitch, two on a bridge).

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, interference, goodput_and_split, two_gpus, real_pair,
        plan_a_deployment, compression_and_pooling.
    """

    name: str
    quoted: str
    gbps_per_direction: float
    max_tp: int


@dataclass(frozen=True)
class GPU:
    """One accelerator's datasheet roofs (and, where recorded, what a benchmark reached).

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, interference, goodput_and_split, two_gpus, real_pair,
        plan_a_deployment, compression_and_pooling.
    """

    id: str
    name: str
    dense_bf16_tflops: float
    memory_gb: float
    memory_type: str
    memory_bandwidth_tb_s: float
    source: str
    tp_link: TPLink
    measured: dict = field(default_factory=dict, compare=False)

    @property
    def memory_bytes(self) -> float:
        """Memory capacity in bytes (1 GB = 1e9 bytes, as datasheets count)."""
        return self.memory_gb * 1e9

    @property
    def flops_per_s(self) -> float:
        """Dense bf16 FLOP/s (1 TFLOP = 1e12 FLOP)."""
        return self.dense_bf16_tflops * 1e12

    @property
    def bytes_per_s(self) -> float:
        """Memory bandwidth in bytes/s (1 TB = 1e12 bytes, as datasheets count)."""
        return self.memory_bandwidth_tb_s * 1e12

    @property
    def ridge_flops_per_byte(self) -> float:
        """Arithmetic intensity (FLOP per byte read) at which the two roofs meet.

        A kernel below the ridge is bandwidth-bound (decode); above it, compute-bound (prefill).
        """
        return self.flops_per_s / self.bytes_per_s


def all_gpus() -> list[GPU]:
    """Every catalog GPU, in catalog order.

    Taught in: why_split, compression_and_pooling.
    """
    return [
        GPU(**{**e, "tp_link": TPLink(**e["tp_link"])})
        for e in catalog.load("gpus")["gpus"]
    ]


def get_gpu(gpu_id: str) -> GPU:
    """Find a GPU by its catalog id (``"H100-SXM"``, ``"H100-PCIe"``, ``"H200"``, ``"A100-SXM"``, ``"A100-PCIe"``,
    ``"L4"``).

    Taught in: why_split, goodput_and_split.
    """
    for gpu in all_gpus():
        if gpu.id == gpu_id:
            return gpu
    raise catalog.unknown("GPU", gpu_id, [g.id for g in all_gpus()])
