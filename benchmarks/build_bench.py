#!/usr/bin/env python
"""How long the book takes to build and to validate, on this machine.

    .venv/bin/python benchmarks/build_bench.py

Times two things, each from scratch: the full book build (``tools/build.sh``: every
chapter executed, warnings as errors) and nbval over every chapter (as
``tools/test.sh`` runs it). Target (issue 6): 10 minutes together on 2 cores.
Then runs each chapter on its own, live and static, and prints both times.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 600


def timed(label: str, cmd: list[str]) -> float:
    print(f"[bench] {label}: {' '.join(cmd)}", flush=True)
    t0 = time.perf_counter()
    env = {**os.environ, "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}"}
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if result.returncode != 0:
        print(result.stdout[-3000:], result.stderr[-3000:])
        raise SystemExit(f"[bench] {label} failed")
    print(f"[bench] {label}: {dt:.1f} s", flush=True)
    return dt


def chapter_times() -> dict[str, dict[str, float]]:
    """Each chapter executed on its own, in both modes: live (as nbval runs it) and static
    (as the book build runs it, precomputing every interactive figure's grid)."""
    import tempfile

    import nbformat
    from nbclient import NotebookClient
    from tqdm import tqdm

    from labs_py.book.sphinx import STATIC_KERNEL, install_static_kernel

    # the static mode runs in the book build's own kernel (labs_py.book.sphinx)
    install_static_kernel(Path(tempfile.mkdtemp(prefix="labs-kernels-")))
    kernels = {"live": "python3", "static": STATIC_KERNEL}
    out: dict[str, dict[str, float]] = {}
    paths = sorted((ROOT / "notebooks").glob("*.ipynb"))
    for path in tqdm(paths, desc="chapters", unit="nb"):
        out[path.name] = {}
        for mode, kernel in kernels.items():
            nb = nbformat.read(path, as_version=4)
            t0 = time.perf_counter()
            NotebookClient(
                nb,
                timeout=1800,
                kernel_name=kernel,
                resources={"metadata": {"path": str(path.parent)}},
            ).execute()
            out[path.name][mode] = time.perf_counter() - t0
    return out


def main() -> int:
    build = timed("book build (fresh, -W)", ["tools/build.sh"])
    nbval = timed(
        "nbval over every chapter",
        [
            sys.executable,
            "-m",
            "pytest",
            "notebooks",
            "--nbval-lax",
            "--nbval-current-env",
            "--nbval-sanitize-with",
            "tools/nbval_sanitize.cfg",
            "-p",
            "no:cacheprovider",
            "-q",
        ],
    )
    total = build + nbval
    print(f"\nbook build     {build:7.1f} s")
    print(f"nbval          {nbval:7.1f} s")
    print(
        f"together       {total:7.1f} s   (target <= {TARGET_S} s on 2 cores: "
        f"{'met' if total <= TARGET_S else 'NOT met'})"
    )
    print("\neach chapter on its own (kernel start included):")
    print(f"  {'chapter':36s} {'live (nbval)':>13s} {'static (build)':>15s}")
    for name, t in sorted(chapter_times().items(), key=lambda kv: -kv[1]["static"]):
        print(f"  {name:36s} {t['live']:11.1f} s {t['static']:13.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
