"""The planner: screen every layout (stage 1), simulate the best (stage 2), rank by goodput per GPU.

:func:`plan` answers a :class:`~labs_py.plan.question.Question`:

1. every layout within the GPUs (:func:`labs_py.plan.space.enumerate_layouts`) is scored by
   :class:`labs_py.plan.screen.Screener`, well under a second for twelve thousand;
2. the best few of each kind (colocated, disaggregated) are served by the book's simulator
   (:mod:`labs_py.sim`), and their goodput found by bisection: DistServe's definition, the
   highest rate at which 90% of requests meet both SLOs. These runs fan out over local
   processes, or over a Ray cluster (``ray_address``);
3. the simulated finalists are ranked by goodput per GPU (ties: more goodput, then the slower
   link), and the verdict says, in the book's words, whether to split and which term decides.

Taught in: plan_a_deployment.
"""

from __future__ import annotations

import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from labs_py.plan.device import GpuDevice
from labs_py.plan.question import Question
from labs_py.plan.screen import Score, Screener
from labs_py.plan.space import Layout, enumerate_layouts
from labs_py.sim.goodput import SLO, Scenario, goodput, run

__all__ = [
    "Finalist",
    "Result",
    "plan",
    "best_shapes",
    "screen_all",
    "simulate_finalist",
    "FINALISTS_PER_KIND",
    "N_REQUESTS",
]

#: How many layouts of each kind stage 2 simulates (distinct shapes: the best batch limit of each).
FINALISTS_PER_KIND = 3
#: Requests per simulated run, at least (every rate replays the same seeded requests).
N_REQUESTS = 300
#: A run holds this many times the requests the layout has in flight at its screened goodput...
STEADY_FACTOR = 4
#: ...up to this many (a run of 4,000 long requests takes about a second).
MAX_REQUESTS = 4000


@dataclass(frozen=True)
class Finalist:
    """A layout the simulator served: its goodput, per GPU, tokens/s/GPU under the SLOs, latencies at that rate.

    Taught in: plan_a_deployment.
    """

    layout: Layout
    screened_rps: float
    goodput_rps: float
    ttft_p50_ms: float
    ttft_p90_ms: float
    tpot_p50_ms: float
    tpot_p90_ms: float
    limit: str
    terms_ms: dict = field(compare=False)
    osl: int = 0
    cluster_gpus: int = (
        0  # the question's GPU count: a layout is copied as many times as it fits
    )

    @property
    def label(self) -> str:
        """The layout, with how many copies of it the cluster holds: ``"8 x TP1 engine, chunk 512, batch 32"``."""
        if self.units == 1:
            return self.layout.label
        return f"{self.units} x " + (
            self.layout.label
            if self.layout.kind == "colocated"
            else f"({self.layout.label})"
        )

    @property
    def units(self) -> int:
        """How many copies of the layout the cluster holds (a 4-GPU layout twice in 8 GPUs)."""
        return max(1, self.cluster_gpus // self.layout.gpus) if self.cluster_gpus else 1

    @property
    def goodput_rps_per_gpu(self) -> float:
        """Goodput per GPU of the cluster, with the layout copied :attr:`units` times (idle GPUs count)."""
        return self.goodput_rps * self.units / (self.cluster_gpus or self.layout.gpus)

    @property
    def tokens_per_s_per_gpu(self) -> float:
        """Output tokens per second per cluster GPU at the goodput rate: aiconfigurator's ``tokens/s/gpu_cluster``."""
        return self.goodput_rps_per_gpu * self.osl

    def to_dict(self) -> dict:
        return {
            **self.layout.to_dict(),
            "units": self.units,
            "label": self.label,
            "goodput_rps": self.goodput_rps,
            "goodput_rps_per_gpu": self.goodput_rps_per_gpu,
            "tokens_per_s_per_gpu": self.tokens_per_s_per_gpu,
            "screened_goodput_rps": self.screened_rps,
            "ttft_p50_ms": self.ttft_p50_ms,
            "ttft_p90_ms": self.ttft_p90_ms,
            "tpot_p50_ms": self.tpot_p50_ms,
            "tpot_p90_ms": self.tpot_p90_ms,
            "limit": self.limit,
            "ttft_terms_ms": self.terms_ms,
        }


@dataclass(frozen=True)
class Result:
    """The planner's answer (see :func:`plan`).

    Taught in: plan_a_deployment.
    """

    question: Question
    best: Finalist
    best_colocated: Finalist | None
    best_disaggregated: Finalist | None
    finalists: tuple[Finalist, ...]
    screened: tuple[Score, ...]
    configs_evaluated: int
    configs_simulated: int
    seconds: float
    workers: int
    backend: str
    verdict: str

    def to_dict(self) -> dict:
        q = self.question
        return {
            "question": {
                k: getattr(q, k)
                for k in (
                    "model",
                    "gpu",
                    "gpus",
                    "isl",
                    "osl",
                    "ttft_ms",
                    "tpot_ms",
                    "link_gbps",
                    "rate_rps",
                    "isl_sigma",
                    "osl_sigma",
                )
            },
            "configs_evaluated": self.configs_evaluated,
            "configs_simulated": self.configs_simulated,
            "seconds": round(self.seconds, 3),
            "workers": self.workers,
            "backend": self.backend,
            "best": self.best.to_dict(),
            "best_colocated": self.best_colocated and self.best_colocated.to_dict(),
            "best_disaggregated": self.best_disaggregated
            and self.best_disaggregated.to_dict(),
            "finalists": [f.to_dict() for f in self.finalists],
            "verdict": self.verdict,
        }


def screen_all(q: Question, device=None) -> tuple[Screener, list[Score]]:
    """Stage 1: every layout scored (raises, saying why, when the model fits no layout within the GPUs).

    Taught in: plan_a_deployment.
    """
    dev = device or GpuDevice(q.model, q.gpu, q.engine)
    layouts = enumerate_layouts(q, dev.fitting_tp())
    s = Screener(q, dev)
    return s, [s.score(L) for L in layouts]


def _rank_key(sc, cluster_gpus: int) -> tuple[float, float, float]:
    """Goodput per cluster GPU (a layout copied as often as it fits), then more goodput, then the slower link.

    The last key makes a tie go to the cheaper fabric: when 100 Gb/s carries the KV as well as NVLink, the
    planner says 100 Gb/s is enough.
    """
    units = max(1, cluster_gpus // sc.layout.gpus)
    return (
        -sc.goodput_rps * units / cluster_gpus,
        -sc.goodput_rps * units,
        sc.layout.link_gbps,
    )


def best_shapes(
    scores: list[Score], kind: str, n: int, cluster_gpus: int
) -> list[Score]:
    """The ``n`` best distinct shapes of one ``kind``, best first, by goodput per cluster GPU.

    A shape (:attr:`labs_py.plan.space.Layout.shape`) counts once: its batch limit, link and
    proxy variants are settings of the same fleet, and of those the best-ranked stands for it.

    Taught in: plan_a_deployment.
    """
    out, seen = [], set()
    for sc in sorted(
        (s for s in scores if s.layout.kind == kind and s.goodput_rps > 0),
        key=lambda s: _rank_key(s, cluster_gpus),
    ):
        if sc.layout.shape in seen:
            continue
        seen.add(sc.layout.shape)
        out.append(sc)
        if len(out) == n:
            break
    return out


def _finalists(scores: list[Score], per_kind: int, cluster_gpus: int) -> list[Score]:
    """The best distinct shapes of each kind: what stage 2 simulates."""
    return [
        sc
        for kind in ("colocated", "disaggregated")
        for sc in best_shapes(scores, kind, per_kind, cluster_gpus)
    ]


def scenario_of(q: Question, n_requests: int = N_REQUESTS) -> Scenario:
    """The simulator's scenario for a question (its device's engine, its lengths and their spread).

    Taught in: plan_a_deployment.
    """
    return Scenario(
        model=q.model,
        gpu=q.gpu,
        engine=q.engine,
        prompt_tokens=q.isl,
        output_tokens=q.osl,
        n_requests=n_requests,
        prompt_sigma=q.isl_sigma,
        output_sigma=q.osl_sigma,
    )


def simulate_finalist(
    q: Question, sc: Score, terms: dict, n_requests: int = N_REQUESTS
) -> Finalist:
    """Stage 2 for one layout: goodput by bisection in the simulator, and latencies at that rate.

    Taught in: plan_a_deployment.
    """
    # a finite run is steady only when it holds several times the requests in flight at once (Little's law:
    # rate x time in the system); fewer, and the burst that caps goodput never fills the batches
    in_flight = sc.goodput_rps * (sc.ttft_p90_s + q.osl * sc.tpot_s)
    scen = scenario_of(
        q, int(min(MAX_REQUESTS, max(n_requests, math.ceil(STEADY_FACTOR * in_flight))))
    )
    slo = SLO(ttft_s=q.ttft_s, decode_s=q.tpot_s, decode_metric="tpot", target=q.target)
    fleet = sc.layout.fleet(q.isl)
    if (
        q.rate_rps is not None
    ):  # does it sustain the asked rate? goodput is then that rate or 0
        r = run(fleet, scen, q.rate_rps)
        g = q.rate_rps if slo.attainment(r) >= q.target else 0.0
    else:
        g = goodput(fleet, scen, slo, rate_hi_per_s=max(sc.goodput_rps * 1.5, 0.1))
    at = g if g > 0 else max(sc.goodput_rps, 0.05)
    r = run(fleet, scen, at)
    return Finalist(
        sc.layout,
        sc.goodput_rps,
        g,
        r.percentile_ms("ttft", 50),
        r.percentile_ms("ttft", 90),
        r.percentile_ms("tpot", 50),
        r.percentile_ms("tpot", 90),
        sc.limit,
        terms,
        q.osl,
        q.gpus,
    )


def _simulate_star(args):
    return simulate_finalist(*args)


def _fan_out(
    tasks: list[tuple], workers: int, ray_address: str | None, progress
) -> list[Finalist]:
    if ray_address is not None:
        import ray

        if not ray.is_initialized():
            ray.init(
                address=None if ray_address == "local" else ray_address,
                num_cpus=workers if ray_address == "local" else None,
                include_dashboard=False,
                log_to_driver=False,
            )
        remote = ray.remote(_simulate_star)
        refs = [remote.remote(t) for t in tasks]
        out = []
        for i, ref in enumerate(refs, 1):
            out.append(ray.get(ref))
            progress(f"[plan] simulated {i}/{len(tasks)}: {out[-1].layout.label}")
        return out
    if workers <= 1 or len(tasks) <= 1:
        out = []
        for i, t in enumerate(tasks, 1):
            out.append(_simulate_star(t))
            progress(f"[plan] simulated {i}/{len(tasks)}: {out[-1].layout.label}")
        return out
    with ProcessPoolExecutor(max_workers=min(workers, len(tasks))) as ex:
        out = []
        for i, f in enumerate(ex.map(_simulate_star, tasks), 1):
            out.append(f)
            progress(f"[plan] simulated {i}/{len(tasks)}: {f.layout.label}")
        return out


def plan(
    q: Question,
    *,
    device=None,
    workers: int | None = None,
    ray_address: str | None = None,
    per_kind: int = FINALISTS_PER_KIND,
    n_requests: int = N_REQUESTS,
    progress=print,
) -> Result:
    """Answer ``q``: the best layout by goodput per GPU, the best of each kind, and the verdict.

    ``workers`` local processes simulate the finalists (default: every core); ``ray_address``
    sends them to a Ray cluster instead (``"local"`` starts one here). ``progress`` receives one
    line per stage and finalist (``None`` for silence).

    Raises ``ValueError`` when the model fits no layout within the GPUs, and when no layout meets
    the SLOs (naming the closest one and how far it misses).

    Taught in: plan_a_deployment.
    """
    say = progress or (lambda s: None)
    t0 = time.perf_counter()
    workers = workers or os.cpu_count() or 1
    screener, scores = screen_all(q, device)
    say(f"[plan] screened {len(scores):,} layouts in {time.perf_counter() - t0:.2f} s")
    finalists_sc = _finalists(scores, per_kind, q.gpus)
    if not finalists_sc:
        raise ValueError(_nothing_meets(q, screener, scores))
    tasks = [(q, sc, screener.terms_ms(sc), n_requests) for sc in finalists_sc]
    sims = _fan_out(tasks, workers, ray_address, say)
    met = [f for f in sims if f.goodput_rps > 0]
    if not met:
        raise ValueError(_nothing_meets(q, screener, scores, sims))
    ranked = sorted(met, key=lambda f: _rank_key(f, q.gpus))
    best_c = next((f for f in ranked if f.layout.kind == "colocated"), None)
    best_d = next((f for f in ranked if f.layout.kind == "disaggregated"), None)
    seconds = time.perf_counter() - t0
    return Result(
        q,
        ranked[0],
        best_c,
        best_d,
        tuple(ranked),
        tuple(scores),
        len(scores),
        len(tasks),
        seconds,
        workers,
        "ray" if ray_address else ("processes" if workers > 1 else "in-process"),
        verdict(q, best_c, best_d),
    )


def verdict(q: Question, colocated: Finalist | None, split: Finalist | None) -> str:
    """Split or not, in the book's words, and the term that decides.

    Taught in: no chapter calls it directly; it works behind plan_a_deployment.
    """
    if split is None:
        return f"Stay colocated: no split meets the SLOs ({colocated.label} does)."
    if colocated is None:
        return f"Split: no colocated layout meets the SLOs; {split.label} does (it stops at its {split.limit})."
    ratio = split.goodput_rps_per_gpu / colocated.goodput_rps_per_gpu
    toll = split.terms_ms.get("wire", 0.0) + split.terms_ms.get("link queue", 0.0)
    if ratio > 1:
        return (
            f"Split: {split.label} gives {ratio:.2f}x the goodput per GPU of {colocated.label}. "
            f"The colocated layout stops at its {colocated.limit}; the split pays a toll of {toll:.1f} ms of "
            f"TTFT and stops at its {split.limit}."
        )
    return (
        f"Stay colocated: {colocated.label} gives {1 / ratio:.2f}x the goodput per GPU of the best split, "
        f"{split.label}, which pays a toll of {toll:.1f} ms of TTFT and stops at its {split.limit}; the "
        f"colocated layout stops at its {colocated.limit}."
    )


def _nothing_meets(
    q: Question, screener: Screener, scores: list[Score], sims: list[Finalist] = ()
) -> str:
    """The error for SLOs no layout meets: the closest layout, and how far it misses."""
    rate = q.rate_rps or 0.1
    miss, sc = min(
        ((max(s.ttft_p90_s / q.ttft_s, s.tpot_s / q.tpot_s), s) for s in scores),
        key=lambda w: w[0],
    )
    return (
        f"no layout within {q.gpus} x {q.gpu} meets TTFT <= {q.ttft_ms:g} ms and TPOT <= {q.tpot_ms:g} ms "
        f"(p90) for {q.isl} in / {q.osl} out, even at {rate:g} req/s; the closest, {sc.layout.label}, has TTFT "
        f"{sc.ttft_p90_s * 1e3:.0f} ms and TPOT {sc.tpot_s * 1e3:.1f} ms ({miss:.2f}x the SLO it misses most): "
        f"loosen the SLOs, or add GPUs"
    )
