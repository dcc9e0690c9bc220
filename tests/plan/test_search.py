"""Stage 2 and the answer: the simulator on the best layouts, the ranking, the verdict, the JSON."""

from __future__ import annotations

import dataclasses
import json

import pytest

from labs_py.plan import plan
from labs_py.plan.search import FINALISTS_PER_KIND, verdict


def test_the_answer_has_what_the_json_promises(chat_plan):
    d = json.loads(json.dumps(chat_plan.to_dict()))
    for key in (
        "configs_evaluated",
        "configs_simulated",
        "seconds",
        "best",
        "best_colocated",
        "best_disaggregated",
        "verdict",
        "finalists",
        "question",
    ):
        assert key in d
    assert (
        d["configs_evaluated"] == 12_558
    )  # every layout of tests/plan/test_space.py, each scored
    assert d["configs_simulated"] == 2 * FINALISTS_PER_KIND
    for key in ("best", "best_colocated", "best_disaggregated"):
        f = d[key]
        assert f["kind"] in ("colocated", "disaggregated")
        assert f["tokens_per_s_per_gpu"] == pytest.approx(
            f["goodput_rps_per_gpu"] * 128
        )
        assert f["goodput_rps_per_gpu"] == pytest.approx(
            f["goodput_rps"] * f["units"] / 8
        )
        assert f["gpus"] * f["units"] <= 8
    assert (
        d["best_colocated"]["kind"] == "colocated"
        and d["best_disaggregated"]["kind"] == "disaggregated"
    )


def test_the_best_is_the_highest_goodput_per_gpu_and_meets_both_slos(chat_plan):
    per_gpu = [f.goodput_rps_per_gpu for f in chat_plan.finalists]
    assert per_gpu == sorted(per_gpu, reverse=True)
    assert chat_plan.best is chat_plan.finalists[0]
    # at its goodput, DistServe's p90 of both latencies is within the SLOs (the simulator measured them)
    for f in chat_plan.finalists:
        assert f.ttft_p90_ms <= 400 * 1.02 and f.tpot_p90_ms <= 20 * 1.02


def test_the_issue_question_is_answered_colocated_with_chunked_prefill(chat_plan):
    """Pinned: Llama-3.1-8B on 8 H100s, 2,048/128, TTFT 400 ms, TPOT 20 ms, vLLM calibration of labs_py/data.

    aiconfigurator 0.12.0 picks 6P TP1 + 1D TP2 at 1,615 tokens/s/GPU over 8 x TP1 at 1,586; the planner,
    which queues prompts behind each other and prices the toll, keeps 8 x TP1 and chunks prompts at 512.
    """
    b = chat_plan.best
    assert b.layout.kind == "colocated" and (
        b.layout.replicas * b.units,
        b.layout.tp,
    ) == (8, 1)
    assert b.layout.chunk_tokens == 512
    assert b.tokens_per_s_per_gpu == pytest.approx(1853, rel=0.05)
    ratio = b.goodput_rps_per_gpu / chat_plan.best_disaggregated.goodput_rps_per_gpu
    assert chat_plan.verdict.startswith(f"Stay colocated: {b.label} gives {ratio:.2f}x")


def test_the_two_stages_agree_within_a_factor_of_two(chat_plan):
    for f in chat_plan.finalists:
        assert 0.5 <= f.goodput_rps / f.screened_rps <= 2.0, f.label


def test_a_slower_link_changes_the_split_not_the_colocated_answer(
    chat_question, chat_plan
):
    slow = plan(
        dataclasses.replace(chat_question, link_gbps=10.0), workers=2, progress=None
    )
    assert slow.best_colocated.goodput_rps == pytest.approx(
        chat_plan.best_colocated.goodput_rps
    )
    fast_split = chat_plan.best_disaggregated.goodput_rps_per_gpu
    assert slow.best_disaggregated.goodput_rps_per_gpu < 0.2 * fast_split
    assert slow.best_disaggregated.layout.link_gbps == 10.0
    # a 10 Gb/s wire takes 215 ms for the 268 MB of KV: more than half the TTFT SLO, so the first token comes from P
    assert slow.best_disaggregated.layout.proxy == "first_token_from_prefill"


def test_a_rate_is_checked_rather_than_searched(chat_question, chat_plan):
    best = chat_plan.best
    ok_rate = 0.5 * best.goodput_rps / best.units
    res = plan(
        dataclasses.replace(chat_question, rate_rps=ok_rate),
        workers=1,
        per_kind=1,
        progress=None,
    )
    assert all(f.goodput_rps == ok_rate for f in res.finalists)


def test_the_verdict_names_the_deciding_term():
    from labs_py.plan.search import Finalist
    from labs_py.plan.space import Layout

    c = Finalist(
        Layout("colocated", replicas=1, tp=1, chunk_tokens=512),
        1.0,
        1.0,
        0,
        0,
        0,
        0,
        "TPOT (decode steps)",
        {"prefill": 50.0, "queue": 10.0},
        128,
        2,
    )
    s = Finalist(
        Layout(
            "disaggregated",
            prefill=1,
            decode=1,
            prefill_tp=1,
            decode_tp=1,
            link_gbps=100,
        ),
        1.0,
        3.0,
        0,
        0,
        0,
        0,
        "TTFT (the KV toll)",
        {"wire": 21.5, "link queue": 2.0},
        128,
        2,
    )
    # per GPU of the 2-GPU cluster: the 1-GPU engine twice, 2 x 1.0 / 2 = 1.0; the split once, 3.0 / 2 = 1.5
    assert verdict(None, c, s).startswith(
        "Split: 1P TP1 + 1D TP1 @ 100 Gb/s, batch 256 gives 1.50x"
    )
    assert "toll of 23.5 ms" in verdict(
        None, c, s
    ) and "TPOT (decode steps)" in verdict(None, c, s)
    assert verdict(None, c, None).startswith("Stay colocated: no split meets the SLOs")
    assert verdict(None, None, s).startswith(
        "Split: no colocated layout meets the SLOs"
    )
