"""The house rules, enforced: dependencies point one way, the style is one style, and each fact has one home.

* the import-linter contracts of ``pyproject.toml`` (the layers of ``docs/architecture.md``) hold;
* ``ruff check`` and ``ruff format --check`` pass on the library, the tests, the tools and the notebooks;
* the literals that name the book's facts (model ids, GPU ids, the course's example figures) appear in
  code only in their one home: ``labs_py/defaults.py``, ``labs_py/course.py`` and the catalogs in
  ``labs_py/data/``.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from labs_py.core import catalog

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
STYLED = ["labs_py", "tests", "benchmarks", "tools", "notebooks"]
#: The one home of each kind of fact.
HOMES = {ROOT / "labs_py" / "defaults.py", ROOT / "labs_py" / "course.py"}


def _run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_the_import_contracts_hold():
    r = _run(str(BIN / "lint-imports"), "--no-cache")
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "0 broken" in r.stdout


def test_ruff_finds_nothing_to_lint():
    r = _run(str(BIN / "ruff"), "check", *STYLED)
    assert r.returncode == 0, r.stdout[-4000:]


def test_ruff_finds_nothing_to_format():
    r = _run(str(BIN / "ruff"), "format", "--check", *STYLED)
    assert r.returncode == 0, r.stdout[-4000:]


# --------------------------------------------------------------------------- one home for each fact
def _named_facts() -> dict[object, str]:
    """Every literal that names a fact, and what it names."""
    facts: dict[object, str] = {}
    for m in catalog.load("models")["models"]:
        for name in [m["id"], *m.get("aliases", ())]:
            facts[name] = f"model id (use labs_py.defaults: {m['short_name']})"
    for g in catalog.load("gpus")["gpus"]:
        facts[g["id"]] = "GPU id (use labs_py.defaults)"
    facts[0.205] = (
        "the course's example prefill, 205 ms (use labs_py.course.EXAMPLE_PREFILL_S)"
    )
    l4 = catalog.load("course")["tables"]["lab15_02_capture"]
    for arm in ("single", "pair"):
        for key in ("itl_p50_ms", "itl_p99_ms"):
            facts[float(l4[arm][key])] = (
                "a figure of lab 15-02's L4 capture (use labs_py.course.measurements)"
            )
    for row in catalog.load("course")["tables"]["week16_serving"]["rows"]:
        for v in row[3:]:
            if isinstance(v, float) and v > 20:
                facts[v] = (
                    "a figure of the Week 16 tables (use labs_py.course.measurements)"
                )
    return facts


def _code_constants(source: str):
    """(line, value) of every constant in ``source`` that is not a docstring."""
    tree = ast.parse(source)
    docs = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(
                node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
            )
            and body
        ):
            first = body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docs.add(id(first.value))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and id(node) not in docs
            and not isinstance(node.value, bool)
        ):
            yield node.lineno, node.value


def _sources():
    for path in sorted((ROOT / "labs_py").rglob("*.py")):
        if path not in HOMES:
            yield str(path.relative_to(ROOT)), path.read_text(encoding="utf-8")
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        for i, cell in enumerate(cells):
            if cell["cell_type"] == "code":
                code = "".join(cell["source"])
                yield (
                    f"{path.relative_to(ROOT)} cell {i}",
                    "\n".join(
                        line
                        for line in code.splitlines()
                        if not line.lstrip().startswith(("%", "!"))
                    ),
                )


def test_each_fact_is_written_in_its_one_home_only():
    facts = _named_facts()
    found = []
    for where, source in _sources():
        for line, value in _code_constants(source):
            if isinstance(value, (str, float)) and value in facts:
                found.append(f"{where}:{line}: {value!r} is {facts[value]}")
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    "value", ["meta-llama/Llama-3.1-8B-Instruct", "H100-SXM", 0.205]
)
def test_the_check_would_catch_a_repeated_fact(value):
    assert value in _named_facts()
    assert any(v == value for _, v in _code_constants(f"x = {value!r}\n"))


def test_every_public_function_says_which_chapter_teaches_it():
    """``tools/taught_in.py`` recomputes each "Taught in:" line from the chapters' code; none may be stale."""
    r = _run(sys.executable, "tools/taught_in.py")
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_taught_in_lines_name_real_chapters():
    chapters = {p.stem for p in (ROOT / "notebooks").glob("*.ipynb")}
    seen = 0
    for path in (ROOT / "labs_py").rglob("*.py"):
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            if "Taught in:" not in line:
                continue
            text, indent = line.strip(), len(line) - len(line.lstrip())
            for more in lines[i + 1 :]:  # a long line wraps onto deeper-indented ones
                if len(more) - len(more.lstrip()) <= indent or not more.strip():
                    break
                text += " " + more.strip()
            seen += 1
            if "no chapter" not in text:
                named = text.split("Taught in:", 1)[1].strip(" .").split(", ")
                assert set(named) <= chapters, f"{path}: {text}"
    assert seen > 300
