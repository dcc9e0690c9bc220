"""Wiring for the chapter "Goodput and the P:D split": controls -> :mod:`.experiment` -> :mod:`.figures`.

SLO controls never re-simulate (attainment is a comparison over cached runs); the workload,
link, model and fleet controls do. Each factory's docstring counts its simulations.
"""

from __future__ import annotations

from labs_py.book.explorable import Dropdown, Explorable, Slider, explorable_factory
from labs_py.chapters.controls import fmt_rps as _rps
from labs_py.chapters.controls import link_slider, prompt_slider
from labs_py.chapters.goodput_and_split import experiment, figures
from labs_py.defaults import DEFAULT_MODEL, LLAMA_8B, QWEN25_7B
from labs_py.figures.serving import arm_styles
from labs_py.models import get_model

MODELS = (LLAMA_8B, QWEN25_7B)


def _short(model: str) -> str:
    return get_model(model).short_name


def metric_control(default: str = "tpot") -> Dropdown:
    return Dropdown(
        "decode_metric",
        "Decode SLO on",
        (("mean TPOT (DistServe)", "tpot"), ("every gap (worst ITL)", "max_itl")),
        default,
    )


def _goodput_lines(ro: dict, labels: dict[str, str]) -> dict[str, str]:
    out = {
        f"{short}: goodput / throughput": f"{_rps(ro['goodput_rps'][full])} / {_rps(ro['throughput_rps'][full])}"
        for full, short in labels.items()
    }
    out["winner on goodput"] = labels.get(
        ro["winner_on_goodput"], ro["winner_on_goodput"]
    )
    out["winner on throughput"] = labels.get(
        ro["winner_on_throughput"], ro["winner_on_throughput"]
    )
    return out


def _short_labels(gpus: int, link_gbps: float, stalling: bool) -> dict[str, str]:
    fleets = experiment.goodput_fleets(gpus, link_gbps, stalling)
    return {f.label: st.short for f, st in zip(fleets, arm_styles(fleets))}


def _figure(**kwargs):
    curves, fleets, slo = experiment.curves(**kwargs)
    return figures.attainment_spec(curves, arm_styles(fleets), slo)


def _slo_readout(
    ttft_slo_ms: float, decode_slo_ms: float, decode_metric: str
) -> dict[str, str]:
    ro = experiment.numbers(ttft_slo_ms, decode_slo_ms, decode_metric, stalling=True)
    return _goodput_lines(ro, _short_labels(2, 200, True))


@explorable_factory
def slo_attainment() -> Explorable:
    """The SLO decides the winner: two colocated baselines and 1P1D on the same two GPUs.

    Simulations: 3 fleets x 17 (16 rates + a capacity run) = 51 runs of 300 requests (~1 s);
    the SLO controls only re-judge them.
    """
    return Explorable(
        title="Two H100s, Llama-3.1-8B, 1,024-token prompts, 128-token outputs: who wins depends on the SLO",
        controls=(
            Slider(
                "ttft_slo_ms",
                "TTFT SLO",
                (100, 200, 400, 1000, 2000),
                400,
                fmt="{:,} ms",
            ),
            Slider(
                "decode_slo_ms",
                "Decode SLO",
                (8, 9, 10, 12, 15, 20, 50),
                9,
                fmt="{} ms",
            ),
            metric_control(),
        ),
        figure_fn=lambda ttft_slo_ms, decode_slo_ms, decode_metric: _figure(
            ttft_slo_ms=ttft_slo_ms,
            decode_slo_ms=decode_slo_ms,
            decode_metric=decode_metric,
            stalling=True,
        ),
        readout_fn=_slo_readout,
        alt=(
            "Left: the share of requests meeting both SLOs against the request rate, for two chunked colocated "
            "replicas, two unchunked ones and 1P1D; goodput is where a curve leaves the 90% line. Right: each "
            "fleet's goodput next to its throughput. With a tight decode SLO, especially one on every gap, 1P1D has "
            "the highest goodput; with a loose one the colocated replicas win, and on throughput alone the unchunked "
            "replicas win."
        ),
    )


#: SLO presets of the workload and split panels: (TTFT ms, decode ms, decode metric).
SLO_PRESETS: dict[str, tuple[float, float, str]] = {
    "tight: every gap ≤ 12 ms": (400, 12, "max_itl"),
    "mean TPOT ≤ 9 ms": (400, 9, "tpot"),
    "loose: TPOT ≤ 50 ms, TTFT ≤ 2 s": (2000, 50, "tpot"),
}
_DEFAULT_PRESET = "mean TPOT ≤ 9 ms"


def _preset_control() -> Dropdown:
    return Dropdown(
        "slo",
        "SLO (TTFT ≤ 400 ms unless loose)",
        tuple((k, k) for k in SLO_PRESETS),
        _DEFAULT_PRESET,
    )


WORKLOAD_LINKS = (10, 25, 200)


def _workload_args(prompt_tokens, output_tokens, link_gbps, model, slo):
    ttft, dec, metric = SLO_PRESETS[slo]
    return dict(
        ttft_slo_ms=ttft,
        decode_slo_ms=dec,
        decode_metric=metric,
        prompt_tokens=int(prompt_tokens),
        output_tokens=int(output_tokens),
        link_gbps=float(link_gbps),
        model=model,
        gpus=2,
    )


def _workload_readout(
    prompt_tokens, output_tokens, link_gbps, model, slo
) -> dict[str, str]:
    ro = experiment.numbers(
        **_workload_args(prompt_tokens, output_tokens, link_gbps, model, slo)
    )
    return _goodput_lines(ro, _short_labels(2, float(link_gbps), False))


@explorable_factory
def workload() -> Explorable:
    """Goodput vs throughput as the workload, the link and the model change (two GPUs).

    Simulations: 3 prompts x 3 outputs x 2 models x (colocated + 1P1D at 3 links) x 17 runs of
    300 requests; the SLO preset only re-judges them.
    """
    return Explorable(
        title="Two GPUs: 2× colocated (chunk 512) vs 1P1D, as the workload, the link and the model change",
        controls=(
            prompt_slider((256, 1024, 4096), 1024),
            Slider("output_tokens", "Output", (32, 128, 512), 128, fmt="{} tokens"),
            link_slider(WORKLOAD_LINKS, 200),
            Dropdown(
                "model", "Model", tuple((_short(m), m) for m in MODELS), DEFAULT_MODEL
            ),
            _preset_control(),
        ),
        figure_fn=lambda prompt_tokens, output_tokens, link_gbps, model, slo: _figure(
            **_workload_args(prompt_tokens, output_tokens, link_gbps, model, slo)
        ),
        readout_fn=_workload_readout,
        alt=(
            "SLO attainment against request rate for two chunked colocated replicas and 1P1D, with goodput and "
            "throughput bars. A slow link lowers 1P1D's goodput (the KV transfer lands in TTFT) but not its "
            "throughput; long outputs favour colocation on throughput because one decode GPU must hold every "
            "stream; a tight SLO on every gap favours 1P1D whatever the workload."
        ),
    )


SPLIT_WORKLOADS: dict[str, tuple[int, int]] = {
    "long prompts: 4,096 in, 32 out": (4096, 32),
    "chat: 1,024 in, 128 out": (1024, 128),
    "long answers: 256 in, 512 out": (256, 512),
}


def _split_args(gpus, workload, slo):
    ttft, dec, metric = SLO_PRESETS[slo]
    p, o = SPLIT_WORKLOADS[workload]
    return dict(
        ttft_slo_ms=ttft,
        decode_slo_ms=dec,
        decode_metric=metric,
        prompt_tokens=p,
        output_tokens=o,
        link_gbps=200.0,
        gpus=int(gpus),
    )


def _split_readout(gpus, workload, slo) -> dict[str, str]:
    ro = experiment.numbers(**_split_args(gpus, workload, slo))
    labels = _short_labels(int(gpus), 200.0, False)
    best = ro["best_split"]
    return {
        "best split": f"{labels[best]}: {_rps(ro['best_split_goodput_rps'])}",
        "N× colocated": _rps(ro["colocated_goodput_rps"]),
        "every split (goodput)": ", ".join(
            f"{labels[k]} {v:.3g}" for k, v in ro["split_goodput_rps"].items()
        ),
        "winner on goodput": labels[ro["winner_on_goodput"]],
        "winner on throughput": labels[ro["winner_on_throughput"]],
    }


@explorable_factory
def split_sweep() -> Explorable:
    """The P:D split sweep: every xPyD of 2, 3 or 4 GPUs against as many colocated replicas.

    Simulations: 3 workloads x (2 + 3 + 4 fleets for 2, 3, 4 GPUs) x 17 runs of 300 requests.
    """
    return Explorable(
        title="The P:D split: which xPyD of N GPUs has the most goodput? (Llama-3.1-8B, 200 Gb/s)",
        controls=(
            Slider("gpus", "GPUs", (2, 3, 4), 3, fmt="{}"),
            Dropdown(
                "workload",
                "Workload",
                tuple((k, k) for k in SPLIT_WORKLOADS),
                "chat: 1,024 in, 128 out",
            ),
            _preset_control(),
        ),
        figure_fn=lambda gpus, workload, slo: _figure(
            **_split_args(gpus, workload, slo)
        ),
        readout_fn=_split_readout,
        alt=(
            "SLO attainment against request rate for N chunked colocated replicas and every split of N GPUs into "
            "prefill and decode engines, with goodput and throughput bars. Long prompts with short answers want "
            "more prefill engines (2P1D, 3P1D); long answers want more decode engines (1P2D); a split whose "
            "engines are unbalanced wastes a GPU and loses to colocation."
        ),
    )
