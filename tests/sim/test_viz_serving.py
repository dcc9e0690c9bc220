"""The chapter figures: pure builders that return valid plotly specs, and readouts that agree with them."""

import json

import plotly.graph_objects as go
import pytest

from labs_py.viz import serving as v


def _valid(spec) -> go.Figure:
    assert set(spec) == {"data", "layout"}
    return go.Figure(spec)  # raises on any invalid property


def test_interference_figure_and_readout():
    fig = _valid(v.interference_figure(chunk_tokens=512, prompt_tokens=2048, batch=16))
    assert len(fig.data) == 3
    r = v.interference_readout(chunk_tokens=512, prompt_tokens=2048, batch=16)
    assert r["chunk_steps"] == 4
    assert r["extra_spread"] < 0.2  # equal bumps
    assert r["itl_p50_ms"] == pytest.approx(r["clean_step_ms"], rel=0.02)  # p50 does not move...
    assert r["itl_p99_ms"] > 1.5 * r["itl_p50_ms"]  # ...p99 does
    off = v.interference_readout(chunk_tokens=None, prompt_tokens=2048, batch=16)
    assert off["worst_gap_ms"] > r["worst_gap_ms"]


def test_long_prompts_do_not_queue_behind_the_streams_own_prefills():
    """Small chunks and a big batch: the prompt must arrive after every stream is decoding."""
    r = v.interference_readout(chunk_tokens=128, prompt_tokens=1024, batch=64)
    assert r["chunk_steps"] == 8
    assert r["prompt_ttft_ms"] < 9 * r["worst_gap_ms"]


def test_chunk_trade_and_itl_tail_figures():
    _valid(v.chunk_trade_figure(prompt_tokens=2048, batch=16))
    _valid(v.itl_tail_figure(rate_per_s=8, chunk_tokens=512))
    ro = v.itl_tail_readout(rate_per_s=8, chunk_tokens=512)
    colo, pd = ro["2x colocated (chunk 512)"], ro["1P1D @ 200 Gb/s"]
    assert 0.01 < colo["prefill_gap_share"] < 0.5 and pd["prefill_gap_share"] == 0
    assert colo["itl_p99_ms"] > 1.5 * colo["itl_p50_ms"] and pd["itl_p99_ms"] < 1.2 * pd["itl_p50_ms"]


def test_layouts_do_not_change_with_the_data():
    a = v.goodput_figure(ttft_slo_ms=400, decode_slo_ms=15)
    b = v.goodput_figure(ttft_slo_ms=200, decode_slo_ms=12, decode_metric="max_itl", link_gbps=25)
    assert a["layout"] == b["layout"] and a["data"] != b["data"]
    assert v.interference_figure(chunk_tokens=256)["layout"] == v.interference_figure(chunk_tokens=None)["layout"]


def test_figures_are_pure():
    a = json.dumps(v.goodput_figure(ttft_slo_ms=400, decode_slo_ms=15, gpus=2))
    v.goodput_figure(ttft_slo_ms=200, decode_slo_ms=12, decode_metric="max_itl", gpus=2)
    assert json.dumps(v.goodput_figure(ttft_slo_ms=400, decode_slo_ms=15, gpus=2)) == a


def test_goodput_readout_names_winners_per_metric():
    tight = v.goodput_readout(ttft_slo_ms=400, decode_slo_ms=15, decode_metric="max_itl")
    assert tight["winner_on_goodput"].startswith("1P1D")
    assert tight["winner_on_throughput"].startswith("2x colocated")
    three = v.goodput_readout(gpus=3)
    assert set(three["split_goodput_rps"]) == {"1P2D @ 200 Gb/s", "2P1D @ 200 Gb/s"}
    both = v.goodput_readout(stalling=True)
    assert set(both["goodput_rps"]) == {"2x colocated (chunk 512)", "2x colocated (no chunking)", "1P1D @ 200 Gb/s"}
    _valid(v.goodput_figure(gpus=3, stalling=True))


def test_two_gpu_figure_has_three_arms_and_the_allreduce_knob_moves_only_tp():
    _valid(v.two_gpu_figure())
    ro = v.two_gpu_readout()
    assert set(ro) == {"1P1D @ 200 Gb/s", "TP=2 (chunk 512)", "2x colocated (chunk 512)"}
    pd, colo = ro["1P1D @ 200 Gb/s"], ro["2x colocated (chunk 512)"]
    assert pd["itl_p99_ms"] < colo["itl_p99_ms"]
    free = v.two_gpu_readout(allreduce=0.0)
    assert free["TP=2 (chunk 512)"]["throughput_rps"] > ro["TP=2 (chunk 512)"]["throughput_rps"]
    assert free["1P1D @ 200 Gb/s"] == pd and free["2x colocated (chunk 512)"] == colo


def test_bad_controls_name_the_unit():
    with pytest.raises(ValueError, match="decode_slo_ms.*ms"):
        v.goodput_figure(decode_slo_ms=0)
    with pytest.raises(ValueError, match="link_gbps.*Gb/s"):
        v.two_gpu_figure(link_gbps=-1)
