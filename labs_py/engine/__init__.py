"""The engine: a real (toy-width) transformer serving requests from a paged KV cache.

* :mod:`labs_py.engine.model` -- the transformer's equations (GQA, RoPE, RMSNorm, SwiGLU),
  with batch-invariant reductions, and a dense reference to check it against;
* :mod:`labs_py.engine.request` -- a request, and its transferable identity (:class:`RequestSnapshot`);
* :mod:`labs_py.engine.engine` -- the scheduler: continuous batching, chunked prefill, preemption.

The block allocator and the paged pool live one level up, in :mod:`labs_py.engine.kvcache`.
"""

from labs_py.engine.engine import ROLES, Engine, StepReport
from labs_py.engine.model import Chunk, TinyConfig, TinyModel, dense_reference_logits
from labs_py.engine.request import (
    Request,
    RequestSnapshot,
    SamplingParams,
    sample_token,
)

__all__ = [
    "Engine",
    "StepReport",
    "ROLES",
    "TinyConfig",
    "TinyModel",
    "Chunk",
    "dense_reference_logits",
    "Request",
    "RequestSnapshot",
    "SamplingParams",
    "sample_token",
]
