"""Figures for the chapter "Moving a live request". Data in, plotly specs out.

Every builder takes a :class:`labs_py.migration_trace.MigrationTrace` (plain
data) and returns a spec (see :mod:`labs_py.viz.spec`) whose layout is built
once and cached: a slider move only swaps traces. Three views of one move:

* **block tables**: both engines' pools, block by block, before and after. The
  moving request's blocks carry their *logical* index (L0, L1, ...): the same
  labels turn up at other physical ids on the destination. Block identity does
  not survive a move; contents do.
* **usage bars**: the source gives back exactly its share; the destination is
  billed exactly ``ceil(tokens / block size)`` blocks.
* **token streams**: the output with the move and without it, token by token,
  coloured by the engine that produced it. They are the same tokens.

:func:`migration_figure` is the slider entry point: control values in, spec
out. It gets its data from :func:`labs_py.migration_trace.trace_migration`
(which runs the engines, memoised) and only draws here.
"""

from __future__ import annotations

from functools import lru_cache

from labs_py.viz.spec import Spec, layout_of, make_spec
from labs_py.viz.style import OKABE_ITO, ROLE, styled

__all__ = [
    "BLOCK_COLOURS", "TOKEN_COLOURS",
    "block_tables_figure", "usage_figure", "token_streams_figure",
    "migration_figure_from_trace", "migration_figure",
]

#: Block states, in the order the heatmaps code them (0, 1, 2, 3).
BLOCK_COLOURS = {
    "free": "#f2f2f2",
    "other request": OKABE_ITO["grey"],
    "moving request": ROLE["transfer"],
    "just freed": OKABE_ITO["yellow"],
}
#: Token cells, in the order the heatmap codes them (0, 1, 2, 3).
TOKEN_COLOURS = {
    "never moved": "#d9d9d9",
    "made on the source": ROLE["prefill"],
    "made on the destination": ROLE["decode"],
    "differs (never expected)": OKABE_ITO["vermillion"],
}
_PANELS = (("source", "before"), ("source", "after"), ("destination", "before"), ("destination", "after"))


def _stepped(colours: dict[str, str]) -> list[list]:
    """A colourscale with one flat band per category, for integer codes + 0.5 over [0, n]."""
    n = len(colours)
    scale: list[list] = []
    for i, c in enumerate(colours.values()):
        scale += [[i / n, c], [(i + 1) / n, c]]
    return scale


def _grid_columns(num_blocks: int) -> int:
    return 8 if num_blocks <= 48 else 16


def _legend_entries(colours: dict[str, str], group: str) -> list[dict]:
    """Invisible-data scatter traces that put each category's name and colour in the legend."""
    return [
        dict(type="scatter", x=[None], y=[None], mode="markers", name=name, legendgroup=group,
             marker=dict(size=12, symbol="square", color=colour, line=dict(color="#666", width=1)), hoverinfo="skip")
        for name, colour in colours.items()
    ]


# --------------------------------------------------------------------------- block tables
def _pool_heatmap(owners: tuple[str, ...], table: tuple[int, ...], freed: tuple[int, ...], engine: str, when: str,
                  xaxis: str, yaxis: str) -> dict:
    """One pool as a grid of cells: code, label and hover text per physical block."""
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
            code, label = 2, f"L{logical[b]}"
        elif b in freed_set:
            code, label = 3, "·"
        elif owner == "other":
            code, label = 1, ""
        else:
            code, label = 0, ""
        z[r][c], text[r][c], ids[r][c] = code + 0.5, label, b
    # hover: the physical block id (ints keep the static page small); the label says the logical block
    return dict(type="heatmap", z=z, text=text, customdata=ids, texttemplate="%{text}",
                textfont=dict(size=10 if cols <= 8 else 7),
                hovertemplate=f"{engine} {when}: physical block %{{customdata}} %{{text}}<extra></extra>",
                zmin=0, zmax=len(BLOCK_COLOURS),
                colorscale=_stepped(BLOCK_COLOURS), showscale=False, xgap=2, ygap=2, xaxis=xaxis, yaxis=yaxis)


def _block_traces(trace, axes: list[tuple[str, str]]) -> list[dict]:
    states = {
        ("source", "before"): (trace.source_owners_before, trace.source_block_ids, ()),
        ("source", "after"): (trace.source_owners_after, (), trace.source_block_ids),
        ("destination", "before"): (trace.destination_owners_before, (), ()),
        ("destination", "after"): (trace.destination_owners_after, trace.destination_block_ids, ()),
    }
    return [_pool_heatmap(*states[p], p[0], p[1], *ax) for p, ax in zip(_PANELS, axes)]


def _hide_axis() -> dict:
    return dict(showticklabels=False, showgrid=False, showline=False, ticks="", zeroline=False)


@lru_cache(maxsize=1)
def _blocks_layout() -> dict:
    import plotly.graph_objects as go

    fig = go.Figure()
    layout: dict = {}
    annotations = []
    for i, (engine, when) in enumerate(_PANELS):
        n = "" if i == 0 else str(i + 1)
        x0 = i * 0.25 + (0.02 if i >= 2 else 0.0)
        layout[f"xaxis{n}"] = dict(domain=[x0, x0 + 0.22], anchor=f"y{n}", **_hide_axis())
        layout[f"yaxis{n}"] = dict(domain=[0.0, 0.86], anchor=f"x{n}", autorange="reversed", **_hide_axis())
        annotations.append(dict(text=f"<b>{engine}</b>, {when}", x=x0 + 0.11, y=0.92, xref="paper", yref="paper",
                                showarrow=False, font=dict(size=12)))
    fig.update_layout(**layout, annotations=annotations)
    styled(fig, height=330, legend_below=True)
    fig.update_xaxes(**_hide_axis())
    fig.update_yaxes(**_hide_axis())
    return layout_of(fig)


def block_tables_figure(trace) -> Spec:
    """Both pools before and after the move: which request holds which physical block."""
    axes = [("x", "y"), ("x2", "y2"), ("x3", "y3"), ("x4", "y4")]
    return make_spec(_block_traces(trace, axes) + _legend_entries(BLOCK_COLOURS, "blocks"), _blocks_layout())


# --------------------------------------------------------------------------- usage
def _usage_traces(trace, xaxis: str, yaxis: str) -> list[dict]:
    engines = ["source", "destination"]
    before = [trace.source_usage_before * 100, trace.destination_usage_before * 100]
    after = [trace.source_usage_after * 100, trace.destination_usage_after * 100]
    held = len(trace.source_block_ids)
    notes = [f"−{held} blocks", f"+{trace.blocks_billed} blocks"]
    return [
        dict(type="bar", name="usage before the move", x=engines, y=before, marker=dict(color=OKABE_ITO["sky"]),
             text=[f"{v:.1f}%" for v in before], textposition="outside", legendgroup="usage",
             hovertemplate="%{x} before: %{y:.2f}% of the pool<extra></extra>", xaxis=xaxis, yaxis=yaxis),
        dict(type="bar", name="usage after the move", x=engines, y=after,
             marker=dict(color=OKABE_ITO["blue"], pattern=dict(shape="/")), legendgroup="usage",
             text=[f"{v:.1f}%<br>{n}" for v, n in zip(after, notes)], textposition="outside",
             hovertemplate="%{x} after: %{y:.2f}% of the pool<extra></extra>", xaxis=xaxis, yaxis=yaxis),
    ]


@lru_cache(maxsize=1)
def _usage_layout() -> dict:
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.update_layout(barmode="group")
    fig.update_yaxes(title_text="KV pool in use (%)", range=[0, 100])
    return layout_of(styled(fig, height=360, legend_below=True))


def usage_figure(trace) -> Spec:
    """Usage of both pools before and after: the source gives back its share, the destination is billed."""
    return make_spec(_usage_traces(trace, "x", "y"), _usage_layout())


# --------------------------------------------------------------------------- token streams
def _token_traces(trace, xaxis: str, yaxis: str) -> list[dict]:
    n = trace.max_new_tokens
    moved, ref, k = trace.migrated_tokens, trace.reference_tokens, trace.tokens_before_move
    rows = ["never moved", "moved"]
    z = [[0.5] * n, [(1.5 if i < k else 2.5) for i in range(n)]]
    for i in range(n):
        if i >= len(moved) or i >= len(ref) or moved[i] != ref[i]:
            z[1][i] = 3.5
    text = [[str(t) for t in ref] + [""] * (n - len(ref)), [str(t) for t in moved] + [""] * (n - len(moved))]
    where = [["never moved"] * n, [("source" if i < k else "destination") for i in range(n)]]
    heat = dict(type="heatmap", z=z, x=list(range(1, n + 1)), y=rows, text=text, customdata=where,
                texttemplate="%{text}", textfont=dict(size=11), zmin=0, zmax=len(TOKEN_COLOURS),
                colorscale=_stepped(TOKEN_COLOURS), showscale=False, xgap=2, ygap=2,
                hovertemplate="output token %{x}: id %{text} (%{customdata})<extra></extra>", xaxis=xaxis, yaxis=yaxis)
    cut = k + 0.5
    marker = dict(type="scatter", x=[cut, cut], y=[-0.5, 1.5], mode="lines+text", text=["", "move"],
                  textposition="top center", line=dict(color=OKABE_ITO["black"], dash="dash", width=2),
                  showlegend=False, hoverinfo="skip", xaxis=xaxis, yaxis=yaxis)
    return [heat, marker]


@lru_cache(maxsize=1)
def _tokens_layout() -> dict:
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.update_xaxes(title_text="output token", dtick=1)
    fig.update_yaxes(range=[-0.5, 1.9])
    return layout_of(styled(fig, height=260, legend_below=True))


def token_streams_figure(trace) -> Spec:
    """The output with and without the move, token by token; the dashed line is where it moved."""
    return make_spec(_token_traces(trace, "x", "y") + _legend_entries(TOKEN_COLOURS, "tokens"), _tokens_layout())


# --------------------------------------------------------------------------- all three
@lru_cache(maxsize=1)
def _combined_layout() -> dict:
    import plotly.graph_objects as go

    fig = go.Figure()
    layout: dict = {}
    annotations = []
    top = (0.60, 0.95)
    for i, (engine, when) in enumerate(_PANELS):
        n = "" if i == 0 else str(i + 1)
        x0 = i * 0.25 + (0.02 if i >= 2 else 0.0)
        layout[f"xaxis{n}"] = dict(domain=[x0, x0 + 0.22], anchor=f"y{n}", **_hide_axis())
        layout[f"yaxis{n}"] = dict(domain=list(top), anchor=f"x{n}", autorange="reversed", **_hide_axis())
        annotations.append(dict(text=f"<b>{engine}</b>, {when}", x=x0 + 0.11, y=1.0, xref="paper", yref="paper",
                                showarrow=False, font=dict(size=12)))
    layout["xaxis5"] = dict(domain=[0.0, 0.27], anchor="y5")
    layout["yaxis5"] = dict(domain=[0.0, 0.42], anchor="x5", range=[0, 100], title=dict(text="pool in use (%)"))
    layout["xaxis6"] = dict(domain=[0.43, 1.0], anchor="y6", dtick=1, title=dict(text="output token"))
    layout["yaxis6"] = dict(domain=[0.0, 0.36], anchor="x6", range=[-0.5, 1.9])
    annotations.append(dict(text="<b>usage</b>", x=0.14, y=0.49, xref="paper", yref="paper", showarrow=False))
    annotations.append(dict(text="<b>token streams</b>", x=0.715, y=0.49, xref="paper", yref="paper", showarrow=False))
    fig.update_layout(**layout, annotations=annotations, barmode="group")
    styled(fig, height=640, legend_below=True)
    fig.update_xaxes(_hide_axis(), selector=lambda ax: ax.plotly_name in ("xaxis", "xaxis2", "xaxis3", "xaxis4"))
    fig.update_yaxes(_hide_axis(), selector=lambda ax: ax.plotly_name in ("yaxis", "yaxis2", "yaxis3", "yaxis4"))
    fig.update_layout(margin=dict(t=50, b=130), legend=dict(y=-0.14))
    return layout_of(fig)


def migration_figure_from_trace(trace) -> Spec:
    """Block tables (top), usage (bottom left) and token streams (bottom right) of one move."""
    axes = [("x", "y"), ("x2", "y2"), ("x3", "y3"), ("x4", "y4")]
    data = _block_traces(trace, axes) + _usage_traces(trace, "x5", "y5") + _token_traces(trace, "x6", "y6")
    data += _legend_entries(BLOCK_COLOURS, "blocks") + _legend_entries(TOKEN_COLOURS, "tokens")
    return make_spec(data, _combined_layout())


def migration_figure(
    prompt_tokens: int = 24,
    block_size_tokens: int = 4,
    migrate_at: int = 0,
    *,
    strategy: str = "ship",
    max_new_tokens: int | None = None,
) -> Spec:
    """The slider entry point: prompt length, block size and migration point in; the combined figure out.

    ``migrate_at`` is the number of decode steps on the source before the move
    (0 = right after prefill: the P->D handoff). Deterministic, and memoised
    per setting by :func:`labs_py.migration_trace.trace_migration`.
    """
    from labs_py.migration_trace import MAX_NEW_TOKENS, trace_migration

    trace = trace_migration(prompt_tokens, block_size_tokens, migrate_at, strategy=strategy,
                            max_new_tokens=max_new_tokens or MAX_NEW_TOKENS)
    return migration_figure_from_trace(trace)
