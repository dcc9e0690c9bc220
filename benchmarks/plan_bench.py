#!/usr/bin/env python
"""The planner beside NVIDIA's aiconfigurator on the same questions: seconds, configurations, answers.

    .venv/bin/python benchmarks/plan_bench.py            # both tools (aiconfigurator from .venv-calibration)
    .venv/bin/python benchmarks/plan_bench.py --ours     # the planner alone
    .venv/bin/python benchmarks/plan_bench.py --write    # ...and store the results in labs_py/data/plan_bench.json

For each question it prints, for both tools: wall seconds, the cores used, the configurations
evaluated, the chosen layout and its per-GPU figures. aiconfigurator (``bash
tools/calibration_env.sh`` installs it) runs from its own environment, timed alone; a second
run, with counting wrappers around its sweep functions, counts what it evaluated (distinct
aggregated points, and distinct prefill/decode pairings). Where both tools pick a layout, the
planner also scores the other tool's layout, and the ratio of the two tools' tokens/s/GPU for
that same layout is printed with the term that explains it when it falls outside 0.7-1.4.

aiconfigurator's figures are estimates composed from kernel timings measured on each GPU,
with a split treated as rate matching (no KV-transfer term); its latencies are means at the
operating point, where the planner's are 90th percentiles (DistServe's goodput).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from labs_py.plan import Layout, Question, plan  # noqa: E402
from labs_py.plan.search import screen_all, simulate_finalist  # noqa: E402
from labs_py.plan.space import CHUNKS, MAX_BATCHES  # noqa: E402

AIC = ROOT / ".venv-calibration" / "bin" / "python"
OUT = ROOT / "labs_py" / "data" / "plan_bench.json"
#: name -> (catalog model, aiconfigurator model, GPUs, isl, osl, TTFT ms, TPOT ms)
QUESTIONS = {
    "8b chat": (
        "meta-llama/Llama-3.1-8B-Instruct",
        "meta-llama/Meta-Llama-3.1-8B",
        8,
        2048,
        128,
        400,
        20,
    ),
    "8b long": (
        "meta-llama/Llama-3.1-8B-Instruct",
        "meta-llama/Meta-Llama-3.1-8B",
        8,
        8192,
        256,
        2000,
        30,
    ),
    "8b short, tight": (
        "meta-llama/Llama-3.1-8B-Instruct",
        "meta-llama/Meta-Llama-3.1-8B",
        8,
        512,
        512,
        200,
        15,
    ),
    "70b chat": (
        "meta-llama/Llama-3.1-70B-Instruct",
        "meta-llama/Meta-Llama-3.1-70B",
        8,
        2048,
        128,
        1000,
        40,
    ),
    "70b long, 16 GPUs": (
        "meta-llama/Llama-3.1-70B-Instruct",
        "meta-llama/Meta-Llama-3.1-70B",
        16,
        8192,
        256,
        3000,
        50,
    ),
    "70b short": (
        "meta-llama/Llama-3.1-70B-Instruct",
        "meta-llama/Meta-Llama-3.1-70B",
        8,
        512,
        512,
        500,
        30,
    ),
}
#: The counting wrapper: run aiconfigurator's CLI unchanged, count the distinct configurations its sweep evaluates.
_COUNT = r"""
import sys, json, collections
import aiconfigurator.sdk.sweep as sw
U = collections.defaultdict(set)
agg, dis, rm = sw.predict_agg_worker, sw.predict_disagg_worker, sw._rate_match_dict
def a(*x, **k):
    m, rt = k.get("model"), k.get("runtime_config")
    U["agg"].add((m.config.tp_size, m.config.pp_size, m.config.attention_dp_size, rt.batch_size, k.get("ctx_tokens")))
    return agg(*x, **k)
def r(*x, **k):
    p, pn, d, dn = x[0], x[1], x[2], x[3]
    U["pairs"].add((p["parallel"], p["bs"], pn, d["parallel"], d["bs"], dn))
    return rm(*x, **k)
sw.predict_agg_worker, sw._rate_match_dict = a, r
from aiconfigurator.main import main
sys.argv = ["aiconfigurator"] + sys.argv[1:]
try:
    main()
except SystemExit:
    pass
print("COUNTS", json.dumps({"agg": len(U["agg"]), "disagg": len(U["pairs"])}))
"""


def aic_args(
    aic_model: str, gpus: int, isl: int, osl: int, ttft: float, tpot: float, save: str
) -> list[str]:
    return [
        "cli",
        "default",
        "--model",
        aic_model,
        "--total-gpus",
        str(gpus),
        "--system",
        "h100_sxm",
        "--backend",
        "vllm",
        "--isl",
        str(isl),
        "--osl",
        str(osl),
        "--ttft",
        str(ttft),
        "--tpot",
        str(tpot),
        "--top-n",
        "5",
        "--save-dir",
        save,
        "--no-color",
    ]


def _best_row(save: str, mode: str) -> dict | None:
    files = list(Path(save).rglob(f"{mode}/best_config_topn.csv"))
    files = [f for f in files if f.parent.name == mode]
    if not files:
        return None
    rows = list(csv.DictReader(open(files[0])))
    return rows[0] if rows else None


def run_aiconfigurator(aic_model, gpus, isl, osl, ttft, tpot) -> dict:
    with tempfile.TemporaryDirectory() as save:
        args = aic_args(aic_model, gpus, isl, osl, ttft, tpot, save)
        t0 = time.perf_counter()
        r = subprocess.run(
            [str(AIC), "-m", "aiconfigurator.main", *args],
            capture_output=True,
            text=True,
            timeout=1800,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        seconds = time.perf_counter() - t0
        if r.returncode != 0:
            return {"error": (r.stderr or r.stdout)[-800:]}
        agg, dis = _best_row(save, "agg"), _best_row(save, "disagg")
    with tempfile.TemporaryDirectory() as save:
        c = subprocess.run(
            [
                str(AIC),
                "-c",
                _COUNT,
                *aic_args(aic_model, gpus, isl, osl, ttft, tpot, save),
            ],
            capture_output=True,
            text=True,
            timeout=1800,
        )
    counts = next(
        (
            json.loads(line[7:])
            for line in c.stdout.splitlines()
            if line.startswith("COUNTS ")
        ),
        {},
    )
    return {
        "seconds": seconds,
        "cores": 1,
        "configs_evaluated": counts.get("agg", 0) + counts.get("disagg", 0),
        "agg_unique": counts.get("agg"),
        "disagg_pairings": counts.get("disagg"),
        "agg": agg,
        "disagg": dis,
    }


def _ceil_choice(x: float, choices) -> int:
    return next(
        (c for c in choices if c is not None and c >= x),
        [c for c in choices if c is not None][-1],
    )


def layout_of_aic(row: dict, kind: str, gpus: int) -> Layout:
    """aiconfigurator's chosen configuration as the planner's layout (its batch and step budget rounded up)."""
    if kind == "agg":
        tp = int(row["tp"])
        return Layout(
            "colocated",
            replicas=1,
            tp=tp,
            chunk_tokens=_ceil_choice(float(row["ctx_tokens"]), CHUNKS),
            max_batch=_ceil_choice(float(row["bs"]), MAX_BATCHES),
        )
    return Layout(
        "disaggregated",
        prefill=int(row["(p)workers"]),
        decode=int(row["(d)workers"]),
        prefill_tp=int(row["(p)tp"]),
        decode_tp=int(row["(d)tp"]),
        prefill_prompts=int(row["(p)bs"]),
        link_gbps=3600.0,
        max_batch=_ceil_choice(float(row["(d)bs"]), MAX_BATCHES),
    )


def run_question(name: str, spec: tuple, with_aic: bool) -> dict:
    model, aic_model, gpus, isl, osl, ttft, tpot = spec
    q = Question(model, "H100-SXM", gpus, isl, osl, ttft, tpot)
    res = plan(q, progress=None)
    out = {
        "question": name,
        "model": model,
        "gpus": gpus,
        "isl": isl,
        "osl": osl,
        "ttft_ms": ttft,
        "tpot_ms": tpot,
        "ours": {
            "seconds": res.seconds,
            "cores": res.workers,
            "configs_evaluated": res.configs_evaluated,
            "configs_simulated": res.configs_simulated,
            "best": res.best.to_dict(),
            "best_colocated": res.best_colocated and res.best_colocated.to_dict(),
            "best_disaggregated": res.best_disaggregated
            and res.best_disaggregated.to_dict(),
            "verdict": res.verdict,
        },
    }
    if with_aic and AIC.exists():
        aic = run_aiconfigurator(aic_model, gpus, isl, osl, ttft, tpot)
        out["aiconfigurator"] = aic
        screener, _ = screen_all(q)
        same = {}
        for kind in ("agg", "disagg"):
            row = aic.get(kind)
            if not row:
                continue
            L = layout_of_aic(row, kind, gpus)
            sc = screener.score(L)
            f = simulate_finalist(q, sc, screener.terms_ms(sc))
            f = type(f)(**{**f.__dict__, "cluster_gpus": gpus})
            aic_tok = float(row["tokens/s/gpu_cluster"])
            ratio = f.tokens_per_s_per_gpu / aic_tok if aic_tok else None
            same[kind] = {
                "layout": L.label,
                "aiconfigurator_tokens_per_s_per_gpu": aic_tok,
                "ours_tokens_per_s_per_gpu": f.tokens_per_s_per_gpu,
                "ratio": ratio,
                "our_limit": f.limit
                if f.goodput_rps > 0
                else f"misses the SLOs ({sc.limit})",
                "aiconfigurator_ttft_ms": float(row["ttft"]),
                "aiconfigurator_tpot_ms": float(row["tpot"]),
                "our_ttft_p90_ms": f.ttft_p90_ms,
                "our_tpot_p90_ms": f.tpot_p90_ms,
                "our_ttft_terms_ms": f.terms_ms,
            }
        out["same_layout"] = same
    return out


def fmt(results: list[dict]) -> str:
    lines = [
        f"{'question':18s} {'tool':15s} {'s':>6s} {'cores':>5s} {'configs':>7s} {'tok/s/GPU':>9s}  chosen"
    ]
    for r in results:
        o = r["ours"]
        lines.append(
            f"{r['question']:18s} {'planner':15s} {o['seconds']:6.1f} {o['cores']:5d} {o['configs_evaluated']:7d} "
            f"{o['best']['tokens_per_s_per_gpu']:9.0f}  {o['best']['label']}"
        )
        a = r.get("aiconfigurator")
        if a and "error" not in a:
            best = max(
                (a[k] for k in ("agg", "disagg") if a.get(k)),
                key=lambda x: float(x["tokens/s/gpu_cluster"]),
            )
            kind = "disagg" if best is a.get("disagg") else "agg"
            lines.append(
                f"{'':18s} {'aiconfigurator':15s} {a['seconds']:6.1f} {a['cores']:5d} {a['configs_evaluated']:7d} "
                f"{float(best['tokens/s/gpu_cluster']):9.0f}  {kind}: {layout_of_aic(best, kind, r['gpus']).label}"
            )
        for kind, s in r.get("same_layout", {}).items():
            flag = (
                ""
                if s["ratio"] and 0.7 <= s["ratio"] <= 1.4
                else f"  <- outside 0.7-1.4: ours {s['our_limit']}"
            )
            lines.append(
                f"{'':18s}   same layout ({kind}): {s['layout']}: ours/aiconfigurator "
                f"{s['ratio']:.2f}{flag}"
                if s["ratio"]
                else f"{'':18s}   same layout ({kind}): n/a"
            )
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ours", action="store_true", help="the planner alone")
    ap.add_argument(
        "--write",
        action="store_true",
        help=f"store the results in {OUT.relative_to(ROOT)}",
    )
    ap.add_argument("--only", default=None, help="one question by name")
    a = ap.parse_args(argv)
    with_aic = not a.ours
    if with_aic and not AIC.exists():
        print(
            f"aiconfigurator is not installed ({AIC}): bash tools/calibration_env.sh; running the planner alone"
        )
        with_aic = False
    results = []
    for name, spec in QUESTIONS.items():
        if a.only and a.only != name:
            continue
        print(f"[plan-bench] {name} ...", flush=True)
        results.append(run_question(name, spec, with_aic))
    print(fmt(results))
    if a.write:
        import platform

        doc = {
            "about": "benchmarks/plan_bench.py: the planner beside aiconfigurator on the same questions, same "
            "machine, same run. aiconfigurator ran single-threaded from .venv-calibration "
            "(aiconfigurator 0.12.0, h100_sxm vllm database); the planner on every core.",
            "date_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": {
                "cores": os.cpu_count(),
                "cpu": platform.processor() or platform.machine(),
            },
            "command": ".venv/bin/python benchmarks/plan_bench.py --write",
            "results": results,
        }
        OUT.write_text(json.dumps(doc, indent=1, default=str) + "\n")
        print(f"[plan-bench] wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
