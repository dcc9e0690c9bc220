"""Invariants of the event loop, whatever the fleet: every token is accounted for, time runs forward."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labs_py.sim.fleets import Colocated, Disaggregated, simulate
from labs_py.sim.workload import (
    Workload,
    lognormal_lengths,
    make_workload,
    uniform_lengths,
)

FLEETS = [
    Colocated(1, chunk_tokens=256),
    Colocated(2, chunk_tokens=None),
    Colocated(1, tp=2, chunk_tokens=512, token_budget=600),
    Colocated(1, chunk_tokens=128, max_batch=4),
    Disaggregated(1, 2, 100.0),
    Disaggregated(2, 1, 25.0, "first_token_from_prefill", prefill_batch_tokens=4096),
]


@settings(max_examples=12, deadline=None)
@given(
    st.sampled_from(FLEETS),
    st.integers(1, 60),
    st.floats(0.5, 40.0),
    st.integers(0, 10_000),
)
def test_every_request_gets_every_token_in_order(fleet, n, rate, seed):
    w = make_workload(
        n, rate, uniform_lengths(1, 3000), uniform_lengths(1, 40), seed=seed
    )
    r = simulate(fleet, w)
    assert np.all(np.isfinite(r.ttft_s)) and np.all(r.ttft_s > 0)
    assert r.itl_s.size == int((w.output_tokens - 1).sum())
    assert np.all(r.itl_s > 0)
    assert np.all(r.e2e_s >= r.ttft_s)
    one = w.output_tokens == 1
    assert np.all(np.isnan(r.tpot_s[one])) and np.all(np.isfinite(r.tpot_s[~one]))
    assert np.allclose(
        r.tpot_s[~one] * (w.output_tokens[~one] - 1), (r.e2e_s - r.ttft_s)[~one]
    )


def test_same_seed_same_result_different_seed_different_result():
    f = Disaggregated(1, 1, 100.0)
    a = simulate(
        f, make_workload(200, 10.0, lognormal_lengths(1000, 0.8, 8000), 64, seed=3)
    )
    b = simulate(
        f, make_workload(200, 10.0, lognormal_lengths(1000, 0.8, 8000), 64, seed=3)
    )
    c = simulate(
        f, make_workload(200, 10.0, lognormal_lengths(1000, 0.8, 8000), 64, seed=4)
    )
    assert np.array_equal(a.ttft_s, b.ttft_s) and np.array_equal(a.itl_s, b.itl_s)
    assert not np.array_equal(a.ttft_s, c.ttft_s)


def test_a_lone_request_on_an_idle_engine():
    from labs_py.steptime import step_coefficients

    co = step_coefficients("meta-llama/Llama-3.1-8B-Instruct")
    w = Workload(np.array([1.0]), np.array([1000]), np.array([3]))
    r = simulate(Colocated(1, chunk_tokens=None), w)
    assert r.ttft_s[0] == pytest.approx(co.prefill_seconds(1000))
    assert r.itl_s == pytest.approx(
        [co.decode_seconds(1, 1001), co.decode_seconds(1, 1002)]
    )


def test_kv_capacity_limits_the_batch():
    w = make_workload(40, 1000.0, 1000, 50, seed=0)
    free = simulate(Colocated(1, chunk_tokens=512), w)
    tight = simulate(Colocated(1, chunk_tokens=512), w, kv_capacity_tokens=5 * 1050)
    assert tight.makespan_s > free.makespan_s
    assert tight.percentile_ms("ttft", 99) > 2 * free.percentile_ms("ttft", 99)


def test_fleets_refuse_bad_input_with_units():
    with pytest.raises(ValueError, match="link_gbps.*Gb/s"):
        Disaggregated(1, 1, -5)
    with pytest.raises(ValueError, match="proxy"):
        Disaggregated(1, 1, 100, proxy="magic")
    with pytest.raises(ValueError, match="chunk_tokens.*tokens"):
        Colocated(1, chunk_tokens=0)
    with pytest.raises(TypeError, match="Colocated or Disaggregated"):
        simulate("2 GPUs", make_workload(2, 1.0))
    with pytest.raises(ValueError, match="does not fit"):
        simulate(
            Colocated(1), make_workload(2, 1.0), "meta-llama/Llama-3.1-70B-Instruct"
        )


def test_workloads():
    w = make_workload(20_000, 4.0, 100, 10, seed=1)
    gaps = np.diff(w.arrival_s)
    assert gaps.mean() == pytest.approx(0.25, rel=0.03)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, rel=0.05)  # Poisson: cv 1
    g = np.diff(
        make_workload(20_000, 4.0, 100, 10, arrival="gamma", cv=2.5, seed=1).arrival_s
    )
    assert g.std() / g.mean() == pytest.approx(2.5, rel=0.08)
    assert np.all(make_workload(5, 1.0, arrival="burst").arrival_s == 0)
    with pytest.raises(ValueError, match="rate_per_s.*requests per second"):
        make_workload(5, 0.0)
    with pytest.raises(ValueError, match="arrival"):
        make_workload(5, 1.0, arrival="weekly")
    with pytest.raises(ValueError, match="prompt_tokens"):
        Workload(np.zeros(2), np.array([0, 5]), np.array([1, 1]))
