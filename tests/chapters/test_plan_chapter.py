"""The chapter "Plan a deployment": its explorable's answers, the Week 16 answers, the disagreements."""

from __future__ import annotations

import pytest

from labs_py.chapters.plan_a_deployment import experiment, panels
from labs_py.defaults import LLAMA_8B, LLAMA_70B

CHAT, RAG, STREAM = experiment.WORKLOADS


def test_the_explorable_lists_the_best_distinct_shapes_of_each_kind_best_first():
    ans = experiment.screen_answer(LLAMA_8B, 8, CHAT, 12, 400.0)
    assert ans["error"] is None and ans["screened"] == 4606
    for kind in ("colocated", "disaggregated"):
        rows = ans[kind]
        assert 1 <= len(rows) <= experiment.TOP
        per_gpu = [r["goodput_per_gpu"] for r in rows]
        assert per_gpu == sorted(per_gpu, reverse=True)
        assert len({r["label"] for r in rows}) == len(rows)
    assert all(r["toll_ms"] == 0 for r in ans["colocated"])
    assert all(r["toll_ms"] > 0 for r in ans["disaggregated"])


def test_the_readout_keeps_its_keys_when_nothing_meets_the_slos():
    """The static page swaps readout values, so every combination must have the same keys."""
    ok = panels._readout(LLAMA_8B, 8, CHAT, 12, 400.0)
    none = panels._readout(LLAMA_70B, 4, RAG, 12, 400.0)
    assert list(ok) == list(none)
    assert (
        none["best split"] == "none meets the SLOs"
        and "no layout within 4 x H100-SXM" in none["verdict"]
    )


def test_a_slow_link_turns_the_explorables_verdict():
    fast = panels._readout(LLAMA_8B, 8, CHAT, 12, 400.0)["verdict"]
    slow = panels._readout(LLAMA_8B, 8, CHAT, 12, 25.0)["verdict"]
    assert fast.startswith("split") and slow.startswith("stay colocated")


def test_the_70b_wire_never_reaches_the_prefill_over_100gbe():
    s = experiment.seventy_b()
    assert (
        s["kv_bytes_per_token"] == 80 * 8 * 128 * 2 * 2
    )  # layers x KV heads x dims x (K, V) x bf16
    assert s["rows"][0]["kv_gb"] == pytest.approx(4096 * 327_680 / 1e9)
    assert s["max_ratio"] < 1 and 1000 < s["max_ratio_at"] < 10_000


def test_the_pd_ratio_follows_the_workloads_balance():
    r = experiment.pd_ratios()
    stream, prompt = (
        r["streaming chat (256 in, 1,024 out)"],
        r["prompt-heavy (4,096 in, 128 out)"],
    )
    best = {
        name: max(arms, key=lambda k: arms[k]["finalist"].goodput_rps_per_gpu)
        for name, arms in r.items()
    }
    assert best["streaming chat (256 in, 1,024 out)"] == "1P:2D"
    assert best["prompt-heavy (4,096 in, 128 out)"] == "2P:1D"
    assert (
        stream["1P:2D"]["saturated_tokens_per_s"]
        > stream["1P:1D"]["saturated_tokens_per_s"]
    )
    assert (
        prompt["2P:1D"]["saturated_tokens_per_s"]
        > prompt["1P:2D"]["saturated_tokens_per_s"]
    )


def test_the_disagreements_with_aiconfigurator_are_the_two_8b_verdicts():
    d = experiment.disagreements()
    assert [x["question"] for x in d] == ["8b chat", "8b long"]
    for x in d:
        assert x["theirs_kind"] == "disaggregated" and x["ours_kind"] == "colocated"
        assert (
            0.9 <= x["their_choice_ratio"] <= 1.1
            and 0.9 <= x["their_same_kind_ratio"] <= 1.1
        )
        assert x["their_same_kind_limit"].startswith(
            "TPOT (decode steps, with prefill chunks"
        )
        assert x["ours_tokens"] > x["their_same_kind_tokens"]


def test_the_committed_bench_meets_the_issue_goals():
    """At least aiconfigurator's configurations, in at most half its wall time, every same-layout ratio in 0.7-1.4."""
    rows = [r for r in experiment.bench()["results"] if "aiconfigurator" in r]
    assert len(rows) >= 6
    for r in rows:
        o, a = r["ours"], r["aiconfigurator"]
        assert o["configs_evaluated"] >= a["configs_evaluated"]
        assert o["seconds"] <= 0.5 * a["seconds"]
        for s in r["same_layout"].values():
            assert 0.7 <= s["ratio"] <= 1.4, (r["question"], s)
