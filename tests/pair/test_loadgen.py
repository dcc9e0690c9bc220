import asyncio

import pytest

aiohttp = pytest.importorskip("aiohttp")

from fakes import FakeDecode, serve, url_of  # noqa: E402

from labs_py.captures import timing  # noqa: E402
from labs_py.pair import loadgen  # noqa: E402


def test_prompts_are_exact_length_deterministic_and_ordinary_tokens():
    p = loadgen.make_prompt(2000, seed=5)
    assert (
        len(p) == 2000
        and p == loadgen.make_prompt(2000, seed=5)
        and p != loadgen.make_prompt(2000, seed=6)
    )
    assert min(p) >= loadgen.FIRST_ORDINARY_TOKEN


def test_only_loopback_targets():
    with pytest.raises(ValueError, match="loopback"):
        asyncio.run(loadgen.run_sequential("http://10.0.0.1:8000", "m", [10], 2))


def _run(fake, coro_fn):
    async def go():
        s = await serve(fake.app())
        try:
            return await coro_fn(url_of(s))
        finally:
            await s.close()

    return asyncio.run(go())


def test_every_token_gets_a_timestamp():
    recs = _run(
        FakeDecode(gap_s=0.01),
        lambda u: loadgen.run_sequential(u, "m", [10, 20], 6, progress=False),
    )
    for r in recs:
        assert (
            r["status"] == "ok"
            and len(r["token_times_s"]) == 6
            and r["output_token_ids"] == list(range(100, 106))
        )
        assert all(b >= a for a, b in zip(r["token_times_s"], r["token_times_s"][1:]))
    s = timing.summarize_requests(recs)
    assert s["itl_ms"]["p50"] >= 9.0  # the fake sleeps 10 ms between tokens


def test_a_stream_cut_short_is_an_error():
    recs = _run(
        FakeDecode(die_after=2),
        lambda u: loadgen.run_sequential(u, "m", [10], 6, progress=False),
    )
    assert recs[0]["status"] == "error" and recs[0]["error"]


def test_mixed_load_groups():
    recs = _run(
        FakeDecode(),
        lambda u: loadgen.run_mixed(
            u,
            "m",
            n_streams=2,
            stream_prompt_tokens=8,
            stream_output_tokens=5,
            n_big=2,
            big_prompt_tokens=50,
            big_output_tokens=2,
            big_interval_s=0.05,
            first_big_at_s=0.01,
            progress=False,
        ),
    )
    assert sorted(r["group"] for r in recs) == ["big", "big", "stream", "stream"]
    assert all(r["status"] == "ok" for r in recs)
