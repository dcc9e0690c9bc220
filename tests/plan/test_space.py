"""Every layout within the GPUs, each counted once, none over budget."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from labs_py.defaults import H100_SXM, LLAMA_8B
from labs_py.plan import Layout, Question
from labs_py.plan.space import (
    CHUNKS,
    MAX_BATCHES,
    PREFILL_PROMPTS_PER_STEP,
    PROXY_MODES,
    enumerate_layouts,
)

from .conftest import CHAT


def _count_by_hand(gpus: int, tps: list[int], links: int) -> int:
    """Colocated: replicas x chunk x batch per TP; split: every (x, y) with x*ptp + y*dtp <= gpus, times settings."""
    colocated = sum(gpus // t for t in tps) * len(CHUNKS) * len(MAX_BATCHES)
    pairs = sum(
        1
        for ptp, dtp in itertools.product(tps, tps)
        for x in range(1, gpus + 1)
        for y in range(1, gpus + 1)
        if x * ptp + y * dtp <= gpus
    )
    return colocated + pairs * links * len(MAX_BATCHES) * len(
        PREFILL_PROMPTS_PER_STEP
    ) * len(PROXY_MODES)


def test_the_issue_question_has_twelve_thousand_layouts():
    layouts = enumerate_layouts(Question(**CHAT), [1, 2, 4, 8])
    assert len(layouts) == _count_by_hand(8, [1, 2, 4, 8], 3) == 12_558
    assert len(set(layouts)) == len(layouts)  # each configuration once


@settings(max_examples=25, deadline=None)
@given(
    gpus=st.integers(1, 12),
    tps=st.sets(st.sampled_from([1, 2, 4, 8]), min_size=1),
    link=st.none() | st.just(50.0),
)
def test_no_layout_exceeds_the_gpus_and_the_count_is_exact(gpus, tps, link):
    q = Question(LLAMA_8B, H100_SXM, gpus, 1024, 64, 500, 30, link_gbps=link)
    tps = sorted(tps)
    usable = [t for t in tps if t <= gpus]
    if not usable:
        return
    layouts = enumerate_layouts(q, tps)
    assert all(0 < L.gpus <= gpus for L in layouts)
    assert all(
        L.link_gbps in q.links_gbps for L in layouts if L.kind == "disaggregated"
    )
    assert len(layouts) == _count_by_hand(gpus, usable, len(q.links_gbps))


def test_labels_and_dicts_say_what_the_layout_is():
    c = Layout("colocated", replicas=8, tp=1, chunk_tokens=512, max_batch=32)
    assert c.label == "8x TP1 colocated, chunk 512, batch 32" and c.gpus == 8
    d = Layout(
        "disaggregated",
        prefill=6,
        decode=1,
        prefill_tp=1,
        decode_tp=2,
        link_gbps=400,
        max_batch=256,
    )
    assert d.label == "6P TP1 + 1D TP2 @ 400 Gb/s, batch 256" and d.gpus == 8
    assert d.to_dict()["kind"] == "disaggregated" and d.to_dict()["gpus"] == 8
    assert c.to_dict()["chunk_tokens"] == 512 and "link_gbps" not in c.to_dict()


def test_a_layout_becomes_the_simulators_fleet():
    d = Layout(
        "disaggregated",
        prefill=2,
        decode=1,
        prefill_tp=2,
        decode_tp=4,
        link_gbps=100,
        prefill_prompts=4,
    )
    f = d.fleet(2048)
    assert (f.prefill, f.decode, f.prefill_tp, f.decode_tp, f.link_gbps) == (
        2,
        1,
        2,
        4,
        100,
    )
    assert f.prefill_batch_tokens == 4 * 2048
