"""Wiring for the chapter "Two GPUs": controls -> :mod:`.experiment` -> :mod:`.figures`."""

from __future__ import annotations

from labs_py.book.explorable import Explorable, Slider, explorable_factory
from labs_py.chapters.controls import fmt_ms as _ms
from labs_py.chapters.controls import fmt_rps as _rps
from labs_py.chapters.goodput_and_split.panels import metric_control
from labs_py.chapters.two_gpus import experiment, figures
from labs_py.defaults import DEFAULT_ENGINE
from labs_py.figures.serving import arm_style
from labs_py.steptime import engine_profile

FITTED_ALLREDUCE_US = engine_profile(DEFAULT_ENGINE).allreduce_latency_s * 1e6


def _two_gpu_args(ttft_slo_ms, decode_slo_ms, decode_metric, allreduce):
    return dict(
        ttft_slo_ms=ttft_slo_ms,
        decode_slo_ms=decode_slo_ms,
        decode_metric=decode_metric,
        allreduce=float(allreduce),
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
    ttft_slo_ms, decode_slo_ms, decode_metric, allreduce
) -> dict[str, str]:
    ro = experiment.numbers(
        **_two_gpu_args(ttft_slo_ms, decode_slo_ms, decode_metric, allreduce)
    )
    short = {f.label: arm_style(f).short for f in experiment.two_gpu_fleets(200)}
    out = {
        f"{short[k]}: goodput / throughput": f"{_rps(v['goodput_rps'])} / {_rps(v['throughput_rps'])}"
        for k, v in ro.items()
    }
    rate = next(iter(ro.values()))["rate_per_s"]
    out[f"ITL p99 at {rate:.3g} req/s"] = ", ".join(
        f"{short[k]} {_ms(v['itl_p99_ms'])}" for k, v in ro.items()
    )
    out["winner on goodput"] = short[max(ro, key=lambda k: ro[k]["goodput_rps"])]
    return out


@explorable_factory
def two_gpus() -> Explorable:
    """Two GPUs three ways: 1P1D, one TP=2 engine, two colocated replicas; with the all-reduce what-if.

    Simulations: 5 all-reduce settings for TP=2 + 1P1D + 2 replicas = 7 fleets x 18 runs of 300
    requests (~2 s); the SLO controls only re-judge them.
    """
    fitted = f"{FITTED_ALLREDUCE_US:.0f} µs"
    return Explorable(
        title="Two H100s three ways (Llama-3.1-8B, 1,024 in, 128 out, 200 Gb/s between the pair)",
        controls=(
            Slider("ttft_slo_ms", "TTFT SLO", (200, 400, 1000), 400, fmt="{:,} ms"),
            Slider(
                "decode_slo_ms", "Decode SLO", (10, 12, 15, 20, 30), 15, fmt="{} ms"
            ),
            metric_control(),
            Slider(
                "allreduce",
                "TP all-reduce latency",
                (0.0, 0.25, 0.5, 0.75, 1.0),
                1.0,
                value_labels=(
                    "free (bound)",
                    "25% of fitted",
                    "50% of fitted",
                    "75% of fitted",
                    f"fitted: {fitted}",
                ),
            ),
        ),
        figure_fn=lambda ttft_slo_ms, decode_slo_ms, decode_metric, allreduce: _figure(
            **_two_gpu_args(ttft_slo_ms, decode_slo_ms, decode_metric, allreduce)
        ),
        readout_fn=_two_gpu_readout,
        alt=(
            "Left: SLO attainment against request rate for 1P1D, one TP=2 engine and two colocated replicas. Right: "
            "their median and 99th-percentile inter-token gaps at a shared rate. Two replicas have the most "
            "throughput but a slow p99; 1P1D has a p99 next to its p50; TP=2 makes every step faster only if its "
            f"all-reduces are cheap: with the fitted {fitted} each it loses to both, with free all-reduces it "
            "has the most goodput under a tight SLO on every gap."
        ),
    )
