"""Wiring for the chapter "Two GPUs": controls -> :mod:`.experiment` -> :mod:`.figures`."""

from __future__ import annotations

from labs_py.book.explorable import Dropdown, Explorable, Slider, explorable_factory
from labs_py.chapters.controls import fmt_ms as _ms
from labs_py.chapters.controls import fmt_rps as _rps
from labs_py.chapters.goodput_and_split.panels import metric_control
from labs_py.chapters.two_gpus import experiment, figures
from labs_py.figures.serving import arm_style

#: The disaggregated arm's choices: each phase's tensor-parallel degree, and the GPUs that spends.
SPLIT_LABELS = (
    ("1P1D, TP=1 each (2 GPUs)", "1/1"),
    ("prefill at TP=2, decode at TP=1 (3 GPUs)", "2/1"),
    ("prefill at TP=1, decode at TP=2 (3 GPUs)", "1/2"),
)


def _two_gpu_args(ttft_slo_ms, decode_slo_ms, decode_metric, split):
    return dict(
        ttft_slo_ms=ttft_slo_ms,
        decode_slo_ms=decode_slo_ms,
        decode_metric=decode_metric,
        split=split,
    )


def _figure(**kwargs):
    arms, slo, _ = experiment.arms(**kwargs)
    return figures.two_gpu_spec(
        [c for _, c, _ in arms],
        [arm_style(f) for f, _, _ in arms],
        slo,
        [lat["itl_p50_ms"] for _, _, lat in arms],
        [lat["itl_p99_ms"] for _, _, lat in arms],
    )


def _two_gpu_readout(
    ttft_slo_ms, decode_slo_ms, decode_metric, split
) -> dict[str, str]:
    ro = experiment.numbers(
        **_two_gpu_args(ttft_slo_ms, decode_slo_ms, decode_metric, split)
    )
    short = {f.label: arm_style(f).short for f in experiment.two_gpu_fleets(200, split)}
    roles = dict(zip(ro, ("split", "TP=2", "2× colocated")))
    out = {
        f"{roles[k]}: goodput / GPU": f"{_rps(v['goodput_per_gpu'])} on {v['gpus']} GPUs "
        f"(throughput {_rps(v['throughput_rps'])})"
        for k, v in ro.items()
    }
    rate = next(iter(ro.values()))["rate_per_s"]
    out[f"ITL p99 at {rate:.3g} req/s"] = ", ".join(
        f"{short[k]} {_ms(v['itl_p99_ms'])}" for k, v in ro.items()
    )
    out["winner on goodput per GPU"] = short[
        max(ro, key=lambda k: ro[k]["goodput_per_gpu"])
    ]
    return out


@explorable_factory
def two_gpus() -> Explorable:
    """Two GPUs three ways: 1P1D (with per-phase parallelism), one TP=2 engine, two colocated replicas.

    Simulations: 3 disaggregated arms + TP=2 + 2 replicas = 5 fleets x 18 runs of 300 requests (~2 s);
    the SLO controls only re-judge them.
    """
    return Explorable(
        title="Two H100s three ways (Llama-3.1-8B, 1,024 in, 128 out, 200 Gb/s between prefill and decode)",
        controls=(
            Slider("ttft_slo_ms", "TTFT SLO", (200, 400, 1000), 400, fmt="{:,} ms"),
            Slider(
                "decode_slo_ms", "Decode SLO", (8, 9, 10, 12, 15, 20), 9, fmt="{} ms"
            ),
            metric_control(),
            Dropdown("split", "Disaggregated arm", SPLIT_LABELS, "1/1"),
        ),
        figure_fn=lambda ttft_slo_ms, decode_slo_ms, decode_metric, split: _figure(
            **_two_gpu_args(ttft_slo_ms, decode_slo_ms, decode_metric, split)
        ),
        readout_fn=_two_gpu_readout,
        alt=(
            "Left: SLO attainment against request rate for a prefill/decode split, one TP=2 engine and two "
            "colocated replicas. Right: their median and 99th-percentile inter-token gaps at a shared rate. Two "
            "replicas have the most throughput but a slow p99; the split has a p99 next to its p50; TP=2 makes "
            "every step faster, chunk-carrying steps included. Giving the split's decode engine two GPUs makes its "
            "gaps shorter still, at the price of a third GPU."
        ),
    )
