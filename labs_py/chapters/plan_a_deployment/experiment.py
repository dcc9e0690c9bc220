"""What the chapter "Plan a deployment" asks the planner, and the numbers behind its prose.

Every function here is a pure function of its arguments over :mod:`labs_py.plan` (cached where a
figure, its readout and an exercise share a search). Stage 1 alone (the analytic screen) serves
the explorable, so the static site can hold every combination; the questions the prose answers
run both stages.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache

import numpy as np

from labs_py import economics as econ
from labs_py.core import catalog
from labs_py.core.validate import one_of
from labs_py.defaults import H100_SXM, LLAMA_8B, LLAMA_70B
from labs_py.links import get_link
from labs_py.models import get_model
from labs_py.plan import GpuDevice, Layout, Question, plan
from labs_py.plan import validation as plan_validation
from labs_py.plan.screen import Screener
from labs_py.plan.search import (
    Finalist,
    Result,
    best_shapes,
    screen_all,
    simulate_finalist,
)
from labs_py.plan.space import enumerate_layouts
from labs_py.sim.goodput import max_throughput_rps
from labs_py.steptime import step_coefficients

__all__ = [
    "WORKLOADS",
    "TPOT_PRESETS",
    "EXPLORABLE_GPUS",
    "EXPLORABLE_MODELS",
    "ISSUE",
    "TIGHT",
    "LINKS",
    "question",
    "screen_answer",
    "issue_plan",
    "link_sweep",
    "two_gpus",
    "pd_ratios",
    "seventy_b",
    "crossover",
    "crossover_lengths",
    "validation",
    "bench",
    "disagreements",
]

#: The explorable's workloads: name -> (mean prompt tokens, mean output tokens, TTFT SLO ms).
WORKLOADS = {
    "chat (2,048 in, 128 out, TTFT 400 ms)": (2048, 128, 400),
    "RAG (8,192 in, 256 out, TTFT 2 s)": (8192, 256, 2000),
    "streaming chat (512 in, 512 out, TTFT 200 ms)": (512, 512, 200),
}
#: The explorable's TPOT SLOs, ms: tight (a reader reading along) and loose.
TPOT_PRESETS = (12, 30)
EXPLORABLE_GPUS = (4, 8)
EXPLORABLE_MODELS = (LLAMA_8B, LLAMA_70B)
#: How many layouts of each kind the explorable lists.
TOP = 5

#: The question aiconfigurator was asked in the issue that started this chapter (TPOT 20 ms), and a tight one.
ISSUE = Question(LLAMA_8B, H100_SXM, 8, 2048, 128, 400, 20)
TIGHT = dataclasses.replace(ISSUE, tpot_ms=12)
#: Links of the link sweep, Gb/s: 10 and 25 GbE, 100 GbE, InfiniBand HDR and NDR, NVLink.
LINKS = tuple(
    get_link(i).gbps
    for i in ("10gbe", "25gbe", "100gbe", "ib-hdr", "ib-ndr", "nvlink4")
)


def question(
    model: str, gpus: int, workload: str, tpot_ms: float, link_gbps: float
) -> Question:
    """The explorable's question: ``workload`` is a key of :data:`WORKLOADS`."""
    one_of("workload", workload, tuple(WORKLOADS), "(a workload of the chapter)")
    isl, osl, ttft = WORKLOADS[workload]
    return Question(
        model,
        H100_SXM,
        int(gpus),
        isl,
        osl,
        ttft,
        float(tpot_ms),
        link_gbps=float(link_gbps),
    )


def _screen(q: Question, kind: str) -> tuple[Screener, list]:
    """Stage 1 on the layouts of one kind (colocated ones do not depend on the link: cached without it)."""
    if kind == "colocated":
        return _screen_colocated(dataclasses.replace(q, link_gbps=None))
    dev = GpuDevice(q.model, q.gpu, q.engine)
    screener = Screener(q, dev)
    layouts = [L for L in enumerate_layouts(q, dev.fitting_tp()) if L.kind == kind]
    return screener, [screener.score(L) for L in layouts]


@lru_cache(maxsize=64)
def _screen_colocated(q: Question) -> tuple[Screener, list]:
    dev = GpuDevice(q.model, q.gpu, q.engine)
    screener = Screener(q, dev)
    layouts = [
        L for L in enumerate_layouts(q, dev.fitting_tp()) if L.kind == "colocated"
    ]
    return screener, [screener.score(L) for L in layouts]


def _per_gpu(sc, gpus: int) -> float:
    return sc.goodput_rps * max(1, gpus // sc.layout.gpus) / gpus


def _row(sc, screener, q: Question) -> dict:
    units = max(1, q.gpus // sc.layout.gpus)
    label = sc.layout.label if units == 1 else f"{units} x ({sc.layout.label})"
    terms = screener.terms_ms(sc)
    return {
        "label": label,
        "kind": sc.layout.kind,
        "goodput_per_gpu": _per_gpu(sc, q.gpus),
        "tokens_per_s_per_gpu": _per_gpu(sc, q.gpus) * q.osl,
        "ttft_p90_ms": sc.ttft_p90_s * 1e3,
        "tpot_ms": sc.tpot_s * 1e3,
        "limit": sc.limit,
        "toll_ms": terms.get("wire", 0.0) + terms.get("link queue", 0.0),
    }


@lru_cache(maxsize=512)
def screen_answer(
    model: str, gpus: int, workload: str, tpot_ms: float, link_gbps: float
) -> dict:
    """Stage 1 of the planner on the explorable's question: the best layouts of each kind, by goodput per GPU.

    Returns ``{"colocated": [rows], "disaggregated": [rows], "error": str | None, "screened": n}``;
    each kind lists its best distinct shapes (one batch limit and proxy each), best first.
    """
    q = question(model, gpus, workload, tpot_ms, link_gbps)
    try:
        screened = {kind: _screen(q, kind) for kind in ("colocated", "disaggregated")}
    except ValueError as e:
        return {"colocated": [], "disaggregated": [], "error": str(e), "screened": 0}
    out: dict = {"error": None, "screened": sum(len(v[1]) for v in screened.values())}
    for kind, (screener, scores) in screened.items():
        rows = [_row(sc, screener, q) for sc in best_shapes(scores, kind, TOP, q.gpus)]
        out[kind] = rows
    if not out["colocated"] and not out["disaggregated"]:
        out["error"] = (
            f"no layout within {gpus} x {q.gpu} meets TTFT <= {q.ttft_ms:g} ms and TPOT <= {tpot_ms:g} ms"
        )
    return out


@lru_cache(maxsize=4)
def issue_plan(q: Question = ISSUE) -> Result:
    """Both stages on ``q`` (default: the issue's question), on every core."""
    return plan(q, progress=None)


@lru_cache(maxsize=4)
def link_sweep(q: Question = TIGHT, links: tuple[float, ...] = LINKS) -> list[dict]:
    """The best colocated layout and the best split at each link (both stages): the toll moves the answer."""
    rows = []
    for link in links:
        res = plan(
            dataclasses.replace(q, link_gbps=float(link)), per_kind=2, progress=None
        )
        c, d = res.best_colocated, res.best_disaggregated
        rows.append(
            {
                "link_gbps": float(link),
                "colocated": c,
                "split": d,
                "colocated_per_gpu": c.goodput_rps_per_gpu if c else 0.0,
                "split_per_gpu": d.goodput_rps_per_gpu if d else 0.0,
                "toll_ms": (
                    d.terms_ms.get("wire", 0.0) + d.terms_ms.get("link queue", 0.0)
                )
                if d
                else None,
                "verdict": res.verdict,
            }
        )
    return rows


def _simulate(q: Question, layouts: dict[str, Layout]) -> dict[str, Finalist]:
    screener, _ = screen_all(q)
    out = {}
    for name, L in layouts.items():
        sc = screener.score(L)
        out[name] = simulate_finalist(q, sc, screener.terms_ms(sc))
    return out


#: Week 16's Q2 (TP=2 or a split?) on two GPUs: its chat product and its RAG example, each under a loose
#: TPOT SLO (20 ms) and a tight one (10 ms).
TWO_GPU_QUESTIONS = {
    f"{name}, TPOT {tpot} ms": Question(
        LLAMA_8B, H100_SXM, 2, isl, osl, ttft, tpot, link_gbps=3600
    )
    for name, isl, osl, ttft in (
        ("chat product (200 in, 500 out)", 200, 500, 500),
        ("RAG (4,096 in, 128 out)", 4096, 128, 1000),
    )
    for tpot in (20, 10)
}
TWO_GPU_LAYOUTS = {
    "TP=2, one engine": Layout(
        "colocated", replicas=1, tp=2, chunk_tokens=512, max_batch=256
    ),
    "2 x TP=1 replicas": Layout(
        "colocated", replicas=2, tp=1, chunk_tokens=512, max_batch=256
    ),
    "1P1D, NVLink": Layout(
        "disaggregated",
        prefill=1,
        decode=1,
        prefill_tp=1,
        decode_tp=1,
        link_gbps=3600,
        max_batch=256,
    ),
}


@lru_cache(maxsize=1)
def two_gpus() -> dict[str, dict[str, Finalist]]:
    """Week 16's Q2: each way to spend two GPUs, simulated on its chat product and its RAG workload."""
    return {
        name: _simulate(q, TWO_GPU_LAYOUTS) for name, q in TWO_GPU_QUESTIONS.items()
    }


#: Week 16's bonus B (P:D ratios on three GPUs): streaming chat (short in, long out) and a prompt-heavy load.
RATIO_QUESTIONS = {
    "streaming chat (256 in, 1,024 out)": Question(
        LLAMA_8B, H100_SXM, 3, 256, 1024, 500, 30, link_gbps=3600
    ),
    "prompt-heavy (4,096 in, 128 out)": Question(
        LLAMA_8B, H100_SXM, 3, 4096, 128, 1000, 30, link_gbps=3600
    ),
}
RATIO_LAYOUTS = {
    f"{x}P:{y}D": Layout(
        "disaggregated",
        prefill=x,
        decode=y,
        prefill_tp=1,
        decode_tp=1,
        link_gbps=3600,
        max_batch=256,
    )
    for x, y in ((1, 1), (1, 2), (2, 1))
}


@lru_cache(maxsize=1)
def pd_ratios() -> dict[str, dict[str, dict]]:
    """Bonus B: 1P:1D, 1P:2D, 2P:1D on three GPUs; goodput per GPU and output tokens/s when saturated."""
    out = {}
    for name, q in RATIO_QUESTIONS.items():
        sims = _simulate(q, RATIO_LAYOUTS)
        from labs_py.plan.search import scenario_of

        scen = scenario_of(q, 600)
        out[name] = {
            k: {
                "finalist": f,
                "saturated_tokens_per_s": max_throughput_rps(L.fleet(q.isl), scen)
                * q.osl,
            }
            for (k, f), L in zip(sims.items(), RATIO_LAYOUTS.values())
        }
    return out


#: Week 16's Q3: Llama-3.1-70B with TP=4 on each side.
SEVENTY_B = Question(LLAMA_70B, H100_SXM, 8, 4096, 256, 2000, 40, link_gbps=400)
SEVENTY_B_LAYOUTS = {
    "1P TP=4 + 1D TP=4": Layout(
        "disaggregated",
        prefill=1,
        decode=1,
        prefill_tp=4,
        decode_tp=4,
        link_gbps=400,
        max_batch=256,
    ),
    "2 x TP=4 colocated": Layout(
        "colocated", replicas=2, tp=4, chunk_tokens=512, max_batch=256
    ),
    "TP=8, one engine": Layout(
        "colocated", replicas=1, tp=8, chunk_tokens=512, max_batch=256
    ),
}


@lru_cache(maxsize=1)
def seventy_b() -> dict:
    """Q3: the 70B KV per token, its transfer and prefill at two lengths, where they cross, and three layouts."""
    spec = get_model(LLAMA_70B)
    per_token = spec.kv_bytes_per_token()
    co = step_coefficients(LLAMA_70B, H100_SXM, tp=4)
    links = {
        "NVLink (3,600 Gb/s)": get_link("nvlink4").gbps,
        "100 GbE": get_link("100gbe").gbps,
    }
    lengths = (4096, 32768)
    rows = []
    for n in lengths:
        row = {
            "tokens": n,
            "kv_gb": econ.kv_payload_bytes(n, per_token) / 1e9,
            "prefill_ms": co.prefill_seconds(n) * 1e3,
        }
        for name, g in links.items():
            row[name] = (
                econ.transfer_seconds(econ.kv_payload_bytes(n, per_token), g) * 1e3
            )
        rows.append(row)
    # the length at which the wire over 100 GbE equals prefill at TP=4 (prefill grows faster: attention is quadratic)
    ns = np.unique(np.geomspace(128, 262_144, 400).astype(int))
    ratio = np.array(
        [
            econ.transfer_seconds(
                econ.kv_payload_bytes(int(n), per_token), links["100 GbE"]
            )
            / co.prefill_seconds(int(n))
            for n in ns
        ]
    )
    return {
        "kv_bytes_per_token": per_token,
        "rows": rows,
        "wire_over_prefill_100gbe": (ns, ratio),
        "max_ratio": float(ratio.max()),
        "max_ratio_at": int(ns[ratio.argmax()]),
        "layouts": _simulate(SEVENTY_B, SEVENTY_B_LAYOUTS),
    }


#: Week 16's Q1: the crossover prompt length. Llama-3.1-8B on 8 H100s, 128 out, TTFT 1 s, TPOT 12 ms.
CROSSOVER_BASE = Question(LLAMA_8B, H100_SXM, 8, 2048, 128, 1000, 12)
CROSSOVER_LENGTHS = (256, 512, 1024, 2048, 4096, 8192, 16384)
CROSSOVER_LINKS = tuple(get_link(i).gbps for i in ("10gbe", "25gbe", "100gbe"))


@lru_cache(maxsize=1)
def crossover() -> dict[float, list[dict]]:
    """For each link, per prompt length: best split over best colocated, goodput per GPU (stage 1)."""
    out = {}
    for link in CROSSOVER_LINKS:
        rows = []
        for n in CROSSOVER_LENGTHS:
            q = dataclasses.replace(CROSSOVER_BASE, isl=n, link_gbps=float(link))
            best, screeners = {}, {}
            for k in ("colocated", "disaggregated"):
                screeners[k], scores = _screen(q, k)
                best[k] = max(scores, key=lambda s: _per_gpu(s, q.gpus))
            c, d = (_per_gpu(best[k], q.gpus) for k in ("colocated", "disaggregated"))
            cterms = screeners["colocated"].terms_ms(best["colocated"]) if c > 0 else {}
            rows.append(
                {
                    "prompt_tokens": n,
                    "colocated_per_gpu": c,
                    "split_per_gpu": d,
                    "ratio": d / c if c > 0 else float("inf"),
                    "split": best["disaggregated"].layout.label,
                    "colocated": best["colocated"].layout.label,
                    "wire_ms": econ.transfer_seconds(
                        econ.kv_payload_bytes(
                            n, get_model(q.model).kv_bytes_per_token()
                        ),
                        link,
                    )
                    * 1e3,
                    "colocated_queue_ms": cterms.get("queue", 0.0),
                    "colocated_limit": best["colocated"].limit,
                    "split_limit": best["disaggregated"].limit,
                }
            )
        out[float(link)] = rows
    return out


def crossover_lengths(link_gbps: float) -> tuple[int | None, int | None]:
    """The shortest and the longest prompt (of :data:`CROSSOVER_LENGTHS`) at which the split wins, or Nones."""
    wins = [r["prompt_tokens"] for r in crossover()[float(link_gbps)] if r["ratio"] > 1]
    return (min(wins), max(wins)) if wins else (None, None)


@lru_cache(maxsize=1)
def validation() -> dict:
    """The planner's model against the real pair's captures (:func:`labs_py.plan.validation.summary`)."""
    return plan_validation.summary()


def bench() -> dict:
    """The committed side-by-side run of ``benchmarks/plan_bench.py`` (``labs_py/data/plan_bench.json``)."""
    return catalog.load("plan_bench")


def _aic_best(a: dict) -> tuple[str, dict]:
    rows = {k: a[k] for k in ("agg", "disagg") if a.get(k)}
    kind = max(rows, key=lambda k: float(rows[k]["tokens/s/gpu_cluster"]))
    return kind, rows[kind]


def disagreements() -> list[dict]:
    """Questions where the planner and aiconfigurator choose different kinds, and the term that decides.

    For each tool's choice of each kind, the planner scored the same layout (``same_layout``), so the
    two tools' figures can be compared layout by layout: where they agree on a layout (a ratio near 1)
    the disagreement is elsewhere, in a layout one tool found and the other did not, and the planner's
    limit on the other tool's layout names the term.
    """
    out = []
    for r in bench()["results"]:
        a = r.get("aiconfigurator")
        if not a or "error" in a:
            continue
        kind, _ = _aic_best(a)
        ours = r["ours"]["best"]
        theirs = "disaggregated" if kind == "disagg" else "colocated"
        if ours["kind"] == theirs:
            continue
        # the kind the planner chose: its best layout against aiconfigurator's best of that kind
        other = "agg" if ours["kind"] == "colocated" else "disagg"
        same = r["same_layout"][other]
        out.append(
            {
                "question": r["question"],
                "theirs_kind": theirs,
                "ours_kind": ours["kind"],
                "theirs_choice": r["same_layout"][kind]["layout"],
                "ours_choice": ours["label"],
                "their_choice_ratio": r["same_layout"][kind]["ratio"],
                "their_same_kind": same["layout"],
                "their_same_kind_ratio": same["ratio"],
                "their_same_kind_limit": same["our_limit"],
                "ours_tokens": ours["tokens_per_s_per_gpu"],
                "their_same_kind_tokens": same["aiconfigurator_tokens_per_s_per_gpu"],
                "ours_limit": ours["limit"],
            }
        )
    return out
