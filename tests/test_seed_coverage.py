"""docs/seed-coverage.md stays true: every row of its tables points at things that exist.

The page lists every item of the five course documents and says where the book covers it. This test
needs none of the course material: it checks the page against the repository. For each row: the ID
is well formed and unique, the status and the How terms are from the page's vocabulary, a partial or
out-of-scope row explains itself in its note, every file it names exists, every ``§ "Heading"`` is a
heading of the file named before it in the same cell, every ``path::name`` is defined in that file
(a spec check must also be in its spec's ``CHECKS``), every exercise label is one of
``tests/test_exercises.py``'s, and a computed or measured row names a test. The per-document counts
at the top of the page must equal a recount of the rows.

:func:`problems` takes the page's text and returns what is wrong with it, so the checker itself is
tested on deliberately broken copies.
"""

from __future__ import annotations

import ast
import json
import re
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "seed-coverage.md"

PREFIXES = ("L1503", "L1501", "L1502", "W16", "DSN")
BIB_KEYS = (
    "course-lab15-01",
    "course-lab15-02",
    "course-lab15-03",
    "course-week16",
    "course-distserve-notes",
)
COLUMNS = (
    "ID",
    "Item",
    "Section of the document",
    "Where the book covers it",
    "labs_py",
    "Test",
    "How",
    "Status",
    "Note",
)
#: Every column but the ID (checked on its own) and the note (may be empty) must be filled.
REQUIRED = tuple(c for c in COLUMNS if c not in ("ID", "Note"))
STATUSES = ("covered", "partial", "out of scope")
HOW_TERMS = {"computed", "measured", "simulated", "quoted with citation", "explained"}
ID_RE = re.compile(r"^(L1503|L1501|L1502|W16|DSN)-[DEQFBN][1-9][0-9]*$")

#: A backticked repository file: a relative path with a known extension (no ``::``).
FILE_RE = re.compile(
    r"^[A-Za-z0-9_.][\w./-]*\.(?:ipynb|md|py|yml|yaml|json|bib|toml|sh|txt)$"
)
#: A backticked definition: ``path.py::name`` or ``path.py::Class.name``.
DEF_RE = re.compile(r"^([\w./-]+\.py)::([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)?)$")
#: In a cell, a backticked span or a section reference, in reading order. A heading may hold code spans.
TOKEN_RE = re.compile(r'§ "((?:[^"`]|`[^`]*`)+)"|`([^`]+)`')
#: A test reference and the optional bracketed parameter that follows it.
TEST_RE = re.compile(r"`(tests/[\w./-]+\.py)::(\w+)`(?:\s*\[([^\]]+)\])?")
LABEL_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)+$")
SPEC_CHECK_RE = re.compile(r"`(labs_py/labs/(\w+)/spec\.py)::(\w+)`")


@dataclass
class Row:
    line: int
    section: str  # the document key of the "## KEY: ..." heading above the table
    cells: dict[str, str]

    @property
    def id(self) -> str:
        return self.cells["ID"]


def split_row(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def parse(text: str) -> tuple[list[Row], dict[str, list[str]], list[str]]:
    """The item rows, the counts table (``key -> [items, covered, partial, out of scope]``) and layout errors."""
    rows: list[Row] = []
    counts: dict[str, list[str]] = {}
    errors: list[str] = []
    section = ""
    header: list[str] | None = None
    for n, line in enumerate(text.splitlines(), 1):
        m = re.match(r"^## (\w+):", line)
        if m:
            section, header = m.group(1), None
            continue
        if line.startswith("## "):
            section, header = "", None
            continue
        if not line.startswith("|"):
            header = None
            continue
        cells = split_row(line)
        if header is None:
            header = cells
            if section and tuple(cells) != COLUMNS:
                errors.append(f"line {n}: table header {cells} is not {list(COLUMNS)}")
            continue
        if set("".join(cells)) <= set("-: "):
            continue  # the separator row
        if header[:2] == ["Document", "IDs"]:
            if len(cells) != 6:
                errors.append(f"line {n}: counts row has {len(cells)} cells, not 6")
            else:
                counts[cells[1]] = cells[2:]
            continue
        if not section:
            continue
        if len(cells) != len(COLUMNS):
            errors.append(
                f"line {n}: {len(cells)} cells, not {len(COLUMNS)}: {line[:60]}"
            )
            continue
        rows.append(Row(n, section, dict(zip(COLUMNS, cells))))
    return rows, counts, errors


# ---------------------------------------------------------------------------------------- the repository


@cache
def headings(path: Path) -> frozenset[str]:
    """The ATX headings of a page or of a notebook's markdown cells, ``#``s stripped; fenced code is skipped."""
    if path.suffix == ".ipynb":
        nb = json.loads(path.read_text(encoding="utf-8"))
        texts = [
            "".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"
        ]
    else:
        texts = [path.read_text(encoding="utf-8")]
    out = set()
    for text in texts:
        fence = None
        for line in text.splitlines():
            stripped = line.lstrip()
            m = re.match(r"^(`{3,}|~{3,})", stripped)
            if m:
                if fence is None:
                    fence = m.group(1)[0]
                elif m.group(1)[0] == fence:
                    fence = None
                continue
            if fence is None and re.match(r"^#{1,6}\s", line):
                out.add(line.lstrip("#").strip())
    return frozenset(out)


def _names(body: list[ast.stmt]) -> set[str]:
    out = set()
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, ast.Assign):
            out |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out.add(node.target.id)
    return out


@cache
def definitions(path: Path) -> frozenset[str]:
    """Top-level names of a module, class-level names bare and as ``Class.name``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = _names(tree.body)
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            inner = _names(node.body)
            out |= inner | {f"{node.name}.{n}" for n in inner}
    return frozenset(out)


@cache
def spec_checks(path: Path) -> frozenset[str]:
    """The names listed in a spec module's ``CHECKS``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "CHECKS" for t in node.targets
        ):
            return frozenset(
                e.id for e in getattr(node.value, "elts", []) if isinstance(e, ast.Name)
            )
    return frozenset()


@cache
def exercise_labels(root: Path) -> frozenset[str]:
    """The labels of ``tests/test_exercises.py``'s independent figures (``"label": lambda: ...``)."""
    tree = ast.parse((root / "tests" / "test_exercises.py").read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values):
                if (
                    isinstance(k, ast.Constant)
                    and isinstance(k.value, str)
                    and isinstance(v, ast.Lambda)
                ):
                    out.add(k.value)
    return frozenset(out)


# ---------------------------------------------------------------------------------------- the checks


def _cell_problems(row: Row, column: str, root: Path) -> list[str]:
    """Files, headings and definitions named in one cell."""
    out = []
    current: Path | None = None
    for m in TOKEN_RE.finditer(row.cells[column]):
        heading, code = m.group(1), m.group(2)
        where = f"{row.id} ({column})"
        if heading is not None:
            if current is None:
                out.append(f'{where}: § "{heading}" follows no file')
            elif current.suffix not in (".ipynb", ".md"):
                out.append(
                    f'{where}: § "{heading}" follows {current.name}, which has no headings'
                )
            elif current.exists() and heading not in headings(current):
                out.append(
                    f'{where}: no heading "{heading}" in {current.relative_to(root)}'
                )
            continue
        d = DEF_RE.match(code)
        if d:
            path = root / d.group(1)
            if not path.exists():
                out.append(f"{where}: no file {d.group(1)}")
            elif d.group(2) not in definitions(path):
                out.append(f"{where}: {d.group(2)} is not defined in {d.group(1)}")
            current = None
            continue
        if "::" in code:
            out.append(f"{where}: `{code}` is not a path.py::name reference")
        elif FILE_RE.match(code):
            current = root / code
            if code.startswith("/") or not current.exists():
                out.append(f"{where}: no file {code}")
    return out


def row_problems(row: Row, root: Path = ROOT) -> list[str]:
    c = row.cells
    out = []
    if not ID_RE.match(row.id):
        out.append(f"{row.id}: malformed ID (want e.g. L1503-D1, kinds D E Q F B N)")
    elif row.id.split("-")[0] != row.section:
        out.append(f"{row.id}: listed under the {row.section} table")
    for col in REQUIRED:
        if not c[col]:
            out.append(f"{row.id}: empty {col}")
    if c["Status"] not in STATUSES:
        out.append(f"{row.id}: status {c['Status']!r} is not one of {STATUSES}")
    if c["Status"] in ("partial", "out of scope") and c["Note"].lower() in (
        "",
        "none",
        "-",
        "—",
    ):
        out.append(
            f"{row.id}: a {c['Status']} row must say in its note what is missing and why"
        )
    terms = [t.strip() for t in c["How"].split("+")]
    for t in terms:
        if t not in HOW_TERMS:
            out.append(f"{row.id}: How term {t!r} is not one of {sorted(HOW_TERMS)}")
    if not any(
        FILE_RE.match(m.group(2) or "")
        for m in TOKEN_RE.finditer(c["Where the book covers it"])
    ):
        out.append(f"{row.id}: the Where column names no chapter or page")
    for col in COLUMNS[1:]:
        out += _cell_problems(row, col, root)
    # a spec check must be one the spec runs
    for col in COLUMNS[1:]:
        for m in SPEC_CHECK_RE.finditer(c[col]):
            path = root / m.group(1)
            if path.exists() and m.group(3) not in spec_checks(path):
                out.append(f"{row.id}: {m.group(3)} is not in {m.group(1)}'s CHECKS")
    # tests, and the parameter after each
    tests = list(TEST_RE.finditer(c["Test"]))
    for m in tests:
        path, name, param = root / m.group(1), m.group(2), m.group(3)
        if not (name.startswith("test_") or name.startswith("Test")):
            out.append(f"{row.id}: {m.group(1)}::{name} is not a test")
        if param is None or not path.exists():
            continue
        p = param.strip()
        if (
            m.group(1) == "tests/test_exercises.py"
            and LABEL_RE.match(p)
            and p not in exercise_labels(root)
        ):
            out.append(f"{row.id}: unknown exercise label [{p}]")
        lab = re.match(r"tests/labs/test_(lab\d+)\.py$", m.group(1))
        if lab and p.startswith("check_"):
            spec = root / "labs_py" / "labs" / lab.group(1) / "spec.py"
            if p not in spec_checks(spec):
                out.append(f"{row.id}: [{p}] is not in {lab.group(1)}'s spec CHECKS")
    named_spec_check = any(SPEC_CHECK_RE.search(c[col]) for col in ("labs_py", "Test"))
    if {"computed", "measured"} & set(terms) and not tests and not named_spec_check:
        out.append(f"{row.id}: a {c['How']} row must name the test that asserts it")
    return out


def problems(text: str, root: Path = ROOT) -> list[str]:
    """Everything wrong with a coverage page's text, checked against the repository at ``root``."""
    rows, counts, out = parse(text)
    bib = (root / "book" / "references.bib").read_text(encoding="utf-8")
    for key in BIB_KEYS:
        if f"`{key}`" not in text:
            out.append(f"the page never names the bib key {key}")
        if "{" + key + "," not in bib:
            out.append(f"book/references.bib has no entry {key}")
    ids = Counter(r.id for r in rows)
    out += [f"{i}: listed {n} times" for i, n in ids.items() if n > 1]
    for row in rows:
        out += row_problems(row, root)
    total = Counter()
    for key in PREFIXES:
        mine = [r for r in rows if r.section == key]
        if not mine:
            out.append(f"{key}: no item rows")
        recount = Counter(r.cells["Status"] for r in mine)
        want = [str(len(mine))] + [str(recount[s]) for s in STATUSES]
        total.update({"items": len(mine), **{s: recount[s] for s in STATUSES}})
        if counts.get(key) != want:
            out.append(
                f"{key}: the counts table says {counts.get(key)}, the rows give {want}"
            )
    want_all = [str(total["items"])] + [str(total[s]) for s in STATUSES]
    if counts.get("all") != want_all:
        out.append(
            f"all: the counts table says {counts.get('all')}, the rows give {want_all}"
        )
    return out


# ---------------------------------------------------------------------------------------- tests


def test_the_coverage_page_is_true():
    found = problems(DOC.read_text(encoding="utf-8"))
    assert not found, "docs/seed-coverage.md:\n" + "\n".join(found)


def test_the_page_lists_items_of_every_document_and_nothing_is_missing():
    rows, counts, errors = parse(DOC.read_text(encoding="utf-8"))
    assert not errors
    assert {r.section for r in rows} == set(PREFIXES)
    assert "missing" not in {r.cells["Status"] for r in rows}


def _mutate(text: str, pick, change) -> str:
    """``text`` with the first item row for which ``pick(cells)`` holds rewritten by ``change(cells)``."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        cells = split_row(line) if line.startswith("|") else []
        if (
            len(cells) == len(COLUMNS)
            and ID_RE.match(cells[0])
            and pick(dict(zip(COLUMNS, cells)))
        ):
            new = change(dict(zip(COLUMNS, cells)))
            lines[i] = "| " + " | ".join(new[c] for c in COLUMNS) + " |"
            return "\n".join(lines) + "\n"
    raise AssertionError("no row to break")


def _with(**kw):
    return lambda c: {**c, **kw}


def _first_id(text: str) -> str:
    return parse(text)[0][0].id


BREAKS = {
    "status missing": (lambda c: True, _with(Status="missing"), "status 'missing'"),
    "malformed ID": (lambda c: True, _with(ID="L1503-X1"), "malformed ID"),
    "unknown heading": (
        lambda c: '§ "' in c["Where the book covers it"],
        lambda c: {
            **c,
            "Where the book covers it": re.sub(
                r'§ "[^"]+"',
                '§ "No such heading"',
                c["Where the book covers it"],
                count=1,
            ),
        },
        'no heading "No such heading"',
    ),
    "unknown function": (
        lambda c: "::" in c["labs_py"],
        lambda c: {
            **c,
            "labs_py": re.sub(r"::\w+`", "::no_such_function`", c["labs_py"], count=1),
        },
        "no_such_function is not defined",
    ),
    "unknown test": (
        lambda c: "::test_" in c["Test"],
        lambda c: {
            **c,
            "Test": re.sub(
                r"::test_\w+`", "::test_that_was_never_written`", c["Test"], count=1
            ),
        },
        "test_that_was_never_written is not defined",
    ),
    "missing file": (
        lambda c: True,
        _with(
            **{
                "Where the book covers it": '`notebooks/no_such_chapter.ipynb` § "Anything"'
            }
        ),
        "no file notebooks/no_such_chapter.ipynb",
    ),
    "computed without a test": (
        lambda c: c["How"] == "computed" and "spec.py" not in c["labs_py"],
        _with(Test="nbval"),
        "must name the test",
    ),
    "partial without a note": (
        lambda c: c["Status"] == "partial",
        _with(Note=""),
        "must say in its note",
    ),
    "unknown How": (
        lambda c: True,
        _with(How="computed + guessed"),
        "How term 'guessed'",
    ),
    "unknown exercise label": (
        lambda c: "[plan-ex-fleet]" in c["Test"],
        lambda c: {
            **c,
            "Test": c["Test"].replace("[plan-ex-fleet]", "[plan-ex-nothing]"),
        },
        "unknown exercise label [plan-ex-nothing]",
    ),
    "spec check not run": (
        lambda c: "spec.py::check_" in c["labs_py"],
        lambda c: {
            **c,
            "labs_py": re.sub(
                r"spec\.py::check_\w+",
                "spec.py::kv_bytes_per_token",
                c["labs_py"],
                count=1,
            ),
        },
        "is not in labs_py/labs/",
    ),
    "status flipped, counts stale": (
        lambda c: c["Status"] == "covered",
        _with(Status="partial", Note="x"),
        "the counts table says",
    ),
}


@pytest.mark.parametrize("name", BREAKS)
def test_a_deliberately_broken_row_is_rejected(name, tmp_path):
    pick, change, expected = BREAKS[name]
    broken = tmp_path / "seed-coverage.md"
    broken.write_text(
        _mutate(DOC.read_text(encoding="utf-8"), pick, change), encoding="utf-8"
    )
    found = problems(broken.read_text(encoding="utf-8"))
    assert any(expected in p for p in found), (
        f"{name}: expected {expected!r} among {found}"
    )


def test_a_repeated_id_and_a_wrong_count_are_rejected(tmp_path):
    text = DOC.read_text(encoding="utf-8")
    first = _first_id(text)
    text = _mutate(text, lambda c: c["ID"] != first, _with(ID=first))
    text = re.sub(
        r"^(\| All \| all \| )(\d+)",
        lambda m: m.group(1) + str(int(m.group(2)) + 1),
        text,
        flags=re.M,
    )
    broken = tmp_path / "seed-coverage.md"
    broken.write_text(text, encoding="utf-8")
    found = problems(broken.read_text(encoding="utf-8"))
    assert f"{first}: listed 2 times" in found
    assert any(p.startswith("all: the counts table says") for p in found)
