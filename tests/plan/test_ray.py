"""The search fans out over a Ray cluster (here, a local instance) and gets the local answer.

Ray is an optional extra (``requirements-ray.txt``). ``tools/test.sh`` installs it and sets
``LABS_PY_REQUIRE_RAY=1``, so CI runs this test instead of skipping it.
"""

from __future__ import annotations

import dataclasses
import os

import pytest

from labs_py.plan import plan

if os.environ.get("LABS_PY_REQUIRE_RAY") == "1":
    import ray  # noqa: F401  (required: CI must run this test, not skip it)
else:
    pytest.importorskip(
        "ray", reason="the optional Ray extra: pip install -r requirements-ray.txt"
    )


@pytest.fixture(scope="module")
def local_ray():
    import ray

    yield "local"
    ray.shutdown()


def test_a_search_on_local_ray_gives_the_local_answer(chat_question, local_ray):
    q = dataclasses.replace(chat_question, link_gbps=400.0)  # fewer layouts: one link
    here = plan(q, workers=1, per_kind=2, progress=None)
    lines = []
    there = plan(q, workers=2, per_kind=2, ray_address=local_ray, progress=lines.append)
    assert there.backend == "ray" and here.backend == "in-process"
    assert [f.layout for f in there.finalists] == [f.layout for f in here.finalists]
    assert [f.goodput_rps for f in there.finalists] == [
        f.goodput_rps for f in here.finalists
    ]
    assert there.verdict == here.verdict
    assert sum("simulated" in x for x in lines) == there.configs_simulated == 4
