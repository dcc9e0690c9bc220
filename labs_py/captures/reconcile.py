"""Reconcile the real pair with the rest of the book: the economics chapter's prices and the
simulator's predictions, each against what the captures measured, with the error stated.

Three checks:

* **payload**: the bytes decode received (blocks x block bytes) against
  :func:`labs_py.economics.kv_payload_bytes` for the same prompts and the tiny model's
  bytes per token (vLLM moves whole blocks, so the measurement rounds each prompt up);
* **TTFT toll**: the measured pair-minus-single TTFT against
  :func:`labs_py.economics.transfer_seconds` at the link speed NIXL itself measured, and
  where the rest of the toll went (the prefill leg, the decode side);
* **ITL tails**: the simulator, driven by step times *measured on this CPU* (not by a GPU
  model), replays the mixed-load capture's exact requests on a colocated instance and on
  the pair; its ITL p50/p99 against the measured ones.

Everything reads committed captures; nothing needs vLLM.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labs_py.captures import report
from labs_py.captures.tiny_model import TinyModelSpec, kv_bytes_per_token, spec_of
from labs_py.core import stats
from labs_py.economics import kv_payload_bytes, transfer_seconds
from labs_py.models import ModelSpec
from labs_py.sim.fleets import Colocated, Disaggregated, simulate
from labs_py.sim.workload import Workload


def tiny_spec(c: dict) -> TinyModelSpec:
    """The recipe of the tiny model the capture ran (:func:`labs_py.captures.tiny_model.spec_of`).

    Taught in: real_pair.
    """
    return spec_of(c)


def tiny_model_spec(c: dict) -> ModelSpec:
    """The capture's tiny Qwen2 as a :class:`labs_py.models.ModelSpec` (for the simulator and economics).

    Taught in: no chapter calls it directly; it works behind real_pair, plan_a_deployment.
    """
    return spec_of(c).shape


# --------------------------------------------------------------------------- payload
def payload_reconciliation(c: dict) -> dict:
    """Measured NIXL bytes against the economics chapter's payload for the same prompts.

    Taught in: real_pair.
    """
    per_token = kv_bytes_per_token(tiny_spec(c))
    ok = [r for r in c["requests"] if r["status"] == "ok"]
    predicted = sum(kv_payload_bytes(r["prompt_tokens"], per_token) for r in ok)
    check = report.payload_check(c)
    return {
        "label": c["label"],
        "prompts": len(ok),
        "kv_bytes_per_token": per_token,
        "economics_bytes": predicted,
        "measured_bytes": check["nixl_reported_bytes"],
        "block_rounding_bytes": check["expected_bytes"] - predicted,
        "error": (check["nixl_reported_bytes"] - predicted) / predicted,
    }


# --------------------------------------------------------------------------- TTFT toll
def toll_reconciliation(single_sweep: dict, pair_sweep: dict) -> dict:
    """The measured TTFT toll across prompt lengths, and the wire's share of it.

    The economics chapter prices the toll as the wire alone: payload over link speed,
    which grows with the prompt. Here it is priced at the link speed NIXL itself measured,
    and set against two measurements of the pair's sweep (one request at a time):

    * the *toll*: the pair's median TTFT minus the single instance's, per prompt length;
    * the *decode part*: each pair request's TTFT minus its prefill leg (the proxy's
      ``X-Pair-Prefill-Leg-Ms``): the proxy hop, the KV pull, the last prompt token
      recomputed, the first decode step. The wire is inside this part.

    Returned times are in ms; ``*_per_token_ms`` are slopes (ms per prompt token).

    Taught in: real_pair.
    """
    toll = report.ttft_toll(single_sweep, pair_sweep)
    lengths = sorted(toll["toll_ms"])
    gbps = report.link_speed(pair_sweep)["gbps"]
    per_token = kv_bytes_per_token(tiny_spec(pair_sweep))
    wire_ms = {
        n: transfer_seconds(kv_payload_bytes(n, per_token), gbps) * 1e3 for n in lengths
    }
    decode_part: dict[int, list[float]] = {}
    legs: dict[int, list[float]] = {}
    for r in pair_sweep["requests"]:
        if r["status"] != "ok" or r["group"] != "sweep":
            continue
        leg = float(r["routed"]["X-Pair-Prefill-Leg-Ms"])
        legs.setdefault(r["prompt_tokens"], []).append(leg)
        decode_part.setdefault(r["prompt_tokens"], []).append(
            r["token_times_s"][0] * 1e3 - leg
        )
    decode_ms = {n: stats.percentile(decode_part[n], 50) for n in lengths}
    leg_ms = {n: stats.percentile(legs[n], 50) for n in lengths}
    all_decode = [x for n in lengths for x in decode_part[n]]
    decode_slope = (
        float(np.polyfit(lengths, [decode_ms[n] for n in lengths], 1)[0])
        if len(lengths) >= 2
        else None
    )
    return {
        "lengths": lengths,
        "link_gbps_measured": gbps,
        "toll_ms": toll["toll_ms"],
        "wire_ms": wire_ms,
        "decode_part_ms": decode_ms,
        "prefill_leg_ms": leg_ms,
        "single_ttft_ms": toll["single_ttft_ms"],
        "pair_ttft_ms": toll["pair_ttft_ms"],
        "toll_median_ms": stats.percentile(list(toll["toll_ms"].values()), 50),
        "toll_per_token_ms": float(toll["toll_fit_ms_per_token"]),
        "wire_per_token_ms": wire_ms[lengths[-1]] / lengths[-1],
        "decode_part_median_ms": stats.percentile(all_decode, 50),
        "decode_part_per_token_ms": decode_slope,
        "decode_part_range_ms": (min(all_decode), max(all_decode)),
        "wire_share_of_decode_part": {n: wire_ms[n] / decode_ms[n] for n in lengths},
    }


# --------------------------------------------------------------------------- ITL tails in the simulator
@dataclass(frozen=True)
class MeasuredTimer:
    """A step timer fitted to measurements on this CPU.

    A step costs ``base_s`` (a decode step of the workload's batch, measured as the
    streams' ITL p50), plus ``per_token_s`` per prefill token and ``per_pair_s`` per
    (query, key) pair of prefill attention: the quadratic fitted to TTFT against prompt
    length. A prefill-only step costs ``prefill_base_s`` instead of ``base_s``.

    Taught in: no chapter calls it directly; it works behind real_pair, plan_a_deployment.
    """

    base_s: float
    prefill_base_s: float
    per_token_s: float
    per_pair_s: float

    def __call__(
        self,
        prefill_tokens,
        prefill_pairs,
        prefill_sequences,
        decode_requests,
        decode_context_tokens,
    ):
        if prefill_tokens <= 0 and decode_requests <= 0:
            return 0.0
        base = self.base_s if decode_requests else self.prefill_base_s
        return (
            base + self.per_token_s * prefill_tokens + self.per_pair_s * prefill_pairs
        )


def fit_prefill(
    lengths_tokens: list[int], seconds: list[float]
) -> tuple[float, float, float]:
    """Least squares ``t = a + b n + c n^2``; returns (a, b, c) in seconds.

    Taught in: no chapter calls it directly; it works behind real_pair, plan_a_deployment.
    """
    c, b, a = np.polyfit(
        np.asarray(lengths_tokens, float), np.asarray(seconds, float), 2
    )
    return float(a), float(b), float(c)


def _stream_itl_p50_s(mixed: dict) -> float:
    return mixed["summary"]["stream"]["itl_ms"]["p50"] / 1e3


def single_timer(single_sweep: dict, single_mixed: dict) -> MeasuredTimer:
    """A step timer for the single instance, fitted on its sweep's TTFTs and its mixed run's ITL.

    Taught in: no chapter calls it directly; it works behind real_pair.
    """
    ttft = report.ttft_by_length(single_sweep)
    a, b, c = fit_prefill(list(ttft), [v / 1e3 for v in ttft.values()])
    return MeasuredTimer(
        base_s=_stream_itl_p50_s(single_mixed),
        prefill_base_s=a,
        per_token_s=b,
        per_pair_s=2 * c,
    )


def pair_timers(
    pair_sweep: dict, pair_mixed: dict
) -> tuple[MeasuredTimer, MeasuredTimer]:
    """Prefill engine: fitted to the proxy's prefill-leg times; decode engine: its streams' ITL p50.

    Taught in: no chapter calls it directly; it works behind real_pair.
    """
    legs: dict[int, list[float]] = {}
    for r in pair_sweep["requests"]:
        if r["status"] == "ok":
            legs.setdefault(r["prompt_tokens"], []).append(
                float(r["routed"]["X-Pair-Prefill-Leg-Ms"]) / 1e3
            )
    n = sorted(legs)
    a, b, c = fit_prefill(n, [stats.percentile(legs[k], 50) for k in n])
    prefill = MeasuredTimer(base_s=a, prefill_base_s=a, per_token_s=b, per_pair_s=2 * c)
    decode = MeasuredTimer(
        base_s=_stream_itl_p50_s(pair_mixed),
        prefill_base_s=0.0,
        per_token_s=0.0,
        per_pair_s=0.0,
    )
    return prefill, decode


def workload_of(c: dict) -> tuple[Workload, np.ndarray]:
    """The capture's requests as a simulator workload (same send times and lengths), and their groups.

    Taught in: no chapter calls it directly; it works behind real_pair, plan_a_deployment.
    """
    reqs = sorted(
        (r for r in c["requests"] if r["status"] == "ok"), key=lambda r: r["start_s"]
    )
    w = Workload(
        np.array([r["start_s"] - reqs[0]["start_s"] for r in reqs]),
        np.array([r["prompt_tokens"] for r in reqs], dtype=np.int64),
        np.array([r["max_tokens"] for r in reqs], dtype=np.int64),
        label=c["label"],
    )
    return w, np.array([r["group"] for r in reqs])


def itl_reconciliation(
    single_sweep: dict, single_mixed: dict, pair_sweep: dict, pair_mixed: dict
) -> dict:
    """Replay the mixed load in the simulator with measured CPU step times; compare stream ITL p50/p99.

    Taught in: real_pair.
    """
    spec = tiny_model_spec(pair_mixed)
    kv_dtype = tiny_spec(pair_mixed).kv_dtype
    budget = int(single_mixed["config"]["max_num_batched_tokens"])
    capacity = 10**9  # the captures never ran out of KV blocks
    out: dict = {}
    w, groups = workload_of(single_mixed)
    st = single_timer(single_sweep, single_mixed)
    colo = simulate(
        Colocated(1, chunk_tokens=budget),
        w,
        spec,
        timer_for=lambda tp: st,
        kv_capacity_tokens=capacity,
        kv_dtype=kv_dtype,
    )
    w2, groups2 = workload_of(pair_mixed)
    pt, dt = pair_timers(pair_sweep, pair_mixed)
    link = report.link_speed(pair_mixed)
    timers = {"prefill": pt, "decode": dt}
    fleet = Disaggregated(1, 1, link_gbps=link["gbps"])
    # the engine builds prefill instances first, then decode: hand each its own timer
    calls = iter(["prefill", "decode"])
    pair = simulate(
        fleet,
        w2,
        spec,
        timer_for=lambda tp: timers[next(calls)],
        kv_capacity_tokens=capacity,
        kv_dtype=kv_dtype,
    )
    for name, res, g, cap_ in (
        ("single", colo, groups, single_mixed),
        ("pair", pair, groups2, pair_mixed),
    ):
        mask = np.isin(res.itl_owner, np.flatnonzero(g == "stream"))
        itl = res.itl_s[mask] * 1e3
        measured = cap_["summary"]["stream"]["itl_ms"]
        out[name] = {
            "label": cap_["label"],
            "sim_p50_ms": stats.percentile(itl, 50),
            "sim_p99_ms": stats.percentile(itl, 99),
            "measured_p50_ms": measured["p50"],
            "measured_p99_ms": measured["p99"],
        }
        out[name]["error_p50"] = (out[name]["sim_p50_ms"] - measured["p50"]) / measured[
            "p50"
        ]
        out[name]["error_p99"] = (out[name]["sim_p99_ms"] - measured["p99"]) / measured[
            "p99"
        ]
    out["sim_ratio_p99"] = out["single"]["sim_p99_ms"] / out["pair"]["sim_p99_ms"]
    out["measured_ratio_p99"] = (
        out["single"]["measured_p99_ms"] / out["pair"]["measured_p99_ms"]
    )
    return out
