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

#: The GPU whose step times the chapter's figures use (a model that needs more than one uses the fewest that hold it).
GPU = DEFAULT_GPU
MAX_TTFT_PENALTY = 0.10
PROMPTS = (128, 512, 2048, 8192, 32768)
#: The ledgers' two sources of step times: the calibrated step model, or the course lab's stated example.
STEP_SOURCES = (
    (f"calibrated step model ({GPU})", "model"),
    ("the lab's example: 205 ms per 2,048 tokens, 10 ms step, 25 ms chunk", "lab"),
)


@lru_cache(maxsize=4096)
def step_times(
    model: str, prompt_tokens: int, kv_dtype: str = "bf16"
) -> econ.StepTimes:
    """Prefill, clean decode step and chunk time of one prompt: the calibrated step model, on the fewest GPUs."""
    return econ.step_times(model, prompt_tokens, gpu=GPU, kv_dtype=kv_dtype)


def _ledgers(
    model: str,
    prompt_tokens: int,
    link_gbps: float,
    source: str,
    kv_dtype: str = "bf16",
) -> econ.Ledgers:
    if source == "lab":
        return econ.ledgers(
            model,
            prompt_tokens,
            link_gbps,
            kv_dtype=kv_dtype,
            prefill_s=prompt_tokens / COURSE_PREFILL_TOKENS_PER_S,
            decode_step_s=course.EXAMPLE_DECODE_STEP_S,
            chunk_s=course.EXAMPLE_CHUNK_S,
        )
    return econ.ledgers(model, prompt_tokens, link_gbps, kv_dtype=kv_dtype, gpu=GPU)


def _verdict(
    model: str,
    prompt_tokens: int,
    link_gbps: float,
    source: str = "model",
    kv_dtype: str = "bf16",
    max_ttft_penalty: float = MAX_TTFT_PENALTY,
    chunked: bool = True,
) -> econ.Verdict:
    led = _ledgers(model, prompt_tokens, link_gbps, source, kv_dtype)
    return econ.disagg_wins(
        prompt_tokens=prompt_tokens,
        kv_bytes_per_token=get_model(model).kv_bytes_per_token(kv_dtype),
        link_gbps=link_gbps,
        prefill_s=led.prefill_s,
        decode_step_s=led.decode_step_s,
        chunk_s=led.chunk_s if chunked else 0.0,
        max_ttft_penalty=max_ttft_penalty,
    )


def _ledgers_figure(prompt_tokens, model, link_gbps, step_source):
    led = _ledgers(model, prompt_tokens, link_gbps, step_source)
    return viz.ledgers_figure(
        decode_step_s=led.decode_step_s,
        itl_worst_s=led.itl_worst_s,
        prefill_s=led.prefill_s,
        transfer_s=led.transfer_s,
        client_overhead_s=led.client_overhead_s,
    )


def _ledgers_readout(prompt_tokens, model, link_gbps, step_source):
    led = _ledgers(model, prompt_tokens, link_gbps, step_source)
    v = _verdict(model, prompt_tokens, link_gbps, step_source)
    out = {
        "KV payload": fmt_bytes(led.payload_bytes),
        "transfer toll": fmt_seconds(led.transfer_s),
    }
    if step_source == "model":
        st = step_times(model, prompt_tokens)
        where = GPU if st.tp == 1 else f"{st.tp} x {GPU}"
        out["prefill compute"] = f"{fmt_seconds(led.prefill_s)} ({where})"
        out["TTFT a client sees"] = (
            f"{fmt_seconds(st.client_ttft_s)} (+ client overhead)"
        )
        out["toll / prefill, / client TTFT"] = (
            f"{fmt_percent(led.ttft_penalty)}, {fmt_percent(led.client_ttft_penalty)}"
        )
    else:
        out["prefill compute"] = f"{fmt_seconds(led.prefill_s)} (the lab's linear rate)"
        out["TTFT a client sees"] = "not in the lab's example"
        out["toll / prefill, / client TTFT"] = (
            f"{fmt_percent(led.ttft_penalty)}, not in the lab's example"
        )
    out["worst ITL"] = (
        f"{fmt_seconds(led.itl_worst_s)} ({v.itl_inflation:.3g}x a clean step)"
    )
    out["verdict"] = ("disaggregate: " if v.wins else "stay colocated: ") + v.reason
    return out


@explorable_factory
def ledgers() -> Explorable:
    """The chapter's main panel: both ledgers for one prompt, model and link, from either source of step times."""
    return Explorable(
        title="Both ledgers: the interference tax (colocated) and the transfer toll (disaggregated)",
        controls=(
            prompt_slider(PROMPTS, 2048),
            model_control(),
            link_control(),
            Dropdown("step_source", "Step times", STEP_SOURCES, "model"),
        ),
        figure_fn=_ledgers_figure,
        readout_fn=_ledgers_readout,
        alt=(
            "Two bar charts. Left: a clean decode step of 16 requests next to a step that also carries a "
            f"{econ.LEDGER_CHUNK_TOKENS}-token prefill chunk; the chunk adds its time to that step's inter-token "
            "latency. Right: colocated TTFT next to disaggregated TTFT, each stacked from the client overhead, the "
            "prefill and (disaggregated) the KV transfer. Slower links and bigger models make the right-hand toll "
            f"grow; the verdict holds the toll to {fmt_percent(MAX_TTFT_PENALTY)} of prefill."
        ),
    )


# --------------------------------------------------------------------------- decision map
MAP_LINKS_GBPS = tuple(float(x) for x in np.geomspace(5, 5000, 25))
MAP_PROMPTS = tuple(int(x) for x in np.unique(np.geomspace(128, 32768, 17).round()))


def decision_grid(
    model: str, kv_dtype: str, chunked: str, max_ttft_penalty: float
) -> np.ndarray:
    """Verdict reasons over MAP_PROMPTS (rows) x MAP_LINKS_GBPS (columns), with calibrated step times."""
    return np.array(
        [
            [
                _verdict(
                    model, n, g, "model", kv_dtype, max_ttft_penalty, chunked == "yes"
                ).reason
                for g in MAP_LINKS_GBPS
            ]
            for n in MAP_PROMPTS
        ]
    )


def _map_figure(model, kv_dtype, chunked, max_ttft_penalty):
    links = {
        get_link(i).short: get_link(i).gbps
        for i in ("10gbe", "100gbe", "ib-ndr", "nvlink4")
    }
    return viz.decision_map_figure(
        MAP_LINKS_GBPS,
        MAP_PROMPTS,
        decision_grid(model, kv_dtype, chunked, max_ttft_penalty),
        catalog_links=links,
    )


def _map_readout(model, kv_dtype, chunked, max_ttft_penalty):
    per_token = get_model(model).kv_bytes_per_token(kv_dtype)
    payload = econ.kv_payload_bytes(2048, per_token)
    breakeven = econ.breakeven_link_gbps(
        payload, step_times(model, 2048, kv_dtype).prefill_s, max_ttft_penalty
    )
    v = _verdict(
        model, 2048, breakeven, "model", kv_dtype, max_ttft_penalty, chunked == "yes"
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
        title=f"The decision map: where does the split pay? (calibrated step times, {GPU}, decode batch "
        f"{econ.LEDGER_DECODE_BATCH})",
        controls=(
            model_control(),
            Dropdown(
                "kv_dtype", "KV dtype", (("bf16", "bf16"), ("fp8", "fp8")), "bf16"
            ),
            Dropdown(
                "chunked",
                "Prefill chunks",
                (
                    (f"{econ.LEDGER_CHUNK_TOKENS} tokens", "yes"),
                    ("none (decode only)", "no"),
                ),
                "yes",
            ),
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
            "link too slow (vermillion) or no interference to cure (grey). The boundary between too slow and pays "
            "sits near the break-even link speed; FP8 KV, a model with fewer KV bytes per token, or a looser TTFT "
            "budget moves it left, to slower links. Short prompts are grey: their one chunk barely slows a decode "
            "step. With no prefill chunks the whole map is grey."
        ),
    )


# --------------------------------------------------------------------------- the sweep
#: Lab 15-03's linear prefill: its 2,048-token example in about 205 ms.
COURSE_PREFILL_TOKENS_PER_S = course.EXAMPLE_PROMPT_TOKENS / course.EXAMPLE_PREFILL_S


def _sweep(model, link_gbps, prefill):
    rate = COURSE_PREFILL_TOKENS_PER_S if prefill == "linear" else None
    return econ.ledger_sweep(model, link_gbps, prefill_tokens_per_s=rate, gpu=GPU)


def _steptime_label() -> str:
    return f"calibrated step model ({GPU})"


def _sweep_readout(model, link_gbps, prefill):
    s = _sweep(model, link_gbps, prefill)
    return {
        "penalty at 128 tokens": fmt_percent(s["ttft_penalty"][0]),
        "penalty at 32,768 tokens": fmt_percent(s["ttft_penalty"][-1]),
        "toll at 32,768 tokens": fmt_seconds(s["transfer_s"][-1]),
        "tax at 32,768 tokens": f"{fmt_seconds(s['tax_s'][-1])} for each co-running stream "
        f"({fmt_seconds(s['chunk_extra_s'][-1])} in each of its chunk steps)",
        "toll / tax at 128 and 32,768 tokens": f"{fmt_percent(s['transfer_s'][0] / s['tax_s'][0])}, "
        f"{fmt_percent(s['transfer_s'][-1] / s['tax_s'][-1])}",
    }


@explorable_factory
def sweep() -> Explorable:
    """Both ledgers from 128 to 32k tokens, and the penalty ratio."""
    return Explorable(
        title="From 128 to 32k tokens: the toll, the tax and prefill all grow with the prompt",
        controls=(
            model_control(),
            link_control(),
            Dropdown(
                "prefill",
                "Prefill time",
                (
                    ("linear: the lab's 2,048 tokens per 205 ms", "linear"),
                    (_steptime_label(), "steptime"),
                ),
                "linear",
            ),
        ),
        figure_fn=lambda model, link_gbps, prefill: viz.sweep_figure(
            _sweep(model, link_gbps, prefill)
        ),
        readout_fn=_sweep_readout,
        alt=(
            "Top: prefill time, KV transfer time (the split's toll) and the interference tax (the time one "
            "co-running decode stream loses to the prompt's chunks on a colocated engine, 512-token chunks beside "
            "16 decodes) against prompt length, on log scales; all rise with the prompt. Bottom: the toll as a "
            "percentage of prefill and of the tax. With a linear prefill model the tax equals prefill and both "
            "ratios are flat; with the calibrated step model the tax grows faster than the toll for long prompts, "
            "whose chunks attend to ever more tokens, so the split's case strengthens with length."
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
    return econ.decide_per_class(CLASSES, model, link_gbps, gpu=GPU)


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
        title=f"Decide per request class, not per cluster (calibrated step times, {GPU})",
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
