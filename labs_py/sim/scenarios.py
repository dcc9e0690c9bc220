"""The book's named workloads, each defined once.

:data:`CHAT` is the workload of the serving chapters' goodput searches and
exercises: Llama-3.1-8B, 1,024-token prompts, 128-token outputs, 400 Poisson
requests (seed 0). Variants are made with :func:`dataclasses.replace`.
"""

from __future__ import annotations

from labs_py.defaults import LLAMA_8B
from labs_py.sim.goodput import Scenario

__all__ = ["CHAT"]

#: The chat workload: 1,024-token prompts, 128-token outputs, 400 Poisson requests.
CHAT = Scenario(model=LLAMA_8B, prompt_tokens=1024, output_tokens=128, n_requests=400)
