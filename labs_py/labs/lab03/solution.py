"""Lab 03, reference solution: the two ledgers of disaggregation.

**Colocated** serving pays an *interference tax*: a decode step that shares the
GPU with a prefill chunk waits for that chunk. Chunked prefill caps the tax at
one chunk per step, but every step that carries a chunk still pays it, and
those steps make up the tail of the inter-token latency (ITL p99).

**Disaggregated** serving removes the tax and pays a *transfer toll* instead:
the prompt's KV cache must cross the link from the prefill engine to the decode
engine before decoding can start, so it lands in time-to-first-token (TTFT).

Units: tokens, bytes, seconds, and links in Gb/s (1 Gb = 1e9 bits).
"""

from __future__ import annotations

import re

from labs_py.labs.lab03.verdict import LINK_TOO_SLOW, NO_INTERFERENCE, SPLIT_PAYS, Verdict
from labs_py.validate import UnitError, non_negative_float, non_negative_int, positive_float, positive_int

#: No real link is 100 Tb/s one way. A "Gb/s" figure above this is a figure in
#: bits/s (or another unit) that was not converted: an error, not a fast link.
IMPLAUSIBLE_GBPS = 1e5


def kv_payload_bytes(prompt_tokens: int, kv_bytes_per_token: int) -> int:
    """Bytes of KV cache a prompt leaves behind after prefill.

    Every prompt token leaves one K and one V vector per KV head in every layer,
    so the payload is linear in the prompt: ``prompt_tokens * kv_bytes_per_token``.

    >>> kv_payload_bytes(2048, 131072) / 2**20   # Llama-3.1-8B, bf16: 256 MiB
    256.0
    """
    tokens = positive_int("prompt_tokens", prompt_tokens, "tokens")
    per_token = positive_int("kv_bytes_per_token", kv_bytes_per_token, "bytes per token")
    return tokens * per_token


def _link_gbps(link_gbps: object) -> float:
    """Validate a link speed in Gb/s, and catch the two common unit mistakes."""
    if isinstance(link_gbps, str):
        m = re.fullmatch(r"\s*([0-9.]+)\s*([GMT][bB])(?:/s|ps)?\s*", link_gbps)
        hint = ""
        if m and m.group(2) in ("GB", "TB"):
            factor = 8 if m.group(2) == "GB" else 8000
            hint = f" {link_gbps!r} is in bytes per second: that is {float(m.group(1)) * factor:g} Gb/s."
        raise UnitError(
            f"link_gbps must be a number in gigabits per second (Gb/s, 1 Gb = 1e9 bits); got the string "
            f"{link_gbps!r}.{hint} Convert quotes with labs_py.links.to_gbps(value, unit)."
        )
    gbps = positive_float("link_gbps", link_gbps, "Gb/s")
    if gbps > IMPLAUSIBLE_GBPS:
        raise UnitError(
            f"link_gbps={link_gbps!r} Gb/s is faster than any link ({IMPLAUSIBLE_GBPS:g} Gb/s); "
            f"it looks like bits per second. link_gbps is in Gb/s, e.g. 200 for a 200 Gb/s fabric."
        )
    return gbps


def transfer_seconds(payload_bytes: int, link_gbps: float) -> float:
    """Seconds to push ``payload_bytes`` over a link of ``link_gbps`` gigabits per second.

    Bytes become bits (x8), and a Gb/s link moves 1e9 bits per second:
    ``seconds = payload_bytes * 8 / (link_gbps * 1e9)``. This is the line-rate
    lower bound; a real transfer adds per-transfer setup and protocol overhead.

    >>> round(transfer_seconds(256 * 2**20, 200) * 1e3, 1)   # 256 MiB over 200 Gb/s
    10.7
    """
    payload = non_negative_int("payload_bytes", payload_bytes, "bytes")
    gbps = _link_gbps(link_gbps)
    return payload * 8 / (gbps * 1e9)


def colocated_itl_worst(decode_step_s: float, chunk_s: float) -> float:
    """Worst inter-token latency when prefill chunks ride along with decode steps.

    With chunked prefill, a step carries at most one chunk, so the worst step is
    a clean decode step plus one chunk's worth of prefill compute.

    >>> round(colocated_itl_worst(0.010, 0.025), 3)
    0.035
    """
    step = positive_float("decode_step_s", decode_step_s, "seconds")
    chunk = non_negative_float("chunk_s", chunk_s, "seconds")
    return step + chunk


def disagg_ttft_penalty(transfer_s: float, prefill_s: float) -> float:
    """The transfer toll as a fraction of the prefill it follows: ``transfer_s / prefill_s``.

    0.05 means TTFT grows by 5% over colocated prefill; above 1.0 the KV takes
    longer to move than it took to compute.
    """
    transfer = non_negative_float("transfer_s", transfer_s, "seconds")
    prefill = positive_float("prefill_s", prefill_s, "seconds")
    return transfer / prefill


def disagg_wins(
    *,
    prompt_tokens: int,
    kv_bytes_per_token: int,
    link_gbps: float,
    prefill_s: float,
    decode_step_s: float,
    chunk_s: float,
    max_ttft_penalty: float = 0.10,
    min_itl_inflation: float = 1.25,
) -> Verdict:
    """Decide whether splitting prefill from decode pays, and say why.

    Two questions, in this order:

    1. **Is there interference to cure?** Colocated, the worst ITL is a step plus
       a chunk. If that is less than ``min_itl_inflation`` times a clean step,
       the tail is already fine: the split has nothing to buy.
    2. **Is the link fast enough?** The split's toll is the KV transfer. If it
       adds more than ``max_ttft_penalty`` (a fraction) to TTFT, the link is too slow.

    Otherwise the split pays: clean decode steps for an affordable toll.
    """
    budget = positive_float("max_ttft_penalty", max_ttft_penalty, "fraction of prefill time (0.10 = 10%)")
    cure_above = positive_float("min_itl_inflation", min_itl_inflation, "ratio of worst ITL to a clean step")
    if cure_above < 1.0:
        raise ValueError(f"min_itl_inflation must be a ratio of at least 1.0 (worst ITL / clean step); got {min_itl_inflation!r}")
    payload = kv_payload_bytes(prompt_tokens, kv_bytes_per_token)
    transfer = transfer_seconds(payload, link_gbps)
    penalty = disagg_ttft_penalty(transfer, prefill_s)
    itl_worst = colocated_itl_worst(decode_step_s, chunk_s)
    inflation = itl_worst / decode_step_s

    if inflation < cure_above:
        wins, reason = False, NO_INTERFERENCE
    elif penalty > budget:
        wins, reason = False, LINK_TOO_SLOW
    else:
        wins, reason = True, SPLIT_PAYS
    return Verdict(
        wins=wins,
        reason=reason,
        payload_bytes=payload,
        transfer_s=transfer,
        ttft_penalty=penalty,
        itl_worst_s=itl_worst,
        itl_inflation=inflation,
        max_ttft_penalty=budget,
        min_itl_inflation=cure_above,
    )
