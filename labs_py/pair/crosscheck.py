"""Cross-check our latency percentiles against ``vllm bench serve`` on the same pair.

Two checks, on one running pair (prefill on core 0, decode on core 1):

1. **Same data, same numbers.** ``vllm bench serve --save-detailed`` stores its
   raw per-request TTFTs, ITLs and latencies. We rebuild per-token timelines
   from them, run them through :func:`labs_py.captures.timing.summarize_requests`
   (which uses :mod:`labs_py.core.stats`), and compare with the p50/p99 that vLLM
   printed. They must agree to rounding: this checks our *definitions*.
2. **Same shape, our own client.** Our load generator then runs the same shape
   (20 requests of 2000 prompt tokens and 32 output tokens, Poisson arrivals at
   1 request/s) on the same pair. Different random prompts and arrivals, so
   the numbers differ by sampling noise; the ratio ours/vLLM is recorded. This
   checks our *measurement*.

``python -m labs_py.pair bench-crosscheck`` writes
``captures/pair/pair-1each__bench-crosscheck.json``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

from labs_py.captures import capture as cap
from labs_py.captures import timing
from labs_py.captures.tiny_model import TinyModelSpec
from labs_py.pair import contention, runs
from labs_py.pair.config import (
    MEASURE_NICENESS,
    STATE_DIR,
    PairConfig,
    base_env,
    pair_python,
)
from labs_py.pair.tiny_model import build_tiny_model

SHAPE = {
    "num_prompts": 20,
    "input_len": 2000,
    "output_len": 32,
    "request_rate": 1.0,
    "seed": 0,
}
BENCH_METRICS = {
    "ttft": "ttft_ms",
    "tpot": "tpot_ms",
    "itl": "itl_ms",
    "e2el": "e2e_ms",
}


def bench_argv(cfg: PairConfig, result_dir: str, result_file: str) -> list[str]:
    """The ``vllm bench serve`` command line of the cross-check, against the pair's proxy.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    return [
        str(pair_python()),
        "-m",
        "labs_py.pair.vllm_entry",
        "bench",
        "serve",
        "--backend",
        "vllm",
        "--base-url",
        cfg.proxy_url(),
        "--endpoint",
        "/v1/completions",
        "--model",
        cfg.served_model_name,
        "--tokenizer",
        cfg.model_dir,
        "--dataset-name",
        "random",
        "--random-input-len",
        str(SHAPE["input_len"]),
        "--random-output-len",
        str(SHAPE["output_len"]),
        "--num-prompts",
        str(SHAPE["num_prompts"]),
        "--request-rate",
        str(SHAPE["request_rate"]),
        "--seed",
        str(SHAPE["seed"]),
        "--ignore-eos",
        "--percentile-metrics",
        "ttft,tpot,itl,e2el",
        "--metric-percentiles",
        "50,99",
        "--save-result",
        "--save-detailed",
        "--result-dir",
        result_dir,
        "--result-filename",
        result_file,
    ]


def bench_to_records(result: dict) -> list[dict]:
    """``vllm bench serve`` detailed results as our request records (per-token timelines).

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    recs = []
    for i, (ttft, itl, lat, n_in, n_out, err) in enumerate(
        zip(
            result["ttfts"],
            result["itls"],
            result["latencies"],
            result["input_lens"],
            result["output_lens"],
            result["errors"],
        )
    ):
        ok = not err and ttft and ttft > 0
        times = np.cumsum([ttft] + list(itl)).tolist() if ok else []
        # one ITL per streamed chunk; a chunk may carry several tokens, and bench's TPOT
        # divides by the token count, so the chunks' counts must add up to output_len
        counts = [1] * len(times)
        if counts and n_out > len(times):
            counts[-1] += n_out - len(times)
        recs.append(
            {
                "id": f"bench-{i}",
                "group": "bench",
                "prompt_tokens": n_in,
                "max_tokens": n_out,
                "start_s": result["start_times"][i] - result["start_times"][0]
                if result.get("start_times")
                else 0.0,
                "token_times_s": times,
                "token_counts": counts,
                "status": "ok" if ok else "error",
                "error": err or None,
                "latency_s": lat,
            }
        )
    return recs


def compare(bench: dict, ours_on_bench: dict, ours_own: dict) -> list[dict]:
    """Rows of (metric, percentile, vLLM printed, ours on vLLM's raw data, ours with our client).

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    rows = []
    for bname, ours in BENCH_METRICS.items():
        for q in ("50", "99"):
            printed = bench.get(f"p{q}_{bname}_ms")
            recomputed = (ours_on_bench.get(ours) or {}).get(f"p{q}")
            own = (ours_own.get(ours) or {}).get(f"p{q}")
            rows.append(
                {
                    "metric": ours,
                    "percentile": f"p{q}",
                    "vllm_bench_ms": printed,
                    "ours_on_bench_data_ms": recomputed,
                    "ours_own_client_ms": own,
                    "definition_abs_diff_ms": None
                    if printed is None or recomputed is None
                    else abs(printed - recomputed),
                    "own_over_bench": None
                    if not printed or own is None
                    else own / printed,
                }
            )
    return rows


def run() -> str:
    """Run the cross-check on a fresh pair and write its capture; return its path.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    cfg = PairConfig(niceness=MEASURE_NICENESS, **runs.TOPOLOGIES["pair-1each"][1])
    manifest = build_tiny_model(cfg.model_dir, TinyModelSpec(seed=cfg.seed))
    out_dir = STATE_DIR / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    with runs.bring_up(cfg, "pair") as run:
        runs.warm_up(run)
        quiet = contention.wait_for_quiet(runs.groups(run))
        window = contention.Window(runs.groups(run))
        argv = bench_argv(cfg, str(out_dir), "bench.json")
        print("[pair] running vllm bench serve ...", file=sys.stderr, flush=True)
        p = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            env={**os.environ, **base_env(cfg)},
            timeout=900,
        )
        (out_dir / "bench.log").write_text(p.stdout + p.stderr)
        if p.returncode != 0:
            raise RuntimeError(
                f"vllm bench serve failed ({p.returncode}):\n{(p.stdout + p.stderr)[-3000:]}"
            )
        bench_contention = window.close()
        bench = json.loads((out_dir / "bench.json").read_text())
        reqs, m = runs.run_workload(run, "rate", seed=0)
        proof = runs.decode_proof(run, reqs, m)
        topology = run.topology
    bench_recs = bench_to_records(bench)
    on_bench = timing.summarize_requests(bench_recs)
    own = timing.summarize_requests(reqs)
    table = compare(bench, on_bench, own)
    printed_lines = [
        ln
        for ln in p.stdout.splitlines()
        if "(ms)" in ln or "Successful" in ln or "Failed" in ln
    ]
    c = cap.new_capture(
        label="pair-1each__bench-crosscheck",
        kind="bench-crosscheck",
        description="vllm bench serve (random dataset, 20 x 2000 in / 32 out, 1 req/s) and our load generator "
        "(same shape) on the same pair, prefill core 0 / decode core 1; percentiles compared",
        command=".venv-pair/bin/python -m labs_py.pair bench-crosscheck",
        config={**cfg.to_dict(), "topology": topology},
        workload={"name": "rate", **runs.WORKLOADS["rate"][1], "bench_shape": SHAPE},
        requests=reqs,
        metrics=m,
        model=manifest,
        proof=proof,
        bench={
            "argv": argv,
            "printed": printed_lines,
            "reported": {
                k: v
                for k, v in bench.items()
                if k.startswith(("p50_", "p99_", "median_", "mean_"))
            },
            "completed": bench.get("completed"),
            "failed": bench.get("failed"),
            "raw_records": bench_recs,
            "summary_ours_on_bench_data": on_bench,
            "contention": {"before_run": quiet, "during_run": bench_contention},
        },
        comparison=table,
        contention=topology.get("contention"),
    )
    return str(
        cap.write_capture(c, cap.CAPTURE_DIR / "pair-1each__bench-crosscheck.json")
    )
