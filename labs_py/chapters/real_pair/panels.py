"""Wiring for the chapter "Stand up a real prefill/decode pair": committed captures -> figures."""

from __future__ import annotations

from labs_py.book.explorable import Dropdown, Explorable, explorable_factory
from labs_py.captures import report
from labs_py.captures.capture import committed as captures
from labs_py.chapters.real_pair import figures as viz

MIXED = {
    "one instance, 1 core": "single-1core__mixed",
    "one instance, 2 cores": "single-2core__mixed",
    "pair: prefill on core 0, decode on core 1": "pair-1each__mixed",
    "1P:2D: two decode instances share core 1": "pair-1p2d__mixed",
}


def _timeline_readout(setup):
    c = captures()[setup]
    s = c["summary"]["stream"]["itl_ms"]
    big = c["summary"]["big"]["ttft_ms"]
    return {
        "streams' ITL p50 / p99": f"{s['p50']:.3g} ms / {s['p99']:.3g} ms",
        "big prompts' TTFT p50": f"{big['p50']:.3g} ms",
        "other programs on the machine": report.foreign_load(c),
    }


@explorable_factory
def timelines() -> Explorable:
    """Per-request token timelines under mixed load, for each setup that was captured."""
    return Explorable(
        title="Mixed load, token by token: 4 steady streams while 2,000-token prompts arrive",
        controls=(
            Dropdown("setup", "Setup", tuple(MIXED.items()), "single-1core__mixed"),
        ),
        figure_fn=lambda setup: viz.timeline_figure(captures()[setup]["requests"]),
        readout_fn=_timeline_readout,
        alt=(
            "Each row is a request and each dot one token at the moment the client received it. On one instance, "
            "every big prompt that arrives opens a gap in all four streams' rows while it is prefilled. In the pair, "
            "the streams keep a steady rhythm and the big prompts wait on the prefill instance instead."
        ),
    )
