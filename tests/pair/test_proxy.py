"""The proxy's NIXL protocol, against fake prefill and decode servers."""

import asyncio
import json

import pytest

aiohttp = pytest.importorskip("aiohttp")

from fakes import (  # noqa: E402
    KV_FROM_PREFILL,
    FakeDecode,
    FakePrefill,
    fake_greedy,
    fake_text,
    prompt_ids,
    serve,
    unused_url,
    url_of,
)

from labs_py.pair import proxy as P  # noqa: E402

REQ = {
    "model": "m",
    "prompt": [1, 2, 3],
    "max_tokens": 5,
    "min_tokens": 5,
    "stream": True,
    "stream_options": {"include_usage": True},
    "temperature": 0,
}


async def _with_proxy(
    prefills, decodes, body, forward=True, path="/v1/completions", extra_prefill_urls=()
):
    servers = [await serve(x.app()) for x in (*prefills, *decodes)]
    p_urls = [url_of(s) for s in servers[: len(prefills)]] + list(extra_prefill_urls)
    d_urls = [url_of(s) for s in servers[len(prefills) :]]
    proxy = await serve(P.make_app(p_urls, d_urls, forward_kv_params=forward))
    out = []
    try:
        async with aiohttp.ClientSession() as s:
            for b in body if isinstance(body, list) else [body]:
                async with s.post(url_of(proxy) + path, json=b) as r:
                    out.append((r.status, dict(r.headers), await r.read()))
            async with s.get(url_of(proxy) + "/proxy/stats") as r:
                stats = await r.json()
    finally:
        await proxy.close()
        for sv in servers:
            await sv.close()
    return out, stats


def run(coro):
    return asyncio.run(coro)


def test_prefill_leg_is_one_token_no_stream_no_min_tokens_with_remote_decode_params():
    pf, dc = FakePrefill(), FakeDecode()
    run(_with_proxy([pf], [dc], REQ))
    leg = pf.bodies[0]
    assert leg["max_tokens"] == 1 and leg["stream"] is False
    assert "min_tokens" not in leg and "stream_options" not in leg
    assert leg["kv_transfer_params"] == P.PREFILL_KV_TRANSFER_PARAMS
    assert leg["prompt"] == REQ["prompt"]


def test_decode_leg_gets_the_producers_params_verbatim_and_the_clients_own_settings():
    pf, dc = FakePrefill(), FakeDecode()
    run(_with_proxy([pf], [dc], REQ))
    leg = dc.bodies[0]
    assert leg["kv_transfer_params"] == dict(KV_FROM_PREFILL, remote_port=5601)
    assert leg["min_tokens"] == 5 and leg["max_tokens"] == 5 and leg["stream"] is True
    assert leg["stream_options"] == {"include_usage": True}


def test_streaming_passthrough_is_byte_for_byte():
    pf, dc = FakePrefill(), FakeDecode()
    ((status, headers, body),) = run(_with_proxy([pf], [dc], REQ))[0]
    assert status == 200 and headers["Content-Type"].startswith("text/event-stream")
    events = [line for line in body.decode().split("\n\n") if line]
    assert len(events) == 6 and events[-1] == "data: [DONE]"
    assert [json.loads(e[5:])["choices"][0]["token_ids"][0] for e in events[:-1]] == [
        100,
        101,
        102,
        103,
        104,
    ]


def test_non_streaming_request():
    pf, dc = FakePrefill(), FakeDecode()
    ((status, _, body),) = run(_with_proxy([pf], [dc], dict(REQ, stream=False)))[0]
    assert status == 200 and json.loads(body)["choices"][0]["token_ids"] == [
        100,
        101,
        102,
        103,
        104,
    ]


def test_chat_prefill_leg_also_caps_max_completion_tokens():
    pf, dc = FakePrefill(), FakeDecode()
    chat = {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 3,
        "stream": False,
    }
    run(_with_proxy([pf], [dc], chat, path="/v1/chat/completions"))
    assert pf.bodies[0]["max_completion_tokens"] == 1


def test_prefill_down_falls_back_to_colocated_decode():
    dc = FakeDecode()
    out, stats = run(_with_proxy([], [dc], REQ, extra_prefill_urls=[unused_url()]))
    status, headers, body = out[0]
    assert status == 200 and body.endswith(b"data: [DONE]\n\n")
    assert headers["X-Pair-Prefill"].startswith("fallback")
    assert "kv_transfer_params" not in dc.bodies[0]
    assert stats["colocated_fallbacks"] == 1


def test_one_prefill_down_uses_the_other_without_fallback():
    pf, dc = FakePrefill(), FakeDecode()
    out, stats = run(
        _with_proxy([pf], [dc], [REQ, REQ, REQ], extra_prefill_urls=[unused_url()])
    )
    assert all(s == 200 for s, _, _ in out)
    assert "colocated_fallbacks" not in stats and len(pf.bodies) == 3
    assert all("kv_transfer_params" in b for b in dc.bodies)


def test_decode_dying_mid_stream_gives_the_client_an_explicit_error():
    pf, dc = FakePrefill(), FakeDecode(n_tokens=10, die_after=3)
    out, stats = run(_with_proxy([pf], [dc], dict(REQ, max_tokens=10)))
    status, _, body = out[0]
    text = body.decode()
    assert status == 200  # headers were already sent; the error travels in the stream
    assert "[DONE]" not in text
    last = [e for e in text.split("\n\n") if e][-1]
    err = json.loads(last[5:])["error"]
    assert "died mid-stream" in err["message"] and err["code"] == 502
    assert stats["decode_died_midstream"] == 1


def test_decode_unreachable_is_a_502():
    pf = FakePrefill()

    async def go():
        s_p = await serve(pf.app())
        proxy = await serve(P.make_app([url_of(s_p)], [unused_url()]))
        try:
            async with aiohttp.ClientSession() as s:
                async with s.post(url_of(proxy) + "/v1/completions", json=REQ) as r:
                    return r.status, await r.json()
        finally:
            await proxy.close()
            await s_p.close()

    status, body = run(go())
    assert status == 502 and "unreachable" in body["error"]["message"]


def test_round_robin_over_two_decoders_serves_1p2d():
    pf, d1, d2 = FakePrefill(), FakeDecode(), FakeDecode()
    out, stats = run(_with_proxy([pf], [d1, d2], [REQ] * 4))
    assert len(d1.bodies) == 2 and len(d2.bodies) == 2
    assert len({h["X-Pair-Decode"] for _, h, _ in out}) == 2


def test_dropping_kv_params_is_the_drill_bug_decode_gets_none():
    pf, dc = FakePrefill(), FakeDecode()
    run(_with_proxy([pf], [dc], REQ, forward=False))
    assert len(pf.bodies) == 1 and "kv_transfer_params" not in dc.bodies[0]


def test_a_4xx_from_prefill_reaches_the_client_instead_of_a_fallback():
    pf, dc = FakePrefill(status=400), FakeDecode()
    out, stats = run(_with_proxy([pf], [dc], REQ))
    assert out[0][0] == 400 and dc.bodies == [] and stats["prefill_rejected"] == 1


def test_request_builders_do_not_mutate_the_client_request():
    body = json.loads(json.dumps(REQ))
    P.prefill_request(body)
    P.decode_request(body, {"a": [1]})
    assert body == REQ


# ---- the first token: lab 15-02's off-by-one, and the drill's deliberately broken proxies ----
# The greedy fakes share one deterministic model, so "what a single instance answers" is a
# real reference: FakeDecode(greedy=True) queried directly, without kv_transfer_params.

GREEDY = {
    "model": "m",
    "prompt": [5, 6, 7, 8],
    "max_tokens": 6,
    "temperature": 0,
    "return_token_ids": True,
}
GREEDY_CHAT = {
    "model": "m",
    "messages": [{"role": "user", "content": "hi"}],
    "max_tokens": 6,
    "temperature": 0,
    "return_token_ids": True,
}
#: The fake model's greedy answer to GREEDY's prompt, pinned so that an empty answer cannot pass.
GREEDY_ANSWER = [1834, 1866, 1893, 1760, 1492, 1889]
ROUTES = [("/v1/completions", GREEDY), ("/v1/chat/completions", GREEDY_CHAT)]


def _read_answer(path: str, body: bytes, stream: bool) -> tuple[list[int], str]:
    """The token ids and text a client receives, streamed or not."""
    chat = path.endswith("/chat/completions")
    if not stream:
        choice = json.loads(body)["choices"][0]
        text = choice["message"]["content"] if chat else choice["text"]
        return choice["token_ids"], text
    ids, text = [], ""
    events = [e for e in body.decode().split("\n\n") if e]
    assert events[-1] == "data: [DONE]", events[-1]
    for event in events[:-1]:
        for choice in json.loads(event[5:])["choices"]:
            ids += choice.get("token_ids") or []
            text += (
                (choice.get("delta") or {}).get("content") or ""
                if chat
                else choice.get("text") or ""
            )
    return ids, text


async def _single_and_pair(body: dict, path: str, bug: str | None = None):
    """Ask a single instance, then the proxy in front of a greedy P and D, the same request."""
    single, pf, dc = (
        FakeDecode(greedy=True),
        FakePrefill(greedy=True),
        FakeDecode(greedy=True),
    )
    servers = [await serve(x.app()) for x in (single, pf, dc)]
    p_url, d_url = url_of(servers[1]), url_of(servers[2])
    proxy = await serve(P.make_app([p_url], [d_url], bug=bug))
    try:
        async with aiohttp.ClientSession() as s:
            async with s.post(url_of(servers[0]) + path, json=body) as r:
                reference = (r.status, await r.read())
            async with s.post(url_of(proxy) + path, json=body) as r:
                got = (r.status, dict(r.headers), await r.read())
            async with s.get(url_of(proxy) + "/proxy/stats") as r:
                stats = await r.json()
    finally:
        await proxy.close()
        for sv in servers:
            await sv.close()
    return reference, got, stats, pf, dc, p_url


def _compare(path: str, body: dict, stream: bool, bug: str | None):
    body = dict(body, stream=stream)
    (ref_status, ref_body), (status, headers, got_body), stats, pf, dc, _ = run(
        _single_and_pair(body, path, bug)
    )
    assert ref_status == 200 and status == 200
    ref_ids, ref_text = _read_answer(path, ref_body, stream)
    # the reference is a real answer: max_tokens tokens, its first two different
    assert ref_ids == fake_greedy(prompt_ids(body), 6) and ref_ids[0] != ref_ids[1]
    if path == "/v1/completions":
        assert ref_ids == GREEDY_ANSWER
    ids, text = _read_answer(path, got_body, stream)
    return ref_ids, ref_text, ids, text, headers, stats, pf, dc


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize("path,body", ROUTES)
def test_correct_proxy_answers_exactly_the_single_instance_tokens(path, body, stream):
    ref_ids, ref_text, ids, text, headers, stats, pf, dc = _compare(
        path, body, stream, bug=None
    )
    assert ids == ref_ids and text == ref_text and len(ids) == 6
    # prefill did sample a token, and the proxy threw it away: decode emitted token 0 itself
    assert pf.bodies[0]["max_tokens"] == 1
    assert "kv_transfer_params" in dc.bodies[0] and dc.bodies[0]["max_tokens"] == 6
    assert "X-Pair-Bug" not in headers and not any(k.startswith("bug:") for k in stats)


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize("path,body", ROUTES)
def test_duplicate_first_token_bug_repeats_token_0_and_sends_one_token_too_many(
    path, body, stream
):
    ref_ids, ref_text, ids, text, headers, stats, pf, dc = _compare(
        path, body, stream, bug="duplicate-first-token"
    )
    assert ids == [
        ref_ids[0],
        *ref_ids,
    ]  # token 0 at positions 0 and 1, the rest intact
    assert len(ids) - len(ref_ids) == 1 and len(ids) == 7
    assert text == fake_text(ref_ids[0]) + ref_text
    assert headers["X-Pair-Bug"] == "duplicate-first-token"
    assert stats["bug:duplicate-first-token"] == 1
    assert (
        dc.bodies[0]["max_tokens"] == 6
    )  # decode got the correct request: the bug is the relay


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize("path,body", ROUTES)
def test_drop_first_token_bug_loses_token_0_and_sends_one_token_too_few(
    path, body, stream
):
    ref_ids, ref_text, ids, text, headers, stats, pf, dc = _compare(
        path, body, stream, bug="drop-first-token"
    )
    assert ids == ref_ids[1:]  # token 0 missing, the rest intact
    assert len(ref_ids) - len(ids) == 1 and len(ids) == 5
    assert text == ref_text[len(fake_text(ref_ids[0])) :]
    assert headers["X-Pair-Bug"] == "drop-first-token"
    assert stats["bug:drop-first-token"] == 1


@pytest.mark.parametrize(
    "bug,expected_n,error",
    [
        (None, 6, None),
        ("duplicate-first-token", 7, "got 7 tokens, asked for 6"),
        ("drop-first-token", 5, "got 5 tokens, asked for 6"),
    ],
)
def test_the_load_generator_catches_the_off_by_one(bug, expected_n, error):
    from labs_py.pair import loadgen

    async def go():
        pf, dc = FakePrefill(greedy=True), FakeDecode(greedy=True)
        servers = [await serve(x.app()) for x in (pf, dc)]
        proxy = await serve(
            P.make_app([url_of(servers[0])], [url_of(servers[1])], bug=bug)
        )
        try:
            async with aiohttp.ClientSession() as s:
                return await loadgen.stream_completion(
                    s, url_of(proxy), "m", GREEDY["prompt"], 6, "r0", "drill", 0.0
                )
        finally:
            await proxy.close()
            for sv in servers:
                await sv.close()

    rec = run(go())
    assert len(rec["output_token_ids"]) == expected_n
    assert rec["error"] == error and rec["status"] == ("ok" if bug is None else "error")


@pytest.mark.parametrize(
    "path,client",
    [
        ("/v1/completions", {"max_tokens": None}),  # absent: vLLM's default of 16
        ("/v1/completions", {"max_tokens": 1}),
        ("/v1/completions", {"max_tokens": 2}),
        ("/v1/completions", {"max_tokens": 4096}),
        ("/v1/chat/completions", {"max_tokens": 6}),
        ("/v1/chat/completions", {"max_completion_tokens": 8}),
    ],
)
def test_prefill_leg_asks_for_exactly_one_token_never_zero(path, client):
    body = dict(GREEDY_CHAT if "chat" in path else GREEDY, stream=False)
    body.pop("max_tokens")
    body.update({k: v for k, v in client.items() if v is not None})
    pf, dc = FakePrefill(greedy=True), FakeDecode(greedy=True)
    ((status, _, _),), _ = run(_with_proxy([pf], [dc], body, path=path))
    leg = pf.bodies[0]
    assert status == 200 and leg["max_tokens"] == 1
    if "chat" in path:
        assert leg["max_completion_tokens"] == 1
    for key, value in client.items():  # decode gets the client's own limit
        assert dc.bodies[0].get(key) == value


@pytest.mark.parametrize("path,body", ROUTES)
def test_asking_prefill_for_zero_tokens_is_refused_with_vllms_400(path, body):
    body = dict(body, stream=True)
    _, (status, headers, got), stats, pf, dc, p_url = run(
        _single_and_pair(body, path, bug="prefill-max-tokens-0")
    )
    err = json.loads(got)["error"]
    assert status == 400 and err["code"] == 400 and err["param"] == "max_tokens"
    assert err["message"] == "max_tokens must be at least 1, got 0."
    assert headers["X-Pair-Prefill"] == f"rejected by {p_url} (HTTP 400)"
    assert headers["X-Pair-Bug"] == "prefill-max-tokens-0"
    assert pf.bodies[0]["max_tokens"] == 0 and dc.bodies == []  # decode never called
    assert stats["prefill_rejected"] == 1 and stats["requests"] == 1


def test_drop_stream_rewriter_handles_events_cut_anywhere():
    events = [
        {"choices": [{"index": 0, "text": "", "token_ids": []}]},  # no token yet
        {"choices": [{"index": 0, "text": " t1 t2", "token_ids": [1, 2]}]},
        {"choices": [{"index": 0, "text": " t3", "token_ids": [3]}]},
    ]
    stream = b"".join(f"data: {json.dumps(e)}\n\n".encode() for e in events)
    stream += b"data: [DONE]\n\n"
    rewriter = P.DropFirstTokenStream("/v1/completions", " t1")
    out = b"".join(rewriter.feed(stream[i : i + 1]) for i in range(len(stream)))
    out += rewriter.flush()
    ids, text = _read_answer("/v1/completions", out, stream=True)
    assert ids == [2, 3] and text == " t2 t3"


def test_an_unknown_bug_is_refused_by_name():
    with pytest.raises(
        ValueError, match=r"unknown proxy bug 'off-by-one'.*drop-first-token"
    ):
        P.make_app(["http://127.0.0.1:1"], ["http://127.0.0.1:2"], bug="off-by-one")


def test_bug_is_a_local_drill_only_on_the_command_line(capsys):
    base = ["--prefill", "http://127.0.0.1:8200", "--decode", "http://127.0.0.1:8300"]
    with pytest.raises(SystemExit) as e:
        P.main([*base, "--bug", "off-by-one"])
    assert (
        e.value.code == 2 and "invalid choice: 'off-by-one'" in capsys.readouterr().err
    )
    with pytest.raises(SystemExit) as e:
        P.main([*base, "--bug", "drop-first-token", "--allow-remote-upstreams"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "--bug drop-first-token is a drill" in err
    with pytest.raises(SystemExit) as e:
        P.main(["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert e.value.code == 0 and "TEACHING DRILL ONLY, off by default" in help_text
    assert all(name in help_text for name in P.BUGS)
