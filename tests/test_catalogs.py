"""The catalogs: shapes, parameter counts and unit conversions, checked against published figures."""

import pytest

from labs_py import gpus, links, models
from labs_py.core.catalog import UnknownEntryError
from labs_py.core.validate import UnitError

REQUIRED = [
    "Qwen/Qwen2.5-0.5B-Instruct",
    "Qwen/Qwen2.5-7B-Instruct",
    "meta-llama/Llama-3.1-8B-Instruct",
    "meta-llama/Llama-3.1-70B-Instruct",
    "meta-llama/Llama-3.1-405B",
    "mistralai/Mixtral-8x7B-v0.1",
    "Qwen/Qwen3-32B",
    "deepseek-ai/DeepSeek-V3",
]


@pytest.mark.parametrize("model_id", REQUIRED)
def test_catalog_has_model_with_a_source(model_id):
    spec = models.get_model(model_id)
    assert spec.source["url"].startswith("https://huggingface.co/")


@pytest.mark.parametrize(
    "model_id, kib_per_token",
    [
        ("meta-llama/Llama-3.1-8B-Instruct", 128),  # 2 * 32 * 8 * 128 * 2 B
        ("meta-llama/Llama-3.1-70B-Instruct", 320),
        ("meta-llama/Llama-3.1-405B", 504),
        ("Qwen/Qwen2.5-0.5B-Instruct", 12),  # head_dim 896/14 = 64
        ("Qwen/Qwen2.5-7B-Instruct", 56),
        ("mistralai/Mixtral-8x7B-v0.1", 128),
        ("Qwen/Qwen3-32B", 256),  # explicit head_dim 128 (not 5120/64 = 80)
        (
            "deepseek-ai/DeepSeek-V3",
            61 * 576 * 2 / 1024,
        ),  # MLA: latent 512 + rope 64 per layer
    ],
)
def test_kv_bytes_per_token(model_id, kib_per_token):
    assert models.kv_bytes_per_token(model_id) == kib_per_token * 1024
    assert (
        models.kv_bytes_per_token(model_id, kv_dtype="fp8") * 2 == kib_per_token * 1024
    )


def test_explicit_head_dim_wins():
    q = models.get_model("Qwen/Qwen3-32B")
    assert q.hidden_size // q.num_attention_heads == 80 and q.head_dim == 128


@pytest.mark.parametrize(
    "model_id, total_b, active_b",
    [  # published parameter counts, in billions
        ("meta-llama/Llama-3.1-8B-Instruct", 8.03, 8.03),
        ("meta-llama/Llama-3.1-70B-Instruct", 70.6, 70.6),
        ("meta-llama/Llama-3.1-405B", 405.9, 405.9),
        ("Qwen/Qwen2.5-0.5B-Instruct", 0.49, 0.49),
        ("Qwen/Qwen2.5-7B-Instruct", 7.61, 7.61),
        ("mistralai/Mixtral-8x7B-v0.1", 46.7, 12.9),
        ("Qwen/Qwen3-32B", 32.8, 32.8),
        ("deepseek-ai/DeepSeek-V3", 671, 37),
    ],
)
def test_parameter_counts_match_published_within_2_percent(model_id, total_b, active_b):
    spec = models.get_model(model_id)
    assert spec.params_total() / 1e9 == pytest.approx(total_b, rel=0.02)
    assert spec.params_active() / 1e9 == pytest.approx(active_b, rel=0.02)


def test_aliases_and_short_names_resolve():
    assert (
        models.get_model("meta-llama/Llama-3.1-8B").id
        == "meta-llama/Llama-3.1-8B-Instruct"
    )
    assert models.get_model("Llama-3.1-8B").id == "meta-llama/Llama-3.1-8B-Instruct"


def test_unknown_model_lists_the_catalog():
    with pytest.raises(UnknownEntryError, match="unknown model 'gpt-5'.*Llama-3.1-8B"):
        models.kv_bytes_per_token("gpt-5")


def test_unknown_kv_dtype_names_the_choices():
    with pytest.raises(ValueError, match="'int3'.*'bf16'.*'fp8'"):
        models.kv_bytes_per_token("Qwen/Qwen3-32B", kv_dtype="int3")


@pytest.mark.parametrize(
    "value, unit, direction, gbps",
    [
        (10, "Gb/s", "per direction", 10),
        (31.5, "GB/s", "per direction", 252),
        (900, "GB/s", "bidirectional", 3600),
        (0.4, "Tb/s", "per direction", 400),
    ],
)
def test_unit_conversion(value, unit, direction, gbps):
    assert links.to_gbps(value, unit, direction) == pytest.approx(gbps)


def test_nvlink_quote_is_halved_per_direction():
    nv = links.get_link("nvlink4")
    assert nv.quote == "900 GB/s bidirectional" and nv.gbps == 3600


def test_wrong_link_unit_is_a_unit_error():
    with pytest.raises(UnitError, match="'Gbps'.*Gb/s"):
        links.to_gbps(200, "Gbps")
    with pytest.raises(ValueError, match="-1"):
        links.to_gbps(-1, "Gb/s")


def test_links_sorted_slowest_first():
    speeds = [link.gbps for link in links.all_links()]
    assert speeds == sorted(speeds) and speeds[0] == 10


def test_gpu_ridge_points():
    h100 = gpus.get_gpu("H100-SXM")
    assert h100.ridge_flops_per_byte == pytest.approx(989e12 / 3.35e12)
    with pytest.raises(UnknownEntryError, match="'B200'"):
        gpus.get_gpu("B200")
