"""A figure as plain data: ``{"data": [trace dicts], "layout": {...}}``, the JSON plotly.js draws.

Figure builders (``labs_py.figures`` and each chapter's ``figures``) return such
specs; the book machinery (``labs_py.book``) stores and draws them. This module
only converts: it imports no plotting library, so both sides can share it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: A plotly figure as plain JSON-able data.
Spec = dict[str, Any]


def jsonable(obj: Any) -> Any:
    """Numpy arrays and scalars to plain lists and numbers, recursively.

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, interference, goodput_and_split, two_gpus, real_pair,
        plan_a_deployment, compression_and_pooling.
    """
    if isinstance(obj, dict):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def as_spec(fig: Any) -> Spec:
    """Accept a plotly ``Figure`` (anything with ``to_plotly_json``) or a spec; return a spec.

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, interference, goodput_and_split, two_gpus, real_pair,
        plan_a_deployment, compression_and_pooling.
    """
    if hasattr(fig, "to_plotly_json"):
        return jsonable(fig.to_plotly_json())
    if isinstance(fig, dict) and "data" in fig:
        return {"data": list(fig["data"]), "layout": fig.get("layout", {})}
    raise TypeError(
        "a figure builder must return a plotly Figure or a spec dict with 'data'; "
        f"got {type(fig).__name__}"
    )
