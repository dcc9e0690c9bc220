"""Percentiles and latency summaries, defined once for the whole book.

Serving SLOs are written on tails, so every chapter reports p50, p90 and p99.
We use numpy's default ("linear") percentile, the same definition that
``vllm bench serve`` uses, so that our numbers and vLLM's can be compared.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

DEFAULT_PERCENTILES: tuple[float, ...] = (50.0, 90.0, 99.0)


def percentile(values: Iterable[float], q: float) -> float:
    """The ``q``-th percentile (0 <= q <= 100) of ``values``, by linear interpolation.

    Raises ``ValueError`` on an empty sample or a ``q`` outside [0, 100]:
    a percentile of nothing is a bug, not a zero.

    Taught in: interference.
    """
    arr = np.asarray(
        list(values) if not isinstance(values, np.ndarray) else values, dtype=float
    )
    if arr.size == 0:
        raise ValueError("percentile of an empty sample is undefined; got 0 values")
    if not 0.0 <= float(q) <= 100.0:
        raise ValueError(f"q must be a percentile between 0 and 100; got {q!r}")
    return float(np.percentile(arr, q))


def summarize(
    values: Iterable[float], percentiles: Sequence[float] = DEFAULT_PERCENTILES
) -> dict[str, float]:
    """Mean, count and the requested percentiles of a sample, keyed ``"p50"``, ``"p99"``, ...

    >>> summarize([1.0, 2.0, 3.0, 4.0])["p50"]
    2.5

    Taught in: no chapter calls it directly; it works behind why_split, disaggregation_trade,
        interference, goodput_and_split, two_gpus, real_pair, plan_a_deployment,
        compression_and_pooling.
    """
    arr = np.asarray(
        list(values) if not isinstance(values, np.ndarray) else values, dtype=float
    )
    if arr.size == 0:
        raise ValueError("cannot summarize an empty sample; got 0 values")
    out: dict[str, float] = {"count": float(arr.size), "mean": float(arr.mean())}
    for q in percentiles:
        key = f"p{q:g}"
        out[key] = percentile(arr, q)
    return out
