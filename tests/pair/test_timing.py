import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from labs_py.captures import timing


def _req(times, status="ok", group="g", counts=None):
    return {
        "id": "r",
        "group": group,
        "prompt_tokens": 10,
        "max_tokens": len(times),
        "start_s": 0.0,
        "token_times_s": times,
        "token_counts": counts or [1] * len(times),
        "status": status,
    }


def test_latencies_of_one_request():
    lat = timing.request_latencies_ms(_req([0.5, 0.51, 0.53, 0.56]))
    assert lat["ttft_ms"] == pytest.approx(500)
    assert lat["e2e_ms"] == pytest.approx(560)
    assert lat["itl_ms"] == pytest.approx([10, 20, 30])
    assert lat["second_token_ms"] == pytest.approx(10)
    assert lat["tpot_ms"] == pytest.approx(
        60 / 3
    )  # (E2E - TTFT) / (n - 1), as vllm bench serve


def test_summary_pools_itl_and_counts_failures():
    reqs = [_req([0.1, 0.2, 0.3]), _req([0.2, 0.25]), _req([], status="error")]
    s = timing.summarize_requests(reqs)
    assert (s["requests"], s["completed"], s["failed"]) == (3, 2, 1)
    assert s["itl_ms"]["count"] == 3
    assert s["itl_ms"]["p50"] == pytest.approx(np.percentile([100, 100, 50], 50))
    assert s["ttft_ms"]["p99"] == pytest.approx(np.percentile([100, 200], 99))


def test_by_group():
    reqs = [_req([0.1, 0.2], group="stream"), _req([1.0, 1.01], group="big")]
    s = timing.summarize_by_group(reqs)
    assert set(s) == {"all", "stream", "big"}
    assert s["big"]["ttft_ms"]["p50"] == pytest.approx(1000)


def test_bad_timestamps_are_refused():
    with pytest.raises(ValueError, match="non-decreasing"):
        timing.request_latencies_ms(_req([0.3, 0.2]))
    with pytest.raises(ValueError, match="no token timestamps"):
        timing.request_latencies_ms(_req([]))


@given(st.lists(st.floats(0.0001, 2.0), min_size=2, max_size=60))
def test_invariants(gaps):
    t = np.cumsum(gaps).tolist()
    s = timing.summarize_requests([_req(t)])
    assert s["ttft_ms"]["p50"] <= s["e2e_ms"]["p50"] + 1e-9
    assert s["itl_ms"]["p50"] <= s["itl_ms"]["p99"] + 1e-9
    itl = np.diff(t) * 1e3
    assert (
        itl.min() - 1e-6 <= s["tpot_ms"]["p50"] <= itl.max() + 1e-6
    )  # TPOT is the mean ITL


def test_ratio_refuses_zero():
    with pytest.raises(ValueError):
        timing.ratio(1.0, 0.0)
