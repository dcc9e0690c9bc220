#!/usr/bin/env python
"""Keep the "Taught in:" line of every public labs_py function and class true.

    .venv/bin/python tools/taught_in.py            # check: list the definitions whose line is stale
    .venv/bin/python tools/taught_in.py --write    # rewrite those lines

A definition is *taught in* a chapter when the chapter's notebook, its joining code
(``labs_py/chapters/<chapter>/``) or its lab (``labs_py/labs/<lab>/``) uses it by name.
When no chapter uses it directly but a definition that is taught calls it, it works
*behind* those chapters. Otherwise it is machinery (the book's, the harness's) or a
tool for readers' own experiments. ``tests/test_architecture.py`` runs the check.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
import textwrap
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "labs_py"
#: Each lab belongs to the chapter that teaches it.
LAB_CHAPTERS = {
    "lab01": "moving_a_live_request",
    "lab02": "real_pair",
    "lab03": "disaggregation_trade",
}
#: The notebooks that teach (the presentation notebook only shows other chapters' panels).
NOT_CHAPTERS = {"presentation"}
MARK = "Taught in:"
WIDTH = 100


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    base = ROOT.joinpath(*name.split("."))
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def library_files() -> list[Path]:
    return sorted(p for p in PKG.rglob("*.py") if "__pycache__" not in p.parts)


def public_defs(tree: ast.Module) -> list[ast.AST]:
    return [
        n
        for n in tree.body
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        and not n.name.startswith("_")
    ]


class Index:
    """Every module's public definitions and import bindings, to resolve a name to a definition."""

    def __init__(self) -> None:
        self.trees: dict[str, ast.Module] = {}
        self.paths: dict[str, Path] = {}
        self.defs: dict[str, set[str]] = {}
        self.bindings: dict[str, dict[str, tuple]] = {}
        for path in library_files():
            mod = module_name(path)
            tree = ast.parse(path.read_text(encoding="utf-8"))
            self.trees[mod], self.paths[mod] = tree, path
            self.defs[mod] = {
                n.name
                for n in tree.body
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            }
            self.bindings[mod] = bindings(tree, mod)

    def resolve(self, mod: str, name: str, depth: int = 0) -> tuple[str, str] | None:
        """The (module, definition) that ``name`` means in ``mod``, following re-exports."""
        if depth > 8:
            return None
        if name in self.defs.get(mod, ()):
            return (mod, name)
        b = self.bindings.get(mod, {}).get(name)
        if b and b[0] == "symbol":
            return self.resolve(b[1], b[2], depth + 1)
        return None


def bindings(tree: ast.AST, mod: str) -> dict[str, tuple]:
    """Names bound by imports of labs_py: ("module", name) or ("symbol", module, name)."""
    out: dict[str, tuple] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("labs_py"):
                    if a.asname:
                        out[a.asname] = ("module", a.name)
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("labs_py")
        ):
            for a in node.names:
                target = f"{node.module}.{a.name}"
                key = a.asname or a.name
                out[key] = (
                    ("module", target)
                    if is_module(target)
                    else ("symbol", node.module, a.name)
                )
    return out


def references(
    tree: ast.AST, mod: str | None, index: Index, local: dict[str, tuple]
) -> set[tuple[str, str]]:
    """Every library definition ``tree`` names, resolved through ``local`` bindings (and ``mod``'s own defs)."""
    found: set[tuple[str, str]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            b = local.get(node.id)
            if b and b[0] == "symbol":
                r = index.resolve(b[1], b[2])
                if r:
                    found.add(r)
            elif mod and node.id in index.defs.get(mod, ()):
                found.add((mod, node.id))
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            b = local.get(node.value.id)
            if b and b[0] == "module":
                r = index.resolve(b[1], node.attr)
                if r:
                    found.add(r)
    return found


def direct_uses(index: Index) -> dict[tuple[str, str], set[str]]:
    """Definition -> the chapters whose notebook, joining code or lab use it by name."""
    uses: dict[tuple[str, str], set[str]] = defaultdict(set)
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        if nb.stem in NOT_CHAPTERS:
            continue
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        code = "\n".join(
            "".join(c["source"]) for c in cells if c["cell_type"] == "code"
        )
        code = "\n".join(
            line
            for line in code.splitlines()
            if not line.lstrip().startswith(("%", "!"))
        )
        tree = ast.parse(code)
        for r in references(tree, None, index, bindings(tree, "")):
            uses[r].add(nb.stem)
    stems = {nb.stem for nb in (ROOT / "notebooks").glob("*.ipynb")} - NOT_CHAPTERS
    shared = defaultdict(set)  # a shared chapters module -> the chapters that import it
    for mod in index.trees:
        parts = mod.split(".")
        if len(parts) > 2 and parts[1] == "chapters" and parts[2] in stems:
            for b in index.bindings[mod].values():
                target = b[1] if b[0] == "module" else b[1]
                if (
                    target.startswith("labs_py.chapters.")
                    and target.split(".")[2] not in stems
                ):
                    shared[".".join(target.split(".")[:3])].add(parts[2])
    for mod, tree in index.trees.items():
        parts = mod.split(".")
        chapters: set[str] = set()
        if len(parts) > 2 and parts[1] == "chapters":
            chapters = (
                {parts[2]}
                if parts[2] in stems
                else shared.get(".".join(parts[:3]), set())
            )
        elif len(parts) > 2 and parts[1] == "labs":
            chapters = {LAB_CHAPTERS[parts[2]]} if parts[2] in LAB_CHAPTERS else set()
        for r in references(tree, mod, index, index.bindings[mod]) if chapters else ():
            uses[r] |= chapters
    return uses


def call_graph(index: Index) -> dict[tuple[str, str], set[tuple[str, str]]]:
    """Definition -> the library definitions that name it (its callers), outside chapters and labs."""
    callers: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
    for mod, tree in index.trees.items():
        if ".chapters." in f"{mod}." or ".labs." in f"{mod}.":
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                for r in references(node, mod, index, index.bindings[mod]):
                    if r != (mod, node.name):
                        callers[r].add((mod, node.name))
    return callers


def taught_lines(index: Index) -> dict[tuple[str, str], str]:
    uses = direct_uses(index)
    callers = call_graph(index)
    behind: dict[tuple[str, str], set[str]] = defaultdict(set)
    changed = True
    while changed:  # a definition works behind every chapter its callers are taught in or work behind
        changed = False
        for target, who in callers.items():
            for c in who:
                extra = (uses.get(c, set()) | behind.get(c, set())) - behind[target]
                if extra:
                    behind[target] |= extra
                    changed = True
    order = [nb.stem for nb in sorted((ROOT / "notebooks").glob("*.ipynb"))]
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    order.sort(
        key=lambda s: toc.find(f"notebooks/{s}") if f"notebooks/{s}" in toc else 10**6
    )

    def names(chapters: set[str]) -> str:
        return ", ".join(sorted(chapters, key=order.index))

    out = {}
    for mod, tree in index.trees.items():
        if ".chapters." in f"{mod}." or ".labs." in f"{mod}.":
            continue
        for node in public_defs(tree):
            key = (mod, node.name)
            if uses.get(key):
                line = f"{MARK} {names(uses[key])}."
            elif behind.get(key):
                line = f"{MARK} no chapter calls it directly; it works behind {names(behind[key])}."
            elif mod.startswith("labs_py.book"):
                line = (
                    f"{MARK} no chapter: the book's machinery (docs/architecture.md)."
                )
            elif mod.startswith("labs_py.pair"):
                line = f"{MARK} no chapter: the real pair's harness (docs/runbook.md)."
            else:
                line = f"{MARK} no chapter yet: a tool for readers' own experiments."
            out[key] = line
    return out


STALE = re.compile(
    r"\n\n[ \t]*" + re.escape(MARK) + r".*?(?=\n[ \t]*(\"\"\"|'''|$))", re.S
)


def rewrite(path: Path, lines: dict[str, str]) -> str:
    """``path``'s source with each public definition's docstring ending in its "Taught in" line."""
    src = path.read_text(encoding="utf-8")
    tree = ast.parse(src)
    rows = src.split("\n")
    for node in sorted(public_defs(tree), key=lambda n: n.lineno, reverse=True):
        want = lines.get(node.name)
        if want is None:
            continue
        indent = " " * (node.col_offset + 4)
        wrapped = textwrap.fill(
            want, WIDTH, initial_indent=indent, subsequent_indent=indent + "    "
        )
        doc = (
            node.body[0]
            if node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(getattr(node.body[0], "value", None), ast.Constant)
            and isinstance(node.body[0].value.value, str)
            else None
        )
        if doc is None:
            first = node.body[0]
            rows.insert(first.lineno - 1, f'{indent}"""{want}"""')
            continue
        start, end = doc.lineno - 1, doc.end_lineno - 1
        text = "\n".join(rows[start : end + 1])
        text = STALE.sub("", text)
        quote = text[-3:]
        body = text[:-3].rstrip()
        text = f"{body}\n\n{wrapped}\n{indent}{quote}"
        rows[start : end + 1] = text.split("\n")
    return "\n".join(rows)


def stale(index: Index) -> dict[Path, str]:
    """Files whose "Taught in" lines are not what the code says, with their corrected source."""
    by_file: dict[Path, dict[str, str]] = defaultdict(dict)
    for (mod, name), line in taught_lines(index).items():
        by_file[index.paths[mod]][name] = line
    out = {}
    for path, lines in by_file.items():
        new = rewrite(path, lines)
        if new != path.read_text(encoding="utf-8"):
            out[path] = new
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--write", action="store_true", help="rewrite the stale lines")
    args = ap.parse_args(argv)
    todo = stale(Index())
    for path, new in todo.items():
        if args.write:
            path.write_text(new, encoding="utf-8")
        print(f"{'rewrote' if args.write else 'stale'}: {path.relative_to(ROOT)}")
    if todo and not args.write:
        print("run: .venv/bin/python tools/taught_in.py --write", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
