"""Input checks shared by every module.

Bad input gets a clear error that names the bad value and the unit that was
expected. Nothing is silently clamped: a negative prompt length is a bug in the
caller, and hiding it would teach the wrong number.
"""

from __future__ import annotations

import math
from numbers import Integral, Real


class UnitError(ValueError):
    """A value was given in the wrong unit (for example GB/s where Gb/s was expected).

    Taught in: disaggregation_trade.
    """


def positive_int(name: str, value: object, unit: str) -> int:
    """Return ``value`` as an ``int`` if it is a whole number > 0, else raise.

    >>> positive_int("prompt_tokens", 2048, "tokens")
    2048

    Taught in: moving_a_live_request, disaggregation_trade, interference, goodput_and_split.
    """
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(
            f"{name} must be a whole number of {unit}; got {value!r} ({type(value).__name__})"
        )
    if value <= 0:
        raise ValueError(
            f"{name} must be a positive number of {unit}; got {value!r} {unit}"
        )
    return int(value)


def non_negative_int(name: str, value: object, unit: str) -> int:
    """Return ``value`` as an ``int`` if it is a whole number >= 0, else raise.

    Taught in: moving_a_live_request, disaggregation_trade.
    """
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(
            f"{name} must be a whole number of {unit}; got {value!r} ({type(value).__name__})"
        )
    if value < 0:
        raise ValueError(f"{name} must be zero or more {unit}; got {value!r} {unit}")
    return int(value)


def _real(name: str, value: object, unit: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(
            f"{name} must be a number in {unit}; got {value!r} ({type(value).__name__})"
        )
    x = float(value)
    if math.isnan(x) or math.isinf(x):
        raise ValueError(f"{name} must be a finite number in {unit}; got {value!r}")
    return x


def positive_float(name: str, value: object, unit: str) -> float:
    """Return ``value`` as a ``float`` if it is finite and > 0, else raise.

    Taught in: disaggregation_trade, interference, goodput_and_split, two_gpus.
    """
    x = _real(name, value, unit)
    if x <= 0:
        raise ValueError(f"{name} must be greater than 0 {unit}; got {value!r} {unit}")
    return x


def non_negative_float(name: str, value: object, unit: str) -> float:
    """Return ``value`` as a ``float`` if it is finite and >= 0, else raise.

    Taught in: disaggregation_trade.
    """
    x = _real(name, value, unit)
    if x < 0:
        raise ValueError(f"{name} must be 0 {unit} or more; got {value!r} {unit}")
    return x


def fraction(name: str, value: object, *, inclusive_high: bool = True) -> float:
    """Return ``value`` if it is a fraction in [0, 1] (or [0, 1) when ``inclusive_high`` is false).

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, interference, goodput_and_split, two_gpus, real_pair,
        plan_a_deployment, compression_and_pooling.
    """
    x = _real(name, value, "a fraction between 0 and 1")
    ok = 0.0 <= x <= 1.0 if inclusive_high else 0.0 <= x < 1.0
    if not ok:
        hi = "1" if inclusive_high else "1 (exclusive)"
        raise ValueError(f"{name} must be a fraction between 0 and {hi}; got {value!r}")
    return x


def one_of(
    name: str, value: object, allowed: list[str] | tuple[str, ...], what: str
) -> str:
    """Return ``value`` if it is one of ``allowed``; otherwise list the choices.

    Taught in: moving_a_live_request, two_gpus, plan_a_deployment.
    """
    if value not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        raise ValueError(
            f"unknown {what} {value!r} for {name}; expected one of: {choices}"
        )
    return value  # type: ignore[return-value]
