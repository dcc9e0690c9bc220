"""Shared plans: one search per question for the whole module (each takes a second or two)."""

from __future__ import annotations

import pytest

from labs_py.defaults import H100_SXM, LLAMA_8B
from labs_py.plan import Question, plan

#: The issue's example question: Llama-3.1-8B on 8 H100s, 2,048 in / 128 out, TTFT 400 ms, TPOT 20 ms.
CHAT = dict(
    model=LLAMA_8B, gpu=H100_SXM, gpus=8, isl=2048, osl=128, ttft_ms=400, tpot_ms=20
)


@pytest.fixture(scope="session")
def chat_question() -> Question:
    return Question(**CHAT)


@pytest.fixture(scope="session")
def chat_plan(chat_question):
    return plan(chat_question, workers=2, progress=None)
