"""Load generator: streaming requests with a timestamp for every token.

Two workloads, both from lab-02's design:

* :func:`run_sequential` sends prompts one at a time (nothing else in flight),
  so each TTFT is the clean cost of that prompt length: the TTFT-vs-input-length
  curve, and the reference outputs for the invariance check.
* :func:`run_mixed` keeps ``n_streams`` steady decode streams running (short
  prompts, long outputs) and fires big prompts into them every
  ``big_interval_s``. On a single instance each big prefill shares engine steps
  with the streams, so their ITL spikes; in a pair, prefill happens elsewhere
  and the streams' ITL tail collapses toward its median. Arrivals are fixed by
  the seed.
* :func:`run_rate` sends ``n`` requests with Poisson arrivals at ``rate_rps``
  (the shape ``vllm bench serve --request-rate`` uses), for the cross-check.

Prompts are lists of token ids drawn from the seed, not text, so a "2000-token
prompt" is exactly 2000 tokens, and each prompt is unique (no prefix-cache hit
shortens a TTFT). Requests are greedy (``temperature=0``) with ``ignore_eos``,
so every request produces exactly ``max_tokens`` tokens.

Each record keeps ``token_times_s``: when each streamed chunk arrived, in
seconds after the request was sent (``time.perf_counter``), and the token ids
it carried. :mod:`labs_py.captures.timing` turns those into TTFT, ITL, TPOT, E2E.

Needs ``aiohttp``. Every target is loopback or the pair's own namespaces; every loop is bounded.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time

import aiohttp

from labs_py.core import validate

#: Token ids below this are special tokens of the tiny model's tokenizer.
FIRST_ORDINARY_TOKEN = 3


def make_prompt(n_tokens: int, seed: int, vocab_size: int = 4096) -> list[int]:
    """A prompt of exactly ``n_tokens`` ordinary token ids, determined by ``seed``.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    validate.positive_int("n_tokens", n_tokens, "tokens")
    rng = random.Random(seed)
    return [rng.randrange(FIRST_ORDINARY_TOKEN, vocab_size) for _ in range(n_tokens)]


def _check_loopback(url: str) -> None:
    """The harness sends load to loopback or to the pair's own namespaces; anything else is refused.

    (A reader's own deployment is measured by :mod:`labs_py.pair.endpoint`, which they point at
    explicitly.)
    """
    from labs_py.pair.netns import ENDPOINTS

    host = url.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
    if host not in (
        "127.0.0.1",
        "localhost",
        "[::1]",
        *(e.api_host for e in ENDPOINTS.values()),
    ):
        raise ValueError(
            f"load is only ever sent to loopback or the pair's namespaces; got target {url!r}"
        )


async def stream_completion(
    session: aiohttp.ClientSession,
    url: str,
    model: str,
    prompt: list[int],
    max_tokens: int,
    req_id: str,
    group: str,
    run_t0: float,
    timeout_s: float = 600.0,
    extra: dict | None = None,
) -> dict:
    """One streaming ``/v1/completions`` request; returns its record with per-chunk timestamps.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    body = {
        "model": model,
        "prompt": prompt,
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "ignore_eos": True,
        "stream": True,
        "return_token_ids": True,
        "stream_options": {"include_usage": True},
    }
    body.update(extra or {})
    rec = {
        "id": req_id,
        "group": group,
        "prompt_tokens": len(prompt),
        "max_tokens": max_tokens,
        "start_s": None,
        "token_times_s": [],
        "token_counts": [],
        "output_token_ids": [],
        "status": "error",
        "error": None,
        "routed": {},
        "http_status": None,
    }
    t_send = time.perf_counter()
    rec["start_s"] = t_send - run_t0
    try:
        async with session.post(
            url + "/v1/completions",
            json=body,
            timeout=aiohttp.ClientTimeout(total=timeout_s),
        ) as r:
            rec["http_status"] = r.status
            rec["routed"] = {
                k: v for k, v in r.headers.items() if k.startswith("X-Pair-")
            }
            if r.status != 200:
                rec["error"] = (await r.text())[:2000]
                return rec
            done = False
            async for raw in r.content:
                now = time.perf_counter()
                line = raw.decode(errors="replace").strip()
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    done = True
                    break
                ev = json.loads(data)
                if "error" in ev:
                    rec["error"] = ev["error"].get("message", str(ev["error"]))
                    return rec
                for ch in ev.get("choices") or []:
                    ids = ch.get("token_ids") or []
                    if ids:
                        rec["token_times_s"].append(now - t_send)
                        rec["token_counts"].append(len(ids))
                        rec["output_token_ids"].extend(ids)
            if not done:
                rec["error"] = "stream ended without [DONE]"
                return rec
    except (TimeoutError, aiohttp.ClientError, ConnectionError) as e:
        rec["error"] = f"{type(e).__name__}: {e}"
        return rec
    n = len(rec["output_token_ids"])
    if n != max_tokens:
        rec["error"] = f"got {n} tokens, asked for {max_tokens}"
        return rec
    rec["status"] = "ok"
    return rec


def _session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0),
        timeout=aiohttp.ClientTimeout(total=None),
    )


class _Progress:
    def __init__(self, total: int, what: str, enabled: bool = True) -> None:
        self.total, self.done, self.what, self.enabled = total, 0, what, enabled
        self.t0 = time.time()
        self.last = 0.0

    def tick(self) -> None:
        self.done += 1
        now = time.time()
        if self.enabled and (now - self.last > 5 or self.done == self.total):
            print(
                f"[pair] {self.what}: {self.done}/{self.total} requests ({now - self.t0:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
            self.last = now


async def run_sequential(
    url: str,
    model: str,
    prompt_lengths: list[int],
    max_tokens: int,
    seed: int = 0,
    group: str = "seq",
    progress: bool = True,
) -> list[dict]:
    """Send one prompt per length, one after another; prompt ``i`` uses seed ``seed*100003 + i``.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    _check_loopback(url)
    bar = _Progress(len(prompt_lengths), group, progress)
    out = []
    async with _session() as s:
        t0 = time.perf_counter()
        for i, n in enumerate(prompt_lengths):
            rec = await stream_completion(
                s,
                url,
                model,
                make_prompt(n, seed * 100003 + i),
                max_tokens,
                f"{group}-{i}",
                group,
                t0,
            )
            out.append(rec)
            bar.tick()
    return out


async def run_mixed(
    url: str,
    model: str,
    *,
    n_streams: int,
    stream_prompt_tokens: int,
    stream_output_tokens: int,
    n_big: int,
    big_prompt_tokens: int,
    big_output_tokens: int,
    big_interval_s: float,
    first_big_at_s: float = 2.0,
    stream_stagger_s: float = 0.3,
    seed: int = 0,
    progress: bool = True,
) -> list[dict]:
    """Steady decode streams with big prompts fired into them at a fixed interval.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    _check_loopback(url)
    for name, v in (("n_streams", n_streams), ("n_big", n_big)):
        validate.positive_int(name, v, "requests")
    validate.positive_float("big_interval_s", big_interval_s, "s")
    bar = _Progress(n_streams + n_big, "mixed", progress)
    async with _session() as s:
        t0 = time.perf_counter()

        async def one(delay_s, prompt, max_tok, rid, group):
            await asyncio.sleep(delay_s)
            rec = await stream_completion(
                s, url, model, prompt, max_tok, rid, group, t0
            )
            bar.tick()
            return rec

        tasks = [
            one(
                i * stream_stagger_s,
                make_prompt(stream_prompt_tokens, seed * 100003 + i),
                stream_output_tokens,
                f"stream-{i}",
                "stream",
            )
            for i in range(n_streams)
        ]
        tasks += [
            one(
                first_big_at_s + j * big_interval_s,
                make_prompt(big_prompt_tokens, seed * 100003 + 1000 + j),
                big_output_tokens,
                f"big-{j}",
                "big",
            )
            for j in range(n_big)
        ]
        return list(await asyncio.gather(*tasks))


async def run_rate(
    url: str,
    model: str,
    *,
    n: int,
    prompt_tokens: int,
    output_tokens: int,
    rate_rps: float,
    seed: int = 0,
    group: str = "rate",
    progress: bool = True,
) -> list[dict]:
    """``n`` requests with Poisson arrivals at ``rate_rps`` (exponential gaps from ``seed``).

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    _check_loopback(url)
    validate.positive_int("n", n, "requests")
    validate.positive_float("rate_rps", rate_rps, "requests/s")
    rng = random.Random(seed)
    t, arrivals = 0.0, []
    for _ in range(n):
        arrivals.append(t)
        t += rng.expovariate(rate_rps)
    bar = _Progress(n, group, progress)
    async with _session() as s:
        t0 = time.perf_counter()

        async def one(i, at):
            await asyncio.sleep(at)
            rec = await stream_completion(
                s,
                url,
                model,
                make_prompt(prompt_tokens, seed * 100003 + i),
                output_tokens,
                f"{group}-{i}",
                group,
                t0,
            )
            bar.tick()
            return rec

        return list(await asyncio.gather(*(one(i, a) for i, a in enumerate(arrivals))))
