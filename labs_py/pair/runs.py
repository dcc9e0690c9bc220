"""Bring up a topology, run a workload through it, scrape metrics, write a capture.

A *topology* is what gets started: a single colocated instance on some cores,
or ``n_prefill`` producers plus ``n_decode`` consumers behind the proxy. A
*workload* is what :mod:`labs_py.pair.loadgen` sends. :data:`TOPOLOGIES` and
:data:`WORKLOADS` name the ones the chapter captures, and
``python -m labs_py.pair capture TOPOLOGY WORKLOAD`` runs one pair of them and
writes ``captures/pair/TOPOLOGY__WORKLOAD.json``.

Every process is started through :class:`labs_py.pair.launch.ProcessSet`,
which stops all of them on the way out, error or not.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import sys
import time
from dataclasses import dataclass, field

from labs_py.captures import capture as cap
from labs_py.captures import metrics
from labs_py.captures.tiny_model import TinyModelSpec
from labs_py.core import validate
from labs_py.pair import contention, launch, loadgen, netns
from labs_py.pair.config import (
    MEASURE_NICENESS,
    REPO_ROOT,
    PairConfig,
    apply_niceness,
    instance_spec,
    pair_python,
    pair_specs,
    proxy_argv,
)
from labs_py.pair.scrape import scrape_counters
from labs_py.pair.tiny_model import build_tiny_model
from labs_py.pair.workloads import MIXED, MIXED_DESCRIPTION

#: name -> (description, PairConfig changes, mode)
TOPOLOGIES: dict[str, tuple[str, dict, str]] = {
    "single-1core": (
        "one colocated vLLM instance, all its processes confined to core 0",
        {"single_cores": (0,)},
        "single",
    ),
    "single-2core": (
        "one colocated vLLM instance on cores 0 and 1",
        {"single_cores": (0, 1)},
        "single",
    ),
    "pair-1each": (
        "prefill confined to core 0, decode confined to core 1, NIXL over loopback, proxy",
        {"prefill_cores": ((0,),), "decode_cores": ((1,),)},
        "pair",
    ),
    "pair-1p2d": (
        "one prefill (core 0) and two decode instances (both on core 1) behind one proxy",
        {"n_decode": 2, "prefill_cores": ((0,),), "decode_cores": ((1,), (1,))},
        "pair",
    ),
    # The pitfall, kept measurable: only the workers' OpenMP threads pinned, the rest of each
    # instance (API server, spinning engine core) free to run on the other instance's core.
    "single-1core-unconfined": (
        "one colocated instance, only its OpenMP threads pinned to core 0",
        {"single_cores": (0,), "confine_instances": False},
        "single",
    ),
    "pair-netns": (
        "prefill (core 0) and decode (core 1) in their own network namespaces, the KV over a veth link that "
        "tc shapes, UCX's TCP transport; proxy and client in the machine's own namespace",
        {
            "prefill_cores": ((0,),),
            "decode_cores": ((1,),),
            "network": "netns",
            "enable_prefix_caching": False,
        },
        "pair",
    ),
    "pair-1each-unconfined": (
        "prefill/decode with only their OpenMP threads pinned (core 0 / core 1), proxy",
        {"prefill_cores": ((0,),), "decode_cores": ((1,),), "confine_instances": False},
        "pair",
    ),
}

#: name -> (description, kwargs); the function is chosen by the key's prefix.
WORKLOADS: dict[str, tuple[str, dict]] = {
    "rate": (
        "20 requests of 2000 prompt tokens and 32 output tokens, Poisson arrivals at 1 request/s "
        "(the shape of the vllm bench serve probe)",
        {"n": 20, "prompt_tokens": 2000, "output_tokens": 32, "rate_rps": 1.0},
    ),
    "sweep": (
        "prompts of 128 to 3000 tokens, one at a time, 3 of each length, 16 output tokens: "
        "the TTFT-vs-input-length curve",
        {
            "prompt_lengths": [
                n
                for n in (128, 256, 512, 1024, 1536, 2000, 2500, 3000)
                for _ in range(3)
            ],
            "max_tokens": 16,
        },
    ),
    "mixed": (MIXED_DESCRIPTION, dict(MIXED)),
    "link-sweep": (
        "link rates 0.1, 0.25, 1, 2.5 and 10 Gb/s and unshaped x prompts of 128 to 3000 tokens, one at a time, "
        "3 of each, 16 output tokens, every TTFT split into its terms; then the mixed workload at 0.25 Gb/s "
        "and unshaped (needs the pair-netns topology)",
        {
            "rates_gbps": [0.1, 0.25, 1.0, 2.5, 10.0, None],
            "prompt_lengths": [128, 512, 1024, 2000, 3000],
            "reps": 3,
            "max_tokens": 16,
            "mixed_rates_gbps": [0.25, None],
        },
    ),
}


@dataclass
class Running:
    """A started topology: where to send load, and which instances to scrape.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """

    mode: str
    cfg: PairConfig
    target_url: str
    instances: dict[str, str]  # name -> base URL
    topology: dict
    procs: launch.ProcessSet = field(repr=False, default=None)  # type: ignore[assignment]
    net: netns.Network | None = field(
        repr=False, default=None
    )  # the namespaces, when cfg.network == "netns"


@contextlib.contextmanager
def bring_up(
    cfg: PairConfig,
    mode: str,
    forward_kv_params: bool = True,
    timeout_s: float = 600.0,
    with_proxy: bool = True,
):
    """Start ``mode`` (``"single"`` or ``"pair"``) from ``cfg``; yield :class:`Running`; stop everything.

    With ``cfg.network == "netns"`` the namespaces and links are made first and removed
    last (:class:`labs_py.pair.netns.Network`), whatever happens in between.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    py = str(pair_python())
    apply_niceness(cfg.niceness)
    net = netns.Network() if (cfg.network == "netns" and mode == "pair") else None
    with contextlib.ExitStack() as stack:
        if net is not None:
            stack.enter_context(net)
        ps = stack.enter_context(launch.ProcessSet(cfg.niceness))
        if mode == "single":
            specs = [instance_spec(cfg, "single", 0, py)]
        else:
            specs = pair_specs(cfg, py)
        procs = [
            ps.start(
                s.name,
                list(s.argv),
                s.port,
                s.env,
                cpus=s.affinity(),
                host=s.host,
                netns=s.netns,
            )
            for s in specs
        ]
        proxy_cmd = None
        if mode == "pair" and with_proxy:
            proxy_cmd = proxy_argv(cfg, py, forward_kv_params)
            procs.append(
                ps.start(
                    "proxy", proxy_cmd, cfg.proxy_port, {"PYTHONPATH": str(REPO_ROOT)}
                )
            )
        t0 = time.time()
        for p in procs:
            launch.wait_ready(p, timeout_s)
        print(
            f"[pair] {mode} ready in {time.time() - t0:.0f} s: {', '.join(p.name for p in procs)}",
            file=sys.stderr,
            flush=True,
        )
        instances = {s.name: f"http://{s.host}:{s.port}" for s in specs}
        target = (
            cfg.proxy_url()
            if (mode == "pair" and with_proxy)
            else next(iter(instances.values()))
        )
        topo = {
            "mode": mode,
            "instances": [s.to_dict() for s in specs],
            "proxy_argv": proxy_cmd,
            "forward_kv_params": forward_kv_params,
            "ready_s": round(time.time() - t0, 1),
            "network": cfg.network,
        }
        yield Running(mode, cfg, target, instances, topo, ps, net)


def scrape_all(run: Running) -> dict:
    """Every running instance's counters, by instance name.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    return {name: scrape_counters(url) for name, url in run.instances.items()}


def groups(run: Running) -> list[int]:
    """The process groups (leader pids) of a running topology.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    return [p.pid for p in run.procs.procs]


def run_workload(run: Running, workload: str, seed: int = 0) -> tuple[list[dict], dict]:
    """Run a named workload against ``run``; return (request records, metrics before/after/delta).

    Waits for a quiet machine first, and records how many cores other programs
    used during the run in ``run.topology["contention"]``.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    desc, kw = WORKLOADS[workload]
    quiet = contention.wait_for_quiet(groups(run))
    window = contention.Window(groups(run))
    before = scrape_all(run)
    model = run.cfg.served_model_name
    if workload.startswith("rate"):
        reqs = asyncio.run(loadgen.run_rate(run.target_url, model, seed=seed, **kw))
    elif workload.startswith("sweep"):
        reqs = asyncio.run(
            loadgen.run_sequential(
                run.target_url,
                model,
                kw["prompt_lengths"],
                kw["max_tokens"],
                seed=seed,
                group="sweep",
            )
        )
    elif workload.startswith("mixed"):
        reqs = asyncio.run(loadgen.run_mixed(run.target_url, model, seed=seed, **kw))
    else:
        raise ValueError(
            f"unknown workload {workload!r}; expected one of {sorted(WORKLOADS)}"
        )
    run.topology["contention"] = {"before_run": quiet, "during_run": window.close()}
    time.sleep(1.5)  # let the engines' stat loggers publish the last step
    after = scrape_all(run)
    m = {
        name: {
            "before": before[name],
            "after": after[name],
            "delta": metrics.delta(before[name], after[name]),
        }
        for name in before
    }
    return reqs, m


def decode_proof(run: Running, reqs: list[dict], m: dict) -> dict:
    """The "decode did not prefill" check over all decode instances of a pair run.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    sent = sum(r["prompt_tokens"] for r in reqs if r["status"] == "ok")
    total = {
        k: sum(v["delta"][k] for n, v in m.items() if n.startswith("decode"))
        for k in next(iter(m.values()))["delta"]
    }
    try:
        evidence = metrics.assert_decode_did_not_prefill(total, sent)
        return {"passed": True, **evidence}
    except metrics.ReprefillDetected as e:
        return {
            "passed": False,
            "reason": str(e),
            "local_compute_tokens": int(total["prompt_tokens_local_compute"]),
            "external_kv_transfer_tokens": int(
                total["prompt_tokens_external_kv_transfer"]
            ),
            "expected_prompt_tokens": sent,
        }


def warm_up(run: Running) -> None:
    """Two small requests so that first-request costs (NIXL handshake, allocator) stay out of the capture.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    asyncio.run(
        loadgen.run_sequential(
            run.target_url,
            run.cfg.served_model_name,
            [64, 300],
            4,
            seed=999,
            group="warmup",
            progress=False,
        )
    )


def capture(
    topology: str,
    workload: str,
    seed: int = 0,
    out_dir=cap.CAPTURE_DIR,
    repeat: int | None = None,
) -> str:
    """Run ``workload`` on ``topology`` and write its capture; return the path.

    ``repeat=N`` makes the same run again (same seed, so the same prompts and arrivals) under the
    label ``TOPOLOGY__WORKLOAD__repeatN``, beside the committed one: the run-to-run variation of
    the tails is read from such repeats (``labs_py.captures.report.run_to_run``).

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    if topology not in TOPOLOGIES:
        raise ValueError(
            f"unknown topology {topology!r}; expected one of {sorted(TOPOLOGIES)}"
        )
    if workload not in WORKLOADS:
        raise ValueError(
            f"unknown workload {workload!r}; expected one of {sorted(WORKLOADS)}"
        )
    if repeat is not None:
        validate.positive_int("repeat", repeat, "(the repeat's number, 1 and up)")
        if workload == "link-sweep":
            raise ValueError(
                "--repeat is for the rate, sweep and mixed workloads; the link sweep is one capture"
            )
    tdesc, changes, mode = TOPOLOGIES[topology]
    cfg = PairConfig(niceness=MEASURE_NICENESS, **changes)
    if workload == "link-sweep":
        if cfg.network != "netns":
            raise ValueError(
                "the link-sweep workload needs the pair-netns topology (a real link to shape)"
            )
        return capture_link_sweep(topology, seed, out_dir)
    manifest = build_tiny_model(cfg.model_dir, TinyModelSpec(seed=cfg.seed))
    with bring_up(cfg, mode) as run:
        warm_up(run)
        reqs, m = run_workload(run, workload, seed)
        extra = {}
        if mode == "pair":
            extra["proof"] = decode_proof(run, reqs, m)
            extra["proxy_stats"] = _proxy_stats(run)
        label = f"{topology}__{workload}" + (
            f"__repeat{repeat}" if repeat is not None else ""
        )
        kind = {"rate": mode, "sweep": "sweep", "mixed": "mixed"}[workload]
        c = cap.new_capture(
            label=label,
            kind=kind,
            description=f"{tdesc}; workload: {WORKLOADS[workload][0]}",
            command=f".venv-pair/bin/python -m labs_py.pair capture {topology} {workload}"
            + (f" --repeat {repeat}" if repeat is not None else ""),
            config={**cfg.to_dict(), "topology": run.topology},
            workload={"name": workload, "seed": seed, **WORKLOADS[workload][1]},
            requests=reqs,
            metrics=m,
            model=manifest,
            contention=run.topology["contention"],
            **extra,
        )
    path = cap.write_capture(c, out_dir / f"{label}.json")
    return str(path)


def capture_link_sweep(
    topology: str = "pair-netns", seed: int = 0, out_dir=cap.CAPTURE_DIR
) -> str:
    """The link sweep (:mod:`labs_py.pair.linksweep`) and the mixed load at two rates; write its capture.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    from labs_py.pair import linksweep

    tdesc, changes, mode = TOPOLOGIES[topology]
    cfg = PairConfig(niceness=MEASURE_NICENESS, **changes)
    reason = netns.unavailable_reason()
    if reason:
        raise netns.NetnsError(f"the link sweep needs network namespaces: {reason}")
    _, kw = WORKLOADS["link-sweep"]
    manifest = build_tiny_model(cfg.model_dir, TinyModelSpec(seed=cfg.seed))
    with bring_up(cfg, mode) as run:
        warm_up(run)
        quiet = contention.wait_for_quiet(groups(run))
        window = contention.Window(groups(run))
        before = scrape_all(run)
        qdiscs = {}
        for rate in kw["rates_gbps"]:
            run.net.shape(rate)
            qdiscs[str(rate)] = run.net.qdisc()
        reqs = linksweep.run_sweep(
            run, kw["rates_gbps"], kw["prompt_lengths"], kw["reps"], seed
        )
        _, mixed_kw = WORKLOADS["mixed"]
        for rate in kw["mixed_rates_gbps"]:
            run.net.shape(rate)
            link0 = run.net.kv_bytes()
            mixed = asyncio.run(
                loadgen.run_mixed(
                    run.target_url, cfg.served_model_name, seed=seed, **mixed_kw
                )
            )
            link1 = run.net.kv_bytes()
            tag = "unshaped" if rate is None else f"{rate:g}"
            for r in mixed:
                r["group"] = f"{r['group']}@{tag}"
                r["link_gbps"] = rate
                r["kv_link_bytes_run"] = {k: link1[k] - link0[k] for k in link1}
            reqs += mixed
        run.net.shape(None)
        run.topology["contention"] = {"before_run": quiet, "during_run": window.close()}
        time.sleep(1.5)
        after = scrape_all(run)
        m = {
            n: {
                "before": before[n],
                "after": after[n],
                "delta": metrics.delta(before[n], after[n]),
            }
            for n in before
        }
        c = cap.new_capture(
            label=f"{topology}__link-sweep",
            kind="link-sweep",
            description=f"{tdesc}; workload: {WORKLOADS['link-sweep'][0]}",
            command=f".venv-pair/bin/python -m labs_py.pair capture {topology} link-sweep",
            config={**cfg.to_dict(), "topology": run.topology},
            workload={
                "name": "link-sweep",
                "seed": seed,
                **kw,
                "mixed": mixed_kw,
                "output_tokens": linksweep.OUTPUT_TOKENS,
            },
            requests=reqs,
            metrics=m,
            model=manifest,
            contention=run.topology["contention"],
            proof=decode_proof(run, reqs, m),
            extra={
                "qdiscs": qdiscs,
                "tbf": {
                    "latency_ms": netns.TBF_LATENCY_MS,
                    "min_burst_bytes": netns.TBF_MIN_BURST_BYTES,
                },
                "proxy_stats": _proxy_stats(run),
            },
        )
    path = cap.write_capture(c, out_dir / f"{topology}__link-sweep.json")
    left = netns.ours()
    if left["netns"] or left["links"]:
        raise netns.NetnsError(f"namespaces left after the run: {left}")
    return str(path)


def _proxy_stats(run: Running) -> dict:
    import json
    import urllib.request

    try:
        with urllib.request.urlopen(
            run.cfg.proxy_url() + "/proxy/stats", timeout=5
        ) as r:
            return json.loads(r.read())
    except OSError as e:
        return {"error": str(e)}


def shell_command(argv: list[str]) -> str:
    """``argv`` as one shell-quoted line, for a capture's ``command``.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    return shlex.join(argv)
