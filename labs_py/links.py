"""The link catalog, and the one place where link units are converted.

Vendors quote links in two units and two ways:

* **bits or bytes**: Ethernet and InfiniBand are quoted in gigabits per second
  (Gb/s), PCIe and NVLink in gigabytes per second (GB/s). 1 GB/s = 8 Gb/s.
* **per direction or bidirectional**: NVLink's "900 GB/s" counts both directions
  at once; a KV transfer flows one way, so it gets half of that.

The book computes in **Gb/s per direction, with 1 Gb = 1e9 bits** (decimal, as
line rates are). Payloads are in bytes (binary prefixes: 1 MiB = 2**20 bytes).
Mixing these up is the classic factor-of-8 (or factor-of-2) error, so every
conversion goes through :func:`to_gbps`.
"""

from __future__ import annotations

from dataclasses import dataclass

from labs_py.core import catalog
from labs_py.core.validate import UnitError, one_of, positive_float

#: Multiplier from each accepted quoting unit to Gb/s.
UNIT_TO_GBPS: dict[str, float] = {
    "Gb/s": 1.0,
    "GB/s": 8.0,
    "Tb/s": 1000.0,
    "TB/s": 8000.0,
    "Mb/s": 1e-3,
}
DIRECTIONS: tuple[str, ...] = ("per direction", "bidirectional")


def to_gbps(value: float, unit: str, direction: str = "per direction") -> float:
    """Convert a vendor's quote to Gb/s in one direction.

    >>> to_gbps(31.5, "GB/s")          # PCIe Gen4 x16
    252.0
    >>> to_gbps(900, "GB/s", "bidirectional")  # NVLink 4: 450 GB/s each way
    3600.0

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, interference, goodput_and_split, two_gpus, plan_a_deployment,
        compression_and_pooling.
    """
    x = positive_float("link speed", value, unit if isinstance(unit, str) else "Gb/s")
    if unit not in UNIT_TO_GBPS:
        raise UnitError(
            f"unknown link unit {unit!r} for value {value!r}; expected one of {', '.join(UNIT_TO_GBPS)} "
            "(bits are a lowercase b, bytes an uppercase B)"
        )
    one_of("direction", direction, DIRECTIONS, "link direction")
    gbps = x * UNIT_TO_GBPS[unit]
    return gbps / 2 if direction == "bidirectional" else gbps


@dataclass(frozen=True)
class Link:
    """A catalog link: the vendor's quote, and its speed in Gb/s per direction.

    Taught in: no chapter calls it directly; it works behind why_split, moving_a_live_request,
        disaggregation_trade, interference, goodput_and_split, two_gpus, plan_a_deployment,
        compression_and_pooling.
    """

    id: str
    short: str  # a label that fits on a figure: "100 GbE", "NVLink 4"
    name: str
    quoted_value: float
    quoted_unit: str
    quoted_direction: str
    source: str
    measured: bool = False

    @property
    def gbps(self) -> float:
        """Speed one way, in Gb/s (1 Gb = 1e9 bits)."""
        return to_gbps(self.quoted_value, self.quoted_unit, self.quoted_direction)

    @property
    def quote(self) -> str:
        """The vendor's own words, e.g. ``"900 GB/s bidirectional"``."""
        return f"{self.quoted_value:g} {self.quoted_unit} {self.quoted_direction}"


def all_links() -> list[Link]:
    """Every catalog link, slowest first.

    Taught in: moving_a_live_request, disaggregation_trade.
    """
    links = [Link(**e) for e in catalog.load("links")["links"]]
    return sorted(links, key=lambda link: link.gbps)


def get_link(link_id: str) -> Link:
    """Find a link by its catalog id (e.g. ``"10gbe"``, ``"ib-hdr"``, ``"nvlink4"``).

    Taught in: why_split, moving_a_live_request, disaggregation_trade, interference,
        goodput_and_split, two_gpus, plan_a_deployment, compression_and_pooling.
    """
    for link in all_links():
        if link.id == link_id:
            return link
    raise catalog.unknown("link", link_id, [link.id for link in all_links()])
