"""Formatting numbers for readers: one place, so the prose, readouts and tests agree."""

from __future__ import annotations

import math

BINARY_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def fmt_bytes(n: float) -> str:
    """Bytes with binary prefixes, 3 significant digits: ``fmt_bytes(2**28) == "256 MiB"``.

    Taught in: moving_a_live_request, disaggregation_trade.
    """
    if n < 0:
        raise ValueError(f"a byte count cannot be negative; got {n!r} bytes")
    i = 0
    x = float(n)
    while x >= 1024 and i < len(BINARY_UNITS) - 1:
        x /= 1024
        i += 1
    return f"{x:.3g} {BINARY_UNITS[i]}"


def fmt_seconds(s: float) -> str:
    """Seconds as ms below 1 s (3 significant digits), else s: ``"10.7 ms"``, ``"1.23 s"``.

    Taught in: why_split, moving_a_live_request, disaggregation_trade, compression_and_pooling.
    """
    if not math.isfinite(s):
        return "∞"
    if abs(s) < 1.0:
        return f"{s * 1e3:.3g} ms"
    return f"{s:.3g} s"


def fmt_percent(fraction: float) -> str:
    """A fraction as a percentage with 3 significant digits: ``fmt_percent(0.0524) == "5.24%"``.

    Taught in: moving_a_live_request, disaggregation_trade.
    """
    return f"{fraction * 100:.3g}%"


def fmt_gbps(gbps: float) -> str:
    """A link speed: ``"200 Gb/s"``, ``"3.6 Tb/s"``.

    Taught in: moving_a_live_request, disaggregation_trade, compression_and_pooling.
    """
    return f"{gbps / 1000:.3g} Tb/s" if gbps >= 1000 else f"{gbps:.3g} Gb/s"
