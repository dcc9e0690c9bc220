"""One serving engine: a model, a paged KV pool, and a continuous-batching scheduler.

The scheduler keeps one number per request, as vLLM's v1 scheduler does:
``num_computed_tokens``, the tokens whose K/V are in the cache, against
``num_tokens``, the tokens the request knows (prompt + generated). Each step it
gives every admitted request the tokens it is missing, up to a token budget:

* a new request is missing its whole prompt: that is **prefill** (in chunks of
  at most ``max_batch_tokens``, if the prompt is long);
* a running request is missing the one token it sampled last step: **decode**;
* a preempted request lost its cache and is missing everything: **recompute**.

When a chunk reaches the end of what the request knows, the step samples the
next token from its logits. Requests join and leave the batch at every step:
that is **continuous batching** (Yu et al., Orca, OSDI 2022).

When the pool runs dry mid-decode, the most recently admitted request is
**preempted**: its blocks are freed and it goes back to the front of the queue
to be recomputed later. Migration, the subject of this chapter, is preemption's
sibling: instead of throwing the KV away, ship it to another engine.

An engine with ``role="prefill"`` stops each request after its first token and
*parks* it, blocks held, until someone exports it: the prefill half of a
prefill/decode pair.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from labs_py.core.validate import one_of, positive_int
from labs_py.engine.kvcache import PagedKVCache, UnknownRequestError
from labs_py.engine.model import Chunk, TinyModel
from labs_py.engine.request import Request, SamplingParams, sample_token

__all__ = ["Engine", "StepReport", "ROLES"]

ROLES: tuple[str, ...] = ("both", "prefill")
_auto_ids = itertools.count()


@dataclass(frozen=True)
class StepReport:
    """What one scheduler step did.

    Taught in: no chapter calls it directly; it works behind moving_a_live_request.
    """

    step: int
    scheduled_tokens: dict[str, int]  # request id -> tokens computed this step
    emitted: dict[str, int]  # request id -> token sampled this step
    finished: tuple[str, ...] = ()
    preempted: tuple[str, ...] = ()
    parked: tuple[str, ...] = ()
    prefill_tokens: int = 0  # tokens computed for requests that were not decoding
    decode_tokens: int = 0  # one per decoding request

    @property
    def idle(self) -> bool:
        return not self.scheduled_tokens


@dataclass
class _Book:
    """Per-engine record of finished requests' outputs."""

    outputs: dict[str, tuple[int, ...]] = field(default_factory=dict)


class Engine:
    """A toy but real serving engine. See the module docstring for the scheduling rules.

    Parameters: the ``model`` (several engines may share one), the pool size in
    ``num_blocks`` and its ``block_size_tokens``, and ``max_batch_tokens``, the
    most tokens one step computes (decode tokens first, then prefill chunks).

    Taught in: moving_a_live_request.
    """

    def __init__(
        self,
        model: TinyModel,
        *,
        num_blocks: int,
        block_size_tokens: int,
        name: str = "engine",
        max_batch_tokens: int = 512,
        role: str = "both",
        poison_freed_blocks: bool = True,
    ) -> None:
        c = model.config
        self.model = model
        self.name = name
        self.role = one_of("role", role, ROLES, "engine role")
        self.max_batch_tokens = positive_int(
            "max_batch_tokens", max_batch_tokens, "tokens per step"
        )
        self.cache = PagedKVCache(
            num_layers=c.num_layers,
            num_kv_heads=c.num_kv_heads,
            head_dim=c.head_dim,
            num_blocks=num_blocks,
            block_size_tokens=block_size_tokens,
            name=name,
            poison_freed=poison_freed_blocks,
        )
        self.requests: dict[str, Request] = {}
        self.waiting: deque[str] = deque()
        self.running: list[str] = []
        self.parked: list[str] = []
        self.steps = 0
        self._book = _Book()

    # ----------------------------------------------------------------- capacity
    @property
    def allocator(self):
        return self.cache.allocator

    @property
    def block_size_tokens(self) -> int:
        return self.cache.block_size_tokens

    @property
    def num_blocks(self) -> int:
        return self.allocator.num_blocks

    @property
    def free_blocks(self) -> int:
        return self.allocator.free_blocks

    @property
    def usage(self) -> float:
        """Fraction of the KV pool in use (0.0 to 1.0)."""
        return self.allocator.usage

    @property
    def headroom_blocks(self) -> int:
        """Free blocks minus one per running request: what an import can take without
        forcing a preemption at the next block boundary. The router's capacity signal."""
        return self.allocator.free_blocks - len(self.running)

    def capacity_signal(self) -> dict[str, float | int | str]:
        """The numbers a router reads to place work here."""
        return {
            "engine": self.name,
            "free_blocks": self.free_blocks,
            "headroom_blocks": self.headroom_blocks,
            "usage": self.usage,
            "running": len(self.running),
            "waiting": len(self.waiting),
        }

    # ----------------------------------------------------------------- requests
    def add_request(
        self,
        prompt_tokens: Sequence[int],
        sampling: SamplingParams | None = None,
        request_id: str | None = None,
    ) -> str:
        """Queue a new request; returns its id. It is admitted at a later :meth:`step`."""
        sampling = sampling or SamplingParams()
        rid = request_id if request_id is not None else f"req-{next(_auto_ids)}"
        self._check_new_id(rid)
        prompt = self._check_tokens(prompt_tokens, "prompt_tokens")
        if not prompt:
            raise ValueError("prompt_tokens must hold at least 1 token; got 0 tokens")
        longest = len(prompt) + sampling.max_new_tokens
        if longest > self.model.config.max_position:
            raise ValueError(
                f"request {rid!r} could reach {longest} tokens, past the model's max_position "
                f"({self.model.config.max_position} tokens)"
            )
        if not self.could_ever_hold(len(prompt), sampling.max_new_tokens):
            kv = self.longest_kv_tokens(len(prompt), sampling.max_new_tokens)
            raise ValueError(
                f"request {rid!r} could need {self.allocator.blocks_needed(kv)} blocks ({kv} tokens of KV at "
                f"{self.block_size_tokens} tokens per block) but engine {self.name!r} has only {self.num_blocks} blocks"
            )
        self.requests[rid] = Request.new(rid, tuple(prompt), sampling)
        self.waiting.append(rid)
        return rid

    def request(self, request_id: str) -> Request:
        """The live request ``request_id`` (waiting, running or parked)."""
        try:
            return self.requests[request_id]
        except KeyError:
            held = ", ".join(repr(r) for r in list(self.requests)[:8]) or "none"
            done = " (it finished here)" if request_id in self._book.outputs else ""
            raise UnknownRequestError(
                f"engine {self.name!r} has no live request {request_id!r}{done}; live: {held}"
            ) from None

    def block_table(self, request_id: str) -> tuple[int, ...]:
        """Physical block ids of ``request_id`` in logical order (empty if it holds none)."""
        self.request(request_id)
        return (
            self.allocator.block_table(request_id)
            if self.allocator.has_request(request_id)
            else ()
        )

    def output(self, request_id: str) -> tuple[int, ...]:
        """Tokens generated so far (or in full, once finished here)."""
        if request_id in self._book.outputs:
            return self._book.outputs[request_id]
        return tuple(self.request(request_id).generated_tokens)

    @property
    def finished_outputs(self) -> dict[str, tuple[int, ...]]:
        return dict(self._book.outputs)

    def has_work(self) -> bool:
        """True while something is waiting or running (parked requests wait for export, not for us)."""
        return bool(self.waiting or self.running)

    # ----------------------------------------------------------------- migration primitives
    def release(self, request_id: str) -> Request:
        """Take ``request_id`` out of this engine: off every queue, its blocks freed.

        Returns the request object as it was (tokens, sampling state, and its
        ``num_computed_tokens``): the caller must have copied the KV it wanted
        *before* calling this, because the blocks go back to the free list.
        """
        req = self.request(request_id)
        if request_id in self.running:
            self.running.remove(request_id)
        elif request_id in self.parked:
            self.parked.remove(request_id)
        else:
            self.waiting.remove(request_id)
        if self.allocator.has_request(request_id):
            self.cache.free(request_id)
        del self.requests[request_id]
        return req

    def longest_kv_tokens(self, prompt_tokens: int, max_new_tokens: int) -> int:
        """The most KV a request can ever hold: all its tokens but the last one sampled."""
        return prompt_tokens + max_new_tokens - 1

    def could_ever_hold(self, prompt_tokens: int, max_new_tokens: int) -> bool:
        """Whether this pool, empty, could hold such a request until it finishes.

        If not, admitting it would end in a preemption it could never come back from.
        """
        return (
            self.allocator.blocks_needed(
                self.longest_kv_tokens(prompt_tokens, max_new_tokens)
            )
            <= self.num_blocks
        )

    def check_can_adopt(self, snapshot) -> None:
        """Raise, changing nothing, unless ``snapshot`` (a :class:`RequestSnapshot`) can come here.

        Same model (KV only means something to the weights that made it), a
        request id not live here, token ids of this model, a request not yet
        finished, with a token left to feed, and a pool that could hold it to
        the end. Capacity *now* is the caller's check: it decides between
        refusing and waiting.
        """
        if snapshot.model_fingerprint != self.model.fingerprint:
            raise ValueError(
                f"engine {self.name!r} runs model {self.model.fingerprint}, but the request's KV was made by model "
                f"{snapshot.model_fingerprint}: KV is only meaningful to the weights that computed it"
            )
        self._check_new_id(snapshot.request_id)
        self._check_tokens(snapshot.all_tokens, "the request's tokens")
        n_prompt, n_gen = len(snapshot.prompt_tokens), len(snapshot.generated_tokens)
        s = snapshot.sampling
        if n_gen >= s.max_new_tokens or (
            n_gen and snapshot.generated_tokens[-1] in s.stop_token_ids
        ):
            raise ValueError(
                f"request {snapshot.request_id!r} has already finished; there is nothing left to run"
            )
        if snapshot.kv_tokens >= n_prompt + n_gen:
            raise ValueError(
                f"request {snapshot.request_id!r} has KV for all {n_prompt + n_gen} of its tokens: there is "
                "no token left "
                "to feed, so no logits to sample from. Keep the last token out of the KV (vLLM recomputes it too)"
            )
        if not self.could_ever_hold(n_prompt, s.max_new_tokens):
            longest = self.longest_kv_tokens(n_prompt, s.max_new_tokens)
            raise ValueError(
                f"request {snapshot.request_id!r} could need {self.allocator.blocks_needed(longest)} blocks "
                f"({longest} tokens "
                f"of KV at {self.block_size_tokens} tokens per block) but engine {self.name!r} has only "
                f"{self.num_blocks} blocks"
            )

    def adopt(self, request: Request) -> None:
        """Register a request that arrives with its state (after its blocks were claimed and filled).

        A request with cached tokens joins the running batch; it must already
        hold exactly ``ceil(num_computed_tokens / block_size)`` blocks. One with
        none joins the back of the waiting queue.
        """
        self._check_new_id(request.request_id)
        self._check_tokens(request.all_tokens, "the request's tokens")
        if request.is_finished:
            raise ValueError(
                f"request {request.request_id!r} has already finished; there is nothing left to run"
            )
        held = (
            len(self.allocator.block_table(request.request_id))
            if self.allocator.has_request(request.request_id)
            else 0
        )
        need = self.allocator.blocks_needed(request.num_computed_tokens)
        if held != need:
            raise ValueError(
                f"request {request.request_id!r} has {request.num_computed_tokens} tokens of KV, which need "
                f"{need} blocks "
                f"of {self.block_size_tokens} tokens, but it holds {held} blocks on engine {self.name!r}"
            )
        if request.num_computed_tokens >= request.num_tokens:
            raise ValueError(
                f"request {request.request_id!r} has KV for all {request.num_tokens} of its tokens: there is "
                "no token left "
                "to feed, so no logits to sample from. Keep the last token out of the KV (vLLM recomputes it too)"
            )
        self.requests[request.request_id] = request
        (self.running.append if request.num_computed_tokens else self.waiting.append)(
            request.request_id
        )

    def recompute_kv(
        self, block_table: Sequence[int], token_ids: Sequence[int], start_position: int
    ) -> None:
        """Fill the cache for ``token_ids`` at positions ``start_position ..``: a prefill with no sampling.

        The recovery strategy "recompute" is exactly this call on the destination.
        """
        toks = np.asarray(self._check_tokens(token_ids, "token_ids"), dtype=np.int64)
        if len(toks):
            self.model.forward(
                [
                    Chunk(
                        toks, int(start_position), tuple(block_table), want_logits=False
                    )
                ],
                self.cache,
            )

    # ----------------------------------------------------------------- the scheduler
    def step(self) -> StepReport:
        """One iteration: schedule, run one batched forward pass, sample, retire."""
        self.steps += 1
        budget = self.max_batch_tokens
        plan: list[tuple[Request, int]] = []
        preempted: list[str] = []

        i = 0
        while i < len(self.running) and budget > 0:
            req = self.requests[self.running[i]]
            n = min(req.num_tokens - req.num_computed_tokens, budget)
            if not self._reserve(req, n, preempted):
                break  # req itself was preempted; it was the last one running
            plan.append((req, n))
            budget -= n
            i += 1

        if not preempted:  # admit from the queue only when nothing had to give way
            while self.waiting and budget > 0:
                req = self.requests[self.waiting[0]]
                n = min(req.num_tokens - req.num_computed_tokens, budget)
                need = self.allocator.blocks_needed(req.num_computed_tokens + n) - len(
                    self._table(req.request_id)
                )
                if need > self.allocator.free_blocks:
                    break
                self.waiting.popleft()
                self.allocator.allocate_tokens(
                    req.request_id, req.num_computed_tokens + n
                )
                self.running.append(req.request_id)
                plan.append((req, n))
                budget -= n

        chunks = []
        for req, n in plan:
            start = req.num_computed_tokens
            toks = np.asarray(req.all_tokens[start : start + n], dtype=np.int64)
            chunks.append(
                Chunk(
                    toks,
                    start,
                    self._table(req.request_id),
                    want_logits=start + n == req.num_tokens,
                )
            )
        logits = self.model.forward(chunks, self.cache)

        emitted: dict[str, int] = {}
        finished: list[str] = []
        parked: list[str] = []
        prefill_tokens = decode_tokens = 0
        for (req, n), lg in zip(plan, logits):
            decoding = (
                req.num_computed_tokens == req.num_tokens - 1
                and n == 1
                and req.generated_tokens
            )
            if decoding:
                decode_tokens += 1
            else:
                prefill_tokens += n
            req.num_computed_tokens += n
            if lg is None:
                continue
            tok = sample_token(lg, req.sampling.temperature, req.rng)
            req.generated_tokens.append(tok)
            emitted[req.request_id] = tok
            if req.is_finished:
                self._finish(req)
                finished.append(req.request_id)
            elif self.role == "prefill":
                self.running.remove(req.request_id)
                self.parked.append(req.request_id)
                parked.append(req.request_id)
        return StepReport(
            step=self.steps,
            scheduled_tokens={req.request_id: n for req, n in plan},
            emitted=emitted,
            finished=tuple(finished),
            preempted=tuple(preempted),
            parked=tuple(parked),
            prefill_tokens=prefill_tokens,
            decode_tokens=decode_tokens,
        )

    def run(self, max_steps: int = 100_000) -> dict[str, tuple[int, ...]]:
        """Step until nothing is waiting or running; return every finished request's tokens."""
        for _ in range(max_steps):
            if not self.has_work():
                break
            report = self.step()
            if report.idle and not report.preempted:
                raise RuntimeError(
                    f"engine {self.name!r} made no progress with work queued (a scheduling bug)"
                )
        return self.finished_outputs

    def state_fingerprint(self) -> str:
        """A hash of everything an import could change: pool contents, books, queues, request states.

        Equal fingerprints before and after a failed import prove that nothing was half-imported.
        """
        h = hashlib.sha256(self.cache.digest().encode())
        rows = []
        for rid, r in sorted(self.requests.items()):
            rows.append((rid, r.all_tokens, r.num_computed_tokens, repr(r.rng_state())))
        h.update(
            repr(
                (rows, tuple(self.waiting), tuple(self.running), tuple(self.parked))
            ).encode()
        )
        return h.hexdigest()

    # ----------------------------------------------------------------- internals
    def _table(self, request_id: str) -> tuple[int, ...]:
        return (
            self.allocator.block_table(request_id)
            if self.allocator.has_request(request_id)
            else ()
        )

    def _reserve(self, req: Request, n: int, preempted: list[str]) -> bool:
        """Make room for ``n`` more tokens of ``req``, preempting from the back of the batch if needed.

        Returns False if ``req`` itself had to be preempted.
        """
        total = req.num_computed_tokens + n
        while (
            self.allocator.blocks_needed(total) - len(self._table(req.request_id))
            > self.allocator.free_blocks
        ):
            victim = self.running[-1]
            self._preempt(victim)
            preempted.append(victim)
            if victim == req.request_id:
                return False
        self.allocator.allocate_tokens(req.request_id, total)
        return True

    def _preempt(self, request_id: str) -> None:
        """Recompute-style preemption: drop the KV, keep the tokens, requeue at the front."""
        req = self.requests[request_id]
        self.running.remove(request_id)
        if self.allocator.has_request(request_id):
            self.cache.free(request_id)
        req.num_computed_tokens = 0
        self.waiting.appendleft(request_id)

    def _finish(self, req: Request) -> None:
        self.running.remove(req.request_id)
        self.cache.free(req.request_id)
        del self.requests[req.request_id]
        self._book.outputs[req.request_id] = tuple(req.generated_tokens)

    def _check_new_id(self, request_id: str) -> None:
        if not isinstance(request_id, str) or not request_id:
            raise TypeError(
                f"request_id must be a non-empty string; got {request_id!r}"
            )
        if request_id in self.requests:
            raise ValueError(
                f"engine {self.name!r} already has a live request {request_id!r}; request ids must be unique"
            )

    def _check_tokens(self, tokens: Iterable[int], what: str) -> list[int]:
        out = []
        v = self.model.config.vocab_size
        for t in tokens:
            if (
                isinstance(t, bool)
                or not isinstance(t, (int, np.integer))
                or not 0 <= int(t) < v
            ):
                raise ValueError(
                    f"{what}: token {t!r} is not a token id of this model (0 to {v - 1})"
                )
            out.append(int(t))
        return out
