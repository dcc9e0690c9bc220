"""The chapter figures: pure builders that return plotly figures, and readouts that agree with them."""

import plotly.graph_objects as go
import pytest

from labs_py.viz import serving as v


def test_interference_figure_and_readout():
    fig = v.interference_figure(chunk_tokens=512, prompt_tokens=2048, batch=16)
    assert isinstance(fig, go.Figure) and len(fig.data) == 2
    r = v.interference_readout(chunk_tokens=512, prompt_tokens=2048, batch=16)
    assert r["chunk_steps"] == 4
    assert r["itl_p50_ms"] == pytest.approx(r["clean_step_ms"], rel=0.02)  # p50 does not move...
    assert r["itl_p99_ms"] > 1.5 * r["itl_p50_ms"]  # ...p99 does
    off = v.interference_readout(chunk_tokens=None, prompt_tokens=2048, batch=16)
    assert off["worst_gap_ms"] > r["worst_gap_ms"]


def test_figures_are_pure():
    a = v.goodput_figure(ttft_slo_ms=400, decode_slo_ms=15, gpus=2).to_json()
    v.goodput_figure(ttft_slo_ms=200, decode_slo_ms=12, decode_metric="max_itl", gpus=2)
    assert v.goodput_figure(ttft_slo_ms=400, decode_slo_ms=15, gpus=2).to_json() == a


def test_goodput_readout_names_winners_per_metric():
    tight = v.goodput_readout(ttft_slo_ms=400, decode_slo_ms=15, decode_metric="max_itl")
    assert tight["winner_on_goodput"].startswith("1P1D")
    assert tight["winner_on_throughput"].startswith("2x colocated")
    three = v.goodput_readout(gpus=3)
    assert set(three["split_goodput_rps"]) == {"1P2D @ 200 Gb/s", "2P1D @ 200 Gb/s"}


def test_two_gpu_figure_has_three_arms():
    fig = v.two_gpu_figure()
    assert isinstance(fig, go.Figure)
    ro = v.two_gpu_readout()
    assert set(ro) == {"1P1D @ 200 Gb/s", "TP=2 (chunk 512)", "2x colocated (chunk 512)"}
    pd, colo = ro["1P1D @ 200 Gb/s"], ro["2x colocated (chunk 512)"]
    assert pd["itl_p99_ms"] < colo["itl_p99_ms"]


def test_bad_controls_name_the_unit():
    with pytest.raises(ValueError, match="decode_slo_ms.*ms"):
        v.goodput_figure(decode_slo_ms=0)
    with pytest.raises(ValueError, match="link_gbps.*Gb/s"):
        v.two_gpu_figure(link_gbps=-1)
