"""Wiring for the chapter "The disaggregation trade": controls -> :mod:`labs_py.economics` -> :mod:`.figures`."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from labs_py import course
from labs_py import economics as econ
from labs_py.book.explorable import Dropdown, Explorable, Slider, explorable_factory
from labs_py.chapters.controls import link_control, model_control, prompt_slider
from labs_py.chapters.disaggregation_trade import figures as viz
from labs_py.core.fmt import fmt_bytes, fmt_gbps, fmt_percent, fmt_seconds
from labs_py.defaults import DEFAULT_GPU
from labs_py.links import get_link
from labs_py.models import get_model
from labs_py.steptime import prefill_seconds

#: The GPU whose prefill time the chapter's figures use (the step-time model's default).
GPU = DEFAULT_GPU
MAX_TTFT_PENALTY = 0.10
PROMPTS = (128, 512, 2048, 8192, 32768)


@lru_cache(maxsize=4096)
def _prefill_s(model: str, prompt_tokens: int) -> float:
    return prefill_seconds(model, prompt_tokens, GPU)


# --------------------------------------------------------------------------- both ledgers
def _verdict(
    model: str,
    prompt_tokens: int,
    link_gbps: float,
    chunk_ms: float,
    decode_step_ms: float,
    kv_dtype: str = "bf16",
    max_ttft_penalty: float = MAX_TTFT_PENALTY,
) -> econ.Verdict:
    return econ.disagg_wins(
        prompt_tokens=prompt_tokens,
        kv_bytes_per_token=get_model(model).kv_bytes_per_token(kv_dtype),
        link_gbps=link_gbps,
        prefill_s=_prefill_s(model, prompt_tokens),
        decode_step_s=decode_step_ms / 1e3,
        chunk_s=chunk_ms / 1e3,
        max_ttft_penalty=max_ttft_penalty,
    )


def _ledgers_figure(prompt_tokens, model, link_gbps, chunk_ms, decode_step_ms):
    v = _verdict(model, prompt_tokens, link_gbps, chunk_ms, decode_step_ms)
    return viz.ledgers_figure(
        decode_step_s=decode_step_ms / 1e3,
        itl_worst_s=v.itl_worst_s,
        prefill_s=_prefill_s(model, prompt_tokens),
        transfer_s=v.transfer_s,
    )


def _ledgers_readout(prompt_tokens, model, link_gbps, chunk_ms, decode_step_ms):
    v = _verdict(model, prompt_tokens, link_gbps, chunk_ms, decode_step_ms)
    return {
        "KV payload": fmt_bytes(v.payload_bytes),
        "transfer toll": fmt_seconds(v.transfer_s),
        f"prefill ({GPU})": fmt_seconds(_prefill_s(model, prompt_tokens)),
        "TTFT penalty": fmt_percent(v.ttft_penalty),
        "worst ITL": f"{fmt_seconds(v.itl_worst_s)} ({v.itl_inflation:.3g}x a clean step)",
        "verdict": ("disaggregate: " if v.wins else "stay colocated: ") + v.reason,
    }


@explorable_factory
def ledgers() -> Explorable:
    """The chapter's main panel: both ledgers for one prompt, model, link and schedule."""
    return Explorable(
        title="Both ledgers: the interference tax (colocated) and the transfer toll (disaggregated)",
        controls=(
            prompt_slider(PROMPTS, 2048),
            model_control(),
            link_control(),
            Slider("chunk_ms", "Prefill chunk", (0, 10, 25, 50), 25, fmt="{} ms"),
            Slider("decode_step_ms", "Decode step", (5, 10, 20), 10, fmt="{} ms"),
        ),
        figure_fn=_ledgers_figure,
        readout_fn=_ledgers_readout,
        alt=(
            "Two bar charts. Left: a clean decode step next to a step that carries a prefill chunk; the chunk adds "
            "its whole duration to that step's inter-token latency. Right: colocated TTFT (prefill only) next to "
            "disaggregated TTFT (prefill plus the KV transfer). Slower links and bigger models make the right-hand "
            f"toll grow; the verdict holds the toll to {fmt_percent(MAX_TTFT_PENALTY)} of prefill."
        ),
    )


# --------------------------------------------------------------------------- decision map
MAP_LINKS_GBPS = tuple(float(x) for x in np.geomspace(5, 5000, 25))
MAP_PROMPTS = tuple(int(x) for x in np.unique(np.geomspace(128, 32768, 17).round()))


#: The decision map's decode step: the course's clean 10 ms step.
MAP_DECODE_STEP_MS = course.EXAMPLE_DECODE_STEP_S * 1e3


def decision_grid(
    model: str, kv_dtype: str, chunk_ms: float, max_ttft_penalty: float
) -> np.ndarray:
    """Verdict reasons over MAP_PROMPTS (rows) x MAP_LINKS_GBPS (columns), with 10 ms decode steps."""
    return np.array(
        [
            [
                _verdict(
                    model,
                    n,
                    g,
                    chunk_ms,
                    MAP_DECODE_STEP_MS,
                    kv_dtype,
                    max_ttft_penalty,
                ).reason
                for g in MAP_LINKS_GBPS
            ]
            for n in MAP_PROMPTS
        ]
    )


def _map_figure(model, kv_dtype, chunk_ms, max_ttft_penalty):
    links = {
        get_link(i).short: get_link(i).gbps
        for i in ("10gbe", "100gbe", "ib-ndr", "nvlink4")
    }
    return viz.decision_map_figure(
        MAP_LINKS_GBPS,
        MAP_PROMPTS,
        decision_grid(model, kv_dtype, chunk_ms, max_ttft_penalty),
        catalog_links=links,
    )


def _map_readout(model, kv_dtype, chunk_ms, max_ttft_penalty):
    per_token = get_model(model).kv_bytes_per_token(kv_dtype)
    payload = econ.kv_payload_bytes(2048, per_token)
    breakeven = econ.breakeven_link_gbps(
        payload, _prefill_s(model, 2048), max_ttft_penalty
    )
    v = _verdict(
        model, 2048, breakeven, chunk_ms, MAP_DECODE_STEP_MS, kv_dtype, max_ttft_penalty
    )
    return {
        "KV per token": fmt_bytes(per_token),
        "split pays from (2,048-token prompt)": fmt_gbps(breakeven)
        if v.reason != econ.NO_INTERFERENCE
        else "never: nothing to cure",
        "worst ITL / clean step": f"{v.itl_inflation:.3g}x",
    }


@explorable_factory
def decision_map() -> Explorable:
    """Where the split pays: link speed x prompt length, coloured by verdict."""
    return Explorable(
        title="The decision map: where does the split pay? (10 ms decode steps)",
        controls=(
            model_control(),
            Dropdown(
                "kv_dtype", "KV dtype", (("bf16", "bf16"), ("fp8", "fp8")), "bf16"
            ),
            Slider("chunk_ms", "Prefill chunk", (0, 25), 25, fmt="{} ms"),
            Slider(
                "max_ttft_penalty",
                "TTFT budget",
                (0.05, 0.10, 0.25, 0.50),
                0.10,
                fmt="{:.0%} of prefill",
            ),
        ),
        figure_fn=_map_figure,
        readout_fn=_map_readout,
        alt=(
            "A map with link speed across and prompt length up, each cell coloured by the verdict: split pays (blue), "
            "link too slow (vermillion) or no interference to cure (grey). The boundary between too slow and pays is "
            "a near-vertical line at the break-even link speed; FP8 KV, a model with fewer KV bytes per token, or a "
            "looser TTFT budget moves it left, to slower links. With no prefill chunk the whole map is grey."
        ),
    )


# --------------------------------------------------------------------------- the sweep
#: Lab 15-03's linear prefill: its 2,048-token example in about 205 ms.
COURSE_PREFILL_TOKENS_PER_S = course.EXAMPLE_PROMPT_TOKENS / course.EXAMPLE_PREFILL_S


def _sweep(model, link_gbps, prefill):
    rate = COURSE_PREFILL_TOKENS_PER_S if prefill == "linear" else None
    return econ.ledger_sweep(model, link_gbps, prefill_tokens_per_s=rate, gpu=GPU)


def _sweep_readout(model, link_gbps, prefill):
    s = _sweep(model, link_gbps, prefill)
    return {
        "penalty at 128 tokens": fmt_percent(s["ttft_penalty"][0]),
        "penalty at 32,768 tokens": fmt_percent(s["ttft_penalty"][-1]),
        "toll at 32,768 tokens": fmt_seconds(s["transfer_s"][-1]),
    }


@explorable_factory
def sweep() -> Explorable:
    """Both ledgers from 128 to 32k tokens, and the penalty ratio."""
    return Explorable(
        title="From 128 to 32k tokens: both ledgers grow, their ratio barely moves",
        controls=(
            model_control(),
            link_control(),
            Dropdown(
                "prefill",
                "Prefill time",
                (
                    ("linear: the seed's 2,048 tokens per 205 ms", "linear"),
                    (f"step-time model ({GPU})", "steptime"),
                ),
                "linear",
            ),
        ),
        figure_fn=lambda model, link_gbps, prefill: viz.sweep_figure(
            _sweep(model, link_gbps, prefill)
        ),
        readout_fn=_sweep_readout,
        alt=(
            "Top: prefill time and KV transfer time against prompt length, both on log scales; both rise in "
            "proportion to the prompt. Bottom: the toll as a percentage of prefill. With a linear prefill model the "
            "ratio is flat; with the step-time model, whose attention cost grows with the square of the prompt, it "
            "falls slowly for long prompts."
        ),
    )


# --------------------------------------------------------------------------- per request class
CLASSES = (
    econ.RequestClass(
        "classify (512 in, 1 out)",
        prompt_tokens=512,
        output_tokens=1,
        max_ttft_penalty=0.10,
    ),
    econ.RequestClass(
        "chat (1k in, 256 out)",
        prompt_tokens=1024,
        output_tokens=256,
        max_ttft_penalty=0.10,
    ),
    econ.RequestClass(
        "RAG (8k in, 256 out)",
        prompt_tokens=8192,
        output_tokens=256,
        max_ttft_penalty=0.25,
    ),
    econ.RequestClass(
        "summarise (32k in, 512 out)",
        prompt_tokens=32768,
        output_tokens=512,
        max_ttft_penalty=0.50,
    ),
)


def _classes(model, link_gbps):
    return econ.decide_per_class(
        CLASSES,
        model,
        link_gbps,
        decode_step_s=course.EXAMPLE_DECODE_STEP_S,
        chunk_s=course.EXAMPLE_CHUNK_S,
        gpu=GPU,
    )


def _class_figure(model, link_gbps):
    v = _classes(model, link_gbps)
    return viz.per_class_figure(
        [c.name for c in CLASSES],
        [v[c.name].ttft_penalty for c in CLASSES],
        [c.max_ttft_penalty for c in CLASSES],
        [v[c.name].reason for c in CLASSES],
    )


@explorable_factory
def per_class() -> Explorable:
    """The decision per request class, with each class's own TTFT budget."""
    return Explorable(
        title="Decide per request class, not per cluster (10 ms steps, 25 ms chunks)",
        controls=(model_control(), link_control(default=100.0)),
        figure_fn=_class_figure,
        readout_fn=lambda model, link_gbps: {
            c.name.split(" (")[0]: _classes(model, link_gbps)[c.name].reason
            for c in CLASSES
        },
        alt=(
            "Bars give each request class's TTFT penalty on a log scale, with a marker at the class's own budget and "
            "the verdict written on each bar. A class with a single output token has no inter-token latency to "
            "protect, so it never needs the split; long-prompt classes with loose TTFT budgets split first."
        ),
    )
