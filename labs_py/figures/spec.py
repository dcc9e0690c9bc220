"""Building figures as plain plotly specs, fast enough for a slider.

Building a ``go.Figure`` validates every property and costs tens of
milliseconds; a slider that replots must do better than that. So figure
builders return plain dicts (:data:`labs_py.core.plotspec.Spec`, the JSON
plotly.js draws), and they build their layout once with plotly's own API
(subplots, axes, styling) and reuse it. ``go.Figure(spec)`` turns a spec into a
figure, with validation, whenever one is wanted; the tests do that for every
builder so a misspelt property cannot hide.
"""

from __future__ import annotations

import copy
from typing import Any

import plotly.graph_objects as go

from labs_py.core.plotspec import Spec, as_spec, jsonable

__all__ = ["Spec", "as_spec", "jsonable", "layout_of", "make_spec", "to_figure"]


def layout_of(fig: go.Figure) -> dict[str, Any]:
    """A figure's layout as a plain dict (build once, reuse for every spec).

    Taught in: why_split, moving_a_live_request, disaggregation_trade, two_gpus, real_pair,
        plan_a_deployment, compression_and_pooling.
    """
    return jsonable(fig.to_plotly_json()["layout"])


def make_spec(data: list[dict[str, Any]], layout: dict[str, Any]) -> Spec:
    """A spec from trace dicts and a (shared, cached) layout, which is copied so callers may edit it.

    Taught in: why_split, moving_a_live_request, disaggregation_trade, interference,
        goodput_and_split, two_gpus, real_pair, plan_a_deployment, compression_and_pooling.
    """
    return {"data": [jsonable(t) for t in data], "layout": copy.deepcopy(layout)}


def to_figure(spec: Spec) -> go.Figure:
    """A validated ``go.Figure`` from a spec (raises on any invalid property).

    Taught in: no chapter yet: a tool for readers' own experiments.
    """
    return go.Figure(spec)
