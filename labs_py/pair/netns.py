"""Two hosts on one machine: network namespaces for the pair, joined by veth links that ``tc`` shapes.

The prefill instance runs in namespace ``lbp-p`` and the decode instance in ``lbp-d``.
Three veth links join them to each other and to the machine's own (root) namespace:

=====================  ==================================  ==========================================
link                   ends and addresses                  what crosses it
=====================  ==================================  ==========================================
the KV link            ``lbp-pk`` 10.231.1.1 (in lbp-p)    NIXL's READs of the KV blocks (UCX over
                       ``lbp-dk`` 10.231.1.2 (in lbp-d)    TCP), its handshake and notifications
prefill's API link     ``lbp-pr`` 10.231.2.1 (in lbp-p)    the proxy's prefill leg (HTTP)
                       ``lbp-rp`` 10.231.2.2 (root)
decode's API link      ``lbp-dr`` 10.231.3.1 (in lbp-d)    the proxy's decode leg (HTTP)
                       ``lbp-rd`` 10.231.3.2 (root)
=====================  ==================================  ==========================================

The proxy and the load generator stay in the root namespace, on loopback. Only the KV
link is shaped: a token-bucket filter (``tbf``) on the prefill end's egress, the
direction the KV bytes travel (decode READs from prefill). Its burst is the larger of
64 KiB and one millisecond of the rate, so that a short transfer cannot ride the bucket;
its goodput is about 0.956 x the rate (1,448 bytes of TCP payload per 1,514-byte frame).

Everything created here is named with the prefix ``lbp-`` and addressed inside
``10.231.0.0/16``; nothing else is touched. :func:`cleanup` removes all of it (killing
any process still inside a namespace first, since a namespace with processes in it
outlives ``ip netns del``), and :class:`Network` calls it on every way out: a normal
stop, an exception, Ctrl-C or SIGTERM. A run that died without cleaning up (SIGKILL)
leaves its namespaces behind; the next :meth:`Network.up` finds and removes them.

Needs root and the ``ip`` and ``tc`` tools; :func:`unavailable_reason` says why not when
they are missing, and callers skip with that reason. Packet-drop drills also need ``nft``.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from labs_py.core import validate

__all__ = [
    "PREFIX",
    "SUBNET",
    "NS",
    "Endpoint",
    "ENDPOINTS",
    "KV_DEVICE",
    "unavailable_reason",
    "is_ours",
    "ours",
    "cleanup",
    "tbf_burst_bytes",
    "Network",
    "NetnsError",
]

PREFIX = "lbp-"
#: Every address the namespaces use lies in this private subnet.
SUBNET = ipaddress.ip_network("10.231.0.0/16")
#: Namespace of each side of the pair.
NS = {"producer": "lbp-p", "consumer": "lbp-d"}
#: The veth end that carries the KV, in each side's namespace (UCX_NET_DEVICES).
KV_DEVICE = {"producer": "lbp-pk", "consumer": "lbp-dk"}
#: tbf's queue limit, as latency: a packet waits at most this long in the bucket's queue.
TBF_LATENCY_MS = 50
#: tbf's smallest burst: below one GSO segment (64 KiB) the kernel would have to split every segment.
TBF_MIN_BURST_BYTES = 64 * 1024
STATE_FILE = "netns.json"


class NetnsError(RuntimeError):
    """Setting up, shaping or removing the namespaces failed (the message says which command).

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """


@dataclass(frozen=True)
class Endpoint:
    """Where one side of the pair lives: its namespace, its API address, its KV address and device.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """

    netns: str
    api_host: str  # the HTTP server listens here (reachable from the root namespace)
    kv_host: str  # NIXL's side channel and VLLM_HOST_IP: reachable from the other side
    kv_device: str  # the veth end UCX must use (UCX_NET_DEVICES)


ENDPOINTS = {
    "producer": Endpoint("lbp-p", "10.231.2.1", "10.231.1.1", "lbp-pk"),
    "consumer": Endpoint("lbp-d", "10.231.3.1", "10.231.1.2", "lbp-dk"),
}
#: (device in namespace, its address, peer device, the peer's namespace or None for root, the peer's address)
LINKS = (
    ("lbp-pk", "lbp-p", "10.231.1.1/30", "lbp-dk", "lbp-d", "10.231.1.2/30"),
    ("lbp-pr", "lbp-p", "10.231.2.1/30", "lbp-rp", None, "10.231.2.2/30"),
    ("lbp-dr", "lbp-d", "10.231.3.1/30", "lbp-rd", None, "10.231.3.2/30"),
)


def _run(*cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    if check and r.returncode != 0:
        raise NetnsError(
            f"`{' '.join(cmd)}` failed ({r.returncode}): {(r.stderr or r.stdout).strip()}"
        )
    return r


def unavailable_reason() -> str | None:
    """Why the namespaces cannot be made here (not root, no ``ip``, no ``tc``), or ``None`` when they can.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    if os.geteuid() != 0:
        return f"network namespaces need root (this process runs as uid {os.geteuid()})"
    for tool, pkg in (("ip", "iproute2"), ("tc", "iproute2")):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed (Debian: apt-get install {pkg})"
    return None


def is_ours(name: str) -> bool:
    """Whether a namespace or link name is one this module creates (prefix ``lbp-``).

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    return name.startswith(PREFIX)


def _namespaces() -> list[str]:
    out = _run("ip", "netns", "list", check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def _root_links() -> list[str]:
    out = _run("ip", "-j", "link", "show", check=False).stdout or "[]"
    return [d["ifname"] for d in json.loads(out)]


def ours() -> dict[str, list[str]]:
    """Our namespaces and root-namespace links that exist now (a leftover when nothing runs).

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    return {
        "netns": [n for n in _namespaces() if is_ours(n)],
        "links": [n for n in _root_links() if is_ours(n)],
    }


def _pids_in(ns: str) -> list[int]:
    out = _run("ip", "netns", "pids", ns, check=False).stdout
    return [int(p) for p in out.split() if p.isdigit()]


def cleanup(timeout_s: float = 10.0) -> dict[str, list[str]]:
    """Remove every namespace and link of ours: SIGTERM what runs inside, SIGKILL it, delete, verify.

    Returns what was removed; raises :class:`NetnsError` if anything of ours is left.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    found = ours()
    for sig, wait in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 5.0)):
        pids = [p for ns in found["netns"] for p in _pids_in(ns)]
        for p in pids:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass
        deadline = time.time() + wait
        while pids and time.time() < deadline:
            pids = [p for ns in found["netns"] for p in _pids_in(ns)]
            time.sleep(0.2)
        if not pids:
            break
    for ns in found["netns"]:
        _run("ip", "netns", "del", ns, check=False)
    for link in found["links"]:
        _run("ip", "link", "del", link, check=False)
    left = ours()
    if left["netns"] or left["links"]:
        raise NetnsError(
            f"could not remove {left}; remove them by hand with `ip netns del` / `ip link del`"
        )
    return found


def _check_subnet_free() -> None:
    """Refuse to start if the machine already routes part of our subnet (it would not be private to us)."""
    out = _run("ip", "-j", "-4", "route", "show", check=False).stdout or "[]"
    for r in json.loads(out):
        dst = r.get("dst", "")
        if dst in ("default", "") or r.get("dev", "").startswith(PREFIX):
            continue
        try:
            net = ipaddress.ip_network(dst, strict=False)
        except ValueError:
            continue
        if net.overlaps(SUBNET):
            raise NetnsError(
                f"{SUBNET} is already routed on this machine ({dst} via {r.get('dev')}); "
                "the pair's namespaces need it to themselves"
            )


def tbf_burst_bytes(rate_gbps: float) -> int:
    """The token bucket's size for ``rate_gbps``: one millisecond of the rate, at least 64 KiB.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    r = validate.positive_float("rate_gbps", rate_gbps, "Gb/s")
    return max(TBF_MIN_BURST_BYTES, int(r * 1e9 / 8 * 1e-3))


class Network:
    """The pair's namespaces and links, as a context manager that always removes them.

    ``with Network() as net:`` creates everything (after removing any leftover of ours),
    ``net.shape(1.0)`` limits the KV link to 1 Gb/s, ``net.shape(None)`` unshapes it,
    ``net.kv_bytes()`` reads the KV link's byte counters; on the way out every namespace,
    link and qdisc is gone.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """

    def __init__(self, state_dir: Path | None = None) -> None:
        from labs_py.pair.paths import STATE_DIR

        self.state_path = (
            state_dir or STATE_DIR
        ) / STATE_FILE  # beside, not in, the pid files of run/
        self.rate_gbps: float | None = None
        self.created = False

    # ---- lifecycle ---------------------------------------------------------------------------
    def up(self) -> Network:
        reason = unavailable_reason()
        if reason:
            raise NetnsError(reason)
        leftover = ours()
        if leftover["netns"] or leftover["links"]:
            print(
                f"[netns] removing a leftover of an earlier run: {leftover}", flush=True
            )
            cleanup()
        _check_subnet_free()
        self.created = True
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        self.state_path.write_text(
            json.dumps({"pid": os.getpid(), "created_at_s": time.time()})
        )
        try:
            for ns in NS.values():
                _run("ip", "netns", "add", ns)
                _run(
                    "ip", "-n", ns, "link", "set", "lo", "up"
                )  # vLLM talks to itself over 127.0.0.1
            for dev, ns, addr, peer, peer_ns, peer_addr in LINKS:
                _run("ip", "link", "add", dev, "type", "veth", "peer", "name", peer)
                _run("ip", "link", "set", dev, "netns", ns)
                _run("ip", "-n", ns, "addr", "add", addr, "dev", dev)
                _run("ip", "-n", ns, "link", "set", dev, "up")
                if peer_ns is None:
                    _run("ip", "addr", "add", peer_addr, "dev", peer)
                    _run("ip", "link", "set", peer, "up")
                else:
                    _run("ip", "link", "set", peer, "netns", peer_ns)
                    _run("ip", "-n", peer_ns, "addr", "add", peer_addr, "dev", peer)
                    _run("ip", "-n", peer_ns, "link", "set", peer, "up")
        except BaseException:
            self.down()
            raise
        return self

    def down(self) -> dict[str, list[str]]:
        """Remove everything (and whatever else of ours is left); idempotent."""
        removed = cleanup()
        self.state_path.unlink(missing_ok=True)
        self.created = False
        self.rate_gbps = None
        return removed

    def __enter__(self) -> Network:
        return self.up()

    def __exit__(self, *exc) -> None:
        self.down()

    # ---- the KV link -------------------------------------------------------------------------
    def shape(self, rate_gbps: float | None) -> None:
        """Limit the KV link's prefill-to-decode direction to ``rate_gbps`` (``None``: unshaped)."""
        ns, dev = NS["producer"], KV_DEVICE["producer"]
        if rate_gbps is None:
            _run(
                "ip",
                "netns",
                "exec",
                ns,
                "tc",
                "qdisc",
                "del",
                "dev",
                dev,
                "root",
                check=False,
            )
        else:
            burst = tbf_burst_bytes(rate_gbps)
            _run(
                "ip",
                "netns",
                "exec",
                ns,
                "tc",
                "qdisc",
                "replace",
                "dev",
                dev,
                "root",
                "tbf",
                "rate",
                f"{int(rate_gbps * 1e9)}bit",
                "burst",
                str(burst),
                "latency",
                f"{TBF_LATENCY_MS}ms",
            )
        self.rate_gbps = rate_gbps

    def qdisc(self) -> str:
        """``tc qdisc show`` of the KV link's shaped end (what is in force)."""
        ns, dev = NS["producer"], KV_DEVICE["producer"]
        return _run(
            "ip", "netns", "exec", ns, "tc", "qdisc", "show", "dev", dev
        ).stdout.strip()

    def kv_bytes(self) -> dict[str, int]:
        """Byte counters of the KV link: ``producer_tx`` (KV leaving prefill) and ``consumer_rx``."""
        out = {}
        for role, key in (("producer", "tx"), ("consumer", "rx")):
            ns, dev = NS[role], KV_DEVICE[role]
            info = json.loads(
                _run("ip", "-n", ns, "-s", "-j", "link", "show", dev).stdout
            )[0]
            out[f"{role}_{key}"] = int(info["stats64"][key]["bytes"])
        return out

    def set_link(self, up: bool) -> None:
        """Take the KV link down (``up=False``) or bring it back: a cable pulled and plugged in again."""
        ns, dev = NS["producer"], KV_DEVICE["producer"]
        _run("ip", "-n", ns, "link", "set", dev, "up" if up else "down")

    def drop(self, on: bool) -> None:
        """Drop every packet on the KV link (nftables, inside prefill's namespace), or stop dropping."""
        if shutil.which("nft") is None:
            raise NetnsError(
                "the packet-drop drill needs nftables (Debian: apt-get install nftables)"
            )
        ns, dev = NS["producer"], KV_DEVICE["producer"]
        if on:
            rules = (
                f"table inet lbp_drop {{\n"
                f'  chain out {{ type filter hook output priority 0; policy accept; oifname "{dev}" counter drop; }}\n'
                f'  chain inp {{ type filter hook input priority 0; policy accept; iifname "{dev}" counter drop; }}\n'
                f"}}\n"
            )
            r = subprocess.run(
                ["ip", "netns", "exec", ns, "nft", "-f", "-"],
                input=rules,
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            if r.returncode != 0:
                raise NetnsError(f"nft failed: {r.stderr.strip()}")
        else:
            _run(
                "ip",
                "netns",
                "exec",
                ns,
                "nft",
                "delete",
                "table",
                "inet",
                "lbp_drop",
                check=False,
            )

    def exec_prefix(self, role: str) -> list[str]:
        """``["ip", "netns", "exec", <namespace>]``: run a command inside ``role``'s namespace."""
        return ["ip", "netns", "exec", NS[role]]
