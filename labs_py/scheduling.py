"""Continuous batching on one GPU, step by step: how prefill chunks ride along with decodes.

This is a deliberately small scheduler, written to be read. Each engine step:

1. every request that has finished its prefill and still owes tokens decodes one
   token (decodes go first: they are the latency-sensitive work);
2. the rest of the step's token budget goes to prefill, oldest request first, in
   chunks of at most ``chunk_tokens`` (chunked prefill); the step that finishes a
   prompt also samples that request's first token;
3. with ``chunk_tokens=None`` there is no chunking: a waiting prompt is prefilled
   whole, in a step of its own, and every running decode waits for it (a stall).

Step times come from :class:`labs_py.steptime.StepCoefficients`, the same model
the fleet simulator uses, so a step that carries a chunk costs what the
simulator says it costs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from labs_py.core.validate import non_negative_float, positive_int
from labs_py.defaults import DEFAULT_ENGINE, DEFAULT_GPU, LLAMA_8B
from labs_py.steptime import chunk_attention_pairs, step_coefficients

IDLE, PREFILL, DECODE, DONE, WAITING = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class Arrival:
    """A request: when it arrives, its prompt and how many tokens it will generate.

    Taught in: why_split.
    """

    name: str
    arrival_s: float
    prompt_tokens: int
    output_tokens: int

    def __post_init__(self) -> None:
        non_negative_float("arrival_s", self.arrival_s, "seconds")
        positive_int("prompt_tokens", self.prompt_tokens, "tokens")
        positive_int("output_tokens", self.output_tokens, "tokens")


@dataclass
class Step:
    """One engine step: when it ran, and what each request did in it.

    Taught in: why_split.
    """

    start_s: float
    seconds: float
    prefill: dict[str, int] = field(
        default_factory=dict
    )  # request -> prompt tokens prefilled this step
    decode: list[str] = field(
        default_factory=list
    )  # requests that decoded a token this step
    first_token: list[str] = field(
        default_factory=list
    )  # requests whose prompt finished (first token) this step

    @property
    def prefill_tokens(self) -> int:
        return sum(self.prefill.values())


def schedule(
    requests: list[Arrival],
    *,
    chunk_tokens: int | None,
    model: str = LLAMA_8B,
    gpu: str = DEFAULT_GPU,
    engine: str = DEFAULT_ENGINE,
    max_steps: int = 10_000,
) -> list[Step]:
    """Run the requests to completion on one engine and return every step.

    Taught in: why_split.
    """
    if chunk_tokens is not None:
        positive_int("chunk_tokens", chunk_tokens, "tokens per step")
    coef = step_coefficients(model, gpu, engine=engine)
    pending = sorted(requests, key=lambda r: r.arrival_s)
    prefilled = {r.name: 0 for r in requests}
    emitted = {r.name: 0 for r in requests}
    by_name = {r.name: r for r in requests}
    arrived: list[str] = []
    steps: list[Step] = []
    t = 0.0
    while len(steps) < max_steps:
        while pending and pending[0].arrival_s <= t + 1e-12:
            arrived.append(pending.pop(0).name)
        live = [n for n in arrived if emitted[n] < by_name[n].output_tokens]
        if not live:
            if not pending:
                return steps
            t = pending[0].arrival_s  # idle until the next arrival
            continue
        decoding = [
            n
            for n in live
            if prefilled[n] == by_name[n].prompt_tokens and emitted[n] >= 1
        ]
        waiting = [n for n in live if prefilled[n] < by_name[n].prompt_tokens]
        step = Step(start_s=t, seconds=0.0)
        pairs = 0.0
        if chunk_tokens is None and waiting:
            n = waiting[0]  # no chunking: the whole prompt, alone; decodes wait
            step.prefill[n] = by_name[n].prompt_tokens
            pairs += chunk_attention_pairs(by_name[n].prompt_tokens, 0)
        else:
            step.decode = list(decoding)
            budget = chunk_tokens or 0
            for n in waiting:
                if budget <= 0:
                    break
                take = min(budget, by_name[n].prompt_tokens - prefilled[n])
                step.prefill[n] = take
                pairs += chunk_attention_pairs(take, prefilled[n])
                budget -= take
        context = sum(prefilled[n] + emitted[n] for n in step.decode)
        step.seconds = coef.step_seconds(
            step.prefill_tokens, pairs, len(step.prefill), len(step.decode), context
        )
        for n in step.decode:
            emitted[n] += 1
        for n, take in step.prefill.items():
            prefilled[n] += take
            if prefilled[n] == by_name[n].prompt_tokens:
                emitted[n] += (
                    1  # the step that finishes a prompt samples its first token
                )
                step.first_token.append(n)
        steps.append(step)
        t += step.seconds
    raise RuntimeError(
        f"the schedule did not finish within max_steps={max_steps} steps"
    )


def activity_grid(requests: list[Arrival], steps: list[Step]) -> list[list[int]]:
    """For each request (rows) and step (columns): IDLE (not arrived), WAITING, PREFILL, DECODE or DONE.

    Taught in: why_split.
    """
    grid = []
    for r in requests:
        row, emitted = [], 0
        for s in steps:
            if emitted >= r.output_tokens:
                row.append(DONE)
            elif r.name in s.prefill:
                row.append(PREFILL)
            elif r.name in s.decode:
                row.append(DECODE)
            elif r.arrival_s <= s.start_s + 1e-12:
                row.append(WAITING)
            else:
                row.append(IDLE)
            emitted += (r.name in s.decode) + (r.name in s.first_token)
        grid.append(row)
    return grid
