#!/usr/bin/env python
"""Read reference step times out of NVIDIA's aiconfigurator into labs_py/data/steptime_reference.json.

    bash tools/calibration_env.sh                                   # once: .venv-calibration
    .venv-calibration/bin/python tools/aiconfigurator_reference.py  # about 12 minutes on 2 cores

aiconfigurator (``aiconfigurator==0.12.0`` on PyPI, Apache-2.0) ships, per GPU and per
serving-engine version, tables of GEMM, attention and all-reduce latencies measured on
that GPU ("SILICON" database mode), and composes them into the time of a whole engine
step. Its figures are *reference estimates built from measured kernel timings*, not
end-to-end measurements of a serving engine: no HTTP, no scheduler, no CPU overhead.

This script asks it, for each model, GPU and tensor-parallel degree, for

* the pure prefill of one prompt (``estimate_mode static_ctx``, batch 1), and
* one pure decode step (``static_gen`` with ``osl=2``: ``batch`` requests whose KV is
  ``context + 1`` tokens long),

and keeps each answer's per-operation breakdown summed into four groups (GEMMs,
attention, all-reduce, everything else). It also copies vLLM's custom all-reduce
tables (latency against message size per TP degree). Points its own memory check
rejects (the model does not fit) are listed as skipped, not kept.

The book never imports aiconfigurator: the step-time fit (``python -m labs_py.steptime
fit``) reads the JSON this script writes, which is committed with its provenance.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata as md
import json
import logging
import platform
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "labs_py" / "data" / "steptime_reference.json"
#: aiconfigurator's model ids -> the catalog's (labs_py/data/models.json)
MODELS = {
    "meta-llama/Meta-Llama-3.1-8B": "meta-llama/Llama-3.1-8B-Instruct",
    "meta-llama/Meta-Llama-3.1-70B": "meta-llama/Llama-3.1-70B-Instruct",
    "Qwen/Qwen3-32B": "Qwen/Qwen3-32B",
}
#: aiconfigurator's systems -> the GPU catalog's ids
SYSTEMS = {"h100_sxm": "H100-SXM", "a100_sxm": "A100-SXM"}
TPS = (1, 2, 4, 8)
PREFILL_TOKENS = (128, 256, 512, 1024, 2048, 4096, 8192)
DECODE_BATCHES = (1, 2, 4, 8, 16, 32, 64)
DECODE_CONTEXTS = (512, 2048, 8192)
QUANT = dict(
    gemm_quant_mode="bfloat16",
    kvcache_quant_mode="bfloat16",
    fmha_quant_mode="bfloat16",
    comm_quant_mode="half",
)
GROUPS = ("gemm", "attention", "allreduce", "other")


def group_of(op: str) -> str:
    """Which of the four groups an aiconfigurator operation belongs to."""
    if op.endswith("_gemm"):
        return "gemm"
    if op.endswith("_attention"):
        return "attention"
    if "_ar_" in op or op.endswith("_ar") or op.endswith("_p2p"):
        return "allreduce"
    return "other"


def estimate(
    cli_estimate, model: str, system: str, phase: str, batch: int, tokens: int, tp: int
):
    mode = "static_ctx" if phase == "prefill" else "static_gen"
    r = cli_estimate(
        model,
        system,
        mode=mode,
        backend_name="vllm",
        isl=tokens,
        osl=1 if phase == "prefill" else 2,
        batch_size=batch,
        tp_size=tp,
        database_mode="SILICON",
        **QUANT,
    )
    s = r.summary
    ops = (
        s.get_context_latency_dict()
        if phase == "prefill"
        else s.get_generation_latency_dict()
    )
    groups = dict.fromkeys(GROUPS, 0.0)
    for op, ms in ops.items():
        groups[group_of(op)] += float(ms)
    total = float(r.ttft if phase == "prefill" else r.tpot)
    return total, groups, bool(s.check_oom()), str(r.backend_version)


def allreduce_tables(versions: dict[str, str]) -> list[dict]:
    """vLLM's custom all-reduce latencies per GPU and TP degree, from aiconfigurator-core's database files."""
    import aiconfigurator_core
    import pandas as pd

    base = Path(aiconfigurator_core.__file__).parent / "systems" / "data"
    out = []
    for system, version in versions.items():
        frame = pd.read_parquet(
            base / system / "comm" / "vllm" / version / "custom_allreduce_perf.parquet"
        )
        for (kernel, n), g in frame.groupby(["backend", "num_gpus"]):
            g = g.sort_values("message_size")
            out.append(
                {
                    "gpu": SYSTEMS[system],
                    "database": f"{system}/vllm/{version}",
                    "kernel": str(kernel),
                    "tp": int(n),
                    "message_elements": [int(x) for x in g.message_size],
                    "latency_ms": [round(float(x), 6) for x in g.latency],
                }
            )
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    from aiconfigurator.cli.api import cli_estimate

    jobs = [
        (m, s, tp, "prefill", 1, n)
        for s in SYSTEMS
        for m in MODELS
        for tp in TPS
        for n in PREFILL_TOKENS
    ]
    jobs += [
        (m, s, tp, "decode", b, c)
        for s in SYSTEMS
        for m in MODELS
        for tp in TPS
        for c in DECODE_CONTEXTS
        for b in DECODE_BATCHES
    ]
    points, skipped, versions = [], [], {}
    t0 = time.time()
    for i, (model, system, tp, phase, batch, tokens) in enumerate(jobs, 1):
        total, groups, oom, version = estimate(
            cli_estimate, model, system, phase, batch, tokens, tp
        )
        versions[system] = version
        row = [
            MODELS[model],
            SYSTEMS[system],
            tp,
            phase,
            batch,
            tokens,
            round(total, 4),
        ]
        (skipped if oom else points).append(row + [round(groups[g], 4) for g in GROUPS])
        if i % 10 == 0 or i == len(jobs):
            print(
                f"[aiconfigurator] {i}/{len(jobs)} points ({time.time() - t0:.0f} s)",
                flush=True,
            )
    doc = {
        "about": (
            "Reference step times of a vLLM engine, composed by NVIDIA's aiconfigurator from kernel latencies "
            "measured on each GPU (SILICON database mode). Reference estimates built from measured kernels, not "
            "end-to-end measurements: no HTTP, scheduler or CPU time. Written by tools/aiconfigurator_reference.py."
        ),
        "schema_version": 1,
        "provenance": {
            "tool": "aiconfigurator (github.com/ai-dynamo/aiconfigurator), Apache-2.0",
            "aiconfigurator": md.version("aiconfigurator"),
            "aiconfigurator_core": md.version("aiconfigurator-core"),
            "databases": {SYSTEMS[s]: f"{s}/vllm/{v}" for s, v in versions.items()},
            "date_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "python": platform.python_version(),
            "calls": {
                "prefill": "aiconfigurator.cli.api.cli_estimate(model, system, mode='static_ctx', backend_name='vllm', "
                "isl=TOKENS, osl=1, batch_size=1, tp_size=TP, database_mode='SILICON', bf16 quant modes).ttft",
                "decode": "cli_estimate(..., mode='static_gen', isl=CONTEXT, osl=2, batch_size=BATCH, ...).tpot: "
                "one step of BATCH requests whose KV is CONTEXT + 1 tokens",
            },
            "models": MODELS,
            "skipped": "points aiconfigurator's own memory check rejects (the model does not fit at that TP)",
        },
        "columns": [
            "model",
            "gpu",
            "tp",
            "phase",
            "batch",
            "tokens",
            "total_ms",
            *(f"{g}_ms" for g in GROUPS),
        ],
        "points": points,
        "skipped": skipped,
        "allreduce": allreduce_tables(versions),
    }
    args.out.write_text(
        json.dumps(doc, indent=0, separators=(",", ":")) + "\n", encoding="utf-8"
    )
    print(
        f"[aiconfigurator] wrote {args.out}: {len(points)} points, {len(skipped)} skipped, "
        f"{time.time() - t0:.0f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
