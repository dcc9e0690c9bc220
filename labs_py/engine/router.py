"""A 1 prefill : 2 decode router: where does a prefilled request go, and what if nowhere has room?

The prefill engine (``role="prefill"``) runs each prompt and *parks* the request
after its first token, blocks held. The router then places it on the decode
engine with the most **headroom** -- free blocks minus one per running request,
the room an import can take without forcing a preemption at the next block
boundary (:attr:`labs_py.engine.Engine.headroom_blocks`). That number is the
*capacity signal* each decode engine exports.

When both decode engines are nearly full, nothing is corrupted and nothing is
silently dropped. The request **waits on the prefill engine, holding its
blocks**, and each step the router records *why* (blocks needed versus each
engine's headroom). Holding KV on the prefill side is backpressure: as the
prefill pool fills with parked requests, the prefill engine stops admitting new
prompts. It cannot hold forever, so a parked request has a **lease** of
``lease_steps`` steps; when it expires the prefill engine frees the blocks and
the request is demoted to the recompute strategy: it waits as tokens only, and
the decode engine that finally takes it recomputes its KV. vLLM's NIXL
connector does the same on its prefill side: it frees a request's blocks when
the decode side has read them, or when a lease expires (vLLM 0.32.0:
``kv_connector_extra_config["kv_lease_duration"]``, 30 s by default, extended by
heartbeats from the decode side; older versions used
``VLLM_NIXL_ABORT_REQUEST_TIMEOUT``, 480 s by default). See docs/engine.md.

Placement is first come, first served: if the oldest waiting request does not
fit, younger ones wait behind it (no starvation of long prompts by short ones).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from labs_py.core.validate import non_negative_int, one_of
from labs_py.engine.engine import Engine
from labs_py.engine.migration import STRATEGIES, export_request, import_request, migrate
from labs_py.engine.request import RequestSnapshot, SamplingParams

__all__ = ["RouterEvent", "PDRouter", "EVENT_KINDS"]

EVENT_KINDS: tuple[str, ...] = ("placed", "held", "lease_expired", "finished")


@dataclass(frozen=True)
class RouterEvent:
    """One decision of the router, with the capacity signal it was taken on.

    Taught in: no chapter calls it directly; it works behind moving_a_live_request.
    """

    step: int
    request_id: str
    kind: str  # one of EVENT_KINDS
    engine: str | None
    reason: str
    headroom_blocks: dict[str, int] = field(default_factory=dict)


@dataclass
class _Pending:
    request_id: str
    parked_at_step: int
    snapshot: RequestSnapshot | None = None  # set once demoted: KV dropped, tokens only


class PDRouter:
    """One prefill engine feeding several decode engines (two in the chapter).

    Taught in: no chapter calls it directly; it works behind moving_a_live_request.
    """

    def __init__(
        self,
        prefill: Engine,
        decodes: Sequence[Engine],
        *,
        strategy: str = "ship",
        lease_steps: int = 8,
    ) -> None:
        if prefill.role != "prefill":
            raise ValueError(
                f"the prefill engine must have role='prefill'; {prefill.name!r} has role={prefill.role!r}"
            )
        if not decodes:
            raise ValueError("a router needs at least 1 decode engine; got 0")
        names = [prefill.name, *(d.name for d in decodes)]
        if len(set(names)) != len(names):
            raise ValueError(f"engine names must be distinct; got {names}")
        self.prefill = prefill
        self.decodes = list(decodes)
        self.strategy = one_of("strategy", strategy, STRATEGIES, "recovery strategy")
        self.lease_steps = non_negative_int("lease_steps", lease_steps, "router steps")
        self.steps = 0
        self.pending: list[_Pending] = []
        self.events: list[RouterEvent] = []
        self.outputs: dict[str, tuple[int, ...]] = {}
        self._where: dict[str, str] = {}

    # ----------------------------------------------------------------- signal
    def headroom(self) -> dict[str, int]:
        """The capacity signal: headroom blocks of every decode engine, by name."""
        return {d.name: d.headroom_blocks for d in self.decodes}

    def choose(
        self, kv_tokens: int, prompt_tokens: int, max_new_tokens: int
    ) -> Engine | None:
        """The decode engine with the most headroom, if that headroom covers ``kv_tokens`` tokens of KV.

        Only engines that could hold the request until it finishes are candidates:
        placing it where it fits now but not later would end in a preemption it
        could never come back from. Ties go to the engine listed first. ``None``
        means: nowhere has room now.
        """
        able = [
            d for d in self.decodes if d.could_ever_hold(prompt_tokens, max_new_tokens)
        ]
        if not able:
            return None
        best = max(
            able, key=lambda d: d.headroom_blocks
        )  # max() keeps the first of equals
        return (
            best
            if best.allocator.blocks_needed(kv_tokens) <= best.headroom_blocks
            else None
        )

    # ----------------------------------------------------------------- requests
    def submit(
        self,
        prompt_tokens: Sequence[int],
        sampling: SamplingParams | None = None,
        request_id: str | None = None,
    ) -> str:
        """Send a prompt to the prefill engine. Refused (``ValueError``) if no decode engine could ever hold it."""
        sampling = sampling or SamplingParams()
        worst_tokens = len(prompt_tokens) + sampling.max_new_tokens - 1
        if not any(
            d.could_ever_hold(len(prompt_tokens), sampling.max_new_tokens)
            for d in self.decodes
        ):
            sizes = ", ".join(
                f"{d.name}: {d.num_blocks} blocks of {d.block_size_tokens} tokens"
                for d in self.decodes
            )
            raise ValueError(
                f"a request of up to {worst_tokens} tokens of KV fits no decode engine even when empty ({sizes})"
            )
        rid = self.prefill.add_request(prompt_tokens, sampling, request_id)
        self._where[rid] = self.prefill.name
        return rid

    def where(self, request_id: str) -> str:
        """Name of the engine holding ``request_id`` now ("router" while it waits as tokens only)."""
        return self._where[request_id]

    def has_work(self) -> bool:
        return bool(
            self.pending
            or self.prefill.has_work()
            or any(d.has_work() for d in self.decodes)
        )

    # ----------------------------------------------------------------- the loop
    def step(self) -> list[RouterEvent]:
        """Prefill, hand off what is ready, decode, collect what finished. Returns this step's events."""
        self.steps += 1
        new: list[RouterEvent] = []
        if self.prefill.has_work():
            report = self.prefill.step()
            for rid in report.parked:
                self.pending.append(_Pending(rid, self.steps))
            for rid in report.finished:  # a request whose first token was also its last never needs a decode engine
                self.outputs[rid] = self.prefill.output(rid)
                self._where[rid] = self.prefill.name
                new.append(
                    RouterEvent(
                        self.steps,
                        rid,
                        "finished",
                        self.prefill.name,
                        "finished during prefill",
                    )
                )
        new += self._hand_off()
        for d in self.decodes:
            if d.has_work():
                for rid in d.step().finished:
                    self.outputs[rid] = d.output(rid)
                    new.append(
                        RouterEvent(
                            self.steps,
                            rid,
                            "finished",
                            d.name,
                            "reached a stop condition",
                        )
                    )
        self.events += new
        return new

    def run(self, max_steps: int = 100_000) -> dict[str, tuple[int, ...]]:
        """Step until every submitted request has finished; return all outputs."""
        for _ in range(max_steps):
            if not self.has_work():
                break
            self.step()
        return dict(self.outputs)

    def _hand_off(self) -> list[RouterEvent]:
        events: list[RouterEvent] = []
        while self.pending:
            p = self.pending[0]
            if p.snapshot is not None:
                kv_tokens, n_prompt, sampling = (
                    p.snapshot.kv_tokens,
                    len(p.snapshot.prompt_tokens),
                    p.snapshot.sampling,
                )
            else:
                req = self.prefill.request(p.request_id)
                kv_tokens, n_prompt, sampling = (
                    req.num_computed_tokens,
                    len(req.prompt_tokens),
                    req.sampling,
                )
            target = self.choose(kv_tokens, n_prompt, sampling.max_new_tokens)
            if target is not None:
                if p.snapshot is None:
                    migrate(self.prefill, target, p.request_id, self.strategy)
                    reason = f"{self.strategy}: {kv_tokens} tokens of KV moved from {self.prefill.name}"
                else:
                    import_request(target, p.snapshot)
                    reason = f"recompute: {kv_tokens} tokens re-prefilled on arrival (the lease had expired)"
                self.pending.pop(0)
                self._where[p.request_id] = target.name
                events.append(
                    RouterEvent(
                        self.steps,
                        p.request_id,
                        "placed",
                        target.name,
                        reason,
                        self.headroom(),
                    )
                )
                continue
            signal = self.headroom()
            needs = ", ".join(
                f"{d.name} needs {d.allocator.blocks_needed(kv_tokens)} has {signal[d.name]}"
                for d in self.decodes
            )
            if p.snapshot is None and self.steps - p.parked_at_step >= self.lease_steps:
                p.snapshot = export_request(self.prefill, p.request_id, "recompute")
                self._where[p.request_id] = "router"
                events.append(
                    RouterEvent(
                        self.steps,
                        p.request_id,
                        "lease_expired",
                        self.prefill.name,
                        f"held {self.lease_steps} steps with no room ({needs} headroom blocks): "
                        f"{self.prefill.name} frees its blocks; the KV will be recomputed",
                        signal,
                    )
                )
            else:
                holder = (
                    self.prefill.name if p.snapshot is None else "router (tokens only)"
                )
                events.append(
                    RouterEvent(
                        self.steps,
                        p.request_id,
                        "held",
                        holder,
                        f"no decode engine has room for {kv_tokens} tokens of KV ({needs} headroom blocks)",
                        signal,
                    )
                )
            break  # first come, first served
        return events
