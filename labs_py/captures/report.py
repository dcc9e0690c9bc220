"""The chapter's headline figures, computed from the committed captures (no vLLM needed).

* :func:`itl_tail_ratio`: ITL p99 of the steady streams under mixed load,
  single instance over pair. Above 1 means disaggregation cut the tail.
* :func:`ttft_toll`: per prompt length, the pair's median TTFT minus the single
  instance's (the price of the extra hop: a second request, the KV pull, and
  decode recomputing the last prompt token).
* :func:`payload_check`: bytes NIXL reports having moved, against the model's
  arithmetic, ``blocks x block bytes`` (:mod:`labs_py.captures.tiny_model`).
* :func:`link_speed`: bytes moved over the time NIXL spent moving them; the
  measured loopback "link", in GB/s and in Gb/s (1 Gb = 1e9 bits, as the book uses).

* the link sweep (:mod:`labs_py.captures.link`): ``link_sweep``, one row per link rate and
  prompt length, with the wire measured and predicted, and the three verdicts measured.

``python -m labs_py.pair report`` prints them all (``--json`` as JSON). Light: numpy and the
capture reader.
"""

from __future__ import annotations

import re

import numpy as np

from labs_py.captures import capture as cap
from labs_py.captures.tiny_model import kv_block_bytes, kv_blocks_for_prompt, spec_of
from labs_py.core import stats


def _group_summary(c: dict, group: str) -> dict:
    s = c["summary"].get(group)
    if not s:
        raise cap.CaptureError(f"capture {c['label']!r} has no group {group!r}")
    return s


def itl_tail_ratio(single: dict, pair: dict, group: str = "stream") -> dict:
    """ITL p50 and p99 (ms) of ``group`` in two mixed-load captures, and single/pair ratios.

    Taught in: real_pair.
    """
    s, p = (
        _group_summary(single, group)["itl_ms"],
        _group_summary(pair, group)["itl_ms"],
    )
    return {
        "single": single["label"],
        "pair": pair["label"],
        "single_itl_p50_ms": s["p50"],
        "single_itl_p99_ms": s["p99"],
        "pair_itl_p50_ms": p["p50"],
        "pair_itl_p99_ms": p["p99"],
        "itl_p99_ratio_single_over_pair": s["p99"] / p["p99"],
        "single_p99_over_p50": s["p99"] / s["p50"],
        "pair_p99_over_p50": p["p99"] / p["p50"],
    }


def ttft_by_length(c: dict, group: str = "sweep") -> dict[int, float]:
    """Median TTFT (ms) per prompt length of a sweep capture.

    Taught in: real_pair.
    """
    by: dict[int, list[float]] = {}
    for r in c["requests"]:
        if r["group"] == group and r["status"] == "ok":
            by.setdefault(r["prompt_tokens"], []).append(r["token_times_s"][0] * 1e3)
    return {n: stats.percentile(v, 50) for n, v in sorted(by.items())}


def ttft_toll(single_sweep: dict, pair_sweep: dict) -> dict:
    """Pair minus single median TTFT per prompt length (ms), and a least-squares line through it.

    Taught in: real_pair.
    """
    a, b = ttft_by_length(single_sweep), ttft_by_length(pair_sweep)
    lengths = sorted(set(a) & set(b))
    toll = {n: b[n] - a[n] for n in lengths}
    slope, intercept = (
        np.polyfit(lengths, [toll[n] for n in lengths], 1)
        if len(lengths) >= 2
        else (None, None)
    )
    return {
        "single": single_sweep["label"],
        "pair": pair_sweep["label"],
        "single_ttft_ms": a,
        "pair_ttft_ms": b,
        "toll_ms": toll,
        "toll_fit_ms_per_token": slope,
        "toll_fit_intercept_ms": intercept,
    }


def payload_check(c: dict, decode_prefix: str = "decode") -> dict:
    """NIXL bytes reported by decode vs blocks x block bytes of the prompts that went through the pair.

    Taught in: no chapter calls it directly; it works behind real_pair.
    """
    cfg = c["config"]
    spec = spec_of(c)
    bs = cfg["block_size_tokens"]
    ok = [r for r in c["requests"] if r["status"] == "ok"]
    blocks = sum(kv_blocks_for_prompt(r["prompt_tokens"], bs) for r in ok)
    expected = blocks * kv_block_bytes(bs, spec)
    reported = sum(
        v["delta"]["nixl_bytes_transferred"]
        for k, v in c["metrics"].items()
        if k.startswith(decode_prefix)
    )
    transfers = sum(
        v["delta"]["nixl_transfers"]
        for k, v in c["metrics"].items()
        if k.startswith(decode_prefix)
    )
    return {
        "label": c["label"],
        "requests": len(ok),
        "blocks": blocks,
        "block_bytes": kv_block_bytes(bs, spec),
        "expected_bytes": expected,
        "nixl_reported_bytes": reported,
        "nixl_transfers": transfers,
        "relative_error": (reported - expected) / expected if expected else None,
    }


def link_speed(c: dict, decode_prefix: str = "decode") -> dict:
    """Bytes moved / NIXL transfer time, summed over decode instances of a pair capture.

    Taught in: real_pair.
    """
    d = [v["delta"] for k, v in c["metrics"].items() if k.startswith(decode_prefix)]
    nbytes = sum(x["nixl_bytes_transferred"] for x in d)
    secs = sum(x["nixl_xfer_time_s"] for x in d)
    n = sum(x["nixl_transfers"] for x in d)
    if secs <= 0 or n <= 0:
        raise cap.CaptureError(f"capture {c['label']!r} recorded no NIXL transfer time")
    return {
        "label": c["label"],
        "transfers": n,
        "bytes": nbytes,
        "xfer_time_s": secs,
        "mean_transfer_ms": secs / n * 1e3,
        "mean_transfer_bytes": nbytes / n,
        "gbytes_per_s": nbytes / secs / 1e9,
        "gbps": nbytes * 8 / secs / 1e9,
    }


def headline_figures(captures: dict[str, dict] | None = None) -> dict:
    """Every figure the closing note quotes, from whichever captures exist.

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    caps = cap.load_all() if captures is None else captures
    out: dict = {}
    for single in ("single-2core__mixed", "single-1core__mixed"):
        for pair in ("pair-1each__mixed", "pair-1p2d__mixed"):
            if single in caps and pair in caps:
                out[f"itl_tail:{single}/{pair}"] = itl_tail_ratio(
                    caps[single], caps[pair]
                )
    for single in ("single-2core__sweep", "single-1core__sweep"):
        if single in caps and "pair-1each__sweep" in caps:
            out[f"ttft_toll:{single}"] = ttft_toll(
                caps[single], caps["pair-1each__sweep"]
            )
    for label, c in caps.items():
        if c["kind"] == "link-sweep":
            from labs_py.captures import link

            out["link_sweep"] = link.sweep_rows(c)
            out["ucx_ceiling_gbps"] = link.ucx_ceiling_gbps(c)
            out["link_sweep_mixed"] = link.mixed_rows(c)
            if "single-1core__mixed" in caps:
                out["verdicts_measured"] = link.verdicts(c, caps["single-1core__mixed"])
            continue
        if label.startswith("pair-") and c["kind"] != "drill":
            try:
                out[f"payload:{label}"] = payload_check(c)
                out[f"link:{label}"] = link_speed(c)
            except (cap.CaptureError, KeyError):
                pass
    return out


def instance_commands(c: dict) -> list[tuple[str, tuple[int, ...], str]]:
    """Each instance a capture started: its name, its cores, and its command line after ``python -m``.

    Paths under the checkout's ``.pair/`` are written ``<repo>/.pair/``, so the lines read the same
    on every machine.

    Taught in: real_pair.
    """
    out = []
    for inst in c["config"]["topology"]["instances"]:
        argv = re.sub(r"\S*/\.pair/", "<repo>/.pair/", " ".join(inst["argv"][2:]))
        out.append((inst["name"], tuple(inst["cores"]), argv))
    return out


def format_link_sweep(rows: list[dict]) -> str:
    """The link sweep as a text table: one line per (link rate, prompt), wire measured vs predicted (80 columns).

    Taught in: real_pair.
    """
    head = (
        f"{'link':>9} {'prompt':>6} {'KV MiB':>6} {'wire':>7} {'priced':>7} {'resid':>6} {'prefill':>7} "
        f"{'toll/pf':>7} {'fixed':>6} {'TTFT':>7}"
    )
    lines = [
        head,
        f"{'':>9} {'tokens':>6} {'':>6} {'ms':>7} {'ms':>7} {'':>6} {'ms':>7} {'':>7} {'ms':>6} {'ms':>7}",
    ]
    for r in rows:
        link = "unshaped" if r["link_gbps"] is None else f"{r['link_gbps']:g} Gb/s"
        pred = (
            "-" if r["wire_ms_predicted"] is None else f"{r['wire_ms_predicted']:.1f}"
        )
        res = "-" if r["wire_residual"] is None else f"{r['wire_residual']:+.0%}"
        lines.append(
            f"{link:>9} {r['prompt_tokens']:>6} {r['kv_bytes'] / 2**20:>6.2f} {r['wire_ms_measured']:>7.1f} "
            f"{pred:>7} {res:>6} {r['prefill_ms']:>7.1f} {r['ttft_penalty']:>7.1%} "
            f"{r['fixed_overhead_ms']:>6.1f} {r['ttft_ms']:>7.1f}"
        )
    return "\n".join(lines)


def endpoint_points(c: dict) -> dict[str, list[float]]:
    """An endpoint capture's ok requests: the prompt length the server reported, and each TTFT (ms).

    Taught in: real_pair.
    """
    ok = [r for r in c["requests"] if r["status"] == "ok" and r["token_times_s"]]
    return {
        "prompt_tokens": [r["prompt_tokens"] for r in ok],
        "ttft_ms": [r["token_times_s"][0] * 1e3 for r in ok],
        "requested": [r.get("requested_prompt_tokens", r["prompt_tokens"]) for r in ok],
    }


def foreign_load(c: dict) -> str:
    """How many cores other programs used during a capture's run, or why that is not known.

    A failure drill kills a process of the pair inside the measured window; its CPU time leaves
    ``/proc`` with it and cannot be told from other programs' (``labs_py.pair.contention``).
    Captures made before the window learned that carry a negative ``our_cores``; both cases read
    "not measurable" rather than an impossible figure (more cores than the machine has).

    Taught in: real_pair.
    """
    during = (c.get("contention") or {}).get("during_run")
    if not during:
        return "not recorded"
    if during.get("foreign_cores") is None or (during.get("our_cores") or 0.0) < 0:
        return "not measurable (a process of the pair exited inside the window)"
    return f"{during['foreign_cores']:.3f} cores"


def identical_outputs(a: dict, b: dict) -> dict:
    """Do two captures of the same workload return the same tokens, request by request?

    Requests are matched by their id (the load generator draws the same prompts from the same
    seed); only requests that succeeded in both are compared. Returns ``requests`` compared,
    ``identical`` among them, ``tokens`` compared, and ``first_difference`` (request id and
    token index) or None.

    Taught in: real_pair.
    """
    ra = {r["id"]: r for r in a["requests"] if r["status"] == "ok"}
    rb = {r["id"]: r for r in b["requests"] if r["status"] == "ok"}
    ids = sorted(set(ra) & set(rb))
    same, tokens, first = 0, 0, None
    for i in ids:
        x, y = ra[i]["output_token_ids"], rb[i]["output_token_ids"]
        tokens += max(len(x), len(y))
        if x == y:
            same += 1
        elif first is None:
            k = next(
                (j for j, (p, q) in enumerate(zip(x, y)) if p != q), min(len(x), len(y))
            )
            first = (i, k)
    return {
        "requests": len(ids),
        "identical": same,
        "tokens": tokens,
        "first_difference": first,
    }


def ttft_percentiles_by_length(
    c: dict, group: str = "sweep"
) -> dict[int, dict[str, float]]:
    """TTFT p50 and p99 (ms) of a capture's ``group`` requests, per prompt length.

    With a handful of requests per length the p99 is close to the slowest of them; it is
    reported because the course asks for it, and read as such.

    Taught in: real_pair.
    """
    by: dict[int, list[float]] = {}
    for r in c["requests"]:
        if r["status"] == "ok" and r["group"] == group:
            by.setdefault(r["prompt_tokens"], []).append(r["token_times_s"][0] * 1e3)
    return {
        n: {
            "p50": stats.percentile(v, 50),
            "p99": stats.percentile(v, 99),
            "count": len(v),
        }
        for n, v in sorted(by.items())
    }


def run_to_run(
    captures: dict[str, dict],
    setups: tuple[str, ...] = ("single-2core__mixed", "pair-1each__mixed"),
) -> dict:
    """Each setup's committed capture and its repeats (``LABEL__repeatN``): the tails run by run.

    Returns, per setup, one row per run (``label``, streams' ITL p50 and p99, big prompts' TTFT
    p50, foreign load) and the spread of each figure (min and max over the runs); and, when the
    first two setups are a single instance and a pair, the range of the ITL p99 ratio between them
    over every pairing of their runs.

    Taught in: real_pair.
    """
    out: dict = {"setups": {}}
    for s in setups:
        labels = [s] + sorted(k for k in captures if k.startswith(f"{s}__repeat"))
        rows = []
        for lab in labels:
            sm = captures[lab]["summary"]
            rows.append(
                {
                    "label": lab,
                    "itl_p50_ms": sm["stream"]["itl_ms"]["p50"],
                    "itl_p99_ms": sm["stream"]["itl_ms"]["p99"],
                    "big_ttft_p50_ms": sm["big"]["ttft_ms"]["p50"],
                    "other_programs": foreign_load(captures[lab]),
                }
            )
        spread = {
            k: (min(r[k] for r in rows), max(r[k] for r in rows))
            for k in ("itl_p50_ms", "itl_p99_ms", "big_ttft_p50_ms")
        }
        out["setups"][s] = {"runs": rows, "spread": spread}
    if len(setups) >= 2:
        a, b = (out["setups"][s]["runs"] for s in setups[:2])
        ratios = [x["itl_p99_ms"] / y["itl_p99_ms"] for x in a for y in b]
        out["itl_p99_ratio_range"] = (min(ratios), max(ratios))
    return out
