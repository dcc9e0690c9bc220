"""Loading the book's JSON catalogs (models, links, GPUs) from ``labs_py/data``.

The catalogs are data, not code: every entry carries its source, and this module
only reads them and finds entries by name, with an error that lists the choices
when a name is unknown.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def load(name: str) -> dict[str, Any]:
    """Parse ``labs_py/data/<name>.json`` once and cache it.

    Taught in: goodput_and_split, plan_a_deployment.
    """
    text = (
        resources.files("labs_py.data")
        .joinpath(f"{name}.json")
        .read_text(encoding="utf-8")
    )
    return json.loads(text)


class UnknownEntryError(KeyError):
    """A catalog name that is not in the catalog. The message lists what is.

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, interference, goodput_and_split, two_gpus, real_pair,
        plan_a_deployment, compression_and_pooling.
    """

    def __str__(self) -> str:  # KeyError would otherwise quote the whole message
        return str(self.args[0])


def unknown(kind: str, name: object, known: list[str]) -> UnknownEntryError:
    """Build the error for an unknown catalog entry, listing the known names.

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, interference, goodput_and_split, two_gpus, real_pair,
        plan_a_deployment, compression_and_pooling.
    """
    return UnknownEntryError(
        f"unknown {kind} {name!r}; the catalog has: {', '.join(known)}"
    )
