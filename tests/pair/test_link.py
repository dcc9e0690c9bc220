"""The link sweep, read from its committed capture: the toll term by term, measured against predicted."""

import pytest

from labs_py import economics as econ
from labs_py.captures import capture as cap
from labs_py.captures import link
from labs_py.defaults import H100_SXM, LLAMA_8B

CAPTURE = cap.CAPTURE_DIR / "pair-netns__link-sweep.json"


@pytest.fixture(scope="module")
def sweep():
    return cap.load_capture(CAPTURE)


@pytest.fixture(scope="module")
def rows(sweep):
    r = link.sweep_rows(sweep)
    print(
        "\n"
        + __import__("labs_py.captures.report", fromlist=["x"]).format_link_sweep(r)
    )
    return r


def test_every_rate_and_prompt_is_there_with_its_repeats(sweep, rows):
    rates, prompts = (
        sweep["workload"]["rates_gbps"],
        sweep["workload"]["prompt_lengths"],
    )
    assert [(r["link_gbps"], r["prompt_tokens"]) for r in rows] == [
        (g, n) for g in rates for n in prompts
    ]
    assert all(r["requests"] == sweep["workload"]["reps"] for r in rows)


def test_the_kv_crossed_the_veth(sweep):
    # the link's own byte counter saw at least the bytes NIXL reports, for every request: not loopback, not shm
    for r in sweep["requests"]:
        if r["group"] == "link-sweep":
            assert r["kv_link_bytes"]["producer_tx"] >= r["nixl"]["bytes"] > 0
            assert (
                r["nixl"]["transfers"] == 1
                and r["engine"]["decode"]["prompt_tokens_local_compute"] == 0
            )


def test_the_wire_matches_the_economics_where_the_link_binds(rows):
    # long prompts on links below the CPU's ceiling: within 10% (TCP framing alone costs ~4.4%)
    bound = [
        r
        for r in rows
        if r["link_gbps"] is not None
        and r["link_gbps"] <= 1
        and r["prompt_tokens"] >= 1024
    ]
    assert len(bound) >= 9
    for r in bound:
        assert abs(r["wire_residual"]) <= 0.10, r


def test_above_the_cpus_ceiling_the_link_no_longer_sets_the_wire(sweep, rows):
    ceiling = link.ucx_ceiling_gbps(sweep)
    assert 1.0 < ceiling < 10.0  # UCX over TCP on 2 busy cores
    ten = [r for r in rows if r["link_gbps"] == 10.0 and r["prompt_tokens"] == 3000][0]
    assert ten["wire_gbps"] < 0.6 * 10.0 and ten["wire_residual"] > 1.0


def test_terms_add_up_to_the_ttft(sweep):
    for r in sweep["requests"]:
        if r["group"] == "link-sweep" and r["status"] == "ok":
            t = r["terms_ms"]
            assert sum(
                t[k]
                for k in (
                    "queue",
                    "prefill",
                    "prefill_overhead",
                    "handshake",
                    "wire",
                    "first_step",
                    "rest",
                )
            ) == pytest.approx(t["ttft"], abs=0.01)
            assert t["wire"] > 0 and t["prefill"] > 0


def test_the_three_verdicts_are_measured(sweep):
    v = link.verdicts(
        sweep, cap.load_capture(cap.CAPTURE_DIR / "single-1core__mixed.json")
    )
    assert (
        v["fast link"]["reason"] == econ.SPLIT_PAYS
        and v["fast link"]["ttft_penalty"] < 0.10
    )
    assert (
        v["slow link"]["reason"] == econ.LINK_TOO_SLOW
        and v["slow link"]["ttft_penalty"] > 1.0
    )
    assert v["no interference"]["reason"] == econ.NO_INTERFERENCE
    for k in ("fast link", "slow link", "no interference"):
        assert v[k]["reason"] == v[k]["predicted_reason"]


def test_short_prompts_pay_the_fixed_overhead(rows):
    short = [r for r in rows if r["prompt_tokens"] == 128]
    assert all(
        r["fixed_overhead_ms"] > r["wire_ms_measured"]
        for r in short
        if (r["link_gbps"] or 99) >= 1
    )


def test_rescaling_to_a_real_model_and_link(sweep):
    r = link.rescale(sweep, LLAMA_8B, H100_SXM, 10.0, 3000)
    assert 0.9 < r["wire_efficiency"] < 1.0
    assert r["wire_ms"] == pytest.approx(
        econ.transfer_seconds(r["payload_bytes"], 10.0 * r["wire_efficiency"]) * 1e3
    )
    assert (
        r["ttft_penalty"] > 1.0
    )  # 375 MiB over 10 GbE: far longer than an H100's prefill
