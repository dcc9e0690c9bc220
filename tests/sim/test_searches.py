"""Goodput bisection, the P:D split search and the sweeps."""

from dataclasses import replace

import numpy as np
import pytest

from labs_py.sim.curves import goodput_from_curve
from labs_py.sim.fleets import Colocated, Disaggregated
from labs_py.sim.goodput import (
    SLO,
    Scenario,
    attainment_at,
    goodput,
    max_throughput_rps,
    split_search,
)
from labs_py.sim.sweeps import (
    sweep_chunk,
    sweep_goodput,
    sweep_link,
    sweep_prompt,
    sweep_rate,
)

SC = Scenario(prompt_tokens=1024, output_tokens=128, n_requests=200)
SLO_ = SLO(ttft_s=0.4, decode_s=0.013)


def test_goodput_is_where_attainment_crosses_the_target():
    f = Disaggregated(1, 1, 200)
    g = goodput(f, SC, SLO_)
    assert 0 < g <= max_throughput_rps(f, SC)
    assert attainment_at(f, SC, g, SLO_) >= 0.9
    assert attainment_at(f, SC, g * 1.1, SLO_) < 0.9 or g * 1.1 > max_throughput_rps(
        f, SC
    )


def test_goodput_is_zero_when_even_an_idle_fleet_misses():
    assert (
        goodput(Disaggregated(1, 1, 1.0), SC, SLO(ttft_s=0.1, decode_s=0.05)) == 0.0
    )  # 1 Gb/s: the toll alone is 1 s


def test_split_search_follows_the_shape_of_the_work():
    long_prompts = split_search(
        3,
        replace(SC, prompt_tokens=4096, output_tokens=32),
        SLO(ttft_s=2.0, decode_s=0.05),
    )
    long_outputs = split_search(
        3,
        replace(SC, prompt_tokens=256, output_tokens=512),
        SLO(ttft_s=2.0, decode_s=0.05),
    )
    print(
        f"\n4096/32: {dict(zip(long_prompts.splits, long_prompts.goodput_rps))}; "
        f"256/512: {dict(zip(long_outputs.splits, long_outputs.goodput_rps))}"
    )
    assert long_prompts.best == (2, 1)
    assert long_outputs.best == (1, 2)
    with pytest.raises(ValueError, match="at least 2 GPUs"):
        split_search(1, SC, SLO_)


def test_sweeps_return_columns():
    r = sweep_rate(Colocated(2), SC, [2.0, 8.0, 32.0], SLO_)
    assert list(r) == [
        "rate_per_s",
        "ttft_p50_ms",
        "ttft_p99_ms",
        "itl_p50_ms",
        "itl_p99_ms",
        "attainment",
    ]
    assert r["ttft_p99_ms"][-1] > r["ttft_p99_ms"][0]
    link = sweep_link(SC, 6.0, [10.0, 100.0, 400.0], SLO_)
    assert np.all(np.diff(link["ttft_p50_ms"]) < 0)
    chunk = sweep_chunk(SC, 6.0, [None, 256, 2048], SLO_)
    assert chunk["itl_p99_ms"][1] < chunk["itl_p99_ms"][2] < chunk["itl_p99_ms"][0]
    prompt = sweep_prompt(Disaggregated(1, 1, 25.0), SC, 4.0, [256, 4096], SLO_)
    assert prompt["ttft_p50_ms"][1] > prompt["ttft_p50_ms"][0]
    g = sweep_goodput([Colocated(2), Disaggregated(1, 1)], SC, SLO_)
    assert g["goodput_per_gpu_rps"].shape == (2,)


def test_goodput_from_a_curve_interpolates_the_crossing():
    assert goodput_from_curve([1, 2, 3], [1.0, 0.95, 0.85], 0.9) == pytest.approx(2.5)
    assert goodput_from_curve([1, 2], [0.5, 0.4], 0.9) == 0.0
    assert goodput_from_curve([1, 2], [1.0, 0.95], 0.9) == 2.0
