"""Fake vLLM upstreams for testing the proxy and the load generator without vLLM.

By default the fakes answer with fixed tokens (prefill: token 9; decode: 100, 101, ...). With
``greedy=True`` they share one deterministic fake model (:func:`fake_greedy`), so a test can
compare what a client gets through the proxy with what a single instance answers for the same
prompt, token for token, as the real smoke test does with vLLM.
"""

from __future__ import annotations

import asyncio
import json

from aiohttp import web
from aiohttp.test_utils import TestServer

KV_FROM_PREFILL = {
    "do_remote_prefill": True,
    "do_remote_decode": False,
    "remote_engine_id": "eng-P",
    "remote_block_ids": [[3, 4, 5]],
    "remote_host": "127.0.0.1",
    "remote_port": 5600,
    "remote_request_id": "abc",
    "tp_size": 1,
}

#: vLLM 0.32's answer to ``max_tokens`` below 1 (``SamplingParams._verify_args``): HTTP 400.
MAX_TOKENS_ERROR = "max_tokens must be at least 1, got {}."


def prompt_ids(body: dict) -> list[int]:
    """The prompt as token ids: a token-id list as is; text (or chat messages) one id per character."""
    if "messages" in body:
        return [ord(c) for m in body["messages"] for c in str(m.get("content", ""))]
    prompt = body.get("prompt", [])
    return [ord(c) for c in prompt] if isinstance(prompt, str) else list(prompt)


def fake_greedy(prompt: list[int], n: int) -> list[int]:
    """The fake model's greedy answer: ``n`` token ids, each a function of every token before it.

    Like a real model under greedy decoding, continuing ``prompt + answer[:k]`` gives
    ``answer[k:]``: the answer does not depend on which instance computes which part of it.
    """
    context, out = list(prompt), []
    for _ in range(n):
        token = 1000 + (31 * sum(context) + 7 * len(context)) % 997
        context.append(token)
        out.append(token)
    return out


def fake_text(token: int) -> str:
    """The fake tokenizer: token id ``t`` reads as ``" t<id>"``."""
    return f" t{token}"


def _token_limit(body: dict) -> int | None:
    for key in ("max_completion_tokens", "max_tokens"):
        if body.get(key) is not None:
            return body[key]
    return None


def _too_few_tokens(body: dict) -> web.Response | None:
    """vLLM's refusal of a request for fewer than one output token, or ``None``."""
    limit = _token_limit(body)
    if limit is not None and limit < 1:
        error = {
            "message": MAX_TOKENS_ERROR.format(limit),
            "type": "BadRequestError",
            "param": "max_tokens",
            "code": 400,
        }
        return web.json_response({"error": error}, status=400)
    return None


def _answer(chat: bool, tokens: list[int], extra: dict | None = None) -> dict:
    """A non-streamed answer carrying ``tokens``, shaped as vLLM shapes it for the route."""
    text = "".join(fake_text(t) for t in tokens)
    choice: dict = {"index": 0, "token_ids": tokens, "finish_reason": "length"}
    if chat:
        choice["message"] = {"role": "assistant", "content": text}
    else:
        choice["text"] = text
    return {"choices": [choice], **(extra or {})}


def _chunk(chat: bool, token: int) -> dict:
    """One streamed event carrying ``token``, shaped as vLLM shapes it for the route."""
    choice: dict = {"index": 0, "token_ids": [token], "finish_reason": None}
    if chat:
        choice["delta"] = {"content": fake_text(token)}
    else:
        choice["text"] = fake_text(token)
    return {"choices": [choice]}


class FakePrefill:
    """A prefill instance: answers with one sampled token and its ``kv_transfer_params``.

    It refuses ``max_tokens`` (or ``max_completion_tokens``) below 1 with vLLM's HTTP 400.
    """

    def __init__(self, status: int = 200, greedy: bool = False):
        self.bodies: list[dict] = []
        self.headers: list[dict] = []
        self.status = status
        self.greedy = greedy

    def app(self) -> web.Application:
        async def handle(request):
            body = await request.json()
            self.bodies.append(body)
            self.headers.append(dict(request.headers))
            if self.status != 200:
                return web.json_response(
                    {"error": {"message": "nope"}}, status=self.status
                )
            refusal = _too_few_tokens(body)
            if refusal is not None:
                return refusal
            kv = dict(KV_FROM_PREFILL, remote_port=5600 + len(self.bodies))
            if not self.greedy:
                return web.json_response(
                    {
                        "choices": [{"text": "x", "token_ids": [9]}],
                        "kv_transfer_params": kv,
                    }
                )
            n = _token_limit(body) or 16
            tokens = fake_greedy(prompt_ids(body), n)
            chat = request.path.endswith("/chat/completions")
            return web.json_response(_answer(chat, tokens, {"kv_transfer_params": kv}))

        app = web.Application()
        app.router.add_post("/v1/completions", handle)
        app.router.add_post("/v1/chat/completions", handle)
        return app


class FakeDecode:
    """Streams ``n_tokens`` SSE chunks; with ``die_after`` it drops the connection mid-stream.

    With ``greedy=True`` it answers with the fake model's tokens for the request's prompt, whether
    or not ``kv_transfer_params`` came with it: like vLLM's decode instance, it emits the answer's
    first token itself. Without a proxy in front, it is the single instance of a comparison.
    """

    def __init__(
        self,
        n_tokens: int = 5,
        die_after: int | None = None,
        gap_s: float = 0.0,
        greedy: bool = False,
    ):
        self.bodies: list[dict] = []
        self.n_tokens, self.die_after, self.gap_s = n_tokens, die_after, gap_s
        self.greedy = greedy

    def app(self) -> web.Application:
        async def handle(request):
            body = await request.json()
            self.bodies.append(body)
            n = body.get("max_tokens", self.n_tokens)
            chat = request.path.endswith("/chat/completions")
            if self.greedy:
                refusal = _too_few_tokens(body)
                if refusal is not None:
                    return refusal
                n = _token_limit(body) or self.n_tokens
                tokens = fake_greedy(prompt_ids(body), n)
            else:
                tokens = list(range(100, 100 + n))
            if not body.get("stream"):
                if self.greedy:
                    return web.json_response(
                        _answer(chat, tokens, {"kv_transfer_params": None})
                    )
                return web.json_response(
                    {
                        "choices": [{"text": "t" * n, "token_ids": tokens}],
                        "kv_transfer_params": None,
                    }
                )
            resp = web.StreamResponse()
            resp.content_type = "text/event-stream"
            await resp.prepare(request)
            for i, token in enumerate(tokens):
                if self.die_after is not None and i == self.die_after:
                    request.transport.abort()
                    return resp
                if self.greedy:
                    ev = _chunk(chat, token)
                else:
                    ev = {"choices": [{"index": 0, "text": "t", "token_ids": [token]}]}
                await resp.write(f"data: {json.dumps(ev)}\n\n".encode())
                if self.gap_s:
                    await asyncio.sleep(self.gap_s)
            await resp.write(b"data: [DONE]\n\n")
            await resp.write_eof()
            return resp

        app = web.Application()
        app.router.add_post("/v1/completions", handle)
        app.router.add_post("/v1/chat/completions", handle)
        return app


async def serve(app: web.Application) -> TestServer:
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


def url_of(server: TestServer) -> str:
    return f"http://127.0.0.1:{server.port}"


def unused_url() -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there once the socket is closed
