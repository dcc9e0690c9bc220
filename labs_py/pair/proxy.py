"""The disaggregation proxy: vLLM's NIXL handoff protocol, as a real async HTTP server.

A client talks to one OpenAI-compatible endpoint. Behind it, every request
takes two legs (the protocol of vLLM's NixlConnector in pull mode, as in
vLLM's ``tests/v1/kv_connector/nixl_integration/toy_proxy_server.py``):

1. **Prefill leg.** A copy of the request goes to a prefill instance (a
   ``kv_producer``) with ``stream=False``, ``max_tokens=1`` (and
   ``max_completion_tokens=1``), without ``stream_options`` and without
   ``min_tokens`` (a ``min_tokens`` larger than 1 would contradict
   ``max_tokens=1``), and with ``kv_transfer_params`` saying "I will decode
   remotely": ``{"do_remote_decode": true, "do_remote_prefill": false, ...}``.
   The producer computes the prompt's KV, keeps the blocks, and answers with
   its own top-level ``kv_transfer_params``: where the blocks are (engine id,
   block ids, host, port).
2. **Decode leg.** The original request goes to a decode instance (a
   ``kv_consumer``) with those ``kv_transfer_params`` copied **verbatim**. The
   consumer pulls the blocks over NIXL, recomputes only the last prompt token,
   and generates. Its bytes stream straight back to the client
   (``text/event-stream`` when the client asked to stream).

What can go wrong, and what this proxy does:

* **Prefill is down** (connection refused, or a 5xx): try the next prefill
  instance; when none answers, send the original request to decode without
  ``kv_transfer_params``. Decode then prefills locally: a *colocated
  fallback*. Output is still correct; TTFT and ITL lose the benefits of
  disaggregation, and decode's ``/metrics`` show it (``local_compute`` > 0).
* **Decode dies mid-stream**: the client gets an explicit SSE error event
  (``{"error": {...}}``) naming the decode instance and how many bytes had
  arrived, and no ``[DONE]``; a non-streaming client gets HTTP 502. A
  truncated answer is never passed off as a complete one.
* ``--drop-kv-transfer-params`` reproduces a classic bug for the drill: the
  prefill leg still runs, but its ``kv_transfer_params`` are not forwarded,
  so decode silently re-prefills. The output is still right; only decode's
  ``/metrics`` expose it.

Who emits the answer's first token? The prefill instance cannot be asked for
zero tokens: the OpenAI API has no "prefill only" request, and vLLM refuses
``max_tokens=0`` with HTTP 400 (vLLM 0.32: ``max_tokens must be at least 1,
got 0.``; even its echo-only request, ``echo=true`` with ``max_tokens=0``,
runs one token internally). So the producer always runs the prompt *and
samples one token*.
This proxy throws that token away and keeps only the ``kv_transfer_params``;
the decode instance recomputes the prompt's last position from the pulled KV
and samples the first token itself. Under greedy decoding both samples are
the same token, so the client receives exactly what a single instance would
send, token for token, and exactly ``max_tokens`` of them. Lab 15-02 calls an
off-by-one at this handoff the classic proxy bug. ``--bug`` reproduces its
forms, as a teaching drill and never by default (:data:`BUGS`):

* ``duplicate-first-token``: the client gets prefill's token *and* decode's
  own first token, so token 0 appears twice and there is one token too many;
* ``drop-first-token``: decode's first token is removed as if prefill's had
  been sent in its place, but prefill's never is: the first token is missing
  and there is one token too few;
* ``prefill-max-tokens-0``: the prefill leg asks for zero tokens, which
  vLLM refuses; the client gets that HTTP 400 and decode is never called.

Response headers say where the time went: ``X-Pair-Prefill`` (which producer,
or ``fallback (...)``), ``X-Pair-Decode``, ``X-Pair-Prefill-Leg-Ms`` (the whole
prefill leg, as the proxy saw it) and ``X-Pair-Decode-Headers-Ms`` (until
decode's response headers arrived).

Several prefill and several decode instances are served round-robin, so one
proxy runs 1P:1D, 1P:2D or 2P:2D. ``GET /proxy/stats`` returns counters
(requests, fallbacks, mid-stream failures, per-upstream legs) for captures.

Needs ``aiohttp`` (a light dependency of the book's main environment too), not vLLM.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from typing import NamedTuple

import aiohttp
from aiohttp import web

#: What the prefill leg asks the producer for: "keep the KV for a remote decoder".
PREFILL_KV_TRANSFER_PARAMS = {
    "do_remote_decode": True,
    "do_remote_prefill": False,
    "remote_engine_id": None,
    "remote_block_ids": None,
    "remote_host": None,
    "remote_port": None,
}

ROUTES = ("/v1/completions", "/v1/chat/completions")
PROXY_KEY: web.AppKey[PairProxy] = web.AppKey("proxy")

#: Deliberately broken proxies for the first-token drill (lab 15-02's off-by-one); never the default.
BUGS = {
    "duplicate-first-token": "send prefill's sampled token to the client, then all of "
    "decode's tokens: token 0 twice, max_tokens + 1 tokens",
    "drop-first-token": "remove decode's first token (as if prefill's replaced it) but never "
    "send prefill's: token 0 missing, max_tokens - 1 tokens",
    "prefill-max-tokens-0": "ask the prefill instance for max_tokens=0: vLLM answers HTTP 400 "
    "and decode is never called",
}


def prefill_request(body: dict) -> dict:
    """The prefill leg's body: one token, no streaming, no ``min_tokens``, remote-decode KV params.

    One token, never zero: vLLM refuses ``max_tokens=0``, and the token the producer
    samples is thrown away (decode samples the answer's first token itself).

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    req = copy.deepcopy(body)
    req["stream"] = False
    req.pop("stream_options", None)
    req.pop("min_tokens", None)
    req["max_tokens"] = 1
    if "max_completion_tokens" in req or "messages" in req:
        req["max_completion_tokens"] = 1
    req["kv_transfer_params"] = dict(PREFILL_KV_TRANSFER_PARAMS)
    return req


def decode_request(body: dict, kv_transfer_params: dict | None) -> dict:
    """The decode leg's body: the client's request plus the producer's ``kv_transfer_params``.

    With ``kv_transfer_params=None`` (prefill unavailable) the field is removed,
    so decode prefills locally: the colocated fallback.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    req = copy.deepcopy(body)
    req.pop("kv_transfer_params", None)
    if kv_transfer_params is not None:
        req["kv_transfer_params"] = kv_transfer_params
    return req


def sse_error_event(message: str, code: int = 502) -> bytes:
    """An OpenAI-style error as one server-sent event.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    payload = {"error": {"message": message, "type": "upstream_error", "code": code}}
    return f"data: {json.dumps(payload)}\n\n".encode()


def _is_chat(path: str) -> bool:
    return path.endswith("/chat/completions")


def _content_slot(path: str, choice: dict, streaming: bool) -> tuple[dict, str]:
    """Where a choice keeps its text: ``text`` (completions), ``message``/``delta`` ``content`` (chat)."""
    if not _is_chat(path):
        return choice, "text"
    return choice.setdefault("delta" if streaming else "message", {}), "content"


def _content(path: str, choice: dict, streaming: bool) -> str:
    """A choice's text, read without changing the choice."""
    if not _is_chat(path):
        return choice.get("text") or ""
    return (choice.get("delta" if streaming else "message") or {}).get("content") or ""


def first_token_of(path: str, prefill_response: dict) -> tuple[str, list[int]]:
    """The token the prefill instance sampled: its text and its ids (empty unless the client asked).

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    choice = (prefill_response.get("choices") or [{}])[0]
    return _content(path, choice, False), list(choice.get("token_ids") or [])


def carries_token(path: str, event: dict, streaming: bool = True) -> bool:
    """Whether an answer (or one streamed event of it) carries at least one output token.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    return any(
        choice.get("token_ids") or _content(path, choice, streaming)
        for choice in event.get("choices") or []
    )


def prepend_first_token(
    path: str, answer: dict, text: str, token_ids: Sequence[int], streaming: bool
) -> dict:
    """``answer`` with prefill's token put in front of its first choice: the duplicate bug.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    out = copy.deepcopy(answer)
    choice = out["choices"][0]
    slot, key = _content_slot(path, choice, streaming)
    slot[key] = text + (slot.get(key) or "")
    if token_ids:
        choice["token_ids"] = list(token_ids) + list(choice.get("token_ids") or [])
    return out


def drop_first_token(
    path: str, answer: dict, text: str, streaming: bool
) -> dict | None:
    """``answer`` without its first token: the drop bug; ``None`` when a streamed event had only that one.

    The first token id goes, and the text loses the prefix ``text`` (prefill's token, which
    under greedy decoding is also decode's first token).

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    out = copy.deepcopy(answer)
    choice = out["choices"][0]
    slot, key = _content_slot(path, choice, streaming)
    if choice.get("token_ids"):
        choice["token_ids"] = choice["token_ids"][1:]
    content = slot.get(key) or ""
    if text and content.startswith(text):
        slot[key] = content[len(text) :]
    if streaming and not carries_token(path, out, streaming):
        return None
    return out


def first_token_event(
    path: str, model: str | None, text: str, token_ids: Sequence[int]
) -> bytes:
    """One server-sent event carrying prefill's token, shaped like vLLM's own stream events.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    choice: dict = {"index": 0, "logprobs": None, "finish_reason": None}
    if _is_chat(path):
        choice["delta"] = {"content": text}
    else:
        choice["text"] = text
    if token_ids:
        choice["token_ids"] = list(token_ids)
    event = {
        "id": f"pair-bug-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion.chunk" if _is_chat(path) else "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
    }
    return f"data: {json.dumps(event)}\n\n".encode()


class DropFirstTokenStream:
    """Rewrites a stream of server-sent events, fed in chunks cut anywhere, minus its first output token.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """

    def __init__(self, path: str, text: str) -> None:
        self.path, self.text = path, text
        self.buffer = b""
        self.done = False

    def feed(self, chunk: bytes) -> bytes:
        if self.done and not self.buffer:
            return chunk
        self.buffer += chunk
        out = []
        while b"\n\n" in self.buffer:
            raw, self.buffer = self.buffer.split(b"\n\n", 1)
            out.append(self._event(raw))
        return b"".join(out)

    def flush(self) -> bytes:
        rest, self.buffer = self.buffer, b""
        return rest

    def _event(self, raw: bytes) -> bytes:
        data = raw[5:].strip() if raw.startswith(b"data:") else b""
        if self.done or not data or data == b"[DONE]":
            return raw + b"\n\n"
        try:
            event = json.loads(data)
        except ValueError:
            return raw + b"\n\n"
        if not isinstance(event, dict) or not carries_token(self.path, event):
            return raw + b"\n\n"
        self.done = True
        event = drop_first_token(self.path, event, self.text, streaming=True)
        return b"" if event is None else f"data: {json.dumps(event)}\n\n".encode()


class UpstreamRejected(Exception):
    """The prefill instance refused the request itself (HTTP 4xx): the client must see it.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """

    def __init__(self, status: int, body: bytes, url: str = "") -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body
        self.url = url


class PrefillLeg(NamedTuple):
    """What the prefill leg brought back.

    ``kv_transfer_params`` is ``None`` when no producer answered (then ``source`` says why) or
    when the producer returned none; ``first_text`` and ``first_token_ids`` are the token it
    sampled, which a correct proxy throws away.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """

    kv_transfer_params: dict | None
    source: str
    first_text: str = ""
    first_token_ids: tuple[int, ...] = ()
    answered: bool = False


class _RoundRobin:
    """Round-robin over upstream URLs, skipping ones that failed within ``cooldown_s``."""

    def __init__(self, urls: list[str], cooldown_s: float) -> None:
        if not urls:
            raise ValueError("need at least one upstream URL")
        self.urls = list(urls)
        self.cooldown_s = cooldown_s
        self._cycle = itertools.cycle(range(len(urls)))
        self._down_until: dict[str, float] = {}

    def order(self) -> list[str]:
        """All URLs, starting with the next in turn, healthy ones first."""
        start = next(self._cycle)
        rotated = self.urls[start:] + self.urls[:start]
        now = time.monotonic()
        healthy = [u for u in rotated if self._down_until.get(u, 0.0) <= now]
        return healthy + [u for u in rotated if u not in healthy]

    def mark_down(self, url: str) -> None:
        self._down_until[url] = time.monotonic() + self.cooldown_s


class PairProxy:
    """State of one proxy: upstream pools, the HTTP client session, counters.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """

    def __init__(
        self,
        prefill_urls: list[str],
        decode_urls: list[str],
        forward_kv_params: bool = True,
        prefill_cooldown_s: float = 5.0,
        connect_timeout_s: float = 5.0,
        bug: str | None = None,
    ) -> None:
        if bug is not None and bug not in BUGS:
            raise ValueError(
                f"unknown proxy bug {bug!r}; the drill's bugs are {sorted(BUGS)} "
                "(None, the default, is the correct proxy)"
            )
        self.bug = bug
        self.prefill = _RoundRobin(prefill_urls, prefill_cooldown_s)
        self.decode = _RoundRobin(decode_urls, 0.0)
        self.forward_kv_params = forward_kv_params
        self.connect_timeout_s = connect_timeout_s
        self.stats: Counter = Counter()
        self.session: aiohttp.ClientSession | None = None

    async def startup(self, app: web.Application) -> None:
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.connect_timeout_s)
        self.session = aiohttp.ClientSession(
            timeout=timeout, connector=aiohttp.TCPConnector(limit=0)
        )

    async def cleanup(self, app: web.Application) -> None:
        if self.session is not None:
            await self.session.close()

    # ---- the two legs -------------------------------------------------------------
    async def run_prefill(self, path: str, body: dict, request_id: str) -> PrefillLeg:
        """Try each prefill instance in turn; the first that answers gives the leg's result."""
        assert self.session is not None
        leg = prefill_request(body)
        if self.bug == "prefill-max-tokens-0":
            # the drill's bug: a "prefill only" request that the OpenAI API does not have
            leg["max_tokens"] = 0
            if "max_completion_tokens" in leg:
                leg["max_completion_tokens"] = 0
        reasons = []
        for url in self.prefill.order():
            try:
                async with self.session.post(
                    url + path,
                    json=leg,
                    headers={"X-Request-Id": request_id},
                ) as r:
                    if r.status >= 500:
                        reasons.append(f"{url}: HTTP {r.status}")
                        self.prefill.mark_down(url)
                        continue
                    if r.status != 200:
                        # a 4xx is the client's fault: pass it on instead of hiding it behind a fallback
                        raise UpstreamRejected(r.status, await r.read(), url)
                    data = await r.json(content_type=None)
                    self.stats[f"prefill_legs:{url}"] += 1
                    text, ids = first_token_of(path, data)
                    return PrefillLeg(
                        data.get("kv_transfer_params"),
                        url,
                        text,
                        tuple(ids),
                        answered=True,
                    )
            except (TimeoutError, aiohttp.ClientConnectionError) as e:
                reasons.append(f"{url}: {type(e).__name__}")
                self.prefill.mark_down(url)
        return PrefillLeg(None, "; ".join(reasons))

    async def handle(self, request: web.Request) -> web.StreamResponse:
        assert self.session is not None
        path = request.path
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return web.json_response(
                {"error": {"message": "request body is not JSON"}}, status=400
            )
        self.stats["requests"] += 1
        request_id = request.headers.get("X-Request-Id") or f"pair-{uuid.uuid4().hex}"
        t_in = time.perf_counter()
        bug_headers = {"X-Pair-Bug": self.bug} if self.bug else {}
        try:
            prefilled = await self.run_prefill(path, body, request_id)
        except UpstreamRejected as e:
            self.stats["prefill_rejected"] += 1
            return web.Response(
                body=e.body,
                status=e.status,
                content_type="application/json",
                headers={
                    "X-Pair-Prefill": f"rejected by {e.url} (HTTP {e.status})",
                    **bug_headers,
                },
            )
        kv_params, prefill_from = prefilled.kv_transfer_params, prefilled.source
        # the drill's first-token bugs act only when a producer answered (and sampled a token)
        first_token_bug = (
            self.bug in ("duplicate-first-token", "drop-first-token")
            and prefilled.answered
        )
        if first_token_bug:
            self.stats[f"bug:{self.bug}"] += 1
        if kv_params is None:
            self.stats["colocated_fallbacks"] += 1
            prefill_header = f"fallback ({prefill_from})"
        else:
            prefill_header = prefill_from
        if not self.forward_kv_params:
            kv_params = (
                None  # the drill's bug: prefill ran, but its KV location is dropped
            )
        decode_body = decode_request(body, kv_params)
        stream = bool(body.get("stream", False))
        decode_url = self.decode.order()[0]
        t_prefilled = time.perf_counter()
        headers = {
            "X-Pair-Prefill": prefill_header,
            "X-Pair-Decode": decode_url,
            "X-Request-Id": request_id,
            "X-Pair-Prefill-Leg-Ms": f"{(t_prefilled - t_in) * 1e3:.2f}",
            **bug_headers,
        }
        self.stats[f"decode_legs:{decode_url}"] += 1
        try:
            upstream = await self.session.post(
                decode_url + path,
                json=decode_body,
                headers={"X-Request-Id": request_id},
            )
        except (TimeoutError, aiohttp.ClientConnectionError) as e:
            self.stats["decode_unreachable"] += 1
            msg = f"decode instance {decode_url} unreachable: {type(e).__name__}: {e}"
            return web.json_response(
                {"error": {"message": msg, "type": "upstream_error", "code": 502}},
                status=502,
                headers=headers,
            )
        headers["X-Pair-Decode-Headers-Ms"] = (
            f"{(time.perf_counter() - t_prefilled) * 1e3:.2f}"
        )
        async with upstream:
            if upstream.status != 200 or not stream:
                try:
                    payload = await upstream.read()
                except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError) as e:
                    self.stats["decode_died_midstream"] += 1
                    msg = f"decode instance {decode_url} died before its answer completed: {type(e).__name__}"
                    return web.json_response(
                        {
                            "error": {
                                "message": msg,
                                "type": "upstream_error",
                                "code": 502,
                            }
                        },
                        status=502,
                        headers=headers,
                    )
                if first_token_bug and upstream.status == 200:
                    payload = self._buggy_answer(path, payload, prefilled)
                return web.Response(
                    body=payload,
                    status=upstream.status,
                    headers=headers,
                    content_type=upstream.content_type or "application/json",
                )
            resp = web.StreamResponse(status=200, headers=headers)
            resp.content_type = "text/event-stream"
            await resp.prepare(request)
            n_bytes = 0
            tail = b""
            dropper = None
            if first_token_bug and self.bug == "duplicate-first-token":
                await resp.write(
                    first_token_event(
                        path,
                        body.get("model"),
                        prefilled.first_text,
                        prefilled.first_token_ids,
                    )
                )
            elif first_token_bug:
                dropper = DropFirstTokenStream(path, prefilled.first_text)
            try:
                async for chunk in upstream.content.iter_any():
                    n_bytes += len(chunk)
                    tail = (tail + chunk)[-64:]
                    await resp.write(chunk if dropper is None else dropper.feed(chunk))
                if dropper is not None:
                    await resp.write(dropper.flush())
                if b"[DONE]" not in tail:
                    raise aiohttp.ClientPayloadError("stream ended without [DONE]")
            except (
                TimeoutError,
                aiohttp.ClientPayloadError,
                aiohttp.ClientConnectionError,
            ) as e:
                self.stats["decode_died_midstream"] += 1
                msg = (
                    f"decode instance {decode_url} died mid-stream after {n_bytes} bytes "
                    f"({type(e).__name__}); the answer is incomplete"
                )
                try:
                    await resp.write(sse_error_event(msg))
                except (ConnectionResetError, aiohttp.ClientConnectionError):
                    pass
            except ConnectionResetError:
                self.stats["client_disconnected"] += 1
                return resp
            await resp.write_eof()
            return resp

    def _buggy_answer(self, path: str, payload: bytes, prefilled: PrefillLeg) -> bytes:
        """A non-streamed answer, broken the way the drill's bug breaks it."""
        try:
            answer = json.loads(payload)
        except ValueError:
            return payload
        if not isinstance(answer, dict) or not answer.get("choices"):
            return payload
        if self.bug == "duplicate-first-token":
            answer = prepend_first_token(
                path,
                answer,
                prefilled.first_text,
                prefilled.first_token_ids,
                streaming=False,
            )
        else:
            answer = drop_first_token(
                path, answer, prefilled.first_text, streaming=False
            )
        return json.dumps(answer).encode()

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def stats_handler(self, request: web.Request) -> web.Response:
        return web.json_response(dict(self.stats))

    async def models(self, request: web.Request) -> web.Response:
        assert self.session is not None
        url = self.decode.order()[0]
        try:
            async with self.session.get(url + "/v1/models") as r:
                return web.Response(
                    body=await r.read(),
                    status=r.status,
                    content_type="application/json",
                )
        except aiohttp.ClientConnectionError as e:
            return web.json_response({"error": {"message": f"{url}: {e}"}}, status=502)


def make_app(
    prefill_urls: list[str],
    decode_urls: list[str],
    forward_kv_params: bool = True,
    prefill_cooldown_s: float = 5.0,
    bug: str | None = None,
) -> web.Application:
    """The proxy as an ``aiohttp`` application (tests run it against fake upstreams).

    ``bug`` names one of the drill's deliberately broken proxies (:data:`BUGS`); ``None``, the
    default, is the correct proxy.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    proxy = PairProxy(
        prefill_urls, decode_urls, forward_kv_params, prefill_cooldown_s, bug=bug
    )
    app = web.Application(client_max_size=64 * 2**20)
    app[PROXY_KEY] = proxy
    app.on_startup.append(proxy.startup)
    app.on_cleanup.append(proxy.cleanup)
    for route in ROUTES:
        app.router.add_post(route, proxy.handle)
    app.router.add_get("/health", proxy.health)
    app.router.add_get("/proxy/stats", proxy.stats_handler)
    app.router.add_get("/v1/models", proxy.models)
    return app


def upstream_refused(url: str) -> str | None:
    """Why the proxy will not forward to ``url``, or ``None``: only loopback or the pair's own namespaces.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    from labs_py.pair.netns import ENDPOINTS

    host = url.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
    allowed = {"127.0.0.1", "localhost", "::1"} | {
        e.api_host for e in ENDPOINTS.values()
    }
    if host not in allowed:
        return (
            f"upstream {url!r} is neither loopback nor an address of the pair's own namespaces "
            f"({', '.join(sorted(e.api_host for e in ENDPOINTS.values()))})"
        )
    return None


def main(argv: list[str] | None = None) -> None:
    """Run the proxy as a command: ``python -m labs_py.pair.proxy --prefill URL --decode URL``.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        epilog="--bug is a teaching drill (lab 15-02's off-by-one at the first token): "
        + "; ".join(f"{name}: {what}" for name, what in BUGS.items())
        + ". Never use it in front of real users.",
    )
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument(
        "--prefill",
        action="append",
        required=True,
        help="prefill instance URL (repeatable)",
    )
    ap.add_argument(
        "--decode",
        action="append",
        required=True,
        help="decode instance URL (repeatable)",
    )
    ap.add_argument(
        "--drop-kv-transfer-params",
        action="store_true",
        help="drill only: do not forward kv_transfer_params (decode silently re-prefills)",
    )
    ap.add_argument(
        "--bug",
        choices=sorted(BUGS),
        default=None,
        help="TEACHING DRILL ONLY, off by default: run a deliberately broken proxy that "
        "mishandles the answer's first token (see below); every response carries X-Pair-Bug",
    )
    ap.add_argument("--prefill-cooldown-s", type=float, default=5.0)
    ap.add_argument(
        "--allow-remote-upstreams",
        action="store_true",
        help="a real deployment across hosts: forward to any upstream (the harness never sets this)",
    )
    ap.add_argument(
        "--listen-all",
        action="store_true",
        help="with --allow-remote-upstreams: listen on 0.0.0.0",
    )
    a = ap.parse_args(argv)
    if a.bug and (a.allow_remote_upstreams or a.listen_all):
        ap.error(
            f"--bug {a.bug} is a drill for the local pair: it refuses "
            "--allow-remote-upstreams and --listen-all"
        )
    if a.listen_all and not a.allow_remote_upstreams:
        ap.error(
            "--listen-all is for a deployment across hosts: it needs --allow-remote-upstreams"
        )
    host = "0.0.0.0" if a.listen_all else a.host
    if not a.listen_all and a.host not in ("127.0.0.1", "localhost", "::1"):
        ap.error(f"--host must be a loopback address; got {a.host!r}")
    for url in a.prefill + a.decode:
        reason = None if a.allow_remote_upstreams else upstream_refused(url)
        if reason:
            ap.error(
                reason + "; for a deployment across hosts pass --allow-remote-upstreams"
            )
    app = make_app(
        a.prefill,
        a.decode,
        not a.drop_kv_transfer_params,
        a.prefill_cooldown_s,
        bug=a.bug,
    )
    print(
        f"[proxy] {host}:{a.port} prefill={a.prefill} decode={a.decode} "
        f"forward_kv_params={not a.drop_kv_transfer_params}",
        flush=True,
    )
    if a.bug:
        print(
            f"[proxy] DRILL: deliberately broken (--bug {a.bug}): {BUGS[a.bug]}",
            flush=True,
        )
    web.run_app(app, host=host, port=a.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
