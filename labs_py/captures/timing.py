"""Latency metrics from per-token timestamps: TTFT, ITL, TPOT, E2E and second-token latency.

Every request in a capture keeps its raw timeline: when it was sent, and when
each streamed chunk of tokens arrived (seconds after sending). Everything else
is derived here, with the same definitions as ``vllm bench serve`` so the two
can be compared:

* **TTFT** (time to first token) = arrival of the first chunk.
* **ITL** (inter-token latency) = gaps between consecutive chunks, pooled over
  all requests. With vLLM's default stream interval each chunk is one token.
* **TPOT** (time per output token) = (E2E - TTFT) / (output tokens - 1), one
  value per request; it averages a request's ITLs, so it hides the spikes that
  ITL's p99 shows.
* **E2E** = arrival of the last chunk.
* **Second-token latency** = gap between the first and second chunk. In a
  disaggregated pair this is the first decode step after the KV handoff, so it
  is where a slow handoff or a cold decode batch shows up, separately from TTFT.

Percentiles come from :mod:`labs_py.core.stats` (numpy linear, as ``vllm bench
serve``). Light: numpy only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from labs_py.core import stats

METRICS = ("ttft_ms", "itl_ms", "tpot_ms", "e2e_ms", "second_token_ms")
PERCENTILES = (50.0, 90.0, 99.0)


def _ok(req: dict) -> bool:
    return req.get("status") == "ok" and len(req.get("token_times_s") or []) > 0


def request_latencies_ms(req: dict) -> dict:
    """Per-request TTFT, E2E, TPOT, second-token latency (ms) and its list of ITLs (ms).

    Taught in: real_pair.
    """
    t = np.asarray(req["token_times_s"], dtype=float)
    if t.size == 0:
        raise ValueError(f"request {req.get('id')!r} has no token timestamps")
    if np.any(np.diff(t) < 0) or t[0] < 0:
        raise ValueError(
            f"request {req.get('id')!r}: token timestamps must be >= 0 s and non-decreasing"
        )
    counts = req.get("token_counts") or [1] * t.size
    n_out = int(sum(counts))
    ttft = float(t[0]) * 1e3
    e2e = float(t[-1]) * 1e3
    out = {
        "ttft_ms": ttft,
        "e2e_ms": e2e,
        "itl_ms": (np.diff(t) * 1e3).tolist(),
        "tpot_ms": (e2e - ttft) / (n_out - 1) if n_out > 1 else None,
        "second_token_ms": float(t[1] - t[0]) * 1e3 if t.size > 1 else None,
        "output_tokens": n_out,
    }
    return out


def summarize_requests(
    requests: Iterable[dict], percentiles: Sequence[float] = PERCENTILES
) -> dict:
    """Summaries of each metric over the successful requests: count, mean and p50/p90/p99 (ms).

    ITL pools every gap of every request (as ``vllm bench serve`` does); the
    other metrics take one value per request. Failed requests are counted in
    ``failed`` and excluded from the latencies.

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    reqs = list(requests)
    good = [r for r in reqs if _ok(r)]
    pooled: dict[str, list[float]] = {m: [] for m in METRICS}
    for r in good:
        lat = request_latencies_ms(r)
        pooled["ttft_ms"].append(lat["ttft_ms"])
        pooled["e2e_ms"].append(lat["e2e_ms"])
        pooled["itl_ms"].extend(lat["itl_ms"])
        if lat["tpot_ms"] is not None:
            pooled["tpot_ms"].append(lat["tpot_ms"])
        if lat["second_token_ms"] is not None:
            pooled["second_token_ms"].append(lat["second_token_ms"])
    out: dict = {
        "requests": len(reqs),
        "completed": len(good),
        "failed": len(reqs) - len(good),
    }
    for m, vals in pooled.items():
        out[m] = stats.summarize(vals, percentiles) if vals else None
    return out


def summarize_by_group(requests: Iterable[dict]) -> dict:
    """:func:`summarize_requests` for all requests and for each ``group`` label separately.

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    reqs = list(requests)
    out = {"all": summarize_requests(reqs)}
    for g in sorted({r.get("group", "all") for r in reqs} - {"all"}):
        out[g] = summarize_requests([r for r in reqs if r.get("group") == g])
    return out


def ratio(a: float, b: float) -> float:
    """``a / b``, refusing a zero or negative denominator instead of returning inf.

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    if b <= 0:
        raise ValueError(f"ratio denominator must be > 0; got {b!r}")
    return a / b
