"""How much of the machine other programs used while we measured.

Latency on 2 cores is only meaningful if nothing else runs on them. We cannot
stop other programs, but we can wait for a quiet moment and record how quiet
it was. From ``/proc/stat`` we read the machine's busy CPU time; from
``/proc/<pid>/stat`` the CPU time of our own processes (the load generator and
every process of the groups we started). Their difference, divided by the wall
time, is the average number of cores *other* programs used during a run:
``foreign_cores``. A capture stores it next to its latencies, so a reader can
tell a clean run (about 0.0) from one that shared the machine (e.g. 0.8).

Linux only; standard library only.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

from labs_py.core import validate

_TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")


def system_busy_s() -> float:
    """CPU seconds the whole machine spent not idle since boot (all cores).

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) * _TICK_S


def process_cpu_s(pid: int) -> float:
    """utime + stime of ``pid`` (all its threads), in seconds; 0 if it is gone.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    try:
        with open(f"/proc/{pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
        return (int(rest[11]) + int(rest[12])) * _TICK_S
    except (OSError, IndexError, ValueError):
        return 0.0


def our_pids(process_groups: list[int]) -> set[int]:
    """This process plus every live member of the given process groups.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    from labs_py.pair.launch import group_members

    pids = {os.getpid()}
    for g in process_groups:
        pids |= group_members(g)
    return pids


@dataclass
class Window:
    """A measurement window; :meth:`close` returns the foreign load over it.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """

    process_groups: list[int]

    def __post_init__(self) -> None:
        self.t0 = time.monotonic()
        self.busy0 = system_busy_s()
        self.pids = our_pids(self.process_groups)
        self.ours0 = {p: process_cpu_s(p) for p in self.pids}

    def close(self) -> dict:
        """The window's loads, in cores; ``foreign_cores`` is None when it cannot be measured.

        A process of ours that exits inside the window (a failure drill kills one) takes its CPU
        time with it: ``/proc`` no longer has it, so its share of the machine's busy time could
        not be told from other programs'. The window then says so (``exited``) instead of
        counting that time as foreign.
        """
        wall = time.monotonic() - self.t0
        busy = system_busy_s() - self.busy0
        now = our_pids(self.process_groups)
        exited = sorted(p for p in self.pids if not os.path.exists(f"/proc/{p}"))
        ours = sum(
            max(0.0, process_cpu_s(p) - self.ours0.get(p, 0.0))
            for p in (self.pids | now)
            if p not in exited
        )
        out = {
            "wall_s": round(wall, 2),
            "machine_busy_cores": round(busy / wall, 3) if wall > 0 else None,
            "our_cores": round(ours / wall, 3) if wall > 0 else None,
            "foreign_cores": round(max(0.0, busy - ours) / wall, 3)
            if wall > 0
            else None,
        }
        if exited:
            out["foreign_cores"] = None
            out["exited"] = len(exited)
        return out


def wait_for_quiet(
    process_groups: list[int],
    max_foreign_cores: float = 0.15,
    window_s: float = 5.0,
    timeout_s: float = 120.0,
) -> dict:
    """Wait until other programs use less than ``max_foreign_cores`` over a ``window_s`` window.

    Returns ``{"waited_s", "foreign_cores", "quiet"}``; ``quiet`` is false if
    ``timeout_s`` passed first (the run then goes ahead, and says so).

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    validate.positive_float("window_s", window_s, "s")
    validate.non_negative_float("max_foreign_cores", max_foreign_cores, "cores")
    t0 = time.monotonic()
    while True:
        w = Window(process_groups)
        time.sleep(window_s)
        load = w.close()["foreign_cores"]
        load = (
            float("inf") if load is None else load
        )  # one of ours exited: not a quiet window
        waited = time.monotonic() - t0
        if load <= max_foreign_cores:
            return {"waited_s": round(waited, 1), "foreign_cores": load, "quiet": True}
        if waited > timeout_s:
            return {"waited_s": round(waited, 1), "foreign_cores": load, "quiet": False}
        print(
            f"[pair] waiting for a quiet machine: other programs use {load:.2f} cores ({waited:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
