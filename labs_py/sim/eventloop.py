"""The event loop: instances (serving engines) that run steps, a router, and a link between prefill and decode.

This is the one place where the simulator is event-driven, because it must be:
an engine's next step depends on what arrived while the last one ran. Everything
that can be done in bulk (arrivals before, metrics after) is vectorised elsewhere.

**What an engine does.** It loops over *steps*. A step is one forward pass over a
batch; its duration comes from a step timer (:class:`labs_py.steptime.StepCoefficients`
or anything with the same ``step_seconds`` signature). Three roles:

* ``"colocated"``: continuous batching. Every running request decodes one token per
  step. Prefill work is added either as *chunks* (at most ``chunk_tokens`` prompt
  tokens per step, Sarathi-Serve's stall-free batching, vLLM's chunked prefill) or,
  with ``chunk_tokens=None``, as *whole prompts in a step of their own* that stalls
  every running decode (prefill-priority scheduling, vLLM's pre-chunking default).
* ``"prefill"``: only prefills, whole prompts, first come first served; each finished
  prompt's KV goes onto the instance's outbound link (one transfer at a time).
* ``"decode"``: only decode steps; requests join when their KV has arrived.

**Why it is fast.** A running request takes part in *every* decode-carrying step of
its engine until it finishes (no preemption), so its token times are a contiguous
slice of the engine's list of decode-step end times. The loop records one time per
step, not one per token, and keeps running totals (batch size, total context) that
change in O(1) per step; a request's finish is filed under the step index at which it
will happen. The per-token work happens later, in numpy.

**Prefix caching** (optional): requests may share a prefix (``prefix_id``). With
``prefix_cache="local"`` each front engine keeps the prefixes it has prefilled
(LMCache beside each engine); with ``"pool"`` every engine can fetch any prefix
that any engine prefilled (a Mooncake-style shared pool). A hit fetches the
prefix's KV first (``fetch_seconds(tokens)``, off the GPU), then prefills only
the suffix, whose attention still reaches back over the prefix.

Simplifications, stated: no preemption or swapping (admission waits for KV space
instead); a cache never evicts; a KV transfer moves at the link's line rate after
a fixed setup latency, one transfer at a time per prefill instance.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

#: ``step_seconds(prefill_tokens, prefill_pairs, prefill_sequences, decode_requests, decode_context_tokens)``
StepTimer = Callable[[float, float, float, float, float], float]

PROXIES: tuple[str, ...] = ("ttft_on_decode", "first_token_from_prefill")
PREFIX_CACHES: tuple[str, ...] = ("none", "local", "pool")
#: Run decode-only stretches in a tight loop (see ``fast_forward`` in :func:`run`); the tests turn it
#: off to check that both paths give the same floats.
FAST_FORWARD = True
ROLES: tuple[str, ...] = ("colocated", "prefill", "decode")


@dataclass
class InstanceSpec:
    """One engine: its role, its step timer and its scheduling limits.

    Taught in: no chapter calls it directly; it works behind why_split, disaggregation_trade,
        interference, goodput_and_split, two_gpus, real_pair, plan_a_deployment,
        compression_and_pooling.
    """

    role: str
    step_seconds: StepTimer
    chunk_tokens: int | None = (
        None  # colocated: prefill tokens per step; None = whole prompts, decode stalls
    )
    token_budget: int | None = (
        None  # max tokens (prefill + decode) per step; None = no cap beyond chunk_tokens
    )
    prefill_batch_tokens: int | None = (
        None  # whole-prompt steps: batch prompts up to this many tokens (None: one)
    )
    max_batch: int = 256  # running + prefilling requests (vLLM's max_num_seqs)
    kv_capacity_tokens: int = (
        10**12
    )  # KV space, tokens (reserved at admission: prompt + output)
    gpus: int = 1


@dataclass
class RawRun:
    """What the loop records; :class:`labs_py.sim.metrics.SimResult` turns it into latencies.

    Taught in: no chapter calls it directly; it works behind why_split, disaggregation_trade,
        interference, goodput_and_split, two_gpus, real_pair, plan_a_deployment,
        compression_and_pooling.
    """

    first_token_s: np.ndarray  # per request
    rest_instance: np.ndarray  # engine whose decode steps carry tokens 2.. (-1: none)
    rest_start: np.ndarray  # index of token 2 in that engine's decode-step times
    rest_count: np.ndarray  # tokens after the first (output - 1)
    decode_step_times: list[
        np.ndarray
    ]  # per engine: end time of every decode-carrying step
    step_log: (
        list[np.ndarray] | None
    )  # per engine, if recorded: rows (start_s, end_s, prefill_tokens, decodes)
    transfer_s: (
        np.ndarray
    )  # per request: seconds its KV spent on the link (0 colocated)
    kv_ready_s: (
        np.ndarray
    )  # per request: when its KV reached the decode engine (nan colocated)
    cached_tokens: np.ndarray | None = (
        None  # per request: prompt tokens whose KV came from a prefix cache
    )
    fetch_s: np.ndarray | None = (
        None  # per request: seconds spent fetching that KV before prefill
    )


class _Instance:
    __slots__ = (
        "spec",
        "role",
        "waiting",
        "prefilling",
        "incoming",
        "n_run",
        "ctx_sum",
        "buckets",
        "times",
        "busy",
        "reserved",
        "step_pf",
        "step_dec",
        "step_admitted",
        "log",
        "link_free",
        "chunked",
    )

    def __init__(self, spec: InstanceSpec, record: bool):
        self.spec = spec
        self.role = spec.role
        self.waiting: deque[int] = deque()  # not yet admitted (colocated / prefill)
        self.prefilling: list[
            int
        ] = []  # admitted, prompt partly done (colocated chunked)
        self.incoming: deque[int] = (
            deque()
        )  # KV arrived, waiting for admission (decode)
        self.n_run = 0
        self.ctx_sum = 0
        self.buckets: dict[
            int, list[int]
        ] = {}  # decode-step index -> [count, context to drop, kv to release]
        self.times: list[float] = []
        self.busy = False
        self.reserved = 0
        self.step_pf: list[tuple[int, int]] = []
        self.step_dec = 0
        self.step_admitted: list[int] = []
        self.log: list[tuple[float, float, int, int]] | None = [] if record else None
        self.link_free = 0.0
        self.chunked = spec.chunk_tokens is not None

    def load(self) -> int:
        return (
            len(self.waiting)
            + len(self.prefilling)
            + len(self.incoming)
            + self.n_run
            + (1 if self.busy else 0)
        )


def run(
    instances: Sequence[InstanceSpec],
    arrival_s: np.ndarray,
    prompt_tokens: np.ndarray,
    output_tokens: np.ndarray,
    *,
    proxy: str = "ttft_on_decode",
    kv_transfer_s: Sequence[float] | None = None,
    record_steps: bool = False,
    prefix_id: Sequence[int] | None = None,
    prefix_tokens: Sequence[int] | None = None,
    prefix_cache: str = "none",
    fetch_seconds: Callable[[int], float] | None = None,
) -> RawRun:
    """Simulate ``instances`` serving the requests; returns the raw timeline.

    Requests go to the least-loaded ``colocated`` or ``prefill`` engine on arrival;
    after prefill on a ``prefill`` engine, the KV crosses that engine's link
    (``kv_transfer_s[request]`` seconds, once the link is free) and the request goes
    to the least-loaded ``decode`` engine. ``proxy`` says where the first token comes
    from in a disaggregated fleet (see :mod:`labs_py.sim.fleets`). ``prefix_id``
    (-1: no shared prefix), ``prefix_tokens``, ``prefix_cache`` and ``fetch_seconds``
    turn on prefix caching (see the module docstring).

    Taught in: no chapter calls it directly; it works behind why_split, disaggregation_trade,
        interference, goodput_and_split, two_gpus, real_pair, plan_a_deployment,
        compression_and_pooling.
    """
    n = len(arrival_s)
    if prefix_cache not in PREFIX_CACHES:
        raise ValueError(
            f"prefix_cache must be one of {PREFIX_CACHES}; got {prefix_cache!r}"
        )
    caching = prefix_cache != "none"
    if caching and (
        prefix_id is None or prefix_tokens is None or fetch_seconds is None
    ):
        raise ValueError(
            "prefix caching needs prefix_id, prefix_tokens and fetch_seconds"
        )
    pid = [int(x) for x in prefix_id] if caching else [-1] * n
    plen = [int(x) for x in prefix_tokens] if caching else [0] * n
    arr = arrival_s.tolist()
    prompt = [int(x) for x in prompt_tokens]
    out = [int(x) for x in output_tokens]
    engines = [_Instance(s, record_steps) for s in instances]
    front = [i for i, e in enumerate(engines) if e.role in ("colocated", "prefill")]
    backs = [i for i, e in enumerate(engines) if e.role == "decode"]
    if not front:
        raise ValueError("a fleet needs at least one colocated or prefill engine")
    if any(engines[i].role == "prefill" for i in front) and not backs:
        raise ValueError(
            "a fleet with prefill engines needs at least one decode engine"
        )
    stream = proxy == "first_token_from_prefill"
    xfer_cost = (
        [0.0] * n if kv_transfer_s is None else [float(x) for x in kv_transfer_s]
    )

    first = [float("nan")] * n
    rest_inst = [-1] * n
    rest_start = [0] * n
    rest_count = [0] * n
    done_pf = [0] * n
    xfer = [0.0] * n
    ready = [float("nan")] * n
    first_k: list[
        tuple[int, int, int]
    ] = []  # (request, engine, decode-step index) of decode-made first tokens
    cached = [0] * n  # prompt tokens served from a prefix cache
    fetched = [0.0] * n
    caches: list[set[int]] = [
        set() for _ in engines
    ]  # prefixes each engine holds ("local")
    pool: set[int] = set()  # prefixes anyone holds ("pool")
    target = [0] * n  # the front engine a request was routed to

    heap: list[
        tuple[float, int, int, int]
    ] = []  # (time, seq, kind, payload); kind 0 = step end, 1 = KV arrives
    seq = 0

    def finish_at(e: _Instance, k_last: int, ctx_drop: int, kv: int) -> None:
        b = e.buckets.get(k_last)
        if b is None:
            e.buckets[k_last] = [1, ctx_drop, kv]
        else:
            b[0] += 1
            b[1] += ctx_drop
            b[2] += kv

    def start_step(ei: int, t: float) -> None:
        nonlocal seq
        e = engines[ei]
        s = e.spec
        pf: list[tuple[int, int]] = []
        pf_tokens = 0
        pairs = 0.0
        dec = 0
        if e.role == "decode":
            admitted = []
            while e.incoming and e.n_run < s.max_batch:
                r = e.incoming[0]
                need = prompt[r] + out[r]
                if e.reserved + need > s.kv_capacity_tokens and e.n_run > 0:
                    break
                e.incoming.popleft()
                e.reserved += need
                k = len(e.times)  # this step's decode index
                ctx0 = prompt[r] + 1
                m = out[r] if not stream else out[r] - 1
                e.n_run += 1
                e.ctx_sum += ctx0
                finish_at(e, k + m - 1, ctx0 + m, need)
                rest_inst[r] = ei
                if stream:
                    rest_start[r], rest_count[r] = k, m
                else:
                    first_k.append((r, ei, k))
                    rest_start[r], rest_count[r] = k + 1, m - 1
                admitted.append(r)
            dec = e.n_run
            e.step_admitted = admitted
        elif e.role == "prefill" or not e.chunked:
            # whole prompts, FCFS, up to the batch budget (at least one); decodes stall
            if e.waiting and (e.role == "prefill" or e.n_run + 1 <= s.max_batch):
                cap = s.prefill_batch_tokens if e.role == "prefill" else s.token_budget
                while e.waiting:
                    r = e.waiting[0]
                    h = cached[r]
                    p = prompt[r] - h
                    if pf and (cap is None or pf_tokens + p > cap):
                        break
                    if e.role == "colocated":
                        need = p + out[r]
                        if e.n_run + len(pf) + 1 > s.max_batch or (
                            e.reserved + need > s.kv_capacity_tokens and (pf or e.n_run)
                        ):
                            break
                        e.reserved += need
                    e.waiting.popleft()
                    pf.append((r, p))
                    pf_tokens += p
                    pairs += p * h + p * (p + 1) / 2.0
                    if cap is None and e.role == "prefill":
                        break
            if not pf:
                dec = e.n_run
        else:
            # chunked: every running request decodes; prompt chunks fill the rest of the budget
            dec = e.n_run
            budget = s.chunk_tokens
            if s.token_budget is not None:
                budget = min(budget, s.token_budget - dec)
            i = 0
            while budget > 0:
                if i >= len(e.prefilling):
                    if not e.waiting:
                        break
                    r = e.waiting[0]
                    need = prompt[r] + out[r]
                    if e.n_run + len(e.prefilling) + 1 > s.max_batch or (
                        e.reserved + need > s.kv_capacity_tokens
                        and (e.prefilling or e.n_run)
                    ):
                        break
                    e.waiting.popleft()
                    e.reserved += need
                    e.prefilling.append(r)
                    done_pf[r] = cached[r]
                r = e.prefilling[i]
                c0 = done_pf[r]
                take = min(prompt[r] - c0, budget)
                pf.append((r, take))
                pf_tokens += take
                pairs += take * c0 + take * (take + 1) / 2.0
                budget -= take
                i += 1
        if not pf and dec == 0:
            e.busy = False
            return
        dur = s.step_seconds(pf_tokens, pairs, len(pf), dec, e.ctx_sum if dec else 0)
        e.step_pf = pf
        e.step_dec = dec
        e.busy = True
        if e.log is not None:
            e.log.append((t, t + dur, pf_tokens, dec))
        seq += 1
        heapq.heappush(heap, (t + dur, seq, 0, ei))

    def end_step(ei: int, t: float) -> None:
        nonlocal seq
        e = engines[ei]
        if e.step_dec:
            k = len(e.times)
            e.times.append(t)
            e.ctx_sum += e.n_run
            b = e.buckets.pop(k, None)
            if b is not None:
                e.n_run -= b[0]
                e.ctx_sum -= b[1]
                e.reserved -= b[2]
        for r, take in e.step_pf:
            if e.role == "colocated" and e.chunked:
                done_pf[r] += take
                if done_pf[r] < prompt[r]:
                    continue
                e.prefilling.remove(r)
            first_or_kv_done(ei, e, r, t)
        e.step_pf = []
        if (
            FAST_FORWARD
            and e.n_run
            and not e.waiting
            and not e.prefilling
            and not e.incoming
            and e.role != "prefill"
        ):
            t = fast_forward(e, t)
        start_step(ei, t)

    def fast_forward(e: _Instance, t: float) -> float:
        """Run decode-only steps in a tight loop while nothing can reach this engine; return the time reached.

        An engine with running decodes and nothing queued will run decode-only steps
        until something arrives for it. Nothing can before ``limit``: the next arrival
        for a colocated engine (replicas interact only through routing at arrivals);
        for a decode engine, also the next event of any kind (a KV transfer can only
        land after some event that is already on the heap or an arrival). Steps that
        end strictly before ``limit`` are exactly the steps the main loop would pop
        next, so running them here, without the heap, gives the same floats in the same
        order (the step that reaches ``limit`` goes through the heap as usual). This is
        what makes lightly loaded runs, which are mostly lone decode steps, cheap.
        """
        limit = arr[ai] if ai < n else inf
        # a decode engine can be reached by any event on the heap (a KV landing); with prefix
        # caching, so can a colocated one (a prefix fetch finishing)
        if (e.role == "decode" or caching) and heap and heap[0][0] < limit:
            limit = heap[0][0]
        step = e.spec.step_seconds
        times, buckets, log = e.times, e.buckets, e.log
        while e.n_run:
            dec = e.n_run
            end = t + step(0, 0.0, 0, dec, e.ctx_sum)
            if not end < limit:
                break
            if log is not None:
                log.append((t, end, 0, dec))
            k = len(times)
            times.append(end)
            e.ctx_sum += dec
            b = buckets.pop(k, None)
            if b is not None:
                e.n_run -= b[0]
                e.ctx_sum -= b[1]
                e.reserved -= b[2]
            t = end
        return t

    def first_or_kv_done(ei: int, e: _Instance, r: int, t: float) -> None:
        nonlocal seq
        if caching and pid[r] >= 0:
            caches[ei].add(pid[r])
            pool.add(pid[r])
        if e.role == "colocated":
            first[r] = t
            m = out[r] - 1
            if m == 0:
                e.reserved -= prompt[r] + out[r]
                return
            k = len(e.times)
            ctx0 = prompt[r] + 1
            e.n_run += 1
            e.ctx_sum += ctx0
            finish_at(e, k + m - 1, ctx0 + m, prompt[r] + out[r])
            rest_inst[r], rest_start[r], rest_count[r] = ei, k, m
            return
        # prefill engine: the KV leaves on this engine's link
        if stream:
            first[r] = t
            if out[r] == 1:
                return
        dt = xfer_cost[r]
        start = max(t, e.link_free)
        e.link_free = start + dt
        xfer[r] = e.link_free - t
        seq += 1
        heapq.heappush(heap, (e.link_free, seq, 1, r))

    ai = 0
    inf = float("inf")
    while ai < n or heap:
        t_arr = arr[ai] if ai < n else inf
        if heap and heap[0][0] < t_arr:
            t, _, kind, x = heapq.heappop(heap)
            if kind == 0:
                end_step(x, t)
            elif (
                kind == 2
            ):  # a prefix fetch finished: the request joins its engine's queue
                f = engines[target[x]]
                f.waiting.append(x)
                if not f.busy:
                    start_step(target[x], t)
            else:
                ready[x] = t
                di = min(backs, key=lambda i: (engines[i].load(), i))
                d = engines[di]
                d.incoming.append(x)
                if not d.busy:
                    start_step(di, t)
        else:
            r = ai
            ai += 1
            fi = (
                front[0]
                if len(front) == 1
                else min(front, key=lambda i: (engines[i].load(), i))
            )
            target[r] = fi
            if (
                caching
                and pid[r] >= 0
                and pid[r] in (pool if prefix_cache == "pool" else caches[fi])
            ):
                cached[r] = min(
                    plen[r], prompt[r] - 1
                )  # the last prompt token is always computed
                fetched[r] = fetch_seconds(cached[r])
                seq += 1
                heapq.heappush(
                    heap, (t_arr + fetched[r], seq, 2, r)
                )  # queue for prefill once fetched
                continue
            f = engines[fi]
            f.waiting.append(r)
            if not f.busy:
                start_step(fi, t_arr)

    for r, ei, k in first_k:
        first[r] = engines[ei].times[k]
    return RawRun(
        first_token_s=np.array(first),
        rest_instance=np.array(rest_inst, dtype=np.int64),
        rest_start=np.array(rest_start, dtype=np.int64),
        rest_count=np.array(rest_count, dtype=np.int64),
        decode_step_times=[np.array(e.times) for e in engines],
        step_log=[np.array(e.log, dtype=float).reshape(-1, 4) for e in engines]
        if record_steps
        else None,
        transfer_s=np.array(xfer),
        kv_ready_s=np.array(ready),
        cached_tokens=np.array(cached, dtype=np.int64),
        fetch_s=np.array(fetched),
    )
