#!/usr/bin/env python
"""Re-run chapters and store them in canonical form (maintainers run this after editing a chapter).

    .venv/bin/python tools/nb_refresh.py                  # every notebook under notebooks/
    .venv/bin/python tools/nb_refresh.py notebooks/x.ipynb

Only cells marked ``# NBVAL_CHECK_OUTPUT`` keep their outputs; review their diff before committing,
because those outputs are what nbval holds every later run to.
"""

import sys
from pathlib import Path

from tqdm import tqdm

from labs_py.book.notebooks import refresh

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    paths = [Path(p) for p in argv] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for path in tqdm(paths, desc="refreshing notebooks", unit="nb"):
        tqdm.write(f"running {path}")
        refresh(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
