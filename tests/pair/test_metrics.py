import pytest

from labs_py.captures import metrics

PAGE = """# HELP vllm:prompt_tokens_by_source_total Number of prompt tokens by source.
# TYPE vllm:prompt_tokens_by_source_total counter
vllm:prompt_tokens_by_source_total{engine="0",model_name="tiny-qwen2",source="local_compute"} %(local)s
vllm:prompt_tokens_by_source_total{engine="0",model_name="tiny-qwen2",source="local_cache_hit"} 0.0
vllm:prompt_tokens_by_source_total{engine="0",model_name="tiny-qwen2",source="external_kv_transfer"} %(ext)s
vllm:prompt_tokens_total{engine="0",model_name="tiny-qwen2"} %(total)s
vllm:nixl_xfer_time_seconds_count{engine="0",model_name="tiny-qwen2"} %(n)s
vllm:nixl_xfer_time_seconds_sum{engine="0",model_name="tiny-qwen2"} 0.05
vllm:nixl_bytes_transferred_sum{engine="0",model_name="tiny-qwen2"} %(bytes)s
vllm:nixl_num_kv_expired_reqs_total{engine="0",model_name="tiny-qwen2"} 0.0
vllm:kv_cache_usage_perc{engine="0",model_name="tiny-qwen2"} 0.25
"""


def page(local=0.0, ext=0.0, n=0.0, nbytes=0.0):
    return PAGE % {
        "local": local,
        "ext": ext,
        "total": local + ext,
        "n": n,
        "bytes": nbytes,
    }


def test_parse_and_counters():
    c = metrics.pair_counters(page(local=5, ext=3900, n=5, nbytes=16384000))
    assert c["prompt_tokens_local_compute"] == 5
    assert c["prompt_tokens_external_kv_transfer"] == 3900
    assert c["nixl_transfers"] == 5 and c["nixl_bytes_transferred"] == 16384000
    assert c["kv_cache_usage_perc"] == 0.25


def test_proof_passes_when_all_prompt_tokens_came_over_the_connector():
    before = metrics.pair_counters(page(ext=100, n=1, nbytes=4096))
    after = metrics.pair_counters(page(ext=3000, n=3, nbytes=12_000_000))
    ev = metrics.assert_decode_did_not_prefill(metrics.delta(before, after), 2900)
    assert ev["external_kv_transfer_tokens"] == 2900 and ev["local_compute_tokens"] == 0


def test_proof_fails_on_a_silent_reprefill():
    # the proxy forgot kv_transfer_params: output fine, but decode computed the prompt itself
    d = metrics.delta(
        metrics.pair_counters(page()), metrics.pair_counters(page(local=2900))
    )
    with pytest.raises(
        metrics.ReprefillDetected, match="prefilled 2900 prompt tokens itself"
    ):
        metrics.assert_decode_did_not_prefill(d, 2900)


def test_proof_fails_on_a_partial_transfer():
    d = metrics.delta(
        metrics.pair_counters(page()), metrics.pair_counters(page(ext=2000))
    )
    with pytest.raises(metrics.ReprefillDetected, match="expected 2900"):
        metrics.assert_decode_did_not_prefill(d, 2900)


def test_gauges_keep_their_last_value_in_a_delta():
    d = metrics.delta(metrics.pair_counters(page()), metrics.pair_counters(page()))
    assert d["kv_cache_usage_perc"] == 0.25
