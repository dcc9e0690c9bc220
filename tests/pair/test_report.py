import pytest

from labs_py.captures import capture as cap
from labs_py.captures import report


def _rec(i, group, prompt, times):
    return {
        "id": f"r{i}",
        "group": group,
        "prompt_tokens": prompt,
        "max_tokens": len(times),
        "start_s": 0.0,
        "token_times_s": times,
        "token_counts": [1] * len(times),
        "output_token_ids": [1] * len(times),
        "status": "ok",
        "error": None,
    }


def _cap(label, reqs, metrics=None):
    return cap.new_capture(
        label=label,
        kind="mixed",
        description="d",
        command="c",
        config={"block_size_tokens": 32},
        workload={},
        requests=reqs,
        metrics=metrics or {},
    )


def test_itl_tail_ratio():
    spiky = [_rec(0, "stream", 64, [0.1, 0.11, 0.12, 0.52, 0.53])]  # one 400 ms stall
    smooth = [_rec(0, "stream", 64, [0.3, 0.31, 0.32, 0.33, 0.34])]
    r = report.itl_tail_ratio(_cap("s", spiky), _cap("p", smooth))
    assert r["single_itl_p99_ms"] == pytest.approx(388.3, rel=1e-3)
    assert r["pair_itl_p99_ms"] == pytest.approx(10.0)
    assert r["itl_p99_ratio_single_over_pair"] == pytest.approx(38.83, rel=1e-3)


def test_ttft_toll_per_length_and_fit():
    single = [
        _rec(i, "sweep", n, [n / 1000.0, n / 1000.0 + 0.01])
        for i, n in enumerate([100, 1000, 2000])
    ]
    pair = [
        _rec(i, "sweep", n, [n / 1000.0 + 0.1 + n / 10000.0, 1.0 + n])
        for i, n in enumerate([100, 1000, 2000])
    ]
    t = report.ttft_toll(_cap("s", single), _cap("p", pair))
    assert t["toll_ms"][1000] == pytest.approx(200.0)
    assert t["toll_fit_ms_per_token"] == pytest.approx(0.1)
    assert t["toll_fit_intercept_ms"] == pytest.approx(100.0)


def test_payload_and_link_speed():
    reqs = [
        _rec(0, "x", 100, [0.1, 0.2]),
        _rec(1, "x", 2000, [0.1, 0.2]),
    ]  # 4 + 63 blocks
    delta = {
        "nixl_bytes_transferred": 67 * 131072.0,
        "nixl_transfers": 2.0,
        "nixl_xfer_time_s": 0.01,
    }
    c = _cap("pair-x", reqs, {"decode0": {"before": {}, "after": {}, "delta": delta}})
    p = report.payload_check(c)
    assert (
        p["blocks"] == 67
        and p["expected_bytes"] == 67 * 131072
        and p["relative_error"] == 0.0
    )
    link = report.link_speed(c)
    assert link["gbytes_per_s"] == pytest.approx(67 * 131072 / 0.01 / 1e9)
    assert link["gbps"] == pytest.approx(8 * link["gbytes_per_s"])


def test_toll_reconciliation_splits_the_pair_ttft_into_prefill_leg_and_decode_part():
    from labs_py.captures import reconcile
    from labs_py.captures.tiny_model import TinyModelSpec, kv_bytes_per_token

    lengths = [128, 1024, 2048]
    single = [_rec(i, "sweep", n, [n / 10000.0, 1.0]) for i, n in enumerate(lengths)]
    pair = []
    for i, n in enumerate(lengths):
        r = _rec(
            i, "sweep", n, [n / 10000.0 + 0.020 + n * 3e-6, 1.0]
        )  # decode part 20 ms + 3 us/token
        r["routed"] = {
            "X-Pair-Prefill-Leg-Ms": str(n / 10.0)
        }  # the prefill leg equals the single's TTFT
        pair.append(r)
    per_token = kv_bytes_per_token(TinyModelSpec())
    nbytes = sum(per_token * n for n in lengths)
    delta = {
        "nixl_bytes_transferred": float(nbytes),
        "nixl_transfers": 3.0,
        "nixl_xfer_time_s": nbytes * 8 / 10e9,
    }
    p = _cap("pair", pair, {"decode0": {"before": {}, "after": {}, "delta": delta}})
    p["model"] = {"spec": TinyModelSpec().to_dict()}
    t = reconcile.toll_reconciliation(_cap("single", single), p)
    assert t["link_gbps_measured"] == pytest.approx(10.0)
    assert t["wire_ms"][2048] == pytest.approx(2048 * per_token * 8 / 10e9 * 1e3)
    assert t["decode_part_ms"][1024] == pytest.approx(20.0 + 1024 * 3e-3)
    assert t["decode_part_per_token_ms"] == pytest.approx(3e-3)
    assert t["toll_ms"][128] == pytest.approx(
        t["decode_part_ms"][128]
    )  # leg == single TTFT, so toll == decode part
    assert t["prefill_leg_ms"][2048] == pytest.approx(204.8)
    assert t["wire_share_of_decode_part"][2048] == pytest.approx(
        t["wire_ms"][2048] / t["decode_part_ms"][2048]
    )


def test_pair_and_single_return_the_same_tokens_in_every_committed_workload():
    from labs_py.captures.capture import committed
    from labs_py.captures.report import identical_outputs

    caps = committed()
    for single, pair in (
        ("single-2core__sweep", "pair-1each__sweep"),
        ("single-2core__mixed", "pair-1each__mixed"),
        ("single-2core__mixed", "pair-1p2d__mixed"),
        ("single-2core__rate", "pair-1each__rate"),
    ):
        r = identical_outputs(caps[single], caps[pair])
        assert (
            r["requests"] == len(caps[pair]["requests"])
            and r["identical"] == r["requests"]
        ), (single, pair, r)
        assert r["first_difference"] is None and r["tokens"] > 0


def test_a_single_changed_token_is_found_and_located():
    import copy

    from labs_py.captures.capture import committed
    from labs_py.captures.report import identical_outputs

    a = committed()["pair-1each__sweep"]
    b = copy.deepcopy(a)
    ok = [r for r in b["requests"] if r["status"] == "ok"]
    ok[3]["output_token_ids"][5] += 1
    r = identical_outputs(a, b)
    assert r["identical"] == r["requests"] - 1 and r["first_difference"] == (
        ok[3]["id"],
        5,
    )


def test_the_run_to_run_repeats_are_committed_and_clean():
    """The chapter's run-to-run reading comes from committed repeats, each made on a quiet machine."""
    from labs_py.captures.capture import committed
    from labs_py.captures.report import run_to_run

    caps = committed()
    r = run_to_run(caps)
    p99 = {}
    for setup, v in r["setups"].items():
        labels = [run["label"] for run in v["runs"]]
        assert labels == [setup, f"{setup}__repeat1", f"{setup}__repeat2"]
        for lab in labels:
            during = caps[lab]["contention"]["during_run"]
            assert 0 <= during["foreign_cores"] < 0.1 and during["our_cores"] > 0, lab
        p99[setup] = [caps[lab]["summary"]["stream"]["itl_ms"]["p99"] for lab in labels]
    single, pair = p99["single-2core__mixed"], p99["pair-1each__mixed"]
    ratios = [s / q for s in single for q in pair]
    assert r["itl_p99_ratio_range"] == pytest.approx((min(ratios), max(ratios)))
    same_day = [single[i] / pair[i] for i in range(3)]
    assert all(5 < x < 20 for x in same_day)  # "about ten", run by run
