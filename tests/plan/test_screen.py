"""Stage 1: the analytic screen's queue, its KV toll, and what each term does to a layout's goodput."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from labs_py.plan import GpuDevice, Layout, Question
from labs_py.plan.screen import Screener, p90_wait_s

from .conftest import CHAT


def _lindley_p90(rho: float, n: int = 120_000, seed: int = 0) -> float:
    """The 90th-percentile wait of an M/D/1 queue with unit service, by simulating it (Lindley's recursion)."""
    gaps = np.random.default_rng(seed).exponential(1 / rho, n)
    w = np.zeros(n)
    for i in range(1, n):
        w[i] = max(0.0, w[i - 1] + 1.0 - gaps[i])
    return float(np.percentile(w, 90))


@pytest.mark.parametrize("rho", [0.3, 0.6, 0.85])
def test_the_p90_wait_matches_a_simulated_md1_queue(rho):
    approx = float(p90_wait_s(np.array([rho]), np.array([1.0]))[0])
    assert approx == pytest.approx(_lindley_p90(rho), rel=0.15)


def test_the_p90_wait_is_zero_when_nine_in_ten_never_wait_and_infinite_at_saturation():
    w = p90_wait_s(np.array([0.05, 0.1, 0.5, 0.99, 1.0, 1.5]), np.full(6, 0.01))
    assert w[0] == 0 and w[1] == 0
    assert 0 < w[2] < w[3] and np.isinf(w[4]) and np.isinf(w[5])


@pytest.fixture(scope="module")
def screener():
    q = Question(**CHAT)
    return Screener(q, GpuDevice(q.model, q.gpu))


def _split(link: float, **kw) -> Layout:
    base = dict(
        prefill=6, decode=1, prefill_tp=1, decode_tp=2, link_gbps=link, max_batch=256
    )
    return Layout("disaggregated", **{**base, **kw})


def test_the_wire_term_is_the_prompts_kv_over_the_link(screener):
    # Llama-3.1-8B: 32 layers x 8 KV heads x 128 dims x 2 (K and V) x 2 bytes = 131,072 B per token;
    # 2,048 tokens = 268,435,456 B = 2,147,483,648 bits; over 100 Gb/s that is 21.47 ms
    sc = screener.score(_split(100))
    assert screener.terms_ms(sc)["wire"] == pytest.approx(21.47, abs=0.01)
    assert screener.terms_ms(screener.score(_split(400)))["wire"] == pytest.approx(
        21.47 / 4, abs=0.01
    )


def test_a_slower_link_costs_a_split_ttft_and_goodput(screener):
    """The toll is in the model: on slower links the same split has a longer TTFT and no more goodput."""
    scores = [screener.score(_split(link)) for link in (3600, 400, 100, 25, 10)]
    goodputs = [s.goodput_rps for s in scores]
    assert goodputs == sorted(goodputs, reverse=True)
    assert (
        goodputs[-1] < 0.5 * goodputs[0]
    )  # at 10 Gb/s the 215 ms wire eats most of the 400 ms TTFT SLO
    assert scores[-1].limit.startswith(("TTFT (the KV toll)", "link saturated"))


def test_where_the_first_token_comes_from_moves_the_toll_from_ttft_to_tpot(screener):
    on_decode = screener.score(_split(25))
    from_prefill = screener.score(_split(25, proxy="first_token_from_prefill"))
    assert from_prefill.ttft_p90_s < on_decode.ttft_p90_s
    assert from_prefill.tpot_s > on_decode.tpot_s


def test_a_colocated_layout_pays_no_toll(screener):
    L = Layout("colocated", replicas=8, tp=1, chunk_tokens=512, max_batch=32)
    fast = screener.score(L)
    slow_q = dataclasses.replace(screener.q, link_gbps=1.0)
    slow = Screener(slow_q, screener.dev).score(L)
    assert fast.goodput_rps == slow.goodput_rps > 0
    assert set(screener.terms_ms(fast)) == {"prefill", "queue"}


def test_goodput_scales_with_replicas_and_stops_at_a_named_term(screener):
    one = screener.score(
        Layout("colocated", replicas=1, tp=1, chunk_tokens=512, max_batch=32)
    )
    eight = screener.score(
        Layout("colocated", replicas=8, tp=1, chunk_tokens=512, max_batch=32)
    )
    assert eight.goodput_rps == pytest.approx(8 * one.goodput_rps)
    assert one.limit in {
        "TTFT (prefill and its queue)",
        "TPOT (decode steps, with prefill chunks in them)",
        "batch limit",
        "KV capacity",
    }


def test_a_tighter_slo_never_raises_goodput():
    q = Question(**CHAT)
    tight = dataclasses.replace(q, tpot_ms=12)
    L = Layout("colocated", replicas=1, tp=1, chunk_tokens=512, max_batch=256)
    loose_g = Screener(q, GpuDevice(q.model, q.gpu)).score(L).goodput_rps
    tight_g = Screener(tight, GpuDevice(q.model, q.gpu)).score(L).goodput_rps
    assert tight_g <= loose_g
