"""Figures as plain plotly specs: ``{"data": [trace dicts], "layout": {...}}``.

Building a ``go.Figure`` validates every property and costs tens of
milliseconds; a slider that replots must do better than that. So figure
builders return plain dicts (the same JSON plotly.js draws), and they build
their layout once with plotly's own API (subplots, axes, styling) and reuse it.
``go.Figure(spec)`` turns a spec into a figure, with validation, whenever one is
wanted; the tests do that for every builder so a misspelt property cannot hide.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.basedatatypes import BaseFigure

Spec = dict[str, Any]


def jsonable(obj: Any) -> Any:
    """Numpy arrays and scalars to plain lists and numbers, recursively."""
    if isinstance(obj, dict):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def layout_of(fig: go.Figure) -> dict[str, Any]:
    """A figure's layout as a plain dict (build once, reuse for every spec)."""
    return jsonable(fig.to_plotly_json()["layout"])


def make_spec(data: list[dict[str, Any]], layout: dict[str, Any]) -> Spec:
    """A spec from trace dicts and a (shared, cached) layout, which is copied so callers may edit it."""
    return {"data": [jsonable(t) for t in data], "layout": copy.deepcopy(layout)}


def as_spec(fig: go.Figure | Spec) -> Spec:
    """Accept either a ``go.Figure`` or a spec; return a spec."""
    if isinstance(fig, BaseFigure):
        return jsonable(fig.to_plotly_json())
    if isinstance(fig, dict) and "data" in fig:
        return {"data": list(fig["data"]), "layout": fig.get("layout", {})}
    raise TypeError(f"a figure builder must return a plotly Figure or a spec dict with 'data'; got {type(fig).__name__}")


def to_figure(spec: Spec) -> go.Figure:
    """A validated ``go.Figure`` from a spec (raises on any invalid property)."""
    return go.Figure(spec)
