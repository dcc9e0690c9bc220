from hypothesis import given
from hypothesis import strategies as st

from labs_py.captures.tiny_model import (
    TinyModelSpec,
    kv_block_bytes,
    kv_blocks_for_prompt,
    kv_bytes_per_token,
    parameter_count,
    spec_of,
)
from labs_py.pair.tiny_model import synthetic_corpus


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


def test_the_recipe_reads_back_what_captures_store():
    spec = TinyModelSpec(seed=3)
    assert TinyModelSpec.from_dict(spec.to_dict()) == spec
    assert spec_of({"model": {"spec": spec.to_dict()}}) == spec
    assert (
        spec_of({}) == TinyModelSpec()
    )  # a capture without a model record ran the default
    assert list(spec.to_dict()) == [
        "vocab_size",
        "hidden_size",
        "intermediate_size",
        "num_hidden_layers",
        "num_attention_heads",
        "num_key_value_heads",
        "head_dim",
        "max_position_embeddings",
        "dtype",
        "seed",
        "initializer_range",
    ]


def test_the_shape_is_a_model_spec_with_the_catalog_formula():
    """One shape type: the tiny model's KV bytes come from ModelSpec.kv_bytes_per_token, like any model's."""
    spec = TinyModelSpec()
    assert (
        spec.shape.kv_bytes_per_token("fp32")
        == kv_bytes_per_token(spec)
        == 2 * 4 * 2 * 64 * 4
    )
