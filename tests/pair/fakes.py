"""Fake vLLM upstreams for testing the proxy and the load generator without vLLM."""

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


class FakePrefill:
    def __init__(self, status: int = 200):
        self.bodies: list[dict] = []
        self.headers: list[dict] = []
        self.status = status

    def app(self) -> web.Application:
        async def handle(request):
            body = await request.json()
            self.bodies.append(body)
            self.headers.append(dict(request.headers))
            if self.status != 200:
                return web.json_response(
                    {"error": {"message": "nope"}}, status=self.status
                )
            kv = dict(KV_FROM_PREFILL, remote_port=5600 + len(self.bodies))
            return web.json_response(
                {"choices": [{"text": "x", "token_ids": [9]}], "kv_transfer_params": kv}
            )

        app = web.Application()
        app.router.add_post("/v1/completions", handle)
        app.router.add_post("/v1/chat/completions", handle)
        return app


class FakeDecode:
    """Streams ``n_tokens`` SSE chunks; with ``die_after`` it drops the connection mid-stream."""

    def __init__(
        self, n_tokens: int = 5, die_after: int | None = None, gap_s: float = 0.0
    ):
        self.bodies: list[dict] = []
        self.n_tokens, self.die_after, self.gap_s = n_tokens, die_after, gap_s

    def app(self) -> web.Application:
        async def handle(request):
            body = await request.json()
            self.bodies.append(body)
            n = body.get("max_tokens", self.n_tokens)
            if not body.get("stream"):
                return web.json_response(
                    {
                        "choices": [
                            {"text": "t" * n, "token_ids": list(range(100, 100 + n))}
                        ],
                        "kv_transfer_params": None,
                    }
                )
            resp = web.StreamResponse()
            resp.content_type = "text/event-stream"
            await resp.prepare(request)
            for i in range(n):
                if self.die_after is not None and i == self.die_after:
                    request.transport.abort()
                    return resp
                ev = {"choices": [{"index": 0, "text": "t", "token_ids": [100 + i]}]}
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
