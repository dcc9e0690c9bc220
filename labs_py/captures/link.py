"""Reading the link sweep: the toll term by term, each measured term beside its prediction.

A ``link-sweep`` capture (``python -m labs_py.pair capture pair-netns link-sweep``) holds,
for every request sent one at a time, its TTFT split into measured terms
(:data:`labs_py.pair.linksweep.TERMS`): queue, prefill, prefill overhead, handshake,
wire, first step, rest. Here they become

* :func:`sweep_rows`: one row per (link rate, prompt length), medians over the repeats,
  with the wire as NIXL measured it beside :func:`labs_py.economics.transfer_seconds`
  of the same bytes at the link's rate, and the residual;
* :func:`verdicts`: the course's three verdicts, each from measurements, beside what the
  economics predicts for the same inputs;
* :func:`rescale`: lab 15-02's question, "what would this cost for a real model on a real
  link?", answered from the measured terms: the fixed overhead and the wire's efficiency
  carry over, the prefill and the payload are the target's.

Light: no vLLM, reads committed captures.
"""

from __future__ import annotations

from labs_py import economics as econ
from labs_py.captures import capture as cap
from labs_py.captures.tiny_model import kv_bytes_per_token, spec_of
from labs_py.core import stats
from labs_py.steptime import step_coefficients

__all__ = [
    "rate_label",
    "sweep_rows",
    "ucx_ceiling_gbps",
    "mixed_rows",
    "stream_gaps_ms",
    "verdicts",
    "rescale",
    "FIXED_TERMS",
    "TCP_GOODPUT_FRACTION",
    "terms_by_rate",
    "wire_rates",
    "penalty_curve",
]

#: The terms that do not grow with the prompt's KV: what every split request pays on top of the wire.
FIXED_TERMS = ("prefill_overhead", "handshake", "first_step", "rest")


def rate_label(rate: float | None) -> str:
    """``"1 Gb/s"``, or ``"unshaped"``.

    Taught in: real_pair.
    """
    return "unshaped" if rate is None else f"{rate:g} Gb/s"


def _sweep(c: dict) -> list[dict]:
    if c.get("kind") != "link-sweep":
        raise cap.CaptureError(
            f"capture {c.get('label')!r} is not a link sweep (kind {c.get('kind')!r})"
        )
    return [
        r
        for r in c["requests"]
        if r["group"] == "link-sweep" and r["status"] == "ok" and "terms_ms" in r
    ]


def sweep_rows(c: dict) -> list[dict]:
    """One row per (``link_gbps``, ``prompt_tokens``): median terms, wire measured and predicted, penalty.

    ``wire_ms_predicted`` is the economics chapter's price of the bytes NIXL moved at the
    link's rate (``None`` unshaped: the veth has no rate, UCX's CPU sets it).
    ``ttft_penalty`` is the economics' ratio, measured: wire over prefill compute.

    Taught in: real_pair.
    """
    groups: dict[tuple, list[dict]] = {}
    for r in _sweep(c):
        groups.setdefault((r["link_gbps"], r["prompt_tokens"]), []).append(r)
    order = [r for r in c["workload"]["rates_gbps"]]
    rows = []
    for (rate, n), rs in sorted(
        groups.items(), key=lambda kv: (order.index(kv[0][0]), kv[0][1])
    ):
        med = {
            k: stats.percentile([r["terms_ms"][k] for r in rs], 50)
            for k in rs[0]["terms_ms"]
        }
        nbytes = int(stats.percentile([r["nixl"]["bytes"] for r in rs], 50))
        link_bytes = int(
            stats.percentile([r["kv_link_bytes"]["producer_tx"] for r in rs], 50)
        )
        predicted = None if rate is None else econ.transfer_seconds(nbytes, rate) * 1e3
        fixed = sum(med[k] for k in FIXED_TERMS)
        rows.append(
            {
                "link_gbps": rate,
                "prompt_tokens": n,
                "requests": len(rs),
                "kv_bytes": nbytes,
                "kv_link_bytes": link_bytes,
                "wire_ms_measured": med["wire"],
                "wire_ms_predicted": predicted,
                "wire_residual": None
                if predicted is None
                else med["wire"] / predicted - 1.0,
                "wire_gbps": nbytes * 8 / (med["wire"] * 1e6),
                "prefill_ms": med["prefill"],
                "ttft_ms": med["ttft"],
                "ttft_penalty": med["wire"] / med["prefill"],
                "fixed_overhead_ms": fixed,
                **{
                    f"{k}_ms": med[k]
                    for k in (
                        "queue",
                        "prefill_overhead",
                        "handshake",
                        "first_step",
                        "rest",
                    )
                },
            }
        )
    return rows


def ucx_ceiling_gbps(c: dict) -> float:
    """The fastest the KV moved on the unshaped veth: the largest prompt's bytes over its median wire time.

    Taught in: disaggregation_trade, real_pair.
    """
    rows = [r for r in sweep_rows(c) if r["link_gbps"] is None]
    if not rows:
        raise cap.CaptureError(f"capture {c['label']!r} has no unshaped rows")
    return max(rows, key=lambda r: r["prompt_tokens"])["wire_gbps"]


def mixed_rows(c: dict) -> list[dict]:
    """The mixed workload at each of its rates: the streams' ITL p50/p99 and the big prompts' TTFT p50.

    Taught in: real_pair.
    """
    out = []
    for rate in c["workload"]["mixed_rates_gbps"]:
        tag = "unshaped" if rate is None else f"{rate:g}"
        s, b = c["summary"].get(f"stream@{tag}"), c["summary"].get(f"big@{tag}")
        if not s or not b:
            continue
        out.append(
            {
                "link_gbps": rate,
                "stream_itl_p50_ms": s["itl_ms"]["p50"],
                "stream_itl_p99_ms": s["itl_ms"]["p99"],
                "big_ttft_p50_ms": b["ttft_ms"]["p50"],
                "big_ttft_p99_ms": b["ttft_ms"]["p99"],
            }
        )
    return out


def stream_gaps_ms(mixed: dict) -> tuple[list[float], list[float]]:
    """The steady streams' gaps (ms): those during which no prompt was prefilling, and those during which one was.

    A request is prefilling from when it was sent until its first token. A stream's gap that
    overlaps no such window (of any request) is a decode step with nothing riding in it.

    Taught in: no chapter calls it directly; it works behind real_pair.
    """
    ok = [r for r in mixed["requests"] if r["status"] == "ok" and r["token_times_s"]]
    prefilling = [(r["start_s"], r["start_s"] + r["token_times_s"][0]) for r in ok]
    clean, taxed = [], []
    for r in ok:
        if not r["group"].startswith("stream"):
            continue
        t = [r["start_s"] + x for x in r["token_times_s"]]
        for a, b in zip(t, t[1:]):
            (taxed if any(s < b and a < e for s, e in prefilling) else clean).append(
                (b - a) * 1e3
            )
    return clean, taxed


def verdicts(
    c: dict,
    colocated_mixed: dict,
    prompt_tokens: int | None = None,
    fast_gbps: float | None = None,
    slow_gbps: float | None = None,
) -> dict[str, dict]:
    """The course's three verdicts, measured at the sweep's longest prompt (or ``prompt_tokens``).

    The colocated side comes from ``colocated_mixed`` (a single instance under the mixed load):
    its clean decode step is the median gap while no prompt was prefilling, and its tax is how
    much longer the median gap is while one was (:func:`stream_gaps_ms`). Then

    * **fast link** (the fastest shaped rate the CPU does not limit, unless given) and
      **slow link** (the slowest rate): the sweep's measured wire and prefill, and that tax;
    * **no interference**: the same instance's decode steps with no prompt prefilling, so a tax
      of nothing; what is left in their tail is the machine's own jitter, recorded beside it.

    Each verdict is :func:`labs_py.economics.disagg_wins` on those measurements; ``predicted``
    is the same call with the wire priced by the economics at the link's rate.

    Taught in: real_pair.
    """
    rows = sweep_rows(c)
    n = prompt_tokens or max(r["prompt_tokens"] for r in rows)
    shaped = sorted({r["link_gbps"] for r in rows if r["link_gbps"] is not None})
    fast = fast_gbps or max(g for g in shaped if g <= ucx_ceiling_gbps(c))
    slow = slow_gbps or min(shaped)
    row = {r["link_gbps"]: r for r in rows if r["prompt_tokens"] == n}
    clean, taxed = stream_gaps_ms(colocated_mixed)
    step = stats.percentile(clean, 50)
    tax = max(0.0, stats.percentile(taxed, 50) - step)
    per_token = kv_bytes_per_token(spec_of(c))

    def judge(r: dict, chunk_ms: float) -> dict:
        kw = dict(
            prompt_tokens=n,
            kv_bytes_per_token=per_token,
            prefill_s=r["prefill_ms"] / 1e3,
            decode_step_s=step / 1e3,
            chunk_s=chunk_ms / 1e3,
        )
        measured = econ.disagg_wins(link_gbps=r["wire_gbps"], **kw)
        predicted = econ.disagg_wins(link_gbps=r["link_gbps"], **kw)
        return {
            "link_gbps": r["link_gbps"],
            "prompt_tokens": n,
            "reason": measured.reason,
            "ttft_penalty": r["ttft_penalty"],
            "itl_inflation": measured.itl_inflation,
            "predicted_reason": predicted.reason,
            "predicted_ttft_penalty": predicted.ttft_penalty,
            "wire_ms": r["wire_ms_measured"],
            "prefill_ms": r["prefill_ms"],
            "tax_ms": chunk_ms,
        }

    out = {
        "fast link": judge(row[fast], tax),
        "slow link": judge(row[slow], tax),
        "no interference": judge(row[fast], 0.0),
    }
    out["no interference"]["jitter_p99_over_p50"] = stats.percentile(clean, 99) / step
    out["colocated"] = {
        "label": colocated_mixed["label"],
        "clean_step_ms": step,
        "taxed_step_ms": step + tax,
        "clean_gaps": len(clean),
        "taxed_gaps": len(taxed),
    }
    return out


def rescale(
    c: dict, model: str, gpu: str, link_gbps: float, prompt_tokens: int
) -> dict:
    """Lab 15-02's rescaling: the measured pair's terms carried to ``model`` on ``gpu`` over ``link_gbps``.

    What carries over is what the measurement says about the *pair*, not about the tiny model:
    the fixed overhead (median over the sweep's longest prompts of the terms that do not grow
    with the KV) and the wire's efficiency (measured over predicted wire time at the shaped rates
    the CPU did not limit). What does not: the payload (the target model's bytes) and the prefill
    (the calibrated step model on ``gpu``).

    Taught in: real_pair.
    """
    rows = sweep_rows(c)
    n_max = max(r["prompt_tokens"] for r in rows)
    long = [r for r in rows if r["prompt_tokens"] == n_max]
    ceiling = ucx_ceiling_gbps(c)
    bound = [
        r for r in long if r["link_gbps"] is not None and r["link_gbps"] <= ceiling / 2
    ]
    efficiency = stats.percentile(
        [r["wire_ms_predicted"] / r["wire_ms_measured"] for r in bound], 50
    )
    fixed = stats.percentile([r["fixed_overhead_ms"] for r in long], 50)
    from labs_py.models import get_model

    spec = get_model(model)
    payload = econ.kv_payload_bytes(prompt_tokens, spec.kv_bytes_per_token())
    wire = econ.transfer_seconds(payload, link_gbps * efficiency) * 1e3
    co = step_coefficients(spec, gpu)
    prefill = co.prefill_seconds(prompt_tokens) * 1e3
    return {
        "model": spec.id,
        "gpu": gpu,
        "tp": co.tp,
        "link_gbps": link_gbps,
        "prompt_tokens": prompt_tokens,
        "payload_bytes": payload,
        "wire_efficiency": efficiency,
        "wire_ms": wire,
        "prefill_ms": prefill,
        "fixed_overhead_ms": fixed,
        "toll_ms": wire + fixed,
        "ttft_penalty": wire / prefill,
        "toll_over_prefill": (wire + fixed) / prefill,
    }


#: What a tbf-shaped Ethernet link delivers to TCP: 1,448 bytes of payload per 1,514-byte frame
#: (1,500-byte MTU less 20 bytes of IP and 32 of TCP with timestamps; plus 14 bytes of Ethernet header).
TCP_GOODPUT_FRACTION = 1448 / 1514


def terms_by_rate(
    c: dict, prompt_tokens: int
) -> tuple[list[str], dict[str, list[float]], list[float | None]]:
    """For one prompt length: the rate labels, each term's median (ms) per rate, and the wire's price per rate.

    Taught in: real_pair.
    """
    rows = [r for r in sweep_rows(c) if r["prompt_tokens"] == prompt_tokens]
    if not rows:
        raise cap.CaptureError(f"no link-sweep rows for {prompt_tokens} tokens")
    terms = {
        "wire": [r["wire_ms_measured"] for r in rows],
        "prefill": [r["prefill_ms"] for r in rows],
    }
    for k in ("queue", "prefill_overhead", "handshake", "first_step", "rest"):
        terms[k] = [r[f"{k}_ms"] for r in rows]
    return (
        [rate_label(r["link_gbps"]) for r in rows],
        terms,
        [r["wire_ms_predicted"] for r in rows],
    )


def wire_rates(
    c: dict, prompts: tuple[int, ...] = (512, 3000)
) -> tuple[list[float], dict[str, list[float]]]:
    """The shaped rates, and per prompt length the rate the KV moved at (Gb/s) at each of them.

    Taught in: real_pair.
    """
    rows = [r for r in sweep_rows(c) if r["link_gbps"] is not None]
    rates = sorted({r["link_gbps"] for r in rows})
    out = {}
    for n in prompts:
        by = {r["link_gbps"]: r["wire_gbps"] for r in rows if r["prompt_tokens"] == n}
        out[f"{n:,}-token prompts"] = [by[g] for g in rates]
    return rates, out


def penalty_curve(
    c: dict, prompt_tokens: int, link_gbps, budget: float = 0.10
) -> dict[str, list]:
    """For one prompt length: the economics' penalty (wire / prefill) over ``link_gbps``, and the measured points.

    The curve prices the bytes NIXL moved for that prompt at each rate, against the prefill the
    sweep measured (median over every rate); the points are each shaped rate's measured penalty.

    Taught in: disaggregation_trade.
    """
    rows = [r for r in sweep_rows(c) if r["prompt_tokens"] == prompt_tokens]
    nbytes = int(stats.percentile([r["kv_bytes"] for r in rows], 50))
    prefill_s = stats.percentile([r["prefill_ms"] for r in rows], 50) / 1e3
    shaped = [r for r in rows if r["link_gbps"] is not None]
    return {
        "link_gbps": list(link_gbps),
        "predicted": [econ.transfer_seconds(nbytes, g) / prefill_s for g in link_gbps],
        "measured_gbps": [r["link_gbps"] for r in shaped],
        "measured": [r["ttft_penalty"] for r in shaped],
        "breakeven_gbps": econ.breakeven_link_gbps(nbytes, prefill_s, budget),
        "budget": budget,
    }
