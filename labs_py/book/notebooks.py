"""The canonical stored form of the book's notebooks, and how to refresh it.

Chapters are stored as ``.ipynb`` so they open in plain Jupyter. They are stored
*without outputs*, except the cells whose first line is ``# NBVAL_CHECK_OUTPUT``:
those keep their text output, and nbval (``--nbval-lax``) fails the test run if a
fresh execution prints anything different. That is how the numbers that matter
are pinned, while plots and widgets (which nbval cannot compare) are not stored.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat

CHECK_MARKER = "# NBVAL_CHECK_OUTPUT"
KERNEL = {
    "display_name": "Python 3 (ipykernel)",
    "language": "python",
    "name": "python3",
}
KEPT_OUTPUT_TYPES = ("stream", "execute_result", "error")
KEPT_MIME = ("text/plain",)


def is_check_cell(cell) -> bool:
    """Whether ``cell`` is a code cell whose first line is ``# NBVAL_CHECK_OUTPUT``.

    Taught in: no chapter: the book's machinery (docs/architecture.md).
    """
    return cell.cell_type == "code" and cell.source.lstrip().startswith(CHECK_MARKER)


def canonical(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Strip everything but check cells' text outputs, execution counts and per-cell metadata noise.

    Taught in: no chapter: the book's machinery (docs/architecture.md).
    """
    nb = nbformat.from_dict(nb)
    nb.metadata = nbformat.from_dict(
        {"kernelspec": KERNEL, "language_info": {"name": "python"}}
    )
    for cell in nb.cells:
        # tags (for tools) and slideshow (the presentation notebook's slide breaks) are kept
        cell.metadata = nbformat.from_dict(
            {k: v for k, v in cell.metadata.items() if k in ("tags", "slideshow")}
        )
        if cell.cell_type != "code":
            continue
        if not is_check_cell(cell):
            cell.execution_count = None
            cell.outputs = []
            continue
        # nbval treats a cell with no execution count as never run; a top-to-bottom run numbers
        # the code cells 1, 2, 3, ..., so the count is deterministic
        kept = []
        for out in cell.outputs:
            if out.output_type == "stream":
                kept.append(out)
            elif out.output_type == "execute_result":
                out.data = {k: v for k, v in out.data.items() if k in KEPT_MIME}
                out.metadata = {}
                out.execution_count = cell.execution_count
                kept.append(out)
        cell.outputs = kept
    nbformat.validator.normalize(nb)
    return nb


def refresh(path: Path, timeout_s: int = 900) -> None:
    """Execute a notebook in live mode (as nbval does) and store it in canonical form.

    Taught in: no chapter: the book's machinery (docs/architecture.md).
    """
    from nbclient import NotebookClient

    from labs_py.book.live import PREFETCH_ENV

    nb = nbformat.read(path, as_version=4)
    os.environ[PREFETCH_ENV] = "0"  # no background precompute while storing outputs
    NotebookClient(
        nb,
        timeout=timeout_s,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    nbformat.write(canonical(nb), path)
