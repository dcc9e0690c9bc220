"""Wiring for the chapter "Plan a deployment": controls -> :mod:`.experiment` -> :mod:`.figures`."""

from __future__ import annotations

from labs_py.book.explorable import Dropdown, Explorable, Slider, explorable_factory
from labs_py.chapters.controls import fmt_ms, link_control
from labs_py.chapters.plan_a_deployment import experiment, figures
from labs_py.defaults import LLAMA_8B
from labs_py.models import get_model

#: One title for every combination: the question itself is the readout's first line, so that the
#: figure's layout never changes as the controls move (the static page then only swaps data).
FIGURE_TITLE = "The best layouts of each kind, ranked by output tokens/s per GPU"


def _question(model, gpus, workload, tpot_ms, link_gbps) -> str:
    return (
        f"{get_model(model).short_name} on {gpus} x H100, {workload.split(' (')[0]}, TPOT <= {tpot_ms:g} ms, "
        f"{link_gbps:g} Gb/s between prefill and decode"
    )


def _figure(model, gpus, workload, tpot_ms, link_gbps):
    ans = experiment.screen_answer(model, gpus, workload, tpot_ms, link_gbps)
    return figures.layouts_spec(ans, FIGURE_TITLE)


def _readout(model, gpus, workload, tpot_ms, link_gbps) -> dict[str, str]:
    """The same five lines for every combination (the static page swaps their values)."""
    ans = experiment.screen_answer(model, gpus, workload, tpot_ms, link_gbps)
    c = ans["colocated"][0] if ans["colocated"] else None
    d = ans["disaggregated"][0] if ans["disaggregated"] else None
    none = "none meets the SLOs"
    out = {
        "question": _question(model, gpus, workload, tpot_ms, link_gbps),
        "layouts screened": f"{ans['screened']:,}",
        "best colocated": (
            f"{c['label']}: {c['tokens_per_s_per_gpu']:,.0f} tok/s/GPU, stops at {c['limit']}"
            if c
            else none
        ),
        "best split": (
            f"{d['label']}: {d['tokens_per_s_per_gpu']:,.0f} tok/s/GPU, KV toll {fmt_ms(d['toll_ms'])}, "
            f"stops at {d['limit']}"
            if d
            else none
        ),
    }
    if ans["error"]:
        out["verdict"] = ans["error"]
    elif c and d:
        ratio = d["goodput_per_gpu"] / c["goodput_per_gpu"]
        out["verdict"] = (
            f"split ({ratio:.2f}x per GPU)"
            if ratio > 1
            else f"stay colocated ({1 / ratio:.2f}x per GPU)"
        )
    else:
        out["verdict"] = (
            "split (nothing colocated meets the SLOs)"
            if d
            else "stay colocated (no split meets them)"
        )
    return out


@explorable_factory
def planner() -> Explorable:
    """The planner's first stage over model, GPU count, workload, TPOT SLO and link.

    Combinations: 2 models x 2 GPU counts x 3 workloads x 2 SLOs x 6 links = 144 screens of up to
    4,606 layouts each (about 15 s in all for the static site); the readout names the best of
    each kind and the term that stops it.
    """
    return Explorable(
        title="The planner, stage 1: the best layouts of each kind (H100 SXMs, vLLM's calibrated step times)",
        controls=(
            Dropdown(
                "model",
                "Model",
                tuple(
                    (get_model(m).short_name, m) for m in experiment.EXPLORABLE_MODELS
                ),
                LLAMA_8B,
            ),
            Slider("gpus", "GPUs", experiment.EXPLORABLE_GPUS, 8, fmt="{} H100s"),
            Dropdown(
                "workload",
                "Workload",
                tuple((w, w) for w in experiment.WORKLOADS),
                next(iter(experiment.WORKLOADS)),
            ),
            Slider("tpot_ms", "TPOT SLO", experiment.TPOT_PRESETS, 12, fmt="{} ms"),
            link_control(default=400.0),
        ),
        figure_fn=_figure,
        readout_fn=_readout,
        alt=(
            "Horizontal bars: the best colocated layouts (orange) and the best prefill/decode splits (blue) for "
            "the chosen question, by output tokens per second per GPU at their goodput, each labelled with the "
            "term that stops it. Slowing the link shortens the split bars and leaves the colocated ones alone; "
            "a tight TPOT SLO favours the splits, a loose one the colocated replicas."
        ),
    )
