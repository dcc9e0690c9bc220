"""Start, watch and stop the pair's processes: by their own PIDs, never by name.

Each process (a vLLM instance or the proxy) starts in a new session, so it
leads its own process group, and vLLM's children (API server, engine core,
worker, multiprocessing's resource tracker) all live in that group. Stopping
sends SIGTERM to the group, waits, then SIGKILLs the group, and finally checks
``/proc`` that no process of the group, nor any descendant recorded at start,
is left. Nothing here ever matches processes by name (no ``pkill -f``), so it
cannot hit a process it did not start.

A small JSON file per process under ``.pair/run/`` records its pid and process
group, so that ``python -m labs_py.pair down`` from another shell stops exactly
what ``up`` started, and refuses to signal a pid that has been reused by
another program (the recorded command line must still match).

Readiness is an HTTP 200 from ``/health`` (vLLM and our proxy both answer it);
a process that exits before it is ready raises with the tail of its log.

Pure standard library: importable in the light environment.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from labs_py.core import validate
from labs_py.pair.config import STATE_DIR

RUN_DIR = STATE_DIR / "run"
LOG_DIR = STATE_DIR / "logs"


class LaunchError(RuntimeError):
    """A process failed to start, to become ready, or to stop.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """


@dataclass
class Process:
    """One started process: its name, pid (= process group id), port and log file.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """

    name: str
    pid: int
    port: int
    log_path: Path
    argv: list[
        str
    ]  # the command itself (inside its namespace, if any): what /proc/<pid>/cmdline shows
    started_at_s: float
    popen: subprocess.Popen | None = field(default=None, repr=False)
    descendants: set[int] = field(default_factory=set, repr=False)
    host: str = "127.0.0.1"
    netns: str | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def alive(self) -> bool:
        if self.popen is not None:
            return self.popen.poll() is None
        return _pid_alive(self.pid) and _cmdline(self.pid) == self.argv

    def log_tail(self, n_lines: int = 30) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-n_lines:])


# ---- /proc helpers ----------------------------------------------------------------
def _pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except OSError:
        return False


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def _stat_fields(pid: int) -> tuple[int, int] | None:
    """(parent pid, process group id) of ``pid`` from ``/proc/<pid>/stat``."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
        if rest[0] == "Z":
            return None
        return int(rest[1]), int(rest[2])
    except (OSError, IndexError, ValueError):
        return None


def _all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def group_members(pgid: int) -> set[int]:
    """Live pids whose process group is ``pgid``.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    out = set()
    for pid in _all_pids():
        st = _stat_fields(pid)
        if st is not None and st[1] == pgid:
            out.add(pid)
    return out


def descendants(pid: int) -> set[int]:
    """Live descendants of ``pid`` (children, grandchildren, ...).

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    parent_of = {}
    for p in _all_pids():
        st = _stat_fields(p)
        if st is not None:
            parent_of[p] = st[0]
    found, frontier = set(), {pid}
    while frontier:
        nxt = {c for c, par in parent_of.items() if par in frontier and c not in found}
        found |= nxt
        frontier = nxt
    return found


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something already listens on ``host:port``.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


# ---- start / ready / stop -------------------------------------------------------------
def _preexec(niceness: int, cpus: tuple[int, ...] | None):
    def run() -> None:  # runs in the child between fork and exec
        if niceness:
            os.setpriority(os.PRIO_PROCESS, 0, niceness)
        if cpus:
            os.sched_setaffinity(0, cpus)

    return run if (niceness or cpus) else None


def start(
    name: str,
    argv: list[str],
    port: int,
    env: dict | None = None,
    log_dir: Path | None = None,
    niceness: int = 0,
    cpus: tuple[int, ...] | None = None,
    host: str = "127.0.0.1",
    netns: str | None = None,
) -> Process:
    """Start ``argv`` as its own process group with ``env`` added; log to ``log_dir/name.log``.

    ``netns`` runs it inside that network namespace (``ip netns exec``, which enters the
    namespace and then *becomes* the command: the pid and process group stay the ones
    started here), listening on ``host``, an address of that namespace. Only the
    namespaces of :mod:`labs_py.pair.netns` are accepted, and ``host`` must be loopback
    or one of their addresses.

    A negative ``niceness`` (root only) raises the scheduling priority of the
    process and its children: on a machine shared with other programs, the
    measured processes then get the cores they are pinned to when they need them.
    ``cpus`` confines the process and everything it spawns to those cores
    (``sched_setaffinity``, inherited by children).

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    log_dir = LOG_DIR if log_dir is None else log_dir
    validate.positive_int("port", port, "TCP port")
    _check_where(name, host, netns)
    if port_in_use(port, host):
        raise LaunchError(
            f"{name}: port {port} on {host} is already in use; stop what holds it first"
        )
    log_dir.mkdir(parents=True, exist_ok=True)
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    full_env = dict(os.environ)
    full_env.update(env or {})
    run_argv = (["ip", "netns", "exec", netns] if netns else []) + list(argv)
    with open(log_path, "wb") as log:
        popen = subprocess.Popen(
            run_argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=full_env,
            start_new_session=True,
            preexec_fn=_preexec(niceness, cpus),
        )
    proc = Process(
        name,
        popen.pid,
        port,
        log_path,
        list(argv),
        time.time(),
        popen,
        host=host,
        netns=netns,
    )
    (RUN_DIR / f"{name}.json").write_text(
        json.dumps(
            {
                "name": name,
                "pid": proc.pid,
                "port": port,
                "log": str(log_path),
                "argv": proc.argv,
                "started_at_s": proc.started_at_s,
                "host": host,
                "netns": netns,
            },
            indent=1,
        )
    )
    return proc


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _check_where(name: str, host: str, netns: str | None) -> None:
    """Loopback, or an address of one of the pair's own namespaces, inside that namespace: nothing else."""
    from labs_py.pair import netns as ns_mod

    if netns is None:
        if host not in LOOPBACK:
            raise LaunchError(
                f"{name}: host must be loopback outside a namespace; got {host!r}"
            )
        return
    mine = {e.netns: e for e in ns_mod.ENDPOINTS.values()}
    if netns not in mine:
        raise LaunchError(
            f"{name}: {netns!r} is not a namespace this launcher creates ({sorted(mine)})"
        )
    if host not in (mine[netns].api_host, *LOOPBACK):
        raise LaunchError(
            f"{name}: in {netns} the host must be {mine[netns].api_host}; got {host!r}"
        )


def wait_ready(
    proc: Process,
    timeout_s: float = 300.0,
    path: str = "/health",
    progress: bool = True,
) -> float:
    """Block until ``GET path`` answers 200; return the seconds it took.

    Raises :class:`LaunchError` (with the log's tail) if the process dies or the
    deadline passes. Prints a progress line every 10 s while it waits.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    validate.positive_float("timeout_s", timeout_s, "s")
    t0 = time.time()
    last_print = t0
    while True:
        if not proc.alive():
            raise LaunchError(
                f"{proc.name} exited before it was ready; last log lines:\n{proc.log_tail()}"
            )
        try:
            with urllib.request.urlopen(proc.url + path, timeout=2) as r:
                if r.status == 200:
                    proc.descendants = descendants(proc.pid)
                    return time.time() - t0
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        now = time.time()
        if now - t0 > timeout_s:
            raise LaunchError(
                f"{proc.name} not ready after {timeout_s:.0f} s; last log lines:\n{proc.log_tail()}"
            )
        if progress and now - last_print >= 10:
            print(
                f"[pair] waiting for {proc.name} on :{proc.port} ({now - t0:.0f} s)",
                flush=True,
            )
            last_print = now
        time.sleep(0.5)


def stop(proc: Process, timeout_s: float = 30.0) -> None:
    """SIGTERM the process group, SIGKILL what is left after ``timeout_s``, then verify.

    Raises :class:`LaunchError` if any process of the group (or a descendant
    recorded at readiness) survives.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    watched = (
        {proc.pid} | proc.descendants | group_members(proc.pid) | descendants(proc.pid)
    )
    if proc.popen is None and _cmdline(proc.pid) and _cmdline(proc.pid) != proc.argv:
        # pid reused by someone else: never signal it
        watched.discard(proc.pid)
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if proc.popen is not None:
            proc.popen.poll()
        if not any(_pid_alive(p) for p in watched) and not group_members(proc.pid):
            break
        time.sleep(0.2)
    else:
        for pid in watched | group_members(proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.5)
    if proc.popen is not None:
        try:
            proc.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
    left = {p for p in watched if _pid_alive(p)} | group_members(proc.pid)
    (RUN_DIR / f"{proc.name}.json").unlink(missing_ok=True)
    if left:
        raise LaunchError(
            f"{proc.name}: processes still alive after stop: {sorted(left)}"
        )


def kill_hard(proc: Process) -> None:
    """SIGKILL the whole group at once: the crash a failure drill simulates.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def recorded() -> list[Process]:
    """Processes recorded under ``.pair/run/`` by an earlier ``up`` (alive or not).

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    out = []
    for f in sorted(RUN_DIR.glob("*.json")) if RUN_DIR.exists() else []:
        d = json.loads(f.read_text())
        out.append(
            Process(
                d["name"],
                d["pid"],
                d["port"],
                Path(d["log"]),
                d["argv"],
                d["started_at_s"],
                host=d.get("host", "127.0.0.1"),
                netns=d.get("netns"),
            )
        )
    return out


def stop_recorded(names: list[str] | None = None) -> list[str]:
    """Stop the recorded processes (all, or those named); return the names stopped.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    stopped = []
    for proc in recorded():
        if names and proc.name not in names:
            continue
        if proc.alive():
            stop(proc)
            stopped.append(proc.name)
        else:
            (RUN_DIR / f"{proc.name}.json").unlink(missing_ok=True)
    return stopped


class ProcessSet:
    """Context manager that stops everything it started, in reverse order, even on error.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """

    def __init__(self, niceness: int = 0) -> None:
        self.procs: list[Process] = []
        self.niceness = niceness

    def start(
        self,
        name: str,
        argv: list[str],
        port: int,
        env: dict | None = None,
        cpus: tuple[int, ...] | None = None,
        host: str = "127.0.0.1",
        netns: str | None = None,
    ) -> Process:
        p = start(
            name,
            argv,
            port,
            env,
            niceness=self.niceness,
            cpus=cpus,
            host=host,
            netns=netns,
        )
        self.procs.append(p)
        return p

    def __enter__(self) -> ProcessSet:
        return self

    def stop_all(self) -> list[str]:
        errors = []
        for p in reversed(self.procs):
            try:
                stop(p)
            except LaunchError as e:
                errors.append(str(e))
        self.procs.clear()
        return errors

    def __exit__(self, *exc) -> None:
        errors = self.stop_all()
        if errors and exc[0] is None:
            raise LaunchError("; ".join(errors))
        if errors:
            print("[pair] " + "; ".join(errors), file=sys.stderr)
