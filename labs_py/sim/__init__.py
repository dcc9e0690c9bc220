"""A serving simulator for colocated and disaggregated (xPyD) fleets.

One idea per module, in the order a reader meets them:

* :mod:`~labs_py.sim.workload` -- arrivals (Poisson, gamma) and lengths, seeded;
* :mod:`~labs_py.sim.eventloop` -- the event loop: instances that run steps, a router, a link;
* :mod:`~labs_py.sim.fleets` -- colocated replicas, TP engines, xPyD fleets; :func:`simulate`;
* :mod:`~labs_py.sim.metrics` -- TTFT, every inter-token gap, TPOT, E2E, attainment;
* :mod:`~labs_py.sim.interference` -- one decode stream while a long prompt arrives;
* :mod:`~labs_py.sim.goodput` -- goodput (DistServe), throughput, the P:D split search;
* :mod:`~labs_py.sim.curves` -- attainment curves on a rate grid, for figures;
* :mod:`~labs_py.sim.sweeps` -- one knob at a time: rate, link, prompt length, chunk size;
* :mod:`~labs_py.sim.prefix` -- prefix caches (LMCache, a Mooncake-style pool) beside a split;
* :mod:`~labs_py.sim.scenarios` -- the book's named workloads (the chat workload).

Step times come from :mod:`labs_py.steptime`; the simulator only schedules them.
"""

from labs_py.sim.fleets import Colocated, Disaggregated, simulate
from labs_py.sim.goodput import SLO, Scenario, goodput, max_throughput_rps, split_search
from labs_py.sim.workload import Workload, make_workload

__all__ = [
    "Colocated",
    "Disaggregated",
    "simulate",
    "SLO",
    "Scenario",
    "goodput",
    "max_throughput_rps",
    "split_search",
    "Workload",
    "make_workload",
]
