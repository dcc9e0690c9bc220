"""Where the real pair keeps its things: the repository, its runtime state, its environment.

Taught in: no chapter: the real pair's harness (docs/runbook.md).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["REPO_ROOT", "STATE_DIR", "PAIR_VENV"]

REPO_ROOT = Path(__file__).resolve().parents[2]
#: Runtime state of the pair (models, logs, caches, pid files); gitignored.
STATE_DIR = REPO_ROOT / ".pair"
PAIR_VENV = REPO_ROOT / ".venv-pair"
