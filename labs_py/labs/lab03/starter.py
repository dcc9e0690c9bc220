"""Lab 03, your work: the two ledgers of disaggregation.

Fill in each function, then grade yourself:

    LAB_IMPL=starter python -m pytest tests/labs/test_lab03.py

or, in the chapter notebook, ``labs_py.labs.grade("lab03", starter)``.

Units: tokens, bytes, seconds, and links in Gb/s (1 Gb = 1e9 bits; 1 byte = 8 bits).
Bad input (zero or negative tokens, a zero or negative link speed, a link
given as a string such as "25 GB/s") must raise ``ValueError`` with a message
that names the bad value and the expected unit. ``labs_py.core.validate`` has helpers;
``labs_py.core.validate.UnitError`` is the ``ValueError`` for a value in the wrong unit.
"""

from __future__ import annotations

from labs_py.economics import LINK_TOO_SLOW, NO_INTERFERENCE, SPLIT_PAYS, Verdict  # noqa: F401


def kv_payload_bytes(prompt_tokens: int, kv_bytes_per_token: int) -> int:
    """Bytes of KV cache a prompt of ``prompt_tokens`` leaves behind after prefill.

    Hint: every prompt token leaves the same number of bytes behind.
    """
    raise NotImplementedError(
        "kv_payload_bytes: multiply tokens by bytes per token (after validating both)"
    )


def transfer_seconds(payload_bytes: int, link_gbps: float) -> float:
    """Seconds to push ``payload_bytes`` over a link of ``link_gbps`` gigabits per second.

    Hint: bytes to bits is x8; a Gb/s link moves 1e9 bits each second. A string
    such as ``"25 GB/s"`` is a unit error, and so is a value too large to be Gb/s
    (no link is faster than 1e5 Gb/s; 2e11 is bits per second).
    """
    raise NotImplementedError(
        "transfer_seconds: convert bytes to bits and divide by the link's bits per second"
    )


def colocated_itl_worst(decode_step_s: float, chunk_s: float) -> float:
    """Worst inter-token latency when one prefill chunk rides along with a decode step."""
    raise NotImplementedError(
        "colocated_itl_worst: the worst step carries a whole chunk"
    )


def disagg_ttft_penalty(transfer_s: float, prefill_s: float) -> float:
    """The transfer toll as a fraction of the prefill time it follows (0.05 means +5% TTFT)."""
    raise NotImplementedError(
        "disagg_ttft_penalty: compare the toll with the prefill it follows"
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
    """Decide whether splitting prefill from decode pays, and return a ``Verdict`` saying why.

    First: is there interference to cure? (worst ITL / clean step below
    ``min_itl_inflation`` means no: reason ``NO_INTERFERENCE``.)
    Then: is the link fast enough? (penalty above ``max_ttft_penalty`` means
    no: reason ``LINK_TOO_SLOW``.) Otherwise ``SPLIT_PAYS``.
    Fill every field of the ``Verdict`` with the numbers behind the decision.
    """
    raise NotImplementedError(
        "disagg_wins: use the four functions above, in the order the docstring gives"
    )
