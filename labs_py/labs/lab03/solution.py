"""Lab 03, reference solution: the two ledgers of disaggregation, in five small functions.

This is the lab's answer, written to be read next to ``starter.py``. The book's
chapters compute with :mod:`labs_py.economics`, which prices the same ledgers;
``tests/labs`` checks that the two agree, so a simpler solution here can never
change a number in the book.

Units: tokens, bytes, seconds, and links in Gb/s (1 Gb = 1e9 bits; 1 byte = 8 bits).
"""

from __future__ import annotations

from labs_py.core.validate import (
    UnitError,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
)
from labs_py.economics import LINK_TOO_SLOW, NO_INTERFERENCE, SPLIT_PAYS, Verdict

#: Faster than any real link: a "Gb/s" figure above this was given in bits per second.
FASTEST_LINK_GBPS = 1e5


def kv_payload_bytes(prompt_tokens: int, kv_bytes_per_token: int) -> int:
    """Bytes of KV a prompt leaves behind: the same bytes for every prompt token."""
    return positive_int("prompt_tokens", prompt_tokens, "tokens") * positive_int(
        "kv_bytes_per_token", kv_bytes_per_token, "bytes per token"
    )


def transfer_seconds(payload_bytes: int, link_gbps: float) -> float:
    """Seconds on a link of ``link_gbps``: bytes x 8 = bits, and the link moves ``link_gbps`` x 1e9 bits a second."""
    if isinstance(link_gbps, str):
        raise UnitError(
            f"link_gbps must be a number of Gb/s, not the string {link_gbps!r}"
        )
    gbps = positive_float("link_gbps", link_gbps, "Gb/s")
    if gbps > FASTEST_LINK_GBPS:
        raise UnitError(
            f"link_gbps={link_gbps!r} is faster than any link: give the speed in Gb/s, not bits/s"
        )
    return non_negative_int("payload_bytes", payload_bytes, "bytes") * 8 / (gbps * 1e9)


def colocated_itl_worst(decode_step_s: float, chunk_s: float) -> float:
    """The worst decode step carries a whole prefill chunk: a clean step plus the chunk."""
    return positive_float(
        "decode_step_s", decode_step_s, "seconds"
    ) + non_negative_float("chunk_s", chunk_s, "seconds")


def disagg_ttft_penalty(transfer_s: float, prefill_s: float) -> float:
    """The toll as a fraction of the prefill it follows (0.05 = TTFT grows by 5%)."""
    return non_negative_float("transfer_s", transfer_s, "seconds") / positive_float(
        "prefill_s", prefill_s, "seconds"
    )


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
    """Is there interference to cure? Is the link fast enough? Only two yeses make a split pay."""
    payload = kv_payload_bytes(prompt_tokens, kv_bytes_per_token)
    transfer = transfer_seconds(payload, link_gbps)
    penalty = disagg_ttft_penalty(transfer, prefill_s)
    worst = colocated_itl_worst(decode_step_s, chunk_s)
    inflation = worst / decode_step_s
    if inflation < min_itl_inflation:
        reason = NO_INTERFERENCE
    elif penalty > max_ttft_penalty:
        reason = LINK_TOO_SLOW
    else:
        reason = SPLIT_PAYS
    return Verdict(
        wins=reason == SPLIT_PAYS,
        reason=reason,
        payload_bytes=payload,
        transfer_s=transfer,
        ttft_penalty=penalty,
        itl_worst_s=worst,
        itl_inflation=inflation,
        max_ttft_penalty=max_ttft_penalty,
        min_itl_inflation=min_itl_inflation,
    )
