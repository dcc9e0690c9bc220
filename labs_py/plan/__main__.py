"""``python -m labs_py.plan``: the best layout for a model on N GPUs under TTFT and TPOT SLOs.

    python -m labs_py.plan --model meta-llama/Llama-3.1-8B-Instruct --gpu H100-SXM --gpus 8 \\
        --isl 2048 --osl 128 --ttft-ms 400 --tpot-ms 20

Prints progress, a table of the simulated finalists, the verdict and the vLLM commands of the
chosen layout; saves a Pareto plot (``--plot FILE.html``, self-contained). ``--json`` prints one
JSON object instead. ``--ray ADDRESS`` runs the simulations on a Ray cluster (``local`` starts one).
"""

from __future__ import annotations

import argparse
import json
import sys


def _args(argv):
    ap = argparse.ArgumentParser(
        prog="python -m labs_py.plan", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--model", required=True, help="a catalog model id or short name")
    ap.add_argument(
        "--gpu", required=True, help="a catalog GPU id (H100-SXM, A100-SXM, ...)"
    )
    ap.add_argument("--gpus", type=int, required=True, help="GPUs available")
    ap.add_argument("--isl", type=int, required=True, help="mean input length, tokens")
    ap.add_argument("--osl", type=int, required=True, help="mean output length, tokens")
    ap.add_argument("--ttft-ms", type=float, required=True, help="TTFT SLO at p90, ms")
    ap.add_argument("--tpot-ms", type=float, required=True, help="TPOT SLO at p90, ms")
    ap.add_argument(
        "--link-gbps",
        type=float,
        default=None,
        help="link between prefill and decode, Gb/s one way",
    )
    ap.add_argument(
        "--rate",
        type=float,
        default=None,
        help="check this request rate instead of finding goodput",
    )
    ap.add_argument(
        "--isl-sigma",
        type=float,
        default=0.0,
        help="log-normal spread of input lengths",
    )
    ap.add_argument(
        "--osl-sigma",
        type=float,
        default=0.0,
        help="log-normal spread of output lengths",
    )
    ap.add_argument(
        "--workers",
        type=int,
        default=None,
        help="local processes (default: every core)",
    )
    ap.add_argument(
        "--ray", default=None, help="a Ray cluster's address ('local': start one here)"
    )
    ap.add_argument(
        "--hosts",
        default=None,
        help="comma-separated GPU hosts for the written commands",
    )
    ap.add_argument(
        "--gpus-per-host",
        type=int,
        default=8,
        help="GPUs on each host of the written commands",
    )
    ap.add_argument(
        "--plot",
        default="plan_pareto.html",
        help="where to save the Pareto plot ('' for none)",
    )
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    return ap.parse_args(argv)


def _to_stderr(line: str) -> None:
    """Progress goes to stderr, so ``--json`` output on stdout stays one object."""
    print(line, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Taught in: no chapter yet: a tool for readers' own experiments.

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    a = _args(argv)
    from labs_py.plan import Question, plan
    from labs_py.plan.report import commands_for, format_result, save_pareto

    try:
        q = Question(
            a.model,
            a.gpu,
            a.gpus,
            a.isl,
            a.osl,
            a.ttft_ms,
            a.tpot_ms,
            a.link_gbps,
            a.rate,
            a.isl_sigma,
            a.osl_sigma,
        )
        res = plan(q, workers=a.workers, ray_address=a.ray, progress=_to_stderr)
    except (ValueError, KeyError) as e:
        print(f"plan: {e}", file=sys.stderr)
        return 2
    hosts = a.hosts.split(",") if a.hosts else None
    commands = commands_for(res.best, q, hosts, a.gpus_per_host)
    if a.plot:
        save_pareto(res, a.plot)
    if a.json:
        print(
            json.dumps(
                {**res.to_dict(), "commands": commands, "plot": a.plot or None},
                indent=1,
            )
        )
    else:
        print(format_result(res))
        print("\nlaunch the chosen layout (vLLM on GPU hosts):")
        print("\n".join(commands))
        if a.plot:
            print(f"\nPareto plot: {a.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
