"""Measure your own P/D deployment with the book's workloads: any OpenAI-compatible server.

    python -m labs_py.pair capture-endpoint URL WORKLOAD [--model NAME] [--metrics URL ...]
        [--api-key KEY] [--tokenizer tokenizer.json] [--name NAME] [--out DIR]

``URL`` is the deployment's base URL (vLLM's proxy, llm-d's gateway, Dynamo's frontend:
anything that serves ``/v1/completions`` with streaming). ``WORKLOAD`` is one of
:data:`WORKLOADS`. The result is a sealed capture of kind ``endpoint``
(:mod:`labs_py.captures.capture`), written to ``captures/endpoint/NAME__WORKLOAD.json``;
the real-pair chapter renders the one that ``LABS_PY_ENDPOINT_CAPTURE`` names (a path),
or the book's own example (:func:`labs_py.captures.capture.endpoint_capture`).

It sends only standard OpenAI fields (``model``, ``prompt`` as text, ``max_tokens``,
``temperature``, ``stream``, ``stream_options``): no vLLM extension, so that a strict
server accepts it. Prompts are text of the requested length in tokens: measured with
the target's tokenizer when one is given (``--tokenizer``, a ``tokenizer.json``; needs the
``tokenizers`` package), otherwise calibrated from the server's own ``usage`` report,
and each request records the prompt length the server reported. Outputs may end early
(there is no standard way to ignore the end-of-sequence token); each record keeps the
tokens it got.

What it can see of the deployment is recorded too: ``/v1/models``, ``/version`` where
served, the response headers that name a server, and the counters of every ``--metrics``
URL (Prometheus ``/metrics`` of the engines, before and after).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import urllib.error
import urllib.request
from pathlib import Path

from labs_py.captures import capture as cap
from labs_py.captures import metrics as met
from labs_py.core import validate
from labs_py.pair.workloads import MIXED, MIXED_DESCRIPTION

__all__ = [
    "WORKLOADS",
    "STANDARD_FIELDS",
    "ENV_CAPTURE",
    "PromptMaker",
    "request_body",
    "stream_text_completion",
    "run",
    "capture_endpoint",
]

ENV_CAPTURE = cap.ENV_ENDPOINT_CAPTURE
ENDPOINT_DIR = cap.ENDPOINT_DIR
#: The only request fields sent: all in OpenAI's Completions API.
STANDARD_FIELDS = (
    "model",
    "prompt",
    "max_tokens",
    "temperature",
    "stream",
    "stream_options",
)
#: name -> (description, parameters)
WORKLOADS: dict[str, tuple[str, dict]] = {
    "sweep": (
        "prompts of 128 to 3000 tokens, one at a time, 3 of each, 16 output tokens",
        {
            "prompt_lengths": [
                n for n in (128, 512, 1024, 2000, 3000) for _ in range(3)
            ],
            "max_tokens": 16,
        },
    ),
    "mixed": (MIXED_DESCRIPTION, dict(MIXED)),
    "smoke": (
        "two prompts (128 and 1000 tokens), one at a time, 8 output tokens",
        {"prompt_lengths": [128, 1000], "max_tokens": 8},
    ),
}
_WORDS = (
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
    "uniform",
    "victor",
)


def request_body(model: str, prompt: str, max_tokens: int) -> dict:
    """The request body: standard OpenAI Completions fields only (:data:`STANDARD_FIELDS`).

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    body = {
        "model": model,
        "prompt": prompt,
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    assert set(body) <= set(STANDARD_FIELDS)
    return body


def _headers(api_key: str | None) -> dict:
    h = {"Content-Type": "application/json"}
    if api_key:
        h["Authorization"] = f"Bearer {api_key}"
    return h


def _get_json(url: str, api_key: str | None, timeout_s: float = 10.0):
    req = urllib.request.Request(url, headers=_headers(api_key))
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as r:
            return json.loads(r.read().decode())
    except (urllib.error.URLError, OSError, ValueError) as e:
        return {"error": f"{type(e).__name__}: {e}"}


class PromptMaker:
    """Text prompts of a requested length in tokens, for a server whose tokenizer we may not have.

    With a ``tokenizer.json`` (and the ``tokenizers`` package) the text is measured exactly.
    Without, one probe request asks the server how many tokens a known text is (its
    ``usage.prompt_tokens``), and later prompts are scaled by that ratio; each request then
    records the length the server reported.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """

    def __init__(self, tokenizer_path: str | None = None, seed: int = 0) -> None:
        self.tokenizer = None
        self.tokens_per_word: float | None = None
        self.rng = random.Random(seed)
        if tokenizer_path:
            from tokenizers import Tokenizer  # the pair environment has it

            self.tokenizer = Tokenizer.from_file(str(tokenizer_path))

    def calibrate(self, reported_prompt_tokens: int, words: int) -> None:
        """Record the server's count for a probe of ``words`` words."""
        self.tokens_per_word = (
            validate.positive_int(
                "reported_prompt_tokens", reported_prompt_tokens, "tokens"
            )
            / words
        )

    def words(self, n: int) -> str:
        return " ".join(self.rng.choice(_WORDS) for _ in range(n))

    def make(self, n_tokens: int) -> str:
        validate.positive_int("n_tokens", n_tokens, "tokens")
        if self.tokenizer is not None:
            text = self.words(n_tokens)
            ids = self.tokenizer.encode(text).ids
            while len(ids) < n_tokens:
                text += " " + self.words(n_tokens - len(ids))
                ids = self.tokenizer.encode(text).ids
            return self.tokenizer.decode(ids[:n_tokens])
        if self.tokens_per_word is None:
            raise ValueError(
                "PromptMaker needs a tokenizer or a calibration (calibrate) before make()"
            )
        return self.words(max(1, round(n_tokens / self.tokens_per_word)))


async def stream_text_completion(
    session,
    url: str,
    model: str,
    prompt: str,
    max_tokens: int,
    req_id: str,
    group: str,
    run_t0: float,
    requested_tokens: int,
    api_key: str | None = None,
    timeout_s: float = 600.0,
) -> dict:
    """One streaming request with standard fields; the record has the same shape as the pair's.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    import aiohttp

    rec = {
        "id": req_id,
        "group": group,
        "prompt_tokens": requested_tokens,
        "requested_prompt_tokens": requested_tokens,
        "max_tokens": max_tokens,
        "start_s": None,
        "token_times_s": [],
        "token_counts": [],
        "output_token_ids": [],
        "output_text": "",
        "status": "error",
        "error": None,
        "routed": {},
        "http_status": None,
        "usage": None,
    }
    t_send = time.perf_counter()
    rec["start_s"] = t_send - run_t0
    try:
        async with session.post(
            url + "/v1/completions",
            json=request_body(model, prompt, max_tokens),
            headers=_headers(api_key),
            timeout=aiohttp.ClientTimeout(total=timeout_s),
        ) as r:
            rec["http_status"] = r.status
            rec["routed"] = {
                k: v
                for k, v in r.headers.items()
                if k.lower() in ("server", "x-request-id") or k.startswith("X-Pair-")
            }
            if r.status != 200:
                rec["error"] = (await r.text())[:2000]
                return rec
            async for raw in r.content:
                now = time.perf_counter()
                line = raw.decode(errors="replace").strip()
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                ev = json.loads(data)
                if "error" in ev:
                    rec["error"] = str(ev["error"])[:2000]
                    return rec
                if ev.get("usage"):
                    rec["usage"] = ev["usage"]
                for ch in ev.get("choices") or []:
                    if ch.get("text"):
                        rec["token_times_s"].append(now - t_send)
                        rec["token_counts"].append(1)
                        rec["output_text"] += ch["text"]
    except (TimeoutError, aiohttp.ClientError, ConnectionError) as e:
        rec["error"] = f"{type(e).__name__}: {e}"
        return rec
    if rec["usage"]:
        rec["prompt_tokens"] = int(rec["usage"].get("prompt_tokens", requested_tokens))
        completion = int(
            rec["usage"].get("completion_tokens", len(rec["token_times_s"]))
        )
        if rec["token_counts"] and completion > len(
            rec["token_counts"]
        ):  # chunks may carry several tokens
            rec["token_counts"][-1] += completion - sum(rec["token_counts"])
    if not rec["token_times_s"]:
        rec["error"] = "no token arrived"
        return rec
    rec["status"] = "ok"
    return rec


async def _sequential(
    url, model, maker, lengths, max_tokens, api_key, group="sweep"
) -> list[dict]:
    import aiohttp

    out = []
    async with aiohttp.ClientSession() as s:
        t0 = time.perf_counter()
        for i, n in enumerate(lengths):
            out.append(
                await stream_text_completion(
                    s,
                    url,
                    model,
                    maker.make(n),
                    max_tokens,
                    f"{group}-{i}",
                    group,
                    t0,
                    n,
                    api_key,
                )
            )
    return out


async def _mixed(url, model, maker, kw, api_key) -> list[dict]:
    import aiohttp

    async with aiohttp.ClientSession() as s:
        t0 = time.perf_counter()

        async def one(delay, n, m, rid, group):
            await asyncio.sleep(delay)
            return await stream_text_completion(
                s, url, model, maker.make(n), m, rid, group, t0, n, api_key
            )

        tasks = [
            one(
                i * kw["stream_stagger_s"],
                kw["stream_prompt_tokens"],
                kw["stream_output_tokens"],
                f"stream-{i}",
                "stream",
            )
            for i in range(kw["n_streams"])
        ]
        tasks += [
            one(
                kw["first_big_at_s"] + i * kw["big_interval_s"],
                kw["big_prompt_tokens"],
                kw["big_output_tokens"],
                f"big-{i}",
                "big",
            )
            for i in range(kw["n_big"])
        ]
        return list(await asyncio.gather(*tasks))


def _scrape(urls: list[str]) -> dict:
    out = {}
    for u in urls:
        try:
            with urllib.request.urlopen(u, timeout=10) as r:
                out[u] = met.pair_counters(r.read().decode())
        except (urllib.error.URLError, OSError) as e:
            out[u] = {"error": str(e)}
    return out


def run(
    url: str,
    workload: str,
    model: str | None = None,
    metrics_urls: list[str] = (),
    api_key: str | None = None,
    tokenizer: str | None = None,
    seed: int = 0,
) -> tuple[list[dict], dict, dict]:
    """Send ``workload`` to ``url``; return (request records, metrics before/after/delta, what was seen).

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    validate.one_of("workload", workload, tuple(WORKLOADS), "endpoint workload")
    url = url.rstrip("/")
    models = _get_json(url + "/v1/models", api_key)
    if model is None:
        try:
            model = models["data"][0]["id"]
        except (KeyError, IndexError, TypeError):
            raise ValueError(
                f"{url}/v1/models names no model ({models}); pass --model"
            ) from None
    maker = PromptMaker(tokenizer, seed)
    probe = None
    if tokenizer is None:  # ask the server how long a known text is
        words = 200
        probe = asyncio.run(
            _sequential(
                url, model, _Fixed(maker.words(words)), [words], 1, api_key, "probe"
            )
        )[0]
        if probe["status"] != "ok" or not probe["usage"]:
            raise ValueError(
                f"the server did not report usage for a probe request: {probe['error'] or probe}"
            )
        maker.calibrate(int(probe["usage"]["prompt_tokens"]), words)
    before = _scrape(list(metrics_urls))
    _, kw = WORKLOADS[workload]
    if "prompt_lengths" in kw:
        reqs = asyncio.run(
            _sequential(
                url, model, maker, kw["prompt_lengths"], kw["max_tokens"], api_key
            )
        )
    else:
        reqs = asyncio.run(_mixed(url, model, maker, kw, api_key))
    after = _scrape(list(metrics_urls))
    mets = {
        u: {
            "before": before[u],
            "after": after[u],
            "delta": met.delta(before[u], after[u])
            if "error" not in before[u] and "error" not in after[u]
            else {},
        }
        for u in before
    }
    seen = {
        "url": url,
        "model": model,
        "models": models,
        "version": _get_json(url + "/version", api_key),
        "server_headers": sorted(
            {r["routed"].get("Server", r["routed"].get("server", "")) for r in reqs}
            - {""}
        ),
        "prompt_length_source": "tokenizer" if tokenizer else "server usage (probe)",
        "tokens_per_word": maker.tokens_per_word,
        "probe": probe and {k: probe[k] for k in ("usage", "status")},
    }
    return reqs, mets, seen


class _Fixed:
    def __init__(self, text: str) -> None:
        self.text = text

    def make(self, n: int) -> str:
        return self.text


def capture_endpoint(
    url: str,
    workload: str,
    *,
    name: str = "my-deployment",
    model: str | None = None,
    metrics_urls: list[str] = (),
    api_key: str | None = None,
    tokenizer: str | None = None,
    out_dir: Path | None = None,
    seed: int = 0,
    command: str | None = None,
) -> Path:
    """Run ``workload`` against the deployment at ``url`` and write its sealed capture; return the path.

    The API key is never written to the capture.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    reqs, mets, seen = run(
        url, workload, model, list(metrics_urls), api_key, tokenizer, seed
    )
    desc, kw = WORKLOADS[workload]
    c = cap.new_capture(
        label=f"{name}__{workload}",
        kind="endpoint",
        description=f"{name}: an OpenAI-compatible deployment at {url}; workload: {desc}",
        command=command
        or f"python -m labs_py.pair capture-endpoint {url} {workload} --name {name}",
        config={
            "endpoint": seen,
            "metrics_urls": list(metrics_urls),
            "api_key_used": api_key is not None,
        },
        workload={"name": workload, "seed": seed, **kw},
        requests=reqs,
        metrics=mets,
    )
    out = (out_dir or ENDPOINT_DIR) / f"{name}__{workload}.json"
    return cap.write_capture(c, out)
