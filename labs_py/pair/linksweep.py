"""The pair across a real, shaped link: TTFT term by term, at every link rate and prompt length.

``python -m labs_py.pair capture pair-netns link-sweep`` starts the pair in its two
namespaces (:mod:`labs_py.pair.netns`), and for each link rate of :data:`RATES_GBPS`
(and unshaped) shapes the KV link, then sends prompts of :data:`PROMPTS` tokens one
at a time, :data:`REPS` of each. Around every request it reads both engines'
``/metrics`` and the KV link's byte counters, so each request's TTFT splits into
measured terms:

=====================  ==============================================================
term                   measured as
=====================  ==============================================================
``queue``              prefill engine: ``vllm:request_queue_time_seconds``
``prefill``            prefill engine: ``vllm:request_prefill_time_seconds`` (its
                       forward pass over the prompt)
``prefill_overhead``   the proxy's prefill leg (``X-Pair-Prefill-Leg-Ms``) minus those
                       two: HTTP, tokenisation, the proxy
``wire``               decode engine: ``vllm:nixl_xfer_time_seconds``, NIXL's own
                       time for the READ of the prompt's blocks
``handshake``          decode engine's wait for the KV minus the wire: the request's
                       admission, the READ's setup and completion notice
``first_step``         decode engine: ``vllm:request_prefill_time_seconds`` (the step
                       that computes the first token from the transferred KV)
``rest``               TTFT minus everything above: the decode leg's HTTP and the stream
=====================  ==============================================================

One request at a time, each histogram's sum grows by exactly that request's value
(the count grows by one; the harness waits for it). The bytes NIXL moved are checked
against the KV link's own counters: the KV crossed the veth, not loopback or shared
memory. Then the mixed workload runs at :data:`MIXED_RATES_GBPS`.
"""

from __future__ import annotations

import asyncio
import time

from labs_py.captures.metrics import delta
from labs_py.core import stats
from labs_py.pair import loadgen

__all__ = [
    "RATES_GBPS",
    "PROMPTS",
    "REPS",
    "MIXED_RATES_GBPS",
    "TERMS",
    "measure_request",
    "run_sweep",
]

#: Link rates of the sweep, Gb/s; ``None`` is the unshaped veth (UCX's own ceiling on this CPU).
RATES_GBPS: tuple[float | None, ...] = (0.1, 0.25, 1.0, 2.5, 10.0, None)
PROMPTS: tuple[int, ...] = (128, 512, 1024, 2000, 3000)
REPS = 3
OUTPUT_TOKENS = 16
#: Rates at which the mixed workload runs too.
MIXED_RATES_GBPS: tuple[float | None, ...] = (0.25, None)
TERMS = (
    "queue",
    "prefill",
    "prefill_overhead",
    "handshake",
    "wire",
    "first_step",
    "rest",
)
#: How long to wait for the decode engine's metrics to count a finished transfer.
SETTLE_S = 3.0


def _wait_counted(
    url: str, field: str, before: float, timeout_s: float = SETTLE_S
) -> dict:
    """Scrape ``url`` until ``field`` grew past ``before`` (the engines publish stats on their own clock)."""
    from labs_py.pair.scrape import scrape_counters

    deadline = time.time() + timeout_s
    while True:
        now = scrape_counters(url)
        if now[field] > before or time.time() > deadline:
            return now
        time.sleep(0.1)


def measure_request(
    run, prompt_tokens: int, seed: int, req_id: str, group: str
) -> dict:
    """Send one request through the pair and return its record with its TTFT split into :data:`TERMS` (ms).

    ``run`` is a :class:`labs_py.pair.runs.Running` with namespaces (``run.net``).

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    from labs_py.pair.scrape import scrape_counters

    p_url, d_url = run.instances["prefill0"], run.instances["decode0"]
    p0, d0 = scrape_counters(p_url), scrape_counters(d_url)
    link0 = run.net.kv_bytes()

    async def one() -> dict:
        async with loadgen._session() as s:
            return await loadgen.stream_completion(
                s,
                run.target_url,
                run.cfg.served_model_name,
                loadgen.make_prompt(prompt_tokens, seed),
                OUTPUT_TOKENS,
                req_id,
                group,
                time.perf_counter(),
                timeout_s=120.0,
            )

    rec = asyncio.run(one())
    p1 = _wait_counted(p_url, "prefill_time_count", p0["prefill_time_count"])
    d1 = _wait_counted(d_url, "nixl_transfers", d0["nixl_transfers"])
    d1 = (
        _wait_counted(d_url, "prefill_time_count", d0["prefill_time_count"])
        if (d1["prefill_time_count"] <= d0["prefill_time_count"])
        else d1
    )
    link1 = run.net.kv_bytes()
    dp, dd = delta(p0, p1), delta(d0, d1)
    rec["link_gbps"] = run.net.rate_gbps
    rec["kv_link_bytes"] = {k: link1[k] - link0[k] for k in link1}
    rec["nixl"] = {
        "transfers": int(dd["nixl_transfers"]),
        "bytes": int(dd["nixl_bytes_transferred"]),
        "xfer_s": dd["nixl_xfer_time_s"],
        "post_s": dd["nixl_post_time_s"],
        "failed": int(dd["nixl_failed_transfers"]),
    }
    rec["engine"] = {
        "prefill": {
            k: dp[k]
            for k in (
                "queue_time_s",
                "prefill_time_s",
                "queue_time_count",
                "prefill_time_count",
            )
        },
        "decode": {
            k: dd[k]
            for k in (
                "queue_time_s",
                "prefill_time_s",
                "queue_time_count",
                "prefill_time_count",
                "prompt_tokens_local_compute",
                "prompt_tokens_external_kv_transfer",
            )
        },
    }
    if rec["status"] == "ok":
        rec["terms_ms"] = terms_ms(rec)
    return rec


def terms_ms(rec: dict) -> dict[str, float]:
    """One request's TTFT split into :data:`TERMS`, in ms, from its record (see the module docstring).

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    ttft = rec["token_times_s"][0] * 1e3
    leg = float(rec["routed"]["X-Pair-Prefill-Leg-Ms"])
    pe, de = rec["engine"]["prefill"], rec["engine"]["decode"]
    queue, prefill = pe["queue_time_s"] * 1e3, pe["prefill_time_s"] * 1e3
    wire = rec["nixl"]["xfer_s"] * 1e3
    kv_wait, first = de["queue_time_s"] * 1e3, de["prefill_time_s"] * 1e3
    out = {
        "queue": queue,
        "prefill": prefill,
        "prefill_overhead": leg - queue - prefill,
        "handshake": kv_wait - wire,
        "wire": wire,
        "first_step": first,
        "rest": ttft - leg - kv_wait - first,
    }
    out["ttft"] = ttft
    return {k: round(v, 3) for k, v in out.items()}


def run_sweep(
    run,
    rates=RATES_GBPS,
    prompts=PROMPTS,
    reps=REPS,
    seed: int = 0,
    progress: bool = True,
) -> list[dict]:
    """The sequential part of the sweep: every rate x prompt length x rep, one request at a time.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    out = []
    total, done, t0 = len(rates) * len(prompts) * reps, 0, time.time()
    for rate in rates:
        run.net.shape(rate)
        for n in prompts:
            for k in range(reps):
                rid = f"link-{rate or 'unshaped'}-{n}-{k}"
                out.append(
                    measure_request(run, n, seed * 100003 + len(out), rid, "link-sweep")
                )
                done += 1
                if progress:
                    r = out[-1]
                    wire = r.get("terms_ms", {}).get("wire")
                    print(
                        f"[link-sweep] {done}/{total} rate {rate or 'unshaped'} Gb/s, {n} tokens: "
                        f"{r['status']}, wire {wire if wire is None else round(wire, 1)} ms "
                        f"({time.time() - t0:.0f} s)",
                        flush=True,
                    )
    run.net.shape(None)
    return out


def median_terms(requests: list[dict]) -> dict[str, float]:
    """Median of each term (and TTFT) over ``requests`` (the ok ones).

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    ok = [r["terms_ms"] for r in requests if r["status"] == "ok" and "terms_ms" in r]
    if not ok:
        return {}
    return {k: stats.percentile([t[k] for t in ok], 50) for k in ok[0]}
