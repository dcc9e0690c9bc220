"""How much of the machine other programs used: measurable windows, and the ones a drill makes unmeasurable."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from labs_py.captures import report
from labs_py.captures.capture import committed
from labs_py.pair import contention


def _busy_child(seconds: float) -> subprocess.Popen:
    """A child in its own process group that burns CPU, then exits."""
    code = f"import time\nt = time.time()\nwhile time.time() - t < {seconds}: pass\n"
    return subprocess.Popen([sys.executable, "-c", code], start_new_session=True)


def test_a_window_counts_our_own_busy_child_as_ours():
    child = _busy_child(1.5)
    try:
        time.sleep(0.2)
        cpu0, t0 = contention.process_cpu_s(child.pid), time.monotonic()
        w = contention.Window([os.getpgid(child.pid)])
        time.sleep(0.8)
        out = w.close()
        cpu1, t1 = contention.process_cpu_s(child.pid), time.monotonic()
    finally:
        child.wait()
    assert out["foreign_cores"] is not None and "exited" not in out
    # the window's share for "ours" is the CPU the child really got (on a busy machine that is
    # less than one core, so compare with the child's own CPU time, read independently)
    child_cores = (cpu1 - cpu0) / (t1 - t0)
    assert child_cores > 0.05, "the busy child got almost no CPU; nothing to compare"
    assert abs(out["our_cores"] - child_cores) <= 0.2 + 0.25 * child_cores
    assert out["foreign_cores"] <= out["machine_busy_cores"]


def test_a_process_that_exits_inside_the_window_makes_it_unmeasurable():
    """A drill kills a process of the pair: its CPU time leaves /proc, so foreign load is not known."""
    child = _busy_child(0.6)
    w = contention.Window([os.getpgid(child.pid)])
    child.wait()
    time.sleep(0.1)
    out = w.close()
    assert out["foreign_cores"] is None and out["exited"] == 1
    assert out["our_cores"] >= 0  # never negative, whatever exited


def test_the_readout_never_shows_more_cores_than_the_machine_has():
    caps = committed()
    assert report.foreign_load(caps["pair-1each__mixed"]) == "0.004 cores"
    # made before the window learned about exits: a negative our_cores, read as unmeasurable
    assert caps["drill__kill-prefill"]["contention"]["during_run"]["our_cores"] < 0
    assert report.foreign_load(caps["drill__kill-prefill"]).startswith("not measurable")
    assert report.foreign_load({"contention": None}) == "not recorded"
    for c in caps.values():
        text = report.foreign_load(c)
        if text.endswith(" cores"):
            assert float(text.split()[0]) <= c["hardware"]["logical_cores"]
