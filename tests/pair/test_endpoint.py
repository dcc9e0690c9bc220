"""capture-endpoint against a strict OpenAI stand-in: standard fields only, text prompts, a sealed capture."""

import asyncio
import json
import threading

import pytest
from aiohttp import web

from labs_py.captures import capture as cap
from labs_py.pair import endpoint, proxy

OPENAI_FIELDS = {
    "model",
    "prompt",
    "max_tokens",
    "temperature",
    "stream",
    "stream_options",
    "top_p",
    "n",
    "stop",
    "seed",
    "user",
    "logprobs",
    "echo",
    "presence_penalty",
    "frequency_penalty",
    "best_of",
    "suffix",
    "logit_bias",
}


class StrictServer:
    """An OpenAI-compatible stand-in that rejects any field OpenAI's API does not define (as a strict gateway does).

    It counts one token per word of the prompt (what its ``usage`` reports) and streams ``max_tokens`` tokens.
    """

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.port = None

    async def completions(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.bodies.append(body)
        unknown = set(body) - OPENAI_FIELDS
        if unknown or not isinstance(body.get("prompt"), str):
            return web.json_response(
                {
                    "error": {
                        "message": f"unrecognized fields {sorted(unknown)} or a non-text "
                        "prompt"
                    }
                },
                status=400,
            )
        n_prompt = len(body["prompt"].split())
        resp = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Server": "strict-openai/1.0"}
        )
        await resp.prepare(request)
        for i in range(body["max_tokens"]):
            await asyncio.sleep(0.002)
            chunk = {"choices": [{"index": 0, "text": f" t{i}"}], "usage": None}
            await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
        usage = {
            "prompt_tokens": n_prompt,
            "completion_tokens": body["max_tokens"],
            "total_tokens": n_prompt + body["max_tokens"],
        }
        await resp.write(
            f"data: {json.dumps({'choices': [], 'usage': usage})}\n\n".encode()
        )
        await resp.write(b"data: [DONE]\n\n")
        return resp

    async def models(self, request):
        return web.json_response({"data": [{"id": "stand-in", "object": "model"}]})

    def start(self) -> str:
        app = web.Application()
        app.router.add_post("/v1/completions", self.completions)
        app.router.add_get("/v1/models", self.models)
        ready = threading.Event()

        def serve():
            loop = asyncio.new_event_loop()
            runner = web.AppRunner(app)
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]
            ready.set()
            loop.run_forever()

        threading.Thread(target=serve, daemon=True).start()
        ready.wait(10)
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def server():
    s = StrictServer()
    return s, s.start()


def test_the_request_body_holds_standard_fields_only():
    body = endpoint.request_body("m", "hello", 4)
    assert set(body) <= set(endpoint.STANDARD_FIELDS) <= OPENAI_FIELDS


def test_capture_endpoint_against_a_strict_server(server, tmp_path):
    srv, url = server
    path = endpoint.capture_endpoint(
        url, "smoke", name="strict", out_dir=tmp_path, api_key="secret-key"
    )
    c = cap.load_capture(path)  # sealed and valid
    assert c["kind"] == "endpoint" and c["label"] == "strict__smoke"
    ok = [r for r in c["requests"] if r["status"] == "ok"]
    assert len(ok) == 2
    # the probe calibrated the length: each prompt is within 5% of what was asked, as the server counted it
    for r in ok:
        assert r["prompt_tokens"] == pytest.approx(
            r["requested_prompt_tokens"], rel=0.05
        )
        assert len(r["token_times_s"]) == r["max_tokens"] == 8
    assert all(set(b) <= set(endpoint.STANDARD_FIELDS) for b in srv.bodies)
    assert c["config"]["endpoint"]["model"] == "stand-in"
    assert "secret-key" not in json.dumps(c)  # the key is never written
    assert c["config"]["endpoint"]["server_headers"] == ["strict-openai/1.0"]


def test_the_pairs_own_load_generator_would_be_refused(server):
    # the harness's loadgen sends vLLM extensions (token-id prompts, ignore_eos): a strict server says no
    srv, url = server

    async def go():
        import aiohttp

        from labs_py.pair import loadgen

        async with aiohttp.ClientSession() as s:
            return await loadgen.stream_completion(
                s, url, "stand-in", [5, 6, 7], 2, "x", "g", 0.0
            )

    rec = asyncio.run(go())
    assert rec["http_status"] == 400 and "unrecognized" in rec["error"]


def test_an_unknown_workload_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="sweep"):
        endpoint.run("http://127.0.0.1:1", "nope")


def test_the_chapter_renders_your_capture_when_pointed_at_it(
    server, tmp_path, monkeypatch
):
    srv, url = server
    path = endpoint.capture_endpoint(url, "smoke", name="mine", out_dir=tmp_path)
    monkeypatch.setenv(cap.ENV_ENDPOINT_CAPTURE, str(path))
    assert cap.endpoint_capture()["label"] == "mine__smoke"


def test_the_proxy_forwards_only_to_loopback_or_the_pairs_namespaces():
    assert proxy.upstream_refused("http://127.0.0.1:8200") is None
    assert proxy.upstream_refused("http://10.231.2.1:8200") is None
    assert "neither loopback" in proxy.upstream_refused("http://10.0.0.5:8200")
