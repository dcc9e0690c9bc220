"""A request, and the part of it that can travel: its transferable identity.

What *is* a live request, if we want to move it to another engine and have it
carry on as if nothing happened? Exactly four things:

1. its **prompt tokens**;
2. the **tokens it has generated** so far (the last of which has not been fed
   back through the model yet: its K/V does not exist);
3. its **sampling state**: the sampling parameters, and, when it samples at a
   temperature, the *position of its random-number stream*. Restart the stream
   and a sampled request would draw different tokens after the move;
4. its **KV contents, in logical token order**: one K and one V vector per
   KV head per layer for each token already fed through the model.

What it is *not*: the physical block ids it happens to hold. Those are an
address in one engine's pool and mean nothing in another's. A
:class:`RequestSnapshot` keeps the source's block ids only as a souvenir (the
chapter's figures show them), never to use them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labs_py.core.validate import non_negative_float, non_negative_int, positive_int

__all__ = ["SamplingParams", "Request", "RequestSnapshot", "sample_token"]


@dataclass(frozen=True)
class SamplingParams:
    """How a request picks its tokens and when it stops.

    ``temperature == 0`` is greedy decoding (always the most likely token).
    Above 0, tokens are drawn from ``softmax(logits / temperature)`` with a
    random stream seeded by ``seed``, one draw per generated token.

    Taught in: moving_a_live_request.
    """

    max_new_tokens: int = 16
    temperature: float = 0.0
    seed: int | None = None
    stop_token_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        positive_int("max_new_tokens", self.max_new_tokens, "tokens")
        non_negative_float("temperature", self.temperature, "(0 = greedy)")
        if self.temperature > 0 and self.seed is None:
            raise ValueError(
                "a sampled request (temperature > 0) needs a seed, so that its output is reproducible"
            )
        if self.seed is not None:
            non_negative_int("seed", self.seed, "(random seed)")
        object.__setattr__(
            self, "stop_token_ids", tuple(int(t) for t in self.stop_token_ids)
        )


def sample_token(
    logits: np.ndarray, temperature: float, rng: np.random.Generator | None
) -> int:
    """Pick the next token: the arg-max when greedy, else one draw from the softmax.

    The draw uses one uniform number from the request's own stream and a
    left-to-right cumulative sum, so the same logits and the same stream
    position always give the same token.

    Taught in: no chapter calls it directly; it works behind moving_a_live_request.
    """
    if temperature == 0:
        return int(np.argmax(logits))
    assert rng is not None, "a sampled request has a random stream"
    z = logits.astype(np.float64) / temperature
    p = np.exp(z - z.max())
    cdf = np.cumsum(p)
    u = rng.random() * cdf[-1]
    return int(min(np.searchsorted(cdf, u, side="right"), len(cdf) - 1))


@dataclass(eq=False)
class Request:
    """A request as one engine's scheduler sees it (mutable: it advances every step).

    ``num_computed_tokens`` counts the tokens whose K/V sit in the cache. The
    request *knows* ``num_tokens = len(prompt) + len(generated)`` tokens; the
    difference is what the next step must compute: the whole prompt at first
    (prefill), then one token per step (decode), or everything again after a
    preemption (recompute).

    Taught in: moving_a_live_request.
    """

    request_id: str
    prompt_tokens: tuple[int, ...]
    sampling: SamplingParams
    generated_tokens: list[int] = field(default_factory=list)
    num_computed_tokens: int = 0
    rng: np.random.Generator | None = None

    @classmethod
    def new(
        cls, request_id: str, prompt_tokens: tuple[int, ...], sampling: SamplingParams
    ) -> Request:
        rng = (
            np.random.Generator(np.random.PCG64(sampling.seed))
            if sampling.temperature > 0
            else None
        )
        return cls(
            request_id=request_id,
            prompt_tokens=tuple(prompt_tokens),
            sampling=sampling,
            rng=rng,
        )

    @property
    def all_tokens(self) -> tuple[int, ...]:
        """Prompt followed by everything generated so far."""
        return self.prompt_tokens + tuple(self.generated_tokens)

    @property
    def num_tokens(self) -> int:
        return len(self.prompt_tokens) + len(self.generated_tokens)

    @property
    def is_finished(self) -> bool:
        g = self.generated_tokens
        return len(g) >= self.sampling.max_new_tokens or (
            bool(g) and g[-1] in self.sampling.stop_token_ids
        )

    def rng_state(self) -> dict[str, Any] | None:
        """Where this request's random stream stands (``None`` for greedy requests)."""
        return None if self.rng is None else _copy_state(self.rng.bit_generator.state)

    @classmethod
    def from_snapshot(cls, snapshot: RequestSnapshot) -> Request:
        """Rebuild a request from its identity; ``num_computed_tokens`` is the snapshot's ``kv_tokens``."""
        rng = None
        if snapshot.rng_state is not None:
            bitgen = np.random.PCG64()
            bitgen.state = _copy_state(snapshot.rng_state)
            rng = np.random.Generator(bitgen)
        return cls(
            request_id=snapshot.request_id,
            prompt_tokens=tuple(snapshot.prompt_tokens),
            sampling=snapshot.sampling,
            generated_tokens=list(snapshot.generated_tokens),
            num_computed_tokens=snapshot.kv_tokens,
            rng=rng,
        )


def _copy_state(state: dict[str, Any]) -> dict[str, Any]:
    return {k: (dict(v) if isinstance(v, dict) else v) for k, v in state.items()}


@dataclass(frozen=True, eq=False)
class RequestSnapshot:
    """A request's transferable identity, frozen at the moment it left its engine.

    ``kv_tokens`` is how many tokens had K/V at the source. ``kv`` holds the
    contents of the first ``shipped_tokens`` of them, shape
    ``(layers, 2, shipped_tokens, kv_heads, head_dim)`` in *logical* order (or
    ``None``: nothing shipped). The destination recomputes the rest, so a
    snapshot covers both recovery strategies and anything in between:

    * **ship**: ``shipped_tokens == kv_tokens``, nothing to recompute;
    * **recompute**: ``kv is None``, the destination re-prefills all ``kv_tokens``;
    * **ship all but the last**: one token recomputed, as vLLM's decode side does
      after pulling a prefill's blocks (it recomputes the last prompt token to
      get the logits it samples from).

    Taught in: moving_a_live_request.
    """

    request_id: str
    prompt_tokens: tuple[int, ...]
    generated_tokens: tuple[int, ...]
    sampling: SamplingParams
    rng_state: dict[str, Any] | None
    kv_tokens: int
    kv: np.ndarray | None
    model_fingerprint: str
    source_engine: str = ""
    source_block_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        non_negative_int("kv_tokens", self.kv_tokens, "tokens")
        known = len(self.prompt_tokens) + len(self.generated_tokens)
        if self.kv_tokens > known:
            raise ValueError(
                f"kv_tokens ({self.kv_tokens} tokens) cannot exceed the tokens the request knows ({known} tokens)"
            )
        if self.kv is not None:
            if self.kv.ndim != 5 or self.kv.shape[1] != 2:
                raise ValueError(
                    f"kv must have shape (layers, 2, tokens, kv_heads, head_dim); got {self.kv.shape}"
                )
            if self.kv.shape[2] > self.kv_tokens:
                raise ValueError(
                    f"kv holds {self.kv.shape[2]} tokens but kv_tokens is only {self.kv_tokens} tokens"
                )

    @property
    def shipped_tokens(self) -> int:
        """Tokens whose K/V travel with the snapshot."""
        return 0 if self.kv is None else int(self.kv.shape[2])

    @property
    def recompute_tokens(self) -> int:
        """Tokens whose K/V the destination must recompute before it can decode."""
        return self.kv_tokens - self.shipped_tokens

    @property
    def payload_bytes(self) -> int:
        """Bytes of KV that travel (the token ids and sampling state are a few bytes more)."""
        return 0 if self.kv is None else int(self.kv.nbytes)

    @property
    def all_tokens(self) -> tuple[int, ...]:
        return tuple(self.prompt_tokens) + tuple(self.generated_tokens)
