"""The vLLM plugin's pure parts (no vLLM needed): where NIXL's "KV-transfer core" may go."""

import pytest

from labs_py.pair import vllm_plugin as P


def test_parse_cpu_list_reads_vllm_bind_syntax():
    assert P.parse_cpu_list("0") == {0}
    assert P.parse_cpu_list("0,2") == {0, 2}
    assert P.parse_cpu_list("0-3") == {0, 1, 2, 3}
    assert P.parse_cpu_list("0-1|4,6") == {0, 1, 4, 6}


def test_own_cores_narrows_affinity_to_an_explicit_bind_list():
    assert P.own_cores({0, 1}, "0") == {0}  # unconfined process, OpenMP bound to core 0
    assert P.own_cores({0}, "0") == {0}
    assert P.own_cores({0, 1}, "auto") == {0, 1}
    assert P.own_cores({0, 1}, None) == {0, 1}
    assert P.own_cores({1}, "0") == {1}  # no overlap: keep what the thread may use
    assert P.own_cores({0, 1}, "garbage") == {0, 1}


def test_the_producer_on_core_0_keeps_its_reserve_on_core_0():
    # this machine: one NUMA node with cores 0 and 1; vLLM would take max = 1, the decoder's core
    numa = [[0, 1]]
    assert [max(n) for n in numa] == [1]
    assert [max(n) for n in P.restrict_numa_cores(numa, {0})] == [0]
    assert [max(n) for n in P.restrict_numa_cores(numa, {1})] == [1]
    assert (
        P.restrict_numa_cores(numa, {0, 1}) == numa
    )  # an instance that owns the node: vLLM's choice


def test_nodes_without_an_own_core_are_dropped():
    numa = [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert P.restrict_numa_cores(numa, {5, 6}) == [[5, 6]]
    assert P.restrict_numa_cores(numa, {9}) == []  # vLLM then skips sched_setaffinity


@pytest.mark.parametrize("value", ["", "0"])
def test_register_is_inert_without_the_launcher_env(monkeypatch, value):
    monkeypatch.setenv(P.ENV_OWN_CORES, value)
    monkeypatch.delenv(P.ENV_DELAY_US, raising=False)
    monkeypatch.delenv(P.ENV_SHM_SPIN_S, raising=False)
    P.register()  # imports neither vLLM nor nixl
