"""The course's items the chapters compute: each figure against an independent one.

Independent means a first-principles product written here (the KV formula, bytes over a rate) or
a property that must hold whatever the calibration (pooling never queues more than private
pairs), never the chapter's function compared with itself.
"""

from __future__ import annotations

import pytest

from labs_py import economics as econ
from labs_py.chapters.disaggregation_trade import experiment as trade
from labs_py.chapters.goodput_and_split import experiment as goodput
from labs_py.defaults import LLAMA_8B


def test_lab15_02s_kv_figures_against_the_formula():
    k = trade.lab15_02_kv_check()
    assert (
        k["formula_bytes_per_token"] == 24 * 2 * 64 * 2 * 2
    )  # Qwen2.5-0.5B: layers x KV heads x dim x K,V x bf16
    assert k["lab_bytes_per_token"] == 16 * 1024 and k[
        "lab_over_formula"
    ] == pytest.approx(4 / 3)
    assert k["blocks"] == k["blocks_reported"] == -(-2031 // 16)
    assert k["formula_payload_bytes"] == 2031 * 12_288
    assert k["freight_8b_formula"] == pytest.approx(
        131_072 / 12_288
    )  # about 10.7, not 8


def test_week16s_kv_figures_against_the_formula():
    rows = {r["claim"]: r for r in trade.week16_kv_claims()}
    assert (
        rows["KV bytes per token (its code)"]["lab"] == 2 * 32 * 32 * 128 * 2
    )  # every query head: no GQA
    assert rows["KV bytes per token (its note)"]["book"] == 2 * 32 * 8 * 128 * 2
    assert rows["KV at 2,048 tokens"]["book"] == pytest.approx(2048 * 131_072 / 1e6)
    assert rows["1,024 tokens over NVLink"]["book"] == pytest.approx(
        1024 * 131_072 * 8 / 3600e9 * 1e3
    )
    assert rows["2,048 tokens over 100 Gb/s"]["book"] == pytest.approx(
        2048 * 131_072 * 8 / 100e9 * 1e3
    )
    assert rows["2,048 tokens over 100 Gb/s"]["lab"] == pytest.approx(
        rows["2,048 tokens over 100 Gb/s"]["book"] / 2, rel=0.05
    )


def test_the_transfer_profile_doubles_with_the_prompt_on_every_fabric():
    p = trade.transfer_profile()
    for ms in p["ms"].values():
        assert all(
            b == pytest.approx(a * n2 / n1)
            for a, b, n1, n2 in zip(ms, ms[1:], p["tokens"], p["tokens"][1:])
        )
    at_1k = {name: ms[p["tokens"].index(1024)] for name, ms in p["ms"].items()}
    assert at_1k["10 GbE"] == pytest.approx(1024 * 131_072 * 8 / 10e9 * 1e3)
    assert min(at_1k, key=at_1k.get) == "NVLink 4"


def test_distserves_less_than_one_decode_step_holds_on_nvlink_and_for_short_prompts_on_pcie():
    rows = trade.distserve_transfer_vs_step()
    for r in rows:
        assert r["NVLink, 600 GB/s"] == pytest.approx(
            r["payload_mb"] * 1e6 / 600e9 * 1e3
        )
        assert r["NVLink, 600 GB/s"] < r["decode_step_ms"]
        if r["prompt_tokens"] == 512:
            assert r["PCIe 5, 64 GB/s"] < r["decode_step_ms"]
    assert any(
        r["PCIe 5, 64 GB/s"] > 0.9 * r["decode_step_ms"] for r in rows
    )  # not for every prompt on PCIe


def test_a_pooled_prefill_fleet_never_queues_more_than_private_pairs():
    p = trade.prefill_pooling()
    assert all(a <= b * 1.02 for a, b in zip(p["pooled_p90_ms"], p["private_p90_ms"]))
    assert p["pooled_p90_ms"][-1] < 0.8 * p["private_p90_ms"][-1]


def test_the_interference_tax_grows_faster_than_the_toll():
    linear = econ.ledger_sweep(LLAMA_8B, 100, prefill_tokens_per_s=2048 / 0.205)
    assert linear["tax_s"] == pytest.approx(
        linear["prefill_s"]
    )  # the lab's linear model: tax = prefill
    s = econ.ledger_sweep(LLAMA_8B, 100)
    ratio = s["transfer_s"] / s["tax_s"]
    assert ratio[-1] < ratio[3] < ratio[0]  # toll / tax falls as prompts grow
    assert list(s["tax_s"]) == sorted(s["tax_s"])


def test_the_split_pays_in_ttft_at_every_length_on_two_gpus():
    for r in goodput.ttft_by_length(lengths=(512, 4096)):
        assert r["split"]["alone_p50"] > r["colocated"]["alone_p50"]
        assert r["split"]["p50"] > r["colocated"]["p50"]


def test_the_gpu_side_metrics_are_shares_of_the_roofs():
    m = goodput.gpu_side_metrics()
    assert all(0.3 < v < 1.0 for v in m["prefill_mfu"].values())
    shares = list(m["decode_hbm_share"].values())
    assert all(0.3 < v < 1.0 for v in shares) and shares == sorted(shares)


def test_the_1p2d_capture_splits_requests_evenly_and_triples_the_gaps():
    from labs_py.captures.capture import committed

    c = committed()
    one, two = c["pair-1each__mixed"], c["pair-1p2d__mixed"]
    legs = [v for k, v in two["proxy_stats"].items() if k.startswith("decode_legs")]
    assert len(legs) == 2 and legs[0] == legs[1]
    ratio = (
        two["summary"]["stream"]["itl_ms"]["p50"]
        / one["summary"]["stream"]["itl_ms"]["p50"]
    )
    assert 2.5 < ratio < 3.5
