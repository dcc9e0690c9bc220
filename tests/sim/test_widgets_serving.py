"""The serving chapters' interactive figures: every control moves its plot, and readouts are the simulator's."""

import pytest

from labs_py.viz import serving as viz
from labs_py.widgets import registry
from labs_py.widgets import serving as w

KEYS = [k for k in registry.all_keys() if k.startswith("serving.")]


def _shown(spec) -> list:
    """What the browser test compares: each trace's x, y, z and text."""
    return [{a: t.get(a) for a in ("x", "y", "z", "text")} for t in spec["data"]]


def test_the_chapters_have_their_explorables():
    assert {"serving.interference", "serving.chunk_trade", "serving.itl_tail", "serving.slo_attainment",
            "serving.workload", "serving.split_sweep", "serving.two_gpus"} <= set(KEYS)


@pytest.mark.parametrize("key", KEYS)
def test_from_the_defaults_every_control_changes_the_plot(key):
    """The browser test's rule: move one control to its neighbour (as a reader would), the plot must change."""
    ex = registry.build(key)
    start = _shown(ex.spec())
    for c in ex.controls:
        i = list(c.values).index(c.default)
        j = i + 1 if i + 1 < len(c.values) else i - 1
        moved = {c.name: c.values[j]}
        assert _shown(ex.spec(**moved)) != start, f"{key}: moving {c.name} to {c.values[j]!r} did not change the plot"
        assert list(ex.readout(**moved)) == list(ex.readout()), f"{key}: readout keys changed with {c.name}"


def test_interference_readout_is_the_simulators():
    r = viz.interference_readout(512, 4096, 16)
    shown = w.interference().readout()
    assert shown["clean step"] == f"{r['clean_step_ms']:.3g} ms"
    assert shown["slow steps"].startswith(f"{r['chunk_steps']} steps, each +{r['extra_ms_per_chunk_step']:.3g} ms")
    assert "no chunking" in w.chunk_trade().readout()
    assert w.interference().readout(chunk_tokens=w.NO_CHUNKING)["slow steps"] == "1 gap: the whole prefill"


def test_goodput_readouts_are_the_simulators():
    ro = viz.goodput_readout(400, 12, "max_itl", stalling=True)
    shown = w.slo_attainment().readout(decode_slo_ms=12, decode_metric="max_itl")
    assert shown["1P1D: goodput / throughput"] == (f"{ro['goodput_rps']['1P1D @ 200 Gb/s']:.3g} req/s / "
                                                    f"{ro['throughput_rps']['1P1D @ 200 Gb/s']:.3g} req/s")
    assert shown["winner on goodput"] == "1P1D"
    split = w.split_sweep().readout(gpus=3, workload="long prompts: 4,096 in, 32 out")
    ro3 = viz.goodput_readout(400, 12, "tpot", 4096, 32, 200.0, gpus=3)
    assert split["best split"].startswith(ro3["best_split"].split(" @")[0])


def test_two_gpu_readout_is_the_simulators():
    ro = viz.two_gpu_readout(allreduce=0.5)
    shown = w.two_gpus().readout(allreduce=0.5)
    tp = ro["TP=2 (chunk 512)"]
    assert shown["TP=2: goodput / throughput"] == f"{tp['goodput_rps']:.3g} req/s / {tp['throughput_rps']:.3g} req/s"


SERVING_EXERCISES = ["interf-extra-per-chunk", "interf-best-chunk", "interf-gap-share", "goodput-1p1d-25g",
                     "goodput-best-split-long-prompts", "goodput-throughput-ratio-2048", "two-gpu-allreduce-ms",
                     "two-gpu-free-speedup", "two-gpu-tp2-throughput-share"]


@pytest.mark.parametrize("exercise_id", SERVING_EXERCISES)
def test_exercises_have_computable_answers_that_check_out(exercise_id, capsys):
    from labs_py import exercises

    expected = exercises.get(exercise_id).expected()
    assert exercises.is_correct(exercise_id, expected)
    exercises.check(exercise_id, None)
    assert "Not answered yet" in capsys.readouterr().out
    if isinstance(expected, float):
        assert not exercises.is_correct(exercise_id, expected * 1.2)
