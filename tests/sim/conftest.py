"""Shared scenarios for the simulator's tests: small enough for CI's 2 cores, big enough for tails."""

import pytest

from labs_py.sim.goodput import Scenario

#: Llama-3.1-8B on H100s, 1024-token prompts, 128-token outputs, 400 Poisson requests.
CHAT = Scenario(prompt_tokens=1024, output_tokens=128, n_requests=400)


@pytest.fixture
def chat() -> Scenario:
    return CHAT
