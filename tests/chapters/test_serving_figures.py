"""The serving chapters' experiments and figures: valid plotly specs, readouts that agree with them."""

import json

import plotly.graph_objects as go
import pytest

from labs_py.chapters.goodput_and_split import experiment as goodput_exp
from labs_py.chapters.goodput_and_split import figures as goodput_figs
from labs_py.chapters.interference import experiment as interf
from labs_py.chapters.interference import panels as interf_panels
from labs_py.chapters.two_gpus import experiment as two_exp
from labs_py.chapters.two_gpus import panels as two_panels
from labs_py.figures.serving import arm_styles


def _valid(spec) -> go.Figure:
    assert set(spec) == {"data", "layout"}
    return go.Figure(spec)  # raises on any invalid property


def _goodput_spec(**kwargs):
    curves, fleets, slo = goodput_exp.curves(**kwargs)
    return goodput_figs.attainment_spec(curves, arm_styles(fleets), slo)


def test_interference_figure_and_numbers():
    ex = interf_panels.interference()
    fig = _valid(ex.spec(chunk_tokens=512, prompt_tokens=2048, batch=16))
    assert len(fig.data) == 3
    r = interf.numbers(chunk_tokens=512, prompt_tokens=2048, batch=16)
    assert r["chunk_steps"] == 4
    assert r["extra_spread"] < 0.2  # equal bumps
    assert r["itl_p50_ms"] == pytest.approx(
        r["clean_step_ms"], rel=0.02
    )  # p50 does not move...
    assert r["itl_p99_ms"] > 1.5 * r["itl_p50_ms"]  # ...p99 does
    off = interf.numbers(chunk_tokens=None, prompt_tokens=2048, batch=16)
    assert off["worst_gap_ms"] > r["worst_gap_ms"]


def test_long_prompts_do_not_queue_behind_the_streams_own_prefills():
    """Small chunks and a big batch: the prompt must arrive after every stream is decoding."""
    r = interf.numbers(chunk_tokens=128, prompt_tokens=1024, batch=64)
    assert r["chunk_steps"] == 8
    assert r["prompt_ttft_ms"] < 9 * r["worst_gap_ms"]


def test_chunk_trade_and_itl_tail_figures():
    _valid(interf_panels.chunk_trade().spec(prompt_tokens=2048, batch=16))
    _valid(interf_panels.itl_tail().spec(rate_per_s=8, chunk_tokens=512))
    ro = interf.tail_numbers(rate_per_s=8, chunk_tokens=512)
    colo, pd = ro["2x colocated (chunk 512)"], ro["1P1D @ 200 Gb/s"]
    assert 0.01 < colo["prefill_gap_share"] < 0.5 and pd["prefill_gap_share"] == 0
    assert (
        colo["itl_p99_ms"] > 1.5 * colo["itl_p50_ms"]
        and pd["itl_p99_ms"] < 1.2 * pd["itl_p50_ms"]
    )


def test_layouts_do_not_change_with_the_data():
    a = _goodput_spec(ttft_slo_ms=400, decode_slo_ms=15)
    b = _goodput_spec(
        ttft_slo_ms=200, decode_slo_ms=12, decode_metric="max_itl", link_gbps=25
    )
    assert a["layout"] == b["layout"] and a["data"] != b["data"]
    ex = interf_panels.interference()
    assert ex.spec(chunk_tokens=256)["layout"] == ex.spec(chunk_tokens=0)["layout"]


def test_figures_are_pure():
    a = json.dumps(_goodput_spec(ttft_slo_ms=400, decode_slo_ms=15, gpus=2))
    _goodput_spec(ttft_slo_ms=200, decode_slo_ms=12, decode_metric="max_itl", gpus=2)
    assert json.dumps(_goodput_spec(ttft_slo_ms=400, decode_slo_ms=15, gpus=2)) == a


def test_goodput_numbers_name_winners_per_metric():
    tight = goodput_exp.numbers(
        ttft_slo_ms=400, decode_slo_ms=12, decode_metric="max_itl"
    )
    assert tight["winner_on_goodput"].startswith("1P1D")
    # a 15 ms gap SLO is no longer tight: a chunk-carrying step is about 13 ms on a calibrated H100
    assert goodput_exp.numbers(
        ttft_slo_ms=400, decode_slo_ms=15, decode_metric="max_itl"
    )["winner_on_goodput"].startswith("2x colocated")
    assert tight["winner_on_throughput"].startswith("2x colocated")
    three = goodput_exp.numbers(gpus=3)
    assert set(three["split_goodput_rps"]) == {"1P2D @ 200 Gb/s", "2P1D @ 200 Gb/s"}
    both = goodput_exp.numbers(stalling=True)
    assert set(both["goodput_rps"]) == {
        "2x colocated (chunk 512)",
        "2x colocated (no chunking)",
        "1P1D @ 200 Gb/s",
    }
    _valid(_goodput_spec(gpus=3, stalling=True))


def test_two_gpu_figure_has_three_arms_and_the_split_control_moves_only_the_split():
    _valid(two_panels.two_gpus().spec())
    ro = two_exp.numbers()
    assert set(ro) == {
        "1P1D @ 200 Gb/s",
        "TP=2 (chunk 512)",
        "2x colocated (chunk 512)",
    }
    pd, colo, tp2 = (
        ro["1P1D @ 200 Gb/s"],
        ro["2x colocated (chunk 512)"],
        ro["TP=2 (chunk 512)"],
    )
    assert pd["itl_p99_ms"] < colo["itl_p99_ms"]
    assert (
        tp2["itl_p50_ms"] < colo["itl_p50_ms"]
    )  # TP=2 makes every step faster (Week 16 measured it)
    wide = two_exp.numbers(split="1/2")
    split = wide["1P1D (TP 1/2) @ 200 Gb/s"]
    assert split["gpus"] == 3 and split["itl_p50_ms"] < pd["itl_p50_ms"]
    assert wide["2x colocated (chunk 512)"] == colo and wide["TP=2 (chunk 512)"] == tp2
    with pytest.raises(ValueError, match="prefill_tp/decode_tp.*'3/1'"):
        two_exp.numbers(split="3/1")


def test_bad_controls_name_the_unit():
    with pytest.raises(ValueError, match="decode_slo_ms.*ms"):
        goodput_exp.curves(decode_slo_ms=0)
    with pytest.raises(ValueError, match="link_gbps.*Gb/s"):
        two_exp.arms(link_gbps=-1)
