"""Figures for the chapter "Moving a live request". Data in, plotly specs out.

Every builder takes a :class:`labs_py.engine.trace.MigrationTrace` (plain
data) and returns a spec (see :mod:`labs_py.figures.spec`) whose layout is built
once and cached: a slider move only swaps traces. Four views of one move:

* **block tables**: both engines' pools, block by block, before and after. The
  moving request's blocks carry their *logical* index (L0, L1, ...): the same
  labels turn up at other physical ids on the destination. Block identity does
  not survive a move; contents do. A block whose contents were recomputed on
  arrival instead of shipped is marked ``↻``.
* **usage bars**: the source gives back exactly its share (its bar lands on the
  mark of the same engine had the request never come); the destination is
  billed exactly ``ceil(tokens / block size)`` blocks.
* **the KV's journey**: how many of the request's tokens of KV crossed the
  link, and how many the destination recomputed: the two recovery strategies.
* **token streams**: the output with the move and without it, token by token,
  coloured by the engine that produced it. They are the same tokens.

:func:`migration_figure` draws all four for one trace. The panels get the
trace from :func:`labs_py.engine.trace.trace_migration` (which runs the
engines, memoised); this module only draws.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np

from labs_py.core.fmt import fmt_bytes, fmt_gbps
from labs_py.figures.spec import Spec, layout_of, make_spec
from labs_py.figures.style import OKABE_ITO, ROLE, log_ticks, styled

__all__ = [
    "BLOCK_COLOURS",
    "TOKEN_COLOURS",
    "GRID_COLUMNS",
    "GRID_ROWS",
    "block_tables_figure",
    "usage_figure",
    "journey_figure",
    "token_streams_figure",
    "migration_figure",
    "PLACE_COLOURS",
    "ROUTER_MAX_STEPS",
    "router_figure",
    "RECOVERY_LINKS_GBPS",
    "STRATEGY_STYLE",
    "recovery_figure",
]

#: Block states, in the order the heatmaps code them (0, 1, 2, 3, 4).
BLOCK_COLOURS = {
    "free": "#f2f2f2",
    "other request": OKABE_ITO["grey"],
    "moving request (L3: its block 3)": ROLE["transfer"],
    "↻3: block 3, recomputed on arrival": OKABE_ITO["purple"],
    "just freed": OKABE_ITO["yellow"],
}
_FREE, _OTHER, _MOVING, _RECOMPUTED, _FREED = range(5)
#: Token cells, in the order the heatmap codes them (0, 1, 2, 3).
TOKEN_COLOURS = {
    "never moved (reference)": "#d9d9d9",
    "made on the source": ROLE["prefill"],
    "made on the destination": ROLE["decode"],
    "differs (never expected)": OKABE_ITO["black"],
}
#: Every pool is drawn GRID_COLUMNS blocks wide (32 for pools over 64 blocks), at most GRID_ROWS rows.
GRID_COLUMNS = 16
GRID_ROWS = 4
_PANELS = (
    ("source", "before"),
    ("source", "after"),
    ("destination", "before"),
    ("destination", "after"),
)
_USAGE_X = {"source": 0, "destination": 1}
_BAR_OFFSET, _BAR_WIDTH = 0.2, 0.38
#: The journey panel's token axis: room for the longest request the chapter moves (64 + 10 tokens of KV).
JOURNEY_MAX_TOKENS = 76


def _stepped(colours: dict[str, str]) -> list[list]:
    """A colourscale with one flat band per category, for integer codes + 0.5 over [0, n]."""
    n = len(colours)
    scale: list[list] = []
    for i, c in enumerate(colours.values()):
        scale += [[i / n, c], [(i + 1) / n, c]]
    return scale


def _grid_columns(num_blocks: int) -> int:
    return GRID_COLUMNS if num_blocks <= GRID_COLUMNS * GRID_ROWS else 2 * GRID_COLUMNS


def _legend_entries(
    colours: dict[str, str], group: str, title: str | None = None
) -> list[dict]:
    """Invisible-data scatter traces that put each category's name and colour in the legend."""
    entries = [
        dict(
            type="scatter",
            x=[None],
            y=[None],
            mode="markers",
            name=name,
            legendgroup=group,
            marker=dict(
                size=12, symbol="square", color=colour, line=dict(color="#666", width=1)
            ),
            hoverinfo="skip",
        )
        for name, colour in colours.items()
    ]
    if title:
        entries[0]["legendgrouptitle"] = dict(text=title)
    return entries


# --------------------------------------------------------------------------- block tables
def _recomputed_blocks(trace) -> set[int]:
    """Destination blocks holding at least one token whose KV was recomputed on arrival."""
    bs, table = trace.block_size_tokens, trace.destination_block_ids
    return {table[t // bs] for t in range(trace.shipped_tokens, trace.kv_tokens)}


def _pool_heatmap(
    owners: tuple[str, ...],
    table: tuple[int, ...],
    freed: tuple[int, ...],
    recomputed: set[int],
    engine: str,
    when: str,
    xaxis: str,
    yaxis: str,
) -> dict:
    """One pool as a grid of cells: state code, label and physical block id per block.

    Labels: ``L3`` is the moving request's logical block 3, ``↻3`` the same block
    recomputed on arrival, ``·`` a block the move just freed. Hovering shows the
    physical block id (plain ints keep the static page small).
    """
    cols = _grid_columns(len(owners))
    rows = -(-len(owners) // cols)
    logical = {b: i for i, b in enumerate(table)}
    freed_set = set(freed)
    z: list[list] = [[None] * cols for _ in range(rows)]
    text: list[list] = [[""] * cols for _ in range(rows)]
    ids: list[list] = [[None] * cols for _ in range(rows)]
    for b, owner in enumerate(owners):
        r, c = divmod(b, cols)
        if owner == "moving":
            code, label = (
                (_RECOMPUTED, f"↻{logical[b]}")
                if b in recomputed
                else (_MOVING, f"L{logical[b]}")
            )
        elif b in freed_set:
            code, label = _FREED, "·"
        elif owner == "other":
            code, label = _OTHER, ""
        else:
            code, label = _FREE, ""
        z[r][c], text[r][c], ids[r][c] = code + 0.5, label, b
    return dict(
        type="heatmap",
        z=z,
        text=text,
        customdata=ids,
        texttemplate="%{text}",
        textfont=dict(
            size=(9 if len(table) <= 10 else 8) if cols <= GRID_COLUMNS else 6
        ),
        hovertemplate=f"{engine} {when}: physical block %{{customdata}} %{{text}}<extra></extra>",
        zmin=0,
        zmax=len(BLOCK_COLOURS),
        colorscale=_stepped(BLOCK_COLOURS),
        showscale=False,
        xgap=2,
        ygap=2,
        xaxis=xaxis,
        yaxis=yaxis,
    )


def _block_traces(trace, axes: list[tuple[str, str]]) -> list[dict]:
    recomputed = _recomputed_blocks(trace)
    states = {
        ("source", "before"): (
            trace.source_owners_before,
            trace.source_block_ids,
            (),
            set(),
        ),
        ("source", "after"): (
            trace.source_owners_after,
            (),
            trace.source_block_ids,
            set(),
        ),
        ("destination", "before"): (trace.destination_owners_before, (), (), set()),
        ("destination", "after"): (
            trace.destination_owners_after,
            trace.destination_block_ids,
            (),
            recomputed,
        ),
    }
    return [_pool_heatmap(*states[p], p[0], p[1], *ax) for p, ax in zip(_PANELS, axes)]


def _pool_axis(domain: list[float], anchor: str, vertical: bool) -> dict:
    hidden = dict(
        showticklabels=False,
        showgrid=False,
        showline=False,
        ticks="",
        zeroline=False,
        fixedrange=True,
    )
    if (
        vertical
    ):  # rows top to bottom, always GRID_ROWS of them so cells keep their size
        return dict(
            domain=domain, anchor=anchor, range=[GRID_ROWS - 0.5, -0.5], **hidden
        )
    return dict(
        domain=domain, anchor=anchor, range=[-0.5, GRID_COLUMNS - 0.5], **hidden
    )


def _pool_axes(
    x_domains: tuple[list[float], list[float]],
    y_domains: tuple[list[float], list[float]],
) -> dict:
    """Axes 1..4 for the four pools: rows are engines (source, destination), columns before/after."""
    layout = {}
    for i, (engine, when) in enumerate(_PANELS):
        n = "" if i == 0 else str(i + 1)
        xd = x_domains[0 if when == "before" else 1]
        yd = y_domains[0 if engine == "source" else 1]
        layout[f"xaxis{n}"] = _pool_axis(xd, f"y{n}", vertical=False)
        layout[f"yaxis{n}"] = _pool_axis(yd, f"x{n}", vertical=True)
    return layout


def _pool_annotations(x_domains, y_domains, top: float) -> list[dict]:
    notes = [
        dict(
            text=f"<b>{when} the move</b>",
            x=(xd[0] + xd[1]) / 2,
            y=top,
            xref="paper",
            yref="paper",
            showarrow=False,
            yanchor="bottom",
            font=dict(size=13),
        )
        for when, xd in zip(("before", "after"), x_domains)
    ]
    notes += [
        dict(
            text=f"<b>{engine}</b>",
            x=x_domains[0][0] - 0.01,
            y=(yd[0] + yd[1]) / 2,
            xref="paper",
            yref="paper",
            showarrow=False,
            xanchor="right",
            textangle=-90,
            font=dict(size=13),
        )
        for engine, yd in zip(("source", "destination"), y_domains)
    ]
    return notes


@lru_cache(maxsize=1)
def _blocks_layout() -> dict:
    import plotly.graph_objects as go

    x_domains, y_domains = ([0.05, 0.5], [0.55, 1.0]), ([0.56, 0.9], [0.0, 0.34])
    fig = go.Figure()
    styled(fig, height=360, legend_below=True)
    fig.update_layout(
        **_pool_axes(x_domains, y_domains),
        annotations=_pool_annotations(x_domains, y_domains, 0.92),
    )
    return layout_of(fig)


def block_tables_figure(trace) -> Spec:
    """Both pools before and after the move: which request holds which physical block."""
    axes = [("x", "y"), ("x2", "y2"), ("x3", "y3"), ("x4", "y4")]
    return make_spec(
        _block_traces(trace, axes) + _legend_entries(BLOCK_COLOURS, "blocks"),
        _blocks_layout(),
    )


# --------------------------------------------------------------------------- usage
def _usage_traces(trace, xaxis: str, yaxis: str) -> list[dict]:
    before = [trace.source_usage_before * 100, trace.destination_usage_before * 100]
    after = [trace.source_usage_after * 100, trace.destination_usage_after * 100]
    held = len(trace.source_block_ids)
    notes = [f"−{held} blocks", f"+{trace.blocks_billed} blocks"]
    x0 = list(_USAGE_X.values())
    common = dict(
        type="bar",
        width=_BAR_WIDTH,
        textposition="outside",
        cliponaxis=False,
        constraintext="none",
        textfont=dict(size=11),
        legendgroup="usage",
        xaxis=xaxis,
        yaxis=yaxis,
    )
    return [
        dict(
            common,
            name="before the move",
            x=[x - _BAR_OFFSET for x in x0],
            y=before,
            marker=dict(color=OKABE_ITO["sky"]),
            text=[f"{v:.1f}%" for v in before],
            customdata=list(_USAGE_X),
            hovertemplate="%{customdata} before: %{y:.2f}% of the pool<extra></extra>",
            legendgrouptitle=dict(text="pool in use"),
        ),
        dict(
            common,
            name="after the move",
            x=[x + _BAR_OFFSET for x in x0],
            y=after,
            marker=dict(color=OKABE_ITO["blue"], pattern=dict(shape="/")),
            text=[f"{v:.1f}%<br>{n}" for v, n in zip(after, notes)],
            customdata=list(_USAGE_X),
            hovertemplate="%{customdata} after: %{y:.2f}% of the pool<extra></extra>",
        ),
        dict(
            type="scatter",
            name="source without the request",
            legendgroup="usage",
            x=[_USAGE_X["source"] + _BAR_OFFSET + _BAR_WIDTH / 2 + 0.13],
            y=[trace.source_usage_without_request * 100],
            mode="markers",
            marker=dict(symbol="triangle-left", size=11, color=OKABE_ITO["black"]),
            hovertemplate="source without the request: %{y:.2f}% of the pool<extra></extra>",
            xaxis=xaxis,
            yaxis=yaxis,
        ),
    ]


def _usage_axes(x_domain: list[float], y_domain: list[float], n: str) -> dict:
    return {
        f"xaxis{n}": dict(
            domain=x_domain,
            anchor=f"y{n}",
            range=[-0.6, 1.6],
            tickvals=[0, 1],
            ticktext=list(_USAGE_X),
            showgrid=False,
            fixedrange=True,
        ),
        f"yaxis{n}": dict(
            domain=y_domain,
            anchor=f"x{n}",
            range=[0, 100],
            title=dict(text="KV pool in use (%)"),
            fixedrange=True,
        ),
    }


@lru_cache(maxsize=1)
def _usage_layout() -> dict:
    import plotly.graph_objects as go

    fig = go.Figure()
    styled(fig, height=360, legend_below=True)
    fig.update_layout(barmode="overlay", **_usage_axes([0, 1], [0, 1], ""))
    return layout_of(fig)


def usage_figure(trace) -> Spec:
    """Usage of both pools before and after: the source gives back its share, the destination is billed."""
    return make_spec(_usage_traces(trace, "x", "y"), _usage_layout())


# --------------------------------------------------------------------------- the KV's journey
def _journey_traces(trace, xaxis: str, yaxis: str) -> list[dict]:
    shipped, recomputed = trace.shipped_tokens, trace.kv_tokens - trace.shipped_tokens

    def tokens(n: int) -> str:
        return f"{n} token" if n == 1 else f"{n} tokens"

    line = (
        f"{tokens(shipped)} of KV shipped: {fmt_bytes(trace.payload_bytes)} over the link<br>"
        f"{tokens(recomputed)} recomputed on arrival"
    )
    return [
        dict(
            type="bar",
            orientation="h",
            name="KV shipped",
            x=[shipped],
            y=[0],
            width=0.6,
            showlegend=False,
            marker=dict(color=ROLE["transfer"]),
            hovertemplate="%{x} tokens shipped<extra></extra>",
            xaxis=xaxis,
            yaxis=yaxis,
        ),
        dict(
            type="bar",
            orientation="h",
            name="KV recomputed",
            x=[recomputed],
            y=[0],
            width=0.6,
            showlegend=False,
            marker=dict(color=OKABE_ITO["purple"], pattern=dict(shape="x")),
            hovertemplate="%{x} tokens recomputed<extra></extra>",
            xaxis=xaxis,
            yaxis=yaxis,
        ),
        dict(
            type="scatter",
            mode="text",
            x=[0.6],
            y=[1.0],
            text=[line],
            textposition="middle right",
            showlegend=False,
            hoverinfo="skip",
            cliponaxis=False,
            textfont=dict(size=12),
            xaxis=xaxis,
            yaxis=yaxis,
        ),
    ]


def _journey_axes(x_domain: list[float], y_domain: list[float], n: str) -> dict:
    return {
        f"xaxis{n}": dict(
            domain=x_domain,
            anchor=f"y{n}",
            range=[0, JOURNEY_MAX_TOKENS],
            title=dict(text="tokens of the request's KV", font=dict(size=12)),
            fixedrange=True,
        ),
        f"yaxis{n}": dict(
            domain=y_domain,
            anchor=f"x{n}",
            range=[-0.5, 1.5],
            showticklabels=False,
            showgrid=False,
            showline=False,
            ticks="",
            fixedrange=True,
        ),
    }


@lru_cache(maxsize=1)
def _journey_layout() -> dict:
    import plotly.graph_objects as go

    fig = go.Figure()
    styled(fig, height=200)
    fig.update_layout(barmode="stack", **_journey_axes([0, 1], [0, 1], ""))
    return layout_of(fig)


def journey_figure(trace) -> Spec:
    """How the request's KV reached the destination: tokens shipped versus tokens recomputed."""
    return make_spec(_journey_traces(trace, "x", "y"), _journey_layout())


# --------------------------------------------------------------------------- token streams
def _token_traces(trace, xaxis: str, yaxis: str) -> list[dict]:
    n = trace.max_new_tokens
    moved, ref, k = (
        trace.migrated_tokens,
        trace.reference_tokens,
        trace.tokens_before_move,
    )
    z = [[0.5] * n, [(1.5 if i < k else 2.5) for i in range(n)]]
    for i in range(n):
        if i >= len(moved) or i >= len(ref) or moved[i] != ref[i]:
            z[1][i] = 3.5
    text = [
        [str(t) for t in ref] + [""] * (n - len(ref)),
        [str(t) for t in moved] + [""] * (n - len(moved)),
    ]
    where = [
        ["never moved"] * n,
        [
            ("moved, made on the source" if i < k else "moved, made on the destination")
            for i in range(n)
        ],
    ]
    heat = dict(
        type="heatmap",
        z=z,
        x=list(range(1, n + 1)),
        y=[0, 1],
        text=text,
        customdata=where,
        texttemplate="%{text}",
        textfont=dict(size=11),
        zmin=0,
        zmax=len(TOKEN_COLOURS),
        colorscale=_stepped(TOKEN_COLOURS),
        showscale=False,
        xgap=2,
        ygap=2,
        hovertemplate="output token %{x}: id %{text} (%{customdata})<extra></extra>",
        xaxis=xaxis,
        yaxis=yaxis,
    )
    cut = k + 0.5
    marker = dict(
        type="scatter",
        x=[cut, cut],
        y=[-0.5, 1.5],
        mode="lines+text",
        text=["", "move"],
        textposition="top center",
        line=dict(color=OKABE_ITO["black"], dash="dash", width=2),
        showlegend=False,
        hoverinfo="skip",
        cliponaxis=False,
        xaxis=xaxis,
        yaxis=yaxis,
    )
    return [heat, marker]


def _token_axes(x_domain: list[float], y_domain: list[float], n: str) -> dict:
    return {
        f"xaxis{n}": dict(
            domain=x_domain,
            anchor=f"y{n}",
            dtick=1,
            title=dict(text="output token"),
            showgrid=False,
            fixedrange=True,
        ),
        f"yaxis{n}": dict(
            domain=y_domain,
            anchor=f"x{n}",
            range=[-0.5, 1.5],
            tickvals=[0, 1],
            ticktext=["never moved", "moved"],
            showgrid=False,
            fixedrange=True,
            automargin=True,
        ),
    }


@lru_cache(maxsize=1)
def _tokens_layout() -> dict:
    import plotly.graph_objects as go

    fig = go.Figure()
    styled(fig, height=260, legend_below=True)
    fig.update_layout(**_token_axes([0, 1], [0, 1], ""))
    return layout_of(fig)


def token_streams_figure(trace) -> Spec:
    """The output with and without the move, token by token; the dashed line is where it moved."""
    return make_spec(
        _token_traces(trace, "x", "y") + _legend_entries(TOKEN_COLOURS, "tokens"),
        _tokens_layout(),
    )


# --------------------------------------------------------------------------- all four
#: Vertical bands of the combined figure (paper fractions), top to bottom.
_COMBINED_POOLS_Y = ([0.845, 0.985], [0.665, 0.805])
_COMBINED_USAGE_Y = [0.30, 0.555]
_COMBINED_JOURNEY_Y = [0.40, 0.52]
_COMBINED_TOKENS_Y = [0.0, 0.16]


@lru_cache(maxsize=1)
def _combined_layout() -> dict:
    import plotly.graph_objects as go

    x_pools = ([0.06, 0.52], [0.54, 1.0])
    fig = go.Figure()
    styled(fig, height=900, legend_below=True)
    layout: dict = {}
    layout.update(_pool_axes(x_pools, _COMBINED_POOLS_Y))
    layout.update(_usage_axes([0.08, 0.36], _COMBINED_USAGE_Y, "5"))
    layout.update(_journey_axes([0.50, 1.0], _COMBINED_JOURNEY_Y, "6"))
    layout.update(_token_axes([0.12, 1.0], _COMBINED_TOKENS_Y, "7"))
    notes = _pool_annotations(x_pools, _COMBINED_POOLS_Y, 0.99)
    heading = dict(
        xref="paper",
        yref="paper",
        showarrow=False,
        xanchor="left",
        yanchor="bottom",
        font=dict(size=13),
    )
    notes += [
        dict(
            heading,
            text="<b>usage of each pool</b>",
            x=0.0,
            y=_COMBINED_USAGE_Y[1] + 0.025,
        ),
        dict(
            heading,
            text="<b>how its KV reached the destination</b>",
            x=0.50,
            y=_COMBINED_USAGE_Y[1] + 0.025,
        ),
        dict(
            heading,
            text="<b>output tokens, with and without the move</b>",
            x=0.0,
            y=_COMBINED_TOKENS_Y[1] + 0.06,
        ),
    ]
    fig.update_layout(
        **layout,
        annotations=notes,
        barmode="stack",
        margin=dict(l=50, r=20, t=30, b=150),
        legend=dict(
            y=-0.09,
            groupclick="toggleitem",
            traceorder="grouped",
            tracegroupgap=16,
            font=dict(size=12),
        ),
    )
    return layout_of(fig)


def migration_figure(trace) -> Spec:
    """Block tables (top), usage and the KV's journey (middle), token streams (bottom) of one move."""
    axes = [("x", "y"), ("x2", "y2"), ("x3", "y3"), ("x4", "y4")]
    data = (
        _block_traces(trace, axes)
        + _usage_traces(trace, "x5", "y5")
        + _journey_traces(trace, "x6", "y6")
        + _token_traces(trace, "x7", "y7")
    )
    data += _legend_entries(BLOCK_COLOURS, "blocks", "blocks") + _legend_entries(
        TOKEN_COLOURS, "tokens", "output tokens"
    )
    return make_spec(data, _combined_layout())


# --------------------------------------------------------------------------- the 1P:2D router
#: Where a request is after a router step (codes of :data:`labs_py.engine.trace.ROUTER_PLACES`), and its cell label.
PLACE_COLOURS = {
    "not here": ("#f7f7f7", ""),
    "on P, holding its KV": (ROLE["prefill"], "P"),
    "waiting as tokens only": (OKABE_ITO["purple"], "tok"),
    "on D0": (ROLE["decode"], "D0"),
    "on D1": (OKABE_ITO["orange"], "D1"),
}
#: The router figure's step axis: long enough for every setting the chapter offers.
ROUTER_MAX_STEPS = 18
_HEADROOM_RANGE = [-4, 22]


def _router_traces(trace) -> list[dict]:
    steps = list(trace.steps)
    data: list[dict] = []
    for i, (name, colour, dash, symbol) in enumerate(
        (
            ("D0", ROLE["decode"], "solid", "circle"),
            ("D1", OKABE_ITO["orange"], "dash", "diamond"),
        )
    ):
        data.append(
            dict(
                type="scatter",
                mode="lines+markers",
                name=f"{name} headroom",
                x=steps,
                y=list(trace.headroom_blocks[i]),
                line=dict(color=colour, dash=dash, shape="hv", width=2.5),
                marker=dict(symbol=symbol, size=7, color=colour),
                legendgroup="signal",
                hovertemplate=f"step %{{x}}: {name} headroom %{{y}} blocks<extra></extra>",
                xaxis="x",
                yaxis="y",
            )
        )
    need = trace.blocks_needed_now[trace.request_ids.index("e")]
    data.append(
        dict(
            type="scatter",
            mode="lines",
            name=f"e needs {need} blocks",
            x=[0.5, ROUTER_MAX_STEPS + 0.5],
            y=[need, need],
            line=dict(color=OKABE_ITO["black"], dash="dot", width=1.5),
            legendgroup="signal",
            hoverinfo="skip",
            xaxis="x",
            yaxis="y",
        )
    )
    data.append(
        dict(
            type="bar",
            name="blocks held on P",
            x=steps,
            y=list(trace.prefill_used_blocks),
            marker=dict(color=ROLE["prefill"], opacity=0.85),
            legendgroup="signal",
            width=0.6,
            text=[str(v) if v else "" for v in trace.prefill_used_blocks],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="step %{x}: P holds %{y} blocks<extra></extra>",
            xaxis="x2",
            yaxis="y2",
        )
    )
    labels = [label for _, label in PLACE_COLOURS.values()]
    z, text = [], []
    for row, done in zip(trace.place, trace.finished_at):
        z.append([code + 0.5 for code in row])
        text.append(
            ["done" if s == done else labels[code] for s, code in zip(steps, row)]
        )
    data.append(
        dict(
            type="heatmap",
            x=steps,
            y=list(trace.request_ids),
            z=z,
            text=text,
            texttemplate="%{text}",
            textfont=dict(size=10),
            zmin=0,
            zmax=len(PLACE_COLOURS),
            colorscale=_stepped({k: c for k, (c, _) in PLACE_COLOURS.items()}),
            showscale=False,
            xgap=2,
            ygap=2,
            hovertemplate="step %{x}: request %{y} %{text}<extra></extra>",
            xaxis="x3",
            yaxis="y3",
        )
    )
    legend = {name: colour for name, (colour, _) in list(PLACE_COLOURS.items())[1:]}
    return data + _legend_entries(legend, "place", "where each request is")


@lru_cache(maxsize=1)
def _router_layout() -> dict:
    import plotly.graph_objects as go

    x_range = [0.5, ROUTER_MAX_STEPS + 0.5]
    fig = go.Figure()
    styled(fig, height=620, legend_below=True)
    fig.update_layout(
        xaxis=dict(
            domain=[0, 1],
            anchor="y",
            range=x_range,
            dtick=1,
            showticklabels=False,
            fixedrange=True,
        ),
        yaxis=dict(
            domain=[0.64, 1.0],
            anchor="x",
            range=_HEADROOM_RANGE,
            dtick=4,
            title=dict(text="headroom (blocks)"),
            zeroline=True,
            zerolinecolor="#444",
            fixedrange=True,
        ),
        xaxis2=dict(
            domain=[0, 1],
            anchor="y2",
            range=x_range,
            dtick=1,
            showticklabels=False,
            fixedrange=True,
        ),
        yaxis2=dict(
            domain=[0.44, 0.58],
            anchor="x2",
            range=[0, 12],
            dtick=6,
            title=dict(text="on P"),
            fixedrange=True,
        ),
        xaxis3=dict(
            domain=[0, 1],
            anchor="y3",
            range=x_range,
            dtick=1,
            title=dict(text="router step"),
            fixedrange=True,
            showgrid=False,
        ),
        yaxis3=dict(
            domain=[0.0, 0.38],
            anchor="x3",
            autorange="reversed",
            title=dict(text="request"),
            fixedrange=True,
            showgrid=False,
        ),
        margin=dict(l=70, r=20, t=30, b=110),
        legend=dict(
            y=-0.13, traceorder="grouped", tracegroupgap=16, font=dict(size=12)
        ),
        annotations=[
            dict(
                text=text,
                x=0,
                y=y,
                xref="paper",
                yref="paper",
                xanchor="left",
                yanchor="bottom",
                showarrow=False,
                font=dict(size=13),
            )
            for text, y in (
                (
                    "<b>the capacity signal</b>: each decode engine's free blocks minus one per running request",
                    1.005,
                ),
                ("<b>blocks parked on the prefill engine P</b>", 0.585),
                ("<b>where each request is</b>, after each step", 0.385),
            )
        ],
    )
    return layout_of(fig)


def router_figure(trace) -> Spec:
    """The router's capacity signal (top), the blocks parked on P (middle) and where each request is (bottom)."""
    return make_spec(_router_traces(trace), _router_layout())


# --------------------------------------------------------------------------- ship or recompute
#: Link speeds the recovery figure sweeps (Gb/s), from slow Ethernet to NVLink.
RECOVERY_LINKS_GBPS: tuple[float, ...] = tuple(
    float(f"{g:.4g}") for g in np.geomspace(1, 5000, 49)
)
#: How each strategy is drawn: (legend name, colour, dash).
STRATEGY_STYLE = {
    "ship": ("ship the KV", ROLE["transfer"], "solid"),
    "recompute": ("recompute on arrival", OKABE_ITO["purple"], "dash"),
    "ship_all_but_last": ("ship all but the last token", OKABE_ITO["black"], "dot"),
}


@lru_cache(maxsize=4)
def _recovery_layout(catalog_links: tuple[tuple[str, float], ...]) -> dict:
    import plotly.graph_objects as go

    fig = go.Figure()
    styled(fig, height=430, legend_below=True)
    fig.update_xaxes(
        title_text="link speed (Gb/s, one way)",
        range=[0, np.log10(5000)],
        **log_ticks(),
    )
    decades = [10.0**e for e in range(-2, 6)]
    fig.update_yaxes(
        title_text="time until the destination can decode (ms)",
        type="log",
        range=[-2, 5.3],
        tickvals=decades,
        ticktext=[f"{v:,.10g}" for v in decades],
    )
    for name, gbps in catalog_links:
        fig.add_vline(x=gbps, line=dict(color="#bbbbbb", width=1))
        fig.add_annotation(
            x=np.log10(gbps),
            y=1.0,
            yref="paper",
            text=name,
            showarrow=False,
            textangle=-90,
            xanchor="right",
            yanchor="top",
            font=dict(size=10, color="#666"),
        )
    fig.update_layout(margin=dict(t=20))
    return layout_of(fig)


def recovery_figure(
    *,
    link_gbps: Sequence[float],
    seconds: Mapping[str, Sequence[float]],
    breakeven_gbps: float,
    catalog_links: Mapping[str, float],
) -> Spec:
    """Time to get a request's KV onto another engine against the link speed, one line per strategy.

    ``seconds[strategy][i]`` is the time at ``link_gbps[i]``. The marker sits
    where shipping and recomputing take the same time, at ``breakeven_gbps``.
    """
    data = []
    for strategy, ys in seconds.items():
        name, colour, dash = STRATEGY_STYLE[strategy]
        data.append(
            dict(
                type="scatter",
                mode="lines",
                name=name,
                x=list(link_gbps),
                y=[y * 1e3 for y in ys],
                line=dict(color=colour, dash=dash, width=2.5),
                hovertemplate=f"{name}: %{{y:.3g}} ms at %{{x:.3g}} Gb/s<extra></extra>",
            )
        )
    recompute_ms = seconds["recompute"][0] * 1e3
    data.append(
        dict(
            type="scatter",
            mode="markers+text",
            name="break-even",
            x=[breakeven_gbps],
            y=[recompute_ms],
            marker=dict(
                size=11, color="white", line=dict(color=OKABE_ITO["black"], width=2)
            ),
            text=[f"break-even {fmt_gbps(breakeven_gbps)}"],
            textposition="bottom left",
            showlegend=False,
            hovertemplate="ship = recompute at %{x:.3g} Gb/s<extra></extra>",
            cliponaxis=False,
        )
    )
    return make_spec(data, _recovery_layout(tuple(catalog_links.items())))
