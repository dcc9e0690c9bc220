"""The proxy's NIXL protocol, against fake prefill and decode servers."""

import asyncio
import json

import pytest

aiohttp = pytest.importorskip("aiohttp")

from fakes import KV_FROM_PREFILL, FakeDecode, FakePrefill, serve, unused_url, url_of  # noqa: E402

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
