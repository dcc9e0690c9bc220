"""The transformer: fixed-order kernels, paged attention against a dense reference, batch invariance."""

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from labs_py.engine import (
    Engine,
    SamplingParams,
    TinyConfig,
    TinyModel,
    dense_reference_logits,
)
from labs_py.engine.kvcache import PagedKVCache
from labs_py.engine.model import (
    TOY_SHAPE,
    Chunk,
    apply_rope,
    rope_tables,
    seq_matmul,
    seq_matmul_loop,
    seq_sum,
)
from tests.engine.cases import examples, record

MODEL = TinyModel()


def _loop_sum(x, axis):
    a = np.moveaxis(x, axis, 0)
    out = a[0].copy()
    for j in range(1, a.shape[0]):
        out = out + a[j]
    return out


@pytest.mark.parametrize(
    "shape, axis",
    [
        ((7,), 0),
        ((300,), 0),
        ((1, 300), 1),
        ((300, 1), 0),
        ((4, 1, 257), -1),
        ((16, 4, 3, 50), 0),
        ((3, 129), 1),
        ((2, 3, 1), 1),
    ],
)
def test_seq_sum_adds_left_to_right_bit_for_bit(shape, axis):
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32) * 1e3
    assert np.array_equal(seq_sum(x, axis), _loop_sum(x, axis)), (
        "numpy must not regroup the additions"
    )


@pytest.mark.parametrize(
    "n, k, m",
    [
        (1, 64, 128),
        (3, 64, 256),
        (40, 64, 256),
        (200, 128, 64),
        (1, 2, 2),
        (513, 64, 64),
    ],
)
def test_seq_matmul_is_the_explicit_loop_bit_for_bit(n, k, m):
    rng = np.random.default_rng(2)
    x, w = (
        rng.standard_normal((n, k)).astype(np.float32),
        rng.standard_normal((k, m)).astype(np.float32),
    )
    assert np.array_equal(seq_matmul(x, w), seq_matmul_loop(x, w))
    assert np.allclose(seq_matmul(x, w), x.astype(np.float64) @ w, rtol=1e-4, atol=1e-4)


def test_seq_matmul_rows_do_not_depend_on_the_batch():
    rng = np.random.default_rng(3)
    x, w = (
        rng.standard_normal((300, 64)).astype(np.float32),
        rng.standard_normal((64, 256)).astype(np.float32),
    )
    full = seq_matmul(x, w)
    for n in (1, 2, 7, 64, 299):
        assert np.array_equal(seq_matmul(x[:n], w), full[:n])


def test_rope_makes_scores_depend_on_relative_position_only():
    cos, sin = rope_tables(16, 64, 10000.0)
    rng = np.random.default_rng(4)
    q, k = rng.standard_normal((1, 1, 16)), rng.standard_normal((1, 1, 16))
    s1 = (
        apply_rope(q, np.array([10]), cos, sin) * apply_rope(k, np.array([3]), cos, sin)
    ).sum()
    s2 = (
        apply_rope(q, np.array([40]), cos, sin)
        * apply_rope(k, np.array([33]), cos, sin)
    ).sum()
    assert s1 == pytest.approx(s2, rel=1e-5)


def _engine_logits(model, tokens, block_size, chunk_size):
    """Logits at the end of every chunk, from the paged path, through a scattered block table."""
    c = model.config
    n = len(tokens)
    nblocks = -(-n // block_size)
    pool = PagedKVCache(
        num_layers=c.num_layers,
        num_kv_heads=c.num_kv_heads,
        head_dim=c.head_dim,
        num_blocks=2 * nblocks + 1,
        block_size_tokens=block_size,
    )
    table = tuple(
        range(2 * nblocks, 0, -2)
    )  # physical ids reversed and gapped on purpose
    out = []
    for start in range(0, n, chunk_size):
        end = min(n, start + chunk_size)
        out.append(
            (
                end - 1,
                model.forward([Chunk(np.array(tokens[start:end]), start, table)], pool)[
                    0
                ],
            )
        )
    return out


@given(
    tokens=st.lists(st.integers(0, 255), min_size=1, max_size=40),
    block_size=st.sampled_from([1, 2, 3, 5, 16]),
    chunk=st.integers(1, 16),
)
@examples(40)
def test_paged_attention_matches_the_dense_reference(tokens, block_size, chunk):
    record("paged attention vs dense reference")
    dense = dense_reference_logits(MODEL, tokens)
    for pos, lg in _engine_logits(MODEL, tokens, block_size, chunk):
        assert np.allclose(lg, dense[pos], rtol=2e-4, atol=2e-4), (
            f"position {pos}: paged and dense logits differ"
        )


def test_mha_and_mqa_configs_also_match_the_dense_reference():
    for kv_heads in (
        4,
        1,
    ):  # MHA (every query head has its own KV head) and MQA (one shared)
        model = TinyModel(
            TinyConfig(shape=replace(TOY_SHAPE, num_key_value_heads=kv_heads), seed=5)
        )
        tokens = list(range(3, 30, 2))
        dense = dense_reference_logits(model, tokens)
        for pos, lg in _engine_logits(model, tokens, 4, 5):
            assert np.allclose(lg, dense[pos], rtol=2e-4, atol=2e-4)


def test_greedy_decode_equals_argmax_of_the_dense_reference():
    prompt = [17, 4, 99, 250, 3, 3, 61]
    e = Engine(MODEL, num_blocks=8, block_size_tokens=4)
    e.add_request(prompt, SamplingParams(max_new_tokens=8), "r")
    tokens = e.run()["r"]
    dense = dense_reference_logits(MODEL, prompt + list(tokens[:-1]))
    for i, t in enumerate(tokens):
        row = dense[len(prompt) - 1 + i]
        top2 = np.sort(row)[-2:]
        if (
            top2[1] - top2[0] > 1e-3
        ):  # skip near-ties, where float32 vs float64 may legitimately differ
            assert t == int(np.argmax(row))


@given(
    tokens=st.lists(st.integers(0, 255), min_size=2, max_size=48),
    split=st.integers(1, 47),
    block_size=st.sampled_from([1, 4, 7, 16]),
)
@examples(40)
def test_prefill_in_chunks_writes_bitwise_the_same_kv_as_one_chunk(
    tokens, split, block_size
):
    """Batch invariance, the property migration's proof rests on: how tokens are grouped never shows."""
    record("chunked prefill is bitwise one prefill")
    split = min(split, len(tokens) - 1)
    c = MODEL.config
    pools, logits = [], []
    for chunks in ([tokens], [tokens[:split], tokens[split:]], [[t] for t in tokens]):
        pool = PagedKVCache(
            num_layers=c.num_layers,
            num_kv_heads=c.num_kv_heads,
            head_dim=c.head_dim,
            num_blocks=len(tokens) // block_size + 1,
            block_size_tokens=block_size,
        )
        table = tuple(pool.allocator.allocate_tokens("r", len(tokens)))
        start, lg = 0, None
        for ch in chunks:
            lg = MODEL.forward([Chunk(np.array(ch), start, table)], pool)[0]
            start += len(ch)
        pools.append(pool.read_kv(table, len(tokens)))
        logits.append(lg)
    for kv, lg in zip(pools[1:], logits[1:]):
        assert np.array_equal(kv, pools[0]) and np.array_equal(lg, logits[0])


def test_a_request_computes_the_same_bits_alone_and_in_a_crowd():
    rng = np.random.default_rng(6)
    target = rng.integers(0, 256, size=19).tolist()
    alone = Engine(MODEL, num_blocks=16, block_size_tokens=4)
    alone.add_request(target, SamplingParams(max_new_tokens=6), "t")
    crowd = Engine(MODEL, num_blocks=64, block_size_tokens=4, max_batch_tokens=40)
    for i in range(5):
        crowd.add_request(
            rng.integers(0, 256, size=int(rng.integers(1, 30))).tolist(),
            SamplingParams(max_new_tokens=9),
            f"o{i}",
        )
    crowd.add_request(target, SamplingParams(max_new_tokens=6), "t")
    assert alone.run()["t"] == crowd.run()["t"]


def test_config_rejects_heads_that_do_not_share_evenly():
    with pytest.raises(ValueError, match="multiple of num_key_value_heads"):
        replace(TOY_SHAPE, num_attention_heads=4, num_key_value_heads=3)
    with pytest.raises(ValueError, match="even"):
        TinyConfig(shape=replace(TOY_SHAPE, explicit_head_dim=15))
    assert TinyConfig().kv_bytes_per_token == 512


def test_the_toy_shape_is_a_model_spec_with_the_catalog_formula():
    """One shape type: the numpy engine's KV bytes come from ModelSpec.kv_bytes_per_token, like any model's."""
    assert (
        TinyConfig().shape.kv_bytes_per_token("fp32")
        == 2 * 2 * 2 * 16 * 4
        == TinyConfig().kv_bytes_per_token
    )
