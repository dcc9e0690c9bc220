"""The planner's answer for people: a table, the launch commands, the Pareto plot.

Taught in: plan_a_deployment.
"""

from __future__ import annotations

from labs_py.core.validate import positive_int
from labs_py.figures.plan import pareto_figure
from labs_py.models import get_model
from labs_py.plan.question import Question
from labs_py.plan.search import Finalist, Result

__all__ = ["format_result", "commands_for", "pareto_spec", "save_pareto"]


def format_result(res: Result, timing: bool = True) -> str:
    """The finalists as a table, best first, and the verdict (``timing=False``: without the wall time).

    Taught in: plan_a_deployment.
    """
    q = res.question
    took = (
        f", {res.seconds:.1f} s on {res.workers} worker(s) ({res.backend})"
        if timing
        else ""
    )
    lines = [
        f"{get_model(q.model).short_name} on {q.gpus} x {q.gpu}, {q.isl} in / {q.osl} out, TTFT <= {q.ttft_ms:g} ms, "
        f"TPOT <= {q.tpot_ms:g} ms (p90): {res.configs_evaluated:,} layouts screened, {res.configs_simulated} "
        f"simulated{took}",
        f"{'layout (copies in the cluster)':62s} {'req/s/GPU':>9s} {'tok/s/GPU':>9s} {'TTFT p90':>8s} {'TPOT p90':>8s}",
    ]
    for f in res.finalists:
        lab = f.label
        lines.append(
            f"{lab[:62]:62s} {f.goodput_rps_per_gpu:9.2f} "
            f"{f.tokens_per_s_per_gpu:9.0f} {f.ttft_p90_ms:8.0f} {f.tpot_p90_ms:8.1f}"
        )
    lines.append(
        "(per GPU of the whole cluster: a layout is copied as often as it fits, idle GPUs count)"
    )
    lines.append(res.verdict)
    return "\n".join(lines)


def commands_for(
    f: Finalist, q: Question, hosts: list[str] | None = None, gpus_per_host: int = 8
) -> list[str]:
    """The vLLM commands that start ``f``'s layout, from the real pair's configuration code (GPU path).

    Engines fill ``hosts`` in order, ``gpus_per_host`` GPUs each (default: invented names).

    Taught in: plan_a_deployment.
    """
    from labs_py.pair.config import PairConfig, deployment_commands

    L, n = f.layout, f.units
    if L.kind == "colocated":
        tp = f" --tensor-parallel-size {L.tp}" if L.tp > 1 else ""
        chunk = (
            f" --enable-chunked-prefill --max-num-batched-tokens {L.chunk_tokens}"
            if L.chunk_tokens
            else " --no-enable-chunked-prefill"
        )
        positive_int("gpus_per_host", gpus_per_host, "GPUs")
        if gpus_per_host < L.tp:
            raise ValueError(
                f"a TP{L.tp} replica does not fit on hosts of {gpus_per_host} GPUs"
            )
        per_host = gpus_per_host // L.tp
        n_hosts = -(-L.replicas * n // per_host)
        names = hosts or [f"gpu-host-{i}" for i in range(n_hosts)]
        if len(names) < n_hosts:
            raise ValueError(
                f"the layout needs {n_hosts} hosts of {gpus_per_host} GPUs; got {len(names)}: {names}"
            )
        out = []
        for i in range(L.replicas * n):
            first = (i % per_host) * L.tp
            gpus = ",".join(str(g) for g in range(first, first + L.tp))
            out.append(
                f"# replica {i} on {names[i // per_host]}\nCUDA_VISIBLE_DEVICES={gpus} vllm serve {q.model} "
                f"--port {8100 + i % per_host} --max-num-seqs {L.max_batch}{tp}{chunk}"
            )
        return out + [
            "# a load balancer (any: the replicas are independent) in front of them"
        ]
    cfg = PairConfig(
        backend="gpu",
        n_prefill=L.prefill * n,
        n_decode=L.decode * n,
        prefill_tp=L.prefill_tp,
        decode_tp=L.decode_tp,
        n_gpus=L.gpus * n,
        max_num_seqs=L.max_batch,
        dtype="bfloat16",
        block_size_tokens=16,
        prefill_cores=((0,),) * (L.prefill * n),
        decode_cores=((1,),) * (L.decode * n),
    )
    return deployment_commands(cfg, q.model, hosts, gpus_per_host=gpus_per_host)


def pareto_spec(res: Result) -> dict:
    """The Pareto plot's spec: every screened layout and the simulated finalists.

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    q = res.question
    pts: dict[str, tuple[list, list, list]] = {}
    for sc in res.screened:
        if sc.goodput_rps <= 0:
            continue
        tok, ttft, lab = pts.setdefault(sc.layout.kind, ([], [], []))
        units = max(1, q.gpus // sc.layout.gpus)
        tok.append(sc.goodput_rps * units / q.gpus * q.osl)
        ttft.append(sc.ttft_p90_s * 1e3)
        lab.append(sc.layout.label)
    fin = [(f.label, f.tokens_per_s_per_gpu, f.ttft_p90_ms) for f in res.finalists]
    return pareto_figure(pts, fin, res.best.label)


def save_pareto(res: Result, path: str) -> str:
    """Write the Pareto plot as one self-contained HTML file (plotly.js inside, no CDN); return the path.

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    import plotly.graph_objects as go

    spec = pareto_spec(res)
    go.Figure(spec).write_html(path, include_plotlyjs=True, full_html=True)
    return path
