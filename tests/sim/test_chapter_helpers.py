"""Helpers the serving chapters use: the engine's fast path, the all-reduce what-if, gap shares, busy shares."""

import numpy as np
import pytest

from labs_py.defaults import DEFAULT_ENGINE
from labs_py.sim import eventloop as eng
from labs_py.sim.fleets import Colocated, Disaggregated, engine_with_allreduce, simulate
from labs_py.sim.goodput import Scenario, engine_busy_shares, run
from labs_py.sim.interference import prefill_gap_share
from labs_py.sim.workload import lognormal_lengths, make_workload, uniform_lengths
from labs_py.steptime import engine_profile, step_coefficients

FLEETS = [
    Colocated(2, chunk_tokens=512),
    Colocated(1, chunk_tokens=None),
    Colocated(1, tp=2, chunk_tokens=256),
    Disaggregated(1, 1, 200.0),
    Disaggregated(2, 1, 25.0, "first_token_from_prefill"),
]


@pytest.mark.parametrize("fleet", FLEETS, ids=lambda f: f.label)
@pytest.mark.parametrize("rate", [0.5, 8.0, 40.0])
def test_the_fast_path_gives_the_same_floats_as_the_heap(monkeypatch, fleet, rate):
    """Decode-only stretches run in a tight loop; every time it records must be the slow path's, exactly."""
    w = make_workload(
        150, rate, lognormal_lengths(800, 0.8, 4000), uniform_lengths(1, 150), seed=7
    )
    fast = simulate(fleet, w, record_steps=True)
    monkeypatch.setattr(eng, "FAST_FORWARD", False)
    slow = simulate(fleet, w, record_steps=True)
    assert np.array_equal(fast.raw.first_token_s, slow.raw.first_token_s)
    assert all(
        np.array_equal(a, b)
        for a, b in zip(fast.raw.decode_step_times, slow.raw.decode_step_times)
    )
    assert all(
        np.array_equal(a, b) for a, b in zip(fast.raw.step_log, slow.raw.step_log)
    )


def test_allreduce_what_if_only_changes_the_latency():
    gpu = "H100-SXM"
    assert (
        engine_with_allreduce(DEFAULT_ENGINE, gpu, 1.0) == DEFAULT_ENGINE
    )  # shares caches with the plain engine
    free = engine_with_allreduce(DEFAULT_ENGINE, gpu, 0.0)
    fitted = engine_profile(DEFAULT_ENGINE, gpu)
    assert all(a.graph_latency_s == a.eager_latency_s == 0 for a in free.allreduce)
    assert free.step_overhead_s == fitted.step_overhead_s
    assert [a.graph_bytes_per_s for a in free.allreduce] == [
        a.graph_bytes_per_s for a in fitted.allreduce
    ]
    model = "meta-llama/Llama-3.1-8B-Instruct"
    tp1 = step_coefficients(model, tp=1).decode_seconds(16, 512)
    assert step_coefficients(model, tp=1, engine=free).decode_seconds(16, 512) == tp1
    assert step_coefficients(model, tp=2, engine=free).decode_seconds(
        16, 512
    ) < step_coefficients(model, tp=2).decode_seconds(16, 512)
    with pytest.raises(ValueError, match="factor must be 0 .* or more"):
        engine_with_allreduce(DEFAULT_ENGINE, gpu, -1.0)


def test_prefill_gap_share():
    sc = Scenario(prompt_tokens=1024, output_tokens=128, n_requests=300)
    low, high = (
        prefill_gap_share(run(Colocated(2, chunk_tokens=512), sc, r, True))
        for r in (4.0, 24.0)
    )
    assert 0 < low < high < 0.5
    assert prefill_gap_share(run(Disaggregated(1, 1), sc, 24.0, True)) == 0.0
    assert (
        prefill_gap_share(run(Colocated(2, chunk_tokens=None), sc, 24.0, True)) > 0
    )  # stalls count too
    with pytest.raises(ValueError, match="record_steps=True"):
        prefill_gap_share(run(Colocated(2), sc, 4.0))


def test_engine_busy_shares_say_which_pool_idles():
    long_answers = Scenario(prompt_tokens=256, output_tokens=512, n_requests=200)
    long_prompts = Scenario(prompt_tokens=4096, output_tokens=32, n_requests=200)
    assert len(engine_busy_shares(Disaggregated(2, 1), long_answers)) == 3
    assert (
        engine_busy_shares(Disaggregated(1, 1), long_answers)[0] < 0.5
    )  # the prefill GPU idles
    assert engine_busy_shares(Disaggregated(1, 1), long_prompts)[0] > 0.9
    assert all(
        s == pytest.approx(1.0, abs=0.02)
        for s in engine_busy_shares(Colocated(2), long_prompts)
    )
