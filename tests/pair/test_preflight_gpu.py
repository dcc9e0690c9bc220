"""The GPU path's preflight checks (the Week 16 lab's): topology, versions, the KV connector.

The checks are pure functions of a command's output, so realistic samples stand in for GPUs
this machine does not have. The last tests run the real runner: here (no GPU) every check
must be reported as skipped; behind a fake ``nvidia-smi`` the checks run for real.
"""

import os
import shutil
import subprocess
import sys

import pytest

from labs_py.pair import preflight as PF

# `nvidia-smi topo -m` on two NVLink-connected H100 SXM GPUs and a NIC, as a terminal shows
# it: tab-separated, the header underlined with colour codes, then the legend.
TOPO_NVLINK = (
    "\t\x1b[4mGPU0\tGPU1\tNIC0\tCPU Affinity\tNUMA Affinity\tGPU NUMA ID\x1b[0m\n"
    "GPU0\t X \tNV18\tSYS\t0-51,104-155\t0\t\tN/A\n"
    "GPU1\tNV18\t X \tSYS\t0-51,104-155\t0\t\tN/A\n"
    "NIC0\tSYS\tSYS\t X \t\t\t\t\n"
    "\n"
    "Legend:\n"
    "\n"
    "  X    = Self\n"
    "  SYS  = Connection traversing PCIe as well as the SMP interconnect between NUMA nodes\n"
    "  NODE = Connection traversing PCIe as well as the interconnect between PCIe Host Bridges\n"
    "  PHB  = Connection traversing PCIe as well as a PCIe Host Bridge (typically the CPU)\n"
    "  PXB  = Connection traversing multiple PCIe bridges (without traversing the PCIe Host Bridge)\n"
    "  PIX  = Connection traversing at most a single PCIe bridge\n"
    "  NV#  = Connection traversing a bonded set of # NVLinks\n"
    "\n"
    "NIC Legend:\n"
    "\n"
    "  NIC0: mlx5_0\n"
)

# Four PCIe GPUs, no NVLink: two behind one PCIe switch per CPU socket.
TOPO_PCIE = (
    "\tGPU0\tGPU1\tGPU2\tGPU3\tCPU Affinity\tNUMA Affinity\tGPU NUMA ID\n"
    "GPU0\t X \tPIX\tSYS\tSYS\t0-23\t0\t\tN/A\n"
    "GPU1\tPIX\t X \tSYS\tSYS\t0-23\t0\t\tN/A\n"
    "GPU2\tSYS\tSYS\t X \tPIX\t24-47\t1\t\tN/A\n"
    "GPU3\tSYS\tSYS\tPIX\t X \t24-47\t1\t\tN/A\n"
    "\n"
    "Legend:\n"
    "\n"
    "  X    = Self\n"
    "  PIX  = Connection traversing at most a single PCIe bridge\n"
)

# Two GPUs on different sockets (SYS), pasted from a web page: spaces instead of tabs.
TOPO_SYS_SPACES = """        GPU0    GPU1    CPU Affinity    NUMA Affinity
GPU0     X      SYS     0-15            0
GPU1    SYS      X      16-31           1
"""

# Four PCIe A100s joined in pairs by NVLink bridges: NVLink within a pair, SYS across.
TOPO_BRIDGED = (
    "\tGPU0\tGPU1\tGPU2\tGPU3\tCPU Affinity\tNUMA Affinity\n"
    "GPU0\t X \tNV12\tSYS\tSYS\t0-31\t0\n"
    "GPU1\tNV12\t X \tSYS\tSYS\t0-31\t0\n"
    "GPU2\tSYS\tSYS\t X \tNV12\t32-63\t1\n"
    "GPU3\tSYS\tSYS\tNV12\t X \t32-63\t1\n"
)

TOPO_ONE_GPU = "\tGPU0\tCPU Affinity\tNUMA Affinity\nGPU0\t X \t0-15\t0\n"

LIST_TWO = (
    "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-5f1d0c9e-2b1a-4c33-9a0e-1c2d3e4f5a6b)\n"
    "GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-7a8b9c0d-3e4f-4a5b-8c6d-0e1f2a3b4c5d)\n"
)
LIST_ONE = LIST_TWO.splitlines()[0] + "\n"

NEW, OLD = PF.NIXL_CONNECTOR_MODULES
LIB = PF.NIXL_LIBRARY_MODULE


# ---- topology ---------------------------------------------------------------------------------
def test_nvlink_matrix_is_read_cell_by_cell():
    assert PF.parse_topology(TOPO_NVLINK) == {
        "GPU0": {"GPU0": "X", "GPU1": "NV18"},
        "GPU1": {"GPU0": "NV18", "GPU1": "X"},
    }


def test_nvlink_between_gpu0_and_gpu1_passes():
    assert PF.has_nvlink(PF.parse_topology(TOPO_NVLINK)) is True
    check = PF.nvlink_check(TOPO_NVLINK)
    assert check.status == PF.PASSED
    assert "GPU0 <-> GPU1: NV18, 18 bonded NVLinks" in check.detail


def test_pcie_only_gpus_have_no_nvlink_and_get_a_warning_not_a_failure():
    matrix = PF.parse_topology(TOPO_PCIE)
    assert PF.has_nvlink(matrix) is False
    assert PF.link_between(matrix, "GPU0", "GPU1") == "PIX"
    assert PF.link_between(matrix, "GPU0", "GPU2") == "SYS"
    check = PF.nvlink_check(TOPO_PCIE)
    assert check.status == PF.WARNING
    assert "GPU0 <-> GPU1: PIX (PCIe, through at most one PCIe bridge), no NVLink" in (
        check.detail
    )


def test_gpus_on_two_sockets_pasted_with_spaces():
    assert PF.has_nvlink(PF.parse_topology(TOPO_SYS_SPACES)) is False
    check = PF.nvlink_check(TOPO_SYS_SPACES)
    assert (
        check.status == PF.WARNING and "SYS (PCIe plus the interconnect" in check.detail
    )


def test_nvlink_bridges_join_pairs_only():
    matrix = PF.parse_topology(TOPO_BRIDGED)
    assert PF.has_nvlink(matrix, "GPU0", "GPU1") is True
    assert PF.has_nvlink(matrix, "GPU2", "GPU3") is True
    assert PF.has_nvlink(matrix, "GPU1", "GPU2") is False
    assert PF.nvlink_check(TOPO_BRIDGED, "GPU1", "GPU2").status == PF.WARNING


def test_output_that_is_not_a_matrix_fails_and_quotes_what_it_got():
    said = (
        "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."
    )
    check = PF.nvlink_check(said)
    assert check.status == PF.FAILED
    assert "no GPU matrix" in check.detail and "NVIDIA-SMI has failed" in check.detail
    with pytest.raises(ValueError, match="no GPU matrix"):
        PF.parse_topology("")


def test_one_gpu_matrix_has_no_gpu1_for_the_pair():
    check = PF.nvlink_check(TOPO_ONE_GPU)
    assert check.status == PF.FAILED
    assert "GPU1 is not in the topology matrix, which lists GPU0" in check.detail


# ---- GPU count -----------------------------------------------------------------------------
def test_gpu_count_from_nvidia_smi_list():
    assert PF.count_listed_gpus(LIST_TWO) == 2 and PF.count_listed_gpus("") == 0
    assert PF.gpu_count_check(LIST_TWO, 2).status == PF.PASSED
    short = PF.gpu_count_check(LIST_ONE, 2)
    assert short.status == PF.FAILED
    assert "lists 1 GPU(s); the pair asks for 2" in short.detail and "--n-gpus 1" in (
        short.detail
    )
    with pytest.raises(
        ValueError, match="n_gpus must be a positive number of GPUs; got 0"
    ):
        PF.gpu_count_check(LIST_TWO, 0)


# ---- versions ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "found",
    ["0.32.0", "0.32.0+cpu", "0.33.0", "0.33.0+cu128", "0.33.1.dev4+g1a2b3c", "1.0.0"],
)
def test_recent_enough_vllm_versions_pass(found):
    check = PF.vllm_version_check(found)
    assert check.status == PF.PASSED and check.detail == f"vLLM {found} (>= 0.32.0)"


@pytest.mark.parametrize("found", ["0.31.9", "0.11.2", "0.6.0", "0.32.0rc1"])
def test_older_vllm_versions_are_refused_naming_both_versions(found):
    check = PF.vllm_version_check(found)
    assert check.status == PF.FAILED
    assert check.detail.startswith(f"vLLM {found} is older than 0.32.0")


def test_a_version_that_is_not_a_version_and_a_missing_vllm():
    garbled = PF.vllm_version_check("latest")
    assert garbled.status == PF.FAILED
    assert "'latest', which is not a version string" in garbled.detail
    assert "the minimum is 0.32.0" in garbled.detail
    missing = PF.vllm_version_check(None)
    assert missing.status == PF.FAILED and "vLLM is not installed" in missing.detail
    assert PF.vllm_version_check("0.6.0", minimum="0.6.0").status == PF.PASSED
    with pytest.raises(ValueError, match="minimum must be a version string.*'six'"):
        PF.vllm_version_check("0.6.0", minimum="six")


# ---- the KV connector ----------------------------------------------------------------------
NO_VLLM = "ModuleNotFoundError: No module named 'vllm'"
NO_NIXL = "ModuleNotFoundError: No module named 'nixl'"


def test_a_missing_connector_module_is_named_with_its_error():
    check = PF.connector_import_check({NEW: NO_VLLM, OLD: NO_VLLM, LIB: NO_NIXL})
    assert check.status == PF.FAILED
    assert f"from {NEW} import NixlConnector -> {NO_VLLM}" in check.detail
    assert f"from {OLD} import NixlConnector -> {NO_VLLM}" in check.detail


@pytest.mark.parametrize("layout", [NEW, OLD])
def test_the_connector_imports_from_either_layout(layout):
    results = {NEW: NO_VLLM, OLD: NO_VLLM, LIB: None, layout: None}
    check = PF.connector_import_check(results)
    assert check.status == PF.PASSED
    assert check.detail.startswith(f"from {layout} import NixlConnector")


def test_connector_without_the_nixl_library_fails():
    check = PF.connector_import_check({NEW: None, OLD: NO_VLLM, LIB: NO_NIXL})
    assert check.status == PF.FAILED
    assert f"import {LIB} -> {NO_NIXL}" in check.detail and "install nixl" in (
        check.detail
    )


def test_the_probe_in_an_interpreter_without_vllm_reports_the_missing_module():
    # the book's light environment has neither vLLM nor NIXL
    r = subprocess.run(
        [sys.executable, "-c", PF.PROBE], capture_output=True, text=True, timeout=120
    )
    probe = PF.parse_probe_output(r.stdout)
    assert probe["vllm_version"] is None and probe["vllm_error"] == NO_VLLM
    assert probe["imports"][NEW] == NO_VLLM and probe["imports"][LIB] == NO_NIXL
    assert PF.connector_import_check(probe["imports"]).status == PF.FAILED
    with pytest.raises(ValueError, match="no result line"):
        PF.parse_probe_output("Traceback (most recent call last):\n")


# ---- the verdict and the runner ------------------------------------------------------------
def _check(status):
    return PF.Check("x", status, "")


def test_exit_status_separates_ready_failed_and_skipped():
    assert PF.exit_status([_check(PF.PASSED), _check(PF.WARNING)]) == 0
    assert PF.exit_status([_check(PF.PASSED), _check(PF.SKIPPED)]) == 0
    assert PF.exit_status([_check(PF.PASSED), _check(PF.FAILED)]) == 1
    assert PF.exit_status([_check(PF.SKIPPED), _check(PF.FAILED)]) == 1
    assert PF.exit_status(PF.skipped("no GPU")) == 77


@pytest.mark.skipif(
    shutil.which("nvidia-smi") is not None, reason="this machine has nvidia-smi"
)
def test_on_this_machine_every_gpu_check_is_skipped_not_passed_not_failed():
    checks = PF.run_gpu_preflight()
    assert [c.name for c in checks] == list(PF.CHECK_NAMES)
    assert {c.status for c in checks} == {PF.SKIPPED}
    assert all(c.detail.startswith("no nvidia-smi on PATH") for c in checks)
    assert PF.exit_status(checks) == PF.EXIT_SKIPPED
    r = subprocess.run(
        [sys.executable, "-m", "labs_py.pair", "preflight", "--backend", "gpu"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = r.stdout.splitlines()
    assert r.returncode == 77
    assert sum(line.strip().startswith("SKIPPED") for line in lines) == 4
    assert not any(w in r.stdout for w in ("PASSED", "FAILED", "WARNING"))
    assert lines[-1].startswith("GPU path: SKIPPED: no nvidia-smi on PATH")


def _fake_nvidia_smi(tmp_path, monkeypatch, listing: str, topo: str, code: int = 0):
    """A stand-in ``nvidia-smi`` on PATH that prints the given samples."""
    (tmp_path / "list.txt").write_text(listing)
    (tmp_path / "topo.txt").write_text(topo)
    exe = tmp_path / "nvidia-smi"
    exe.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = "-L" ]; then cat "{tmp_path}/list.txt"; exit {code}; fi\n'
        f'if [ "$1" = "topo" ]; then cat "{tmp_path}/topo.txt"; exit 0; fi\n'
        "exit 2\n"
    )
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")


def test_behind_a_fake_nvidia_smi_the_checks_run(tmp_path, monkeypatch):
    _fake_nvidia_smi(tmp_path, monkeypatch, LIST_TWO, TOPO_NVLINK)
    checks = {c.name: c for c in PF.run_gpu_preflight(python=sys.executable)}
    assert checks["gpus"].status == PF.PASSED and checks["topology"].status == PF.PASSED
    # the light environment serves no vLLM: both software checks fail, and say why
    assert checks["vllm-version"].status == PF.FAILED
    assert NO_VLLM in checks["vllm-version"].detail
    assert checks["kv-connector"].status == PF.FAILED
    assert PF.exit_status(list(checks.values())) == PF.EXIT_FAILED


def test_one_gpu_skips_only_the_link_check(tmp_path, monkeypatch):
    _fake_nvidia_smi(tmp_path, monkeypatch, LIST_ONE, TOPO_ONE_GPU)
    checks = {c.name: c for c in PF.run_gpu_preflight(python=sys.executable, n_gpus=1)}
    assert checks["gpus"].status == PF.PASSED
    assert checks["topology"].status == PF.SKIPPED and "share GPU 0" in (
        checks["topology"].detail
    )


def test_a_driver_without_devices_skips_everything(tmp_path, monkeypatch):
    _fake_nvidia_smi(tmp_path, monkeypatch, "No devices were found\n", "", code=6)
    checks = PF.run_gpu_preflight(python=sys.executable)
    assert {c.status for c in checks} == {PF.SKIPPED}
    assert checks[0].detail == (
        "nvidia-smi lists no CUDA device (exit status 6: No devices were found)"
    )


def test_a_missing_interpreter_fails_the_software_checks(tmp_path, monkeypatch):
    _fake_nvidia_smi(tmp_path, monkeypatch, LIST_TWO, TOPO_PCIE)
    checks = {c.name: c for c in PF.run_gpu_preflight(python=str(tmp_path / "nope"))}
    assert checks["topology"].status == PF.WARNING
    assert checks["vllm-version"].status == PF.FAILED
    assert checks["vllm-version"].detail.startswith(
        f"no interpreter at {tmp_path}/nope"
    )
