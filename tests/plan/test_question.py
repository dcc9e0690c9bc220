"""The question refuses what it cannot answer, naming the value and the unit it expected."""

from __future__ import annotations

import dataclasses

import pytest

from labs_py.defaults import H100_SXM, LLAMA_8B, LLAMA_70B, LLAMA_405B
from labs_py.models import get_model
from labs_py.plan import Question, plan
from labs_py.plan.question import DEFAULT_LINKS_GBPS

from .conftest import CHAT


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("gpus", 0, "GPUs"),
        ("gpus", 2.5, "GPUs"),
        ("isl", -1, "tokens"),
        ("osl", 1, "at least 2 tokens"),
        ("ttft_ms", 0, "ms"),
        ("tpot_ms", -5, "ms"),
        ("link_gbps", 0, "Gb/s"),
        ("rate_rps", -1, "requests per second"),
        ("isl_sigma", -0.1, "log-space"),
    ],
)
def test_bad_values_are_named_with_their_unit(field, value, words):
    with pytest.raises((ValueError, TypeError)) as e:
        Question(**{**CHAT, field: value})
    assert field in str(e.value) and words in str(e.value)


def test_unknown_model_and_gpu_are_refused():
    with pytest.raises((KeyError, ValueError), match="no-such-model"):
        Question(**{**CHAT, "model": "no-such-model"})
    with pytest.raises((KeyError, ValueError), match="Z9000"):
        Question(**{**CHAT, "gpu": "Z9000"})


def test_short_names_resolve_to_catalog_ids():
    q = Question(**{**CHAT, "model": get_model(LLAMA_8B).short_name})
    assert q.model == LLAMA_8B and q.gpu == H100_SXM


def test_links_default_to_three_fabrics_or_the_one_asked():
    q = Question(**CHAT)
    assert q.links_gbps == DEFAULT_LINKS_GBPS == (100.0, 400.0, 3600.0)
    assert dataclasses.replace(q, link_gbps=25).links_gbps == (25.0,)


def test_a_model_that_needs_more_gpus_than_given_is_refused():
    # 70B in bf16 is about 141 GB of weights: one 80 GB H100 cannot hold it, two can
    q = Question(**{**CHAT, "model": LLAMA_70B, "gpus": 1})
    with pytest.raises(
        ValueError,
        match=r"fits no layout within 1 x H100-SXM: one engine needs at least 2 GPUs",
    ):
        plan(q, workers=1, progress=None)


def test_a_model_that_fits_no_engine_at_all_is_refused():
    # 405B in bf16 is about 810 GB: more than 8 H100s, and 16 do not split its 8 KV heads evenly
    q = Question(**{**CHAT, "model": LLAMA_405B, "gpus": 32})
    with pytest.raises(
        ValueError,
        match=r"fits no layout within 32 x H100-SXM: .*no tensor-parallel degree",
    ):
        plan(q, workers=1, progress=None)


def test_slos_no_layout_meets_name_the_closest_and_the_miss():
    q = Question(**{**CHAT, "ttft_ms": 1, "tpot_ms": 1})
    with pytest.raises(ValueError) as e:
        plan(q, workers=1, progress=None)
    msg = str(e.value)
    assert "no layout within 8 x H100-SXM meets TTFT <= 1 ms and TPOT <= 1 ms" in msg
    assert "the closest," in msg and "x the SLO it misses most" in msg
    miss = float(msg.split("(")[-1].split("x the SLO")[0])
    assert miss > 1  # it does miss, by more than nothing
