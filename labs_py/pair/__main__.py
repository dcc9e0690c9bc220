"""Command line of the real prefill/decode pair: ``python -m labs_py.pair <command>``.

Run it with the pair environment's interpreter (``.venv-pair/bin/python``;
``bash tools/pair_env.sh`` creates it). Commands:

``build-model [--seed N] [--force]``
    Build the tiny random-weight Qwen2 model and tokenizer under ``.pair/models/``.
``up single|pair [--topology NAME] [--backend cpu|gpu]``
    Start instances (and the proxy for ``pair``) in the background; ``down`` stops them.
``down [NAME ...]`` / ``status``
    Stop what ``up`` started (by recorded PIDs) / list it.
``capture TOPOLOGY WORKLOAD``
    Run a workload and write ``captures/pair/TOPOLOGY__WORKLOAD.json``.
``drill NAME|all``
    Run a failure drill and write its capture.
``bench-crosscheck``
    Run ``vllm bench serve`` and our load generator on the pair; compare percentiles.
``smoke``
    The real pair smoke test (token identity + metrics proof + clean stop).
``preflight [--backend cpu|gpu]``
    Can this machine run the pair? Prints what was checked, or ``SKIPPED:`` and why.
``report``
    Headline figures from the committed captures (works in the light environment).
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
    dr = sub.add_parser("drill")
    dr.add_argument("name")
    sub.add_parser("bench-crosscheck")
    sub.add_parser("smoke")
    sub.add_parser("report")
    pf = sub.add_parser("preflight")
    pf.add_argument("--backend", choices=("cpu", "gpu"), default="cpu")
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

        print(f"[pair] wrote {runs.capture(a.topology, a.workload, a.seed)}")
        return 0
    if a.cmd == "drill":
        from labs_py.pair import drills

        names = list(drills.DRILLS) if a.name == "all" else [a.name]
        for n in names:
            print(f"[pair] wrote {drills.run_drill(n)}")
        return 0
    if a.cmd == "bench-crosscheck":
        from labs_py.pair import crosscheck

        print(f"[pair] wrote {crosscheck.run()}")
        return 0
    if a.cmd == "report":
        import json

        from labs_py.captures.report import headline_figures

        print(json.dumps(headline_figures(), indent=1, default=str))
        return 0
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
    procs = [
        launch.start(s.name, list(s.argv), s.port, s.env, cpus=s.affinity())
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
        raise
    target = cfg.proxy_url() if a.mode == "pair" else cfg.url("single")
    print(
        f"[pair] up: {', '.join(p.name for p in procs)}; send requests to {target}; "
        f"stop with `python -m labs_py.pair down`"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
