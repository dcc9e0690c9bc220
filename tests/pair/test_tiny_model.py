from hypothesis import given, strategies as st

from labs_py.pair.tiny_model import (TinyModelSpec, kv_block_bytes, kv_blocks_for_prompt, kv_bytes_per_token,
                                     parameter_count, synthetic_corpus)


def test_kv_bytes_of_the_default_model():
    # 2 (K, V) x 4 layers x 2 KV heads x 64 head_dim x 4 bytes (float32)
    assert kv_bytes_per_token() == 4096
    assert kv_block_bytes(32) == 131072  # 128 KiB per 32-token block
    assert kv_bytes_per_token(TinyModelSpec(dtype="bfloat16")) == 2048


def test_parameter_count_matches_the_built_model():
    # 4,198,656 is what transformers reported for the built model (BUILD.json)
    assert parameter_count() == 4_198_656


def test_smoke_payload_reconciles_with_the_measured_nixl_bytes():
    # smoke test prompts 100, 500, 1000, 2000, 300 tokens: NIXL reported 16,384,000 bytes
    blocks = sum(kv_blocks_for_prompt(n, 32) for n in (100, 500, 1000, 2000, 300))
    assert blocks == 125 and blocks * kv_block_bytes(32) == 16_384_000


@given(st.integers(1, 10_000), st.sampled_from([32, 64, 128]))
def test_blocks_cover_the_prompt_with_less_than_one_block_to_spare(n, bs):
    b = kv_blocks_for_prompt(n, bs)
    assert b * bs >= n > (b - 1) * bs


def test_corpus_is_a_function_of_the_seed():
    assert synthetic_corpus(3, n_lines=50) == synthetic_corpus(3, n_lines=50)
    assert synthetic_corpus(3, n_lines=50) != synthetic_corpus(4, n_lines=50)
