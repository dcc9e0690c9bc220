"""Wiring for the opening chapter: the roofline and continuous batching, step by step."""

from __future__ import annotations

from labs_py import scheduling
from labs_py.book.explorable import Dropdown, Explorable, Slider, explorable_factory
from labs_py.chapters.controls import model_control, prompt_slider
from labs_py.chapters.why_split import figures as viz
from labs_py.chapters.why_split.experiment import BATCHING_REQUESTS, batching_schedule
from labs_py.core.fmt import fmt_seconds
from labs_py.defaults import H100_SXM
from labs_py.gpus import all_gpus, get_gpu
from labs_py.roofline import (
    ROOF_INTENSITY_DEFAULT,
    decode_on_roofline,
    prefill_on_roofline,
    roof_tflops,
)

DECODE_CONTEXT_TOKENS = 1024


def _roofline_spec(gpu, model, batch, prompt_tokens):
    g = get_gpu(gpu)
    pre = prefill_on_roofline(model, gpu, prompt_tokens)
    dec = decode_on_roofline(model, gpu, batch, DECODE_CONTEXT_TOKENS)
    points = [
        dict(
            label=s.label,
            intensity=s.intensity_flops_per_byte,
            tflops=s.achieved_tflops,
            text=f"{s.label}: {s.achieved_tflops:.3g} TFLOP/s",
        )
        for s in (pre, dec)
    ]
    return viz.roofline_figure(
        intensity=ROOF_INTENSITY_DEFAULT,
        datasheet_tflops=roof_tflops(gpu, ROOF_INTENSITY_DEFAULT),
        measured_tflops=roof_tflops(gpu, ROOF_INTENSITY_DEFAULT, measured=True),
        ridge=g.ridge_flops_per_byte,
        points=points,
    )


def _bound(intensity: float, ridge: float) -> str:
    return "compute-bound" if intensity >= ridge else "bandwidth-bound"


def _roofline_readout(gpu, model, batch, prompt_tokens):
    g = get_gpu(gpu)
    pre = prefill_on_roofline(model, gpu, prompt_tokens)
    dec = decode_on_roofline(model, gpu, batch, DECODE_CONTEXT_TOKENS)
    return {
        "ridge": f"{g.ridge_flops_per_byte:.0f} FLOP/byte",
        "GPUs that hold the model": f"{pre.tp} x {g.id}",
        "prefill": f"{pre.intensity_flops_per_byte:.3g} FLOP/byte, "
        f"{_bound(pre.intensity_flops_per_byte, g.ridge_flops_per_byte)}, "
        f"{fmt_seconds(pre.seconds)}",
        "decode step": f"{dec.intensity_flops_per_byte:.3g} FLOP/byte, "
        f"{_bound(dec.intensity_flops_per_byte, g.ridge_flops_per_byte)}, {fmt_seconds(dec.seconds)}",
        "GPU time per "
        "token": f"prefill {pre.seconds / prompt_tokens * 1e6:.3g} µs, decode "
        f"{dec.seconds / batch * 1e6:.3g} µs",
    }


@explorable_factory
def roofline() -> Explorable:
    """Prefill on the compute roof, decode on the bandwidth roof."""
    return Explorable(
        title=f"The roofline: where a prefill and a decode step land (decode context {DECODE_CONTEXT_TOKENS:,} tokens)",
        controls=(
            Dropdown(
                "gpu",
                "GPU",
                tuple((g.name.replace("NVIDIA ", ""), g.id) for g in all_gpus()),
                H100_SXM,
            ),
            model_control(gpus=tuple(g.id for g in all_gpus())),
            Slider(
                "batch", "Decode batch", (1, 8, 32, 128, 512), 32, fmt="{} requests"
            ),
            prompt_slider((64, 256, 1024, 4096), 1024),
        ),
        figure_fn=_roofline_spec,
        readout_fn=_roofline_readout,
        alt=(
            "A log-log roofline: attainable throughput rises with arithmetic intensity along the bandwidth roof until "
            "the ridge, then stays flat on the compute roof. The prefill of a prompt of a few hundred tokens or more "
            "sits on the flat compute roof; a decode step sits far left on the sloped bandwidth roof, and moves right "
            "only as the batch grows."
        ),
    )


# --------------------------------------------------------------------------- continuous batching
CHUNK_CHOICES = (
    ("no chunking", 0),
    ("256-token chunks", 256),
    ("512-token chunks", 512),
    ("2048-token chunks", 2048),
)
CURSOR_STEPS = tuple(range(25))


def _batching_spec(chunk_tokens, step):
    steps = batching_schedule(chunk_tokens)
    grid = scheduling.activity_grid(list(BATCHING_REQUESTS), list(steps))
    return viz.batching_figure(
        step_ms=[s.seconds * 1e3 for s in steps],
        carries_prefill=[s.prefill_tokens > 0 for s in steps],
        names=[r.name for r in BATCHING_REQUESTS],
        grid=grid,
        cursor=step,
    )


def _batching_readout(chunk_tokens, step):
    steps = batching_schedule(chunk_tokens)
    s = steps[step]
    clean = (
        min(
            x.seconds
            for x in steps
            if x.prefill_tokens == 0 and len(x.decode) == len(s.decode)
        )
        if s.decode
        else None
    )
    prefill = ", ".join(f"{n}: {k:,} tokens" for n, k in s.prefill.items()) or "none"
    return {
        "step": f"{step}: starts at {fmt_seconds(s.start_s)}, takes {fmt_seconds(s.seconds)}",
        "decodes": f"{len(s.decode)} ({', '.join(s.decode) or 'none: they wait'})",
        "prefill": prefill,
        "vs a clean step": (
            f"+{fmt_seconds(s.seconds - clean)}"
            if clean is not None and s.prefill_tokens
            else "clean"
            if not s.prefill_tokens
            else "stall: no decode runs"
        ),
    }


@explorable_factory
def continuous_batching() -> Explorable:
    """Step through one GPU's batches: decodes every step, prefill chunks riding along."""
    return Explorable(
        title="Continuous batching on one H100: step through the batches",
        controls=(
            Dropdown("chunk_tokens", "Prefill", CHUNK_CHOICES, 512),
            Slider("step", "Step", CURSOR_STEPS, 6, fmt="step {}"),
        ),
        figure_fn=_batching_spec,
        readout_fn=_batching_readout,
        alt=(
            "Top: the duration of each engine step; steps that carry prefill are blue and taller. Bottom: a grid of "
            "six requests against steps, showing when each is waiting, prefilling (blue) or decoding (green). Four "
            "short requests decode every step; when the long prompt E arrives, its prefill rides along in chunks and "
            "each of those steps is slower for everyone. Without chunking, E's whole prefill is one long step in which "
            "no request decodes."
        ),
    )
