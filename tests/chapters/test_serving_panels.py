"""The serving chapters' interactive figures: every control moves its plot, and readouts are the simulator's."""

import pytest

from labs_py.book import registry
from labs_py.chapters.controls import NO_CHUNKING
from labs_py.chapters.goodput_and_split import experiment as goodput_exp
from labs_py.chapters.goodput_and_split import panels as goodput
from labs_py.chapters.interference import experiment as interf
from labs_py.chapters.interference import panels as interference
from labs_py.chapters.two_gpus import experiment as two_exp
from labs_py.chapters.two_gpus import panels as two_gpus

SERVING = ("interference.", "goodput_and_split.", "two_gpus.")
KEYS = [k for k in registry.all_keys() if k.startswith(SERVING)]


def _shown(spec) -> list:
    """What the browser test compares: each trace's x, y, z and text."""
    return [{a: t.get(a) for a in ("x", "y", "z", "text")} for t in spec["data"]]


def test_the_chapters_have_their_explorables():
    assert {
        "interference.interference",
        "interference.chunk_trade",
        "interference.itl_tail",
        "goodput_and_split.slo_attainment",
        "goodput_and_split.workload",
        "goodput_and_split.split_sweep",
        "two_gpus.two_gpus",
    } <= set(KEYS)


@pytest.mark.parametrize("key", KEYS)
def test_from_the_defaults_every_control_changes_the_plot(key):
    """The browser test's rule: move one control to its neighbour (as a reader would), the plot must change."""
    ex = registry.build(key)
    start = _shown(ex.spec())
    for c in ex.controls:
        i = list(c.values).index(c.default)
        j = i + 1 if i + 1 < len(c.values) else i - 1
        moved = {c.name: c.values[j]}
        assert _shown(ex.spec(**moved)) != start, (
            f"{key}: moving {c.name} to {c.values[j]!r} did not change the plot"
        )
        assert list(ex.readout(**moved)) == list(ex.readout()), (
            f"{key}: readout keys changed with {c.name}"
        )


def test_interference_readout_is_the_simulators():
    r = interf.numbers(512, 4096, 16)
    shown = interference.interference().readout()
    assert shown["clean step"] == f"{r['clean_step_ms']:.3g} ms"
    assert shown["slow steps"].startswith(
        f"{r['chunk_steps']} steps, each +{r['extra_ms_per_chunk_step']:.3g} ms"
    )
    assert "no chunking" in interference.chunk_trade().readout()
    assert (
        interference.interference().readout(chunk_tokens=NO_CHUNKING)["slow steps"]
        == "1 gap: the whole prefill"
    )


def test_goodput_readouts_are_the_simulators():
    ro = goodput_exp.numbers(400, 12, "max_itl", stalling=True)
    shown = goodput.slo_attainment().readout(decode_slo_ms=12, decode_metric="max_itl")
    assert shown["1P1D: goodput / throughput"] == (
        f"{ro['goodput_rps']['1P1D @ 200 Gb/s']:.3g} req/s / {ro['throughput_rps']['1P1D @ 200 Gb/s']:.3g} req/s"
    )
    assert shown["winner on goodput"] == "1P1D"
    split = goodput.split_sweep().readout(
        gpus=3, workload="long prompts: 4,096 in, 32 out"
    )
    ro3 = goodput_exp.numbers(400, 12, "tpot", 4096, 32, 200.0, gpus=3)
    assert split["best split"].startswith(ro3["best_split"].split(" @")[0])


def test_two_gpu_readout_is_the_simulators():
    ro = two_exp.numbers(split="2/1")
    shown = two_gpus.two_gpus().readout(split="2/1")
    tp = ro["TP=2 (chunk 512)"]
    assert shown["TP=2: goodput / GPU"] == (
        f"{tp['goodput_per_gpu']:.3g} req/s on 2 GPUs (throughput {tp['throughput_rps']:.3g} req/s)"
    )
    assert " on 3 GPUs " in shown["split: goodput / GPU"]
