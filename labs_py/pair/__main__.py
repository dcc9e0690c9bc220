"""Command line of the real prefill/decode pair: ``python -m labs_py.pair <command>``.

Run it with the pair environment's interpreter (``.venv-pair/bin/python``;
``bash tools/pair_env.sh`` creates it). Commands:

``build-model [--seed N] [--force]``
    Build the tiny random-weight Qwen2 model and tokenizer under ``.pair/models/``.
``up single|pair [--topology NAME] [--backend cpu|gpu]``
    Start instances (and the proxy for ``pair``) in the background; ``down`` stops them
    (``--topology pair-netns``: in network namespaces, which ``down`` removes too).
``down [NAME ...]`` / ``status``
    Stop what ``up`` started (by recorded PIDs) / list it.
``capture TOPOLOGY WORKLOAD``
    Run a workload and write ``captures/pair/TOPOLOGY__WORKLOAD.json`` (``capture pair-netns
    link-sweep``: the pair across a shaped link, TTFT term by term).
``capture-endpoint URL WORKLOAD [--metrics URL ...] [--api-key KEY] [--tokenizer FILE] [--name NAME]``
    Run the book's workloads against any OpenAI-compatible deployment and write a capture.
``drill NAME|all``
    Run a failure drill and write its capture.
``bench-crosscheck``
    Run ``vllm bench serve`` and our load generator on the pair; compare percentiles.
``smoke``
    The real pair smoke test (token identity + metrics proof + clean stop).
``preflight [--backend cpu|gpu] [--python PY] [--n-gpus N]``
    Can this machine run the pair? Prints what was checked, or ``SKIPPED:`` and why. With
    ``--backend gpu``: GPU count, ``nvidia-smi topo -m`` (NVLink between GPU 0 and GPU 1), vLLM's
    version and the NixlConnector import in ``PY`` (:mod:`labs_py.pair.preflight`); exit status
    0 ready, 1 a check failed, 77 skipped (no GPU here, nothing checked).
``report [--json]``
    Headline figures from the committed captures (works in the light environment); the
    link sweep as a table (``--json``: everything as JSON, ``link_sweep`` one row per
    link rate and prompt length).
"""

from __future__ import annotations

import argparse
import signal
import sys


def _sigterm_to_exit(
    signum, frame
):  # so that `timeout` or CI cancellation still runs our cleanup
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    """The command line: parse ``argv`` and run one subcommand; returns the exit status.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    signal.signal(signal.SIGTERM, _sigterm_to_exit)
    signal.signal(signal.SIGHUP, _sigterm_to_exit)
    ap = argparse.ArgumentParser(
        prog="python -m labs_py.pair", description=__doc__.split("\n")[0]
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build-model")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--force", action="store_true")
    b.add_argument("--out", default=None)
    u = sub.add_parser("up")
    u.add_argument("mode", choices=("single", "pair"))
    u.add_argument("--topology", default=None)
    u.add_argument("--backend", choices=("cpu", "gpu"), default="cpu")
    u.add_argument(
        "--python",
        default=None,
        help="interpreter with vLLM (default: .venv-pair/bin/python)",
    )
    d = sub.add_parser("down")
    d.add_argument("names", nargs="*")
    sub.add_parser("status")
    c = sub.add_parser("capture")
    c.add_argument("topology")
    c.add_argument("workload")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="run N of the same capture (same seed, same prompts): labelled TOPOLOGY__WORKLOAD__repeatN, "
        "beside the committed one, to measure run-to-run variation",
    )
    ce = sub.add_parser(
        "capture-endpoint", help="measure any OpenAI-compatible P/D deployment"
    )
    ce.add_argument("url", help="the deployment's base URL, e.g. http://gateway:8000")
    ce.add_argument("workload", help="sweep, mixed or smoke")
    ce.add_argument(
        "--model", default=None, help="model name (default: the first of /v1/models)"
    )
    ce.add_argument(
        "--metrics",
        action="append",
        default=[],
        help="a Prometheus /metrics URL (repeatable)",
    )
    ce.add_argument(
        "--api-key",
        default=None,
        help="sent as a bearer token; never written to the capture",
    )
    ce.add_argument(
        "--tokenizer",
        default=None,
        help="the target's tokenizer.json (needs `tokenizers`)",
    )
    ce.add_argument("--name", default="my-deployment", help="names the capture file")
    ce.add_argument(
        "--out", default=None, help="directory (default: captures/endpoint/)"
    )
    dr = sub.add_parser("drill")
    dr.add_argument("name")
    sub.add_parser("bench-crosscheck")
    sub.add_parser("smoke")
    rp = sub.add_parser("report")
    rp.add_argument(
        "--json",
        action="store_true",
        help="every figure as JSON (link_sweep: one row per rate x prompt)",
    )
    pf = sub.add_parser(
        "preflight",
        help="can this machine run the pair?",
        epilog="--backend gpu exits 0 when ready (warnings allowed), 1 when a check failed, "
        "77 when there is no GPU here and every check was skipped",
    )
    pf.add_argument("--backend", choices=("cpu", "gpu"), default="cpu")
    pf.add_argument(
        "--python",
        default=None,
        help="GPU path: the interpreter that will serve the pair, where vLLM's version and "
        "the NixlConnector import are checked (default: .venv-pair/bin/python)",
    )
    pf.add_argument(
        "--n-gpus",
        type=int,
        default=2,
        help="GPU path: GPUs the pair will use (2: prefill on GPU 0, decode on GPU 1; "
        "1: both share GPU 0, no link to check)",
    )
    a = ap.parse_args(argv)

    if a.cmd == "build-model":
        from labs_py.captures.tiny_model import TinyModelSpec
        from labs_py.pair.config import PairConfig
        from labs_py.pair.tiny_model import build_tiny_model

        out = a.out or PairConfig().model_dir.replace("seed0", f"seed{a.seed}")
        m = build_tiny_model(out, TinyModelSpec(seed=a.seed), force=a.force)
        print(
            f"[pair] model at {out}: {m['parameters']:,} parameters, sha256 {m['sha256'][:16]}"
        )
        return 0
    if a.cmd == "up":
        return _up(a)
    if a.cmd == "down":
        from labs_py.pair import launch

        stopped = launch.stop_recorded(a.names or None)
        print(f"[pair] stopped: {', '.join(stopped) or 'nothing was running'}")
        if not a.names:
            from labs_py.pair import netns

            if netns.unavailable_reason() is None and any(netns.ours().values()):
                print(
                    f"[pair] removed the namespaces and links: {netns.Network().down()}"
                )
        return 0
    if a.cmd == "status":
        from labs_py.pair import launch

        for p in launch.recorded():
            print(
                f"{p.name:10s} pid {p.pid:7d} port {p.port} {'alive' if p.alive() else 'dead'}  log {p.log_path}"
            )
        return 0
    if a.cmd == "capture":
        from labs_py.pair import runs

        print(
            f"[pair] wrote {runs.capture(a.topology, a.workload, a.seed, repeat=a.repeat)}"
        )
        return 0
    if a.cmd == "capture-endpoint":
        from pathlib import Path

        from labs_py.pair import endpoint

        path = endpoint.capture_endpoint(
            a.url,
            a.workload,
            name=a.name,
            model=a.model,
            metrics_urls=a.metrics,
            api_key=a.api_key,
            tokenizer=a.tokenizer,
            out_dir=Path(a.out) if a.out else None,
        )
        print(f"[pair] wrote {path}")
        return 0
    if a.cmd == "drill":
        from labs_py.pair import drills, linkdrills, netns
        from labs_py.pair.config import MEASURE_NICENESS, apply_niceness

        every = {**drills.DRILLS, **linkdrills.LINK_DRILLS}
        if a.name != "all" and a.name not in every:
            print(
                f"[pair] unknown drill {a.name!r}; expected one of {sorted(every)} or 'all'",
                file=sys.stderr,
            )
            return 2
        for n in list(every) if a.name == "all" else [a.name]:
            if n in linkdrills.LINK_DRILLS:
                if netns.unavailable_reason():
                    print(f"[pair] drill {n} SKIPPED: {netns.unavailable_reason()}")
                    continue
                apply_niceness(MEASURE_NICENESS)
                print(f"[pair] wrote {linkdrills.LINK_DRILLS[n]()}")
            else:
                print(f"[pair] wrote {drills.run_drill(n)}")
        return 0
    if a.cmd == "bench-crosscheck":
        from labs_py.pair import crosscheck

        print(f"[pair] wrote {crosscheck.run()}")
        return 0
    if a.cmd == "report":
        import json

        from labs_py.captures.report import format_link_sweep, headline_figures

        figs = headline_figures()
        if a.json:
            print(json.dumps(figs, indent=1, default=str))
        else:
            if "link_sweep" in figs:
                print(format_link_sweep(figs["link_sweep"]))
                print()
            rest = {k: v for k, v in figs.items() if k not in ("link_sweep",)}
            print(json.dumps(rest, indent=1, default=str))
        return 0
    if a.cmd == "preflight" and a.backend == "gpu":
        from labs_py.pair import preflight

        try:
            checks = preflight.run_gpu_preflight(a.python, a.n_gpus)
        except (TypeError, ValueError) as e:
            pf.error(str(e))
        print(preflight.format_report(checks, a.python, a.n_gpus))
        return preflight.exit_status(checks)
    if a.cmd == "preflight":
        from labs_py.pair.config import PairConfig, backend_unavailable_reason

        reason = backend_unavailable_reason(PairConfig(backend=a.backend))
        print(
            f"{a.backend.upper()} path: "
            + ("available" if reason is None else f"SKIPPED: {reason}")
        )
        return 0
    if a.cmd == "smoke":
        from labs_py.pair.smoke import run_smoke

        return run_smoke()
    return 2


def _up(a) -> int:
    from labs_py.pair import launch
    from labs_py.pair.config import (
        REPO_ROOT,
        PairConfig,
        backend_unavailable_reason,
        instance_spec,
        pair_specs,
        proxy_argv,
    )
    from labs_py.pair.runs import TOPOLOGIES

    changes = (
        TOPOLOGIES[a.topology][1]
        if a.topology
        else ({"single_cores": (0, 1)} if a.mode == "single" else {})
    )
    if a.backend == "gpu":
        changes = {k: v for k, v in changes.items() if "cores" not in k}
    cfg = PairConfig(backend=a.backend, **changes)
    reason = backend_unavailable_reason(cfg)
    if reason:
        print(f"[pair] SKIPPED: {reason}")
        return 0
    specs = (
        [instance_spec(cfg, "single", 0, a.python)]
        if a.mode == "single"
        else pair_specs(cfg, a.python)
    )
    net = None
    if cfg.network == "netns" and a.mode == "pair":
        from labs_py.pair import netns

        net = netns.Network().up()  # `python -m labs_py.pair down` removes it
    procs = [
        launch.start(
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
    if a.mode == "pair":
        procs.append(
            launch.start(
                "proxy",
                proxy_argv(cfg, a.python),
                cfg.proxy_port,
                {"PYTHONPATH": str(REPO_ROOT)},
            )
        )
    try:
        for p in procs:
            launch.wait_ready(p)
    except (launch.LaunchError, SystemExit, KeyboardInterrupt):
        for p in procs:
            try:
                launch.stop(p)
            except launch.LaunchError as e:
                print(e, file=sys.stderr)
        if net is not None:
            net.down()
        raise
    target = cfg.proxy_url() if a.mode == "pair" else cfg.url("single")
    print(
        f"[pair] up: {', '.join(p.name for p in procs)}; send requests to {target}; "
        f"stop with `python -m labs_py.pair down`"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
