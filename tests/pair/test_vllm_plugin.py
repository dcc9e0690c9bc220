"""The vLLM plugin: its pure parts, and its three patches applied to stand-ins for vLLM and NIXL.

The stand-ins have the shapes the plugin patches in the pinned versions: NIXL's ``_api`` module
with a ``nixlBind`` whose ``nixlAgentConfig`` has a ``pthrDelay`` property; vLLM's
``CpuPlatform.discover_numa_topology`` classmethod; and vLLM's ``SpinCondition.__init__`` whose
last default is ``busy_loop_s``. They are put in ``sys.modules`` for one test at a time.
"""

from __future__ import annotations

import sys
import types

import pytest

from labs_py.pair import vllm_plugin as P


def test_parse_cpu_list_reads_vllm_bind_syntax():
    assert P.parse_cpu_list("0") == {0}
    assert P.parse_cpu_list("0,2") == {0, 2}
    assert P.parse_cpu_list("0-3") == {0, 1, 2, 3}
    assert P.parse_cpu_list("0-1|4,6") == {0, 1, 4, 6}
    with pytest.raises(ValueError):
        P.parse_cpu_list("a-b")


def test_own_cores_narrows_affinity_to_an_explicit_bind_list():
    assert P.own_cores({0, 1}, "0") == {0}  # unconfined process, OpenMP bound to core 0
    assert P.own_cores({0}, "0") == {0}
    assert P.own_cores({0, 1}, "auto") == {0, 1}
    assert P.own_cores({0, 1}, None) == {0, 1}
    assert P.own_cores({1}, "0") == {1}  # no overlap: keep what the thread may use
    assert P.own_cores({0, 1}, "garbage") == {0, 1}


def test_nodes_keep_only_own_cores_and_empty_nodes_are_dropped():
    assert P.restrict_numa_cores([[0, 1]], {0}) == [[0]]
    assert P.restrict_numa_cores([[0, 1]], {0, 1}) == [
        [0, 1]
    ]  # an instance that owns the node
    assert P.restrict_numa_cores([[0, 1, 2, 3], [4, 5, 6, 7]], {5, 6}) == [[5, 6]]
    assert (
        P.restrict_numa_cores([[0, 1, 2, 3]], {9}) == []
    )  # vLLM then skips sched_setaffinity


# ---------------------------------------------------------------------------------------- stand-ins
def _fake_nixl():
    class nixlAgentConfig:  # noqa: N801 (NIXL's name)
        def __init__(self):
            self._delay = 0

        @property
        def pthrDelay(self):  # noqa: N802
            return self._delay

        @pthrDelay.setter
        def pthrDelay(self, value):  # noqa: N802
            self._delay = value

    bind = types.SimpleNamespace(
        nixlAgentConfig=nixlAgentConfig, nixlAgent="the real agent class"
    )
    api = types.ModuleType("nixl._api")
    api.nixlBind = bind
    pkg = types.ModuleType("nixl")
    pkg._api = api
    return {"nixl": pkg, "nixl._api": api}


def _fake_vllm(numa=((0, 1),)):
    class CpuPlatform:
        calls = 0

        @classmethod
        def discover_numa_topology(cls):
            cls.calls += 1
            return [list(n) for n in numa]

    class SpinCondition:
        def __init__(self, is_reader=True, busy_loop_s=1):
            self.busy_loop_s = busy_loop_s

    mods = {}
    for name in (
        "vllm",
        "vllm.platforms",
        "vllm.platforms.cpu",
        "vllm.distributed",
        "vllm.distributed.device_communicators",
        "vllm.distributed.device_communicators.shm_broadcast",
    ):
        mods[name] = types.ModuleType(name)
    mods["vllm.platforms.cpu"].CpuPlatform = CpuPlatform
    mods["vllm.platforms"].cpu = mods["vllm.platforms.cpu"]
    mods[
        "vllm.distributed.device_communicators.shm_broadcast"
    ].SpinCondition = SpinCondition
    mods["vllm.distributed.device_communicators"].shm_broadcast = mods[
        "vllm.distributed.device_communicators.shm_broadcast"
    ]
    return mods


@pytest.fixture
def fakes(monkeypatch):
    for var in (P.ENV_DELAY_US, P.ENV_SHM_SPIN_S, P.ENV_OWN_CORES):
        monkeypatch.delenv(var, raising=False)
    mods = {**_fake_nixl(), **_fake_vllm()}
    for name, mod in mods.items():
        monkeypatch.setitem(sys.modules, name, mod)
    return mods


def test_the_nixl_progress_thread_delay_is_raised_to_the_floor(fakes, monkeypatch):
    monkeypatch.setenv(P.ENV_DELAY_US, "100")
    P.register()
    api = fakes["nixl._api"]
    assert isinstance(api.nixlBind, P._BindView)
    cfg = api.nixlBind.nixlAgentConfig()
    cfg.pthrDelay = 0  # what nixl_agent.__init__ writes
    assert cfg.pthrDelay == 100
    cfg.pthrDelay = 5000  # a longer delay is kept
    assert cfg.pthrDelay == 5000
    assert (
        api.nixlBind.nixlAgent == "the real agent class"
    )  # everything else passes through
    view = api.nixlBind
    P.register()  # vLLM may call the plugin several times per process: no second wrapper
    assert api.nixlBind is view


def test_the_kv_transfer_core_stays_on_the_instances_own_cores(fakes, monkeypatch):
    monkeypatch.setenv(P.ENV_OWN_CORES, "1")
    monkeypatch.setenv("VLLM_CPU_OMP_THREADS_BIND", "0")
    monkeypatch.setattr(P.os, "sched_getaffinity", lambda pid: {0, 1})
    platform = fakes["vllm.platforms.cpu"].CpuPlatform
    assert [max(n) for n in platform.discover_numa_topology()] == [
        1
    ]  # stock: the decoder's core
    P.register()
    assert platform.discover_numa_topology() == [
        [0]
    ]  # patched: the producer's own core
    P.register()
    assert platform.discover_numa_topology() == [[0]]
    assert (
        platform.calls == 3
    )  # the original ran once per call: the patch did not wrap itself twice


def test_the_shared_memory_readers_spin_for_the_configured_time(fakes, monkeypatch):
    monkeypatch.setenv(P.ENV_SHM_SPIN_S, "0.01")
    P.register()
    spin = fakes["vllm.distributed.device_communicators.shm_broadcast"].SpinCondition
    assert spin().busy_loop_s == 0.01
    assert spin(busy_loop_s=2).busy_loop_s == 2  # an explicit value still wins


@pytest.mark.parametrize("value", ["", "0"])
def test_without_the_launchers_environment_nothing_is_patched(
    fakes, monkeypatch, value
):
    monkeypatch.setenv(P.ENV_OWN_CORES, value)
    api = fakes["nixl._api"]
    platform = fakes["vllm.platforms.cpu"].CpuPlatform
    spin = fakes["vllm.distributed.device_communicators.shm_broadcast"].SpinCondition
    before = (
        api.nixlBind,
        platform.__dict__["discover_numa_topology"],
        spin.__init__.__defaults__,
    )
    P.register()
    assert (
        api.nixlBind,
        platform.__dict__["discover_numa_topology"],
        spin.__init__.__defaults__,
    ) == before


def test_a_bad_setting_is_named_in_the_log_and_vllm_still_starts(
    fakes, monkeypatch, capsys
):
    monkeypatch.setenv(P.ENV_DELAY_US, "fast")
    monkeypatch.setenv(P.ENV_SHM_SPIN_S, "long")
    P.register()
    assert not isinstance(fakes["nixl._api"].nixlBind, P._BindView)
    err = capsys.readouterr().err
    assert (
        "LABS_PAIR_NIXL_PTHR_DELAY_US='fast' is not a whole number of microseconds"
        in err
    )
    assert "LABS_PAIR_SHM_BUSY_LOOP_S='long' is not a number of seconds" in err
