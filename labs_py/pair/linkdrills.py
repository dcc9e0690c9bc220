"""Two link-fault drills on the pair in its namespaces: the KV link goes down, or drops every packet.

``link-down``
    3,000-token prompts over a 0.1 Gb/s KV link, so that a transfer takes about a second.
    Once 2 MB of a transfer have crossed, the link goes down (``ip link set down``) for
    :data:`DOWN_HOLD_S` seconds, longer than the producer's lease (:data:`LEASE_S`) and
    than the client's deadline (:data:`CLIENT_TIMEOUT_S`). What each side sees is
    recorded: the client's deadline fires (nothing arrives after the response headers,
    and no error either: the decode engine waits for its KV); the producer releases the
    request's blocks when the lease runs out (``vllm:nixl_num_kv_expired_reqs``).
``link-drop``
    The same transfer, but every packet on the link is dropped for :data:`DROP_HOLD_S`
    seconds (nftables inside the producer's namespace), then the rules are removed. TCP
    retransmits: the request completes, seconds late, with no error.

In both, after the fault the harness checks that a fresh request is served (or records
that it is not), stops everything, and checks that no process and no namespace of ours
is left. Both need root, ``ip`` and ``tc``; ``link-drop`` also needs ``nft``.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
import time

from labs_py.captures.tiny_model import TinyModelSpec
from labs_py.pair import contention, launch, loadgen, netns, runs
from labs_py.pair.config import MEASURE_NICENESS, PairConfig
from labs_py.pair.scrape import scrape_counters
from labs_py.pair.tiny_model import build_tiny_model

__all__ = [
    "LEASE_S",
    "CLIENT_TIMEOUT_S",
    "DOWN_HOLD_S",
    "DROP_HOLD_S",
    "drill_link_down",
    "drill_link_drop",
]

LEASE_S = 10
CLIENT_TIMEOUT_S = 25.0
DOWN_HOLD_S = 40.0
DROP_HOLD_S = 3.0
RATE_GBPS = 0.1
PROMPT_TOKENS = 3000
OUTPUT_TOKENS = 16
#: The fault starts once this many bytes of the transfer crossed the link.
FAULT_AFTER_BYTES = 2_000_000


def _config() -> PairConfig:
    _, changes, _ = runs.TOPOLOGIES["pair-netns"]
    return PairConfig(niceness=MEASURE_NICENESS, kv_lease_duration_s=LEASE_S, **changes)


def _request(run: runs.Running, seed: int, req_id: str, timeout_s: float) -> dict:
    async def one() -> dict:
        async with loadgen._session() as s:
            return await loadgen.stream_completion(
                s,
                run.target_url,
                run.cfg.served_model_name,
                loadgen.make_prompt(PROMPT_TOKENS, seed),
                OUTPUT_TOKENS,
                req_id,
                "drill",
                time.perf_counter(),
                timeout_s=timeout_s,
            )

    t0 = time.perf_counter()
    rec = asyncio.run(one())
    rec["elapsed_s"] = round(time.perf_counter() - t0, 3)
    return rec


def _counters(run: runs.Running) -> dict:
    out = {}
    for name, url in run.instances.items():
        try:
            out[name] = scrape_counters(url)
        except (
            OSError
        ) as e:  # an instance that cannot be reached is a finding, not a crash
            out[name] = {"error": str(e)}
    return out


def _fault_when_started(
    run: runs.Running, fault, restore, hold_s: float, events: list
) -> threading.Thread:
    """A thread that waits for the transfer to start, applies ``fault``, holds, then ``restore``s."""

    def watch() -> None:
        base = run.net.kv_bytes()["producer_tx"]
        t0 = time.perf_counter()
        while run.net.kv_bytes()["producer_tx"] - base < FAULT_AFTER_BYTES:
            if time.perf_counter() - t0 > 60:
                events.append(
                    {
                        "t_s": round(time.perf_counter() - t0, 3),
                        "event": "transfer never started",
                    }
                )
                return
            time.sleep(0.01)
        fault()
        events.append(
            {
                "t_s": round(time.perf_counter() - t0, 3),
                "event": "fault on",
                "kv_bytes_crossed": run.net.kv_bytes()["producer_tx"] - base,
            }
        )
        end = time.perf_counter() + hold_s
        while time.perf_counter() < end:
            c = _counters(run)
            events.append(
                {
                    "t_s": round(time.perf_counter() - t0, 3),
                    "event": "sample",
                    "decode_running": c.get("decode0", {}).get("num_requests_running"),
                    "decode_failed": c.get("decode0", {}).get("nixl_failed_transfers"),
                    "prefill_kv_usage": c.get("prefill0", {}).get(
                        "kv_cache_usage_perc"
                    ),
                    "prefill_expired": c.get("prefill0", {}).get(
                        "nixl_kv_expired_reqs"
                    ),
                }
            )
            time.sleep(1.0)
        restore()
        events.append({"t_s": round(time.perf_counter() - t0, 3), "event": "fault off"})

    def guarded() -> None:
        try:
            watch()
        except (
            Exception
        ) as e:  # recorded, and the drill fails after everything is stopped
            events.append(
                {
                    "t_s": None,
                    "event": "fault failed",
                    "error": f"{type(e).__name__}: {e}",
                }
            )

    th = threading.Thread(target=guarded, daemon=True)
    th.start()
    return th


def _drill(
    name: str, description: str, fault_name: str, hold_s: float, client_timeout_s: float
) -> str:
    from labs_py.pair import drills

    reason = netns.unavailable_reason()
    if reason:
        raise netns.NetnsError(f"the {name} drill needs network namespaces: {reason}")
    if fault_name == "drop" and shutil.which("nft") is None:
        raise netns.NetnsError(
            "the link-drop drill needs nftables (Debian: apt-get install nftables)"
        )
    cfg = _config()
    manifest = build_tiny_model(cfg.model_dir, TinyModelSpec(seed=cfg.seed))
    events: list[dict] = []
    reqs: list[dict] = []
    with runs.bring_up(cfg, "pair") as run:
        runs.warm_up(run)
        window = contention.Window(runs.groups(run))
        run.net.shape(RATE_GBPS)
        reqs.append(_request(run, 1, "before", 120.0))  # the link works: the baseline
        before = _counters(run)
        if fault_name == "down":
            fault, restore = (
                (lambda: run.net.set_link(False)),
                (lambda: run.net.set_link(True)),
            )
        else:
            fault, restore = (lambda: run.net.drop(True)), (lambda: run.net.drop(False))
        th = _fault_when_started(run, fault, restore, hold_s, events)
        faulted = _request(run, 2, "faulted", client_timeout_s)
        reqs.append(faulted)
        th.join(timeout=hold_s + 90)
        # after the fault: give TCP time to retransmit, then poke both sides with a fresh request
        time.sleep(5.0)
        after_fault = _counters(run)
        reqs.append(_request(run, 3, "after", 120.0))
        time.sleep(1.5)
        after = _counters(run)
        topology = run.topology
        groups = runs.groups(run)
    failed = [
        e for e in events if e["event"] in ("fault failed", "transfer never started")
    ]
    if failed:
        raise RuntimeError(f"the {name} drill could not apply its fault: {failed}")
    left_pids = sorted(p for g in groups for p in launch.group_members(g))
    left_ns = netns.ours()
    d0, d1 = before.get("decode0", {}), after.get("decode0", {})
    p0, p1 = before.get("prefill0", {}), after.get("prefill0", {})
    fault_on = next((e["t_s"] for e in events if e["event"] == "fault on"), None)
    drill = {
        "fault": fault_name,
        "link_gbps": RATE_GBPS,
        "hold_s": hold_s,
        "lease_s": LEASE_S,
        "client_timeout_s": client_timeout_s,
        "events": events,
        "faulted_request": {
            k: faulted.get(k)
            for k in ("status", "error", "http_status", "elapsed_s", "routed")
        },
        "faulted_tokens": len(faulted.get("output_token_ids", [])),
        "first_token_s": faulted["token_times_s"][0]
        if faulted.get("token_times_s")
        else None,
        "prefill_expired_delta": p1.get("nixl_kv_expired_reqs", 0)
        - p0.get("nixl_kv_expired_reqs", 0),
        "notifications_after_expiry_delta": p1.get("nixl_notifications_after_expiry", 0)
        - p0.get("nixl_notifications_after_expiry", 0),
        "decode_failed_delta": d1.get("nixl_failed_transfers", 0)
        - d0.get("nixl_failed_transfers", 0),
        "after_fault_counters": after_fault,
        "after_request_ok": reqs[-1]["status"] == "ok",
        "left_running_pids": left_pids,
        "namespaces_left": left_ns,
        "fault_started_s": fault_on,
    }
    drill["expectations"] = _expectations(fault_name, drill, faulted, client_timeout_s)
    mets = {"before": before, "after": after}
    return drills._write(
        name,
        description,
        cfg,
        topology,
        {
            "prompt_tokens": PROMPT_TOKENS,
            "max_tokens": OUTPUT_TOKENS,
            "link_gbps": RATE_GBPS,
        },
        reqs,
        mets,
        drill,
        manifest,
        window,
    )


def _expectations(
    fault: str, d: dict, faulted: dict, client_timeout_s: float
) -> dict[str, bool]:
    nothing_left = (
        not d["left_running_pids"]
        and not d["namespaces_left"]["netns"]
        and not d["namespaces_left"]["links"]
    )
    within_deadline = faulted.get("elapsed_s", 1e9) <= client_timeout_s + 5.0
    if fault == "down":
        return {
            "the faulted request ends by the client's deadline, not later": within_deadline,
            "the faulted request does not complete (no answer crosses a dead link)": faulted[
                "status"
            ]
            != "ok",
            "the producer releases the request's blocks when the lease runs out": d[
                "prefill_expired_delta"
            ]
            >= 1,
            "nothing of ours is left running, no namespace is left": nothing_left,
        }
    return {
        "the faulted request completes, late, with no error": faulted["status"] == "ok",
        "it ends within the client's deadline": within_deadline,
        "no transfer failed": d["decode_failed_delta"] == 0,
        "a fresh request afterwards is served": d["after_request_ok"],
        "nothing of ours is left running, no namespace is left": nothing_left,
    }


def drill_link_down() -> str:
    """The link-down drill (see the module docstring); returns its capture's path.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    return _drill(
        "link-down",
        f"the KV link (0.1 Gb/s) goes down for {DOWN_HOLD_S:g} s in the middle of a 3,000-token transfer; lease "
        f"{LEASE_S} s, client deadline {CLIENT_TIMEOUT_S:g} s",
        "down",
        DOWN_HOLD_S,
        CLIENT_TIMEOUT_S,
    )


def drill_link_drop() -> str:
    """The link-drop drill (see the module docstring); returns its capture's path.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    return _drill(
        "link-drop",
        f"every packet on the KV link (0.1 Gb/s) is dropped for {DROP_HOLD_S:g} s in the middle of a 3,000-token "
        f"transfer, then delivered again",
        "drop",
        DROP_HOLD_S,
        CLIENT_TIMEOUT_S,
    )


#: The link drills, by name (``python -m labs_py.pair drill NAME``; ``drill all`` runs these after the others).
LINK_DRILLS = {"link-down": drill_link_down, "link-drop": drill_link_drop}
