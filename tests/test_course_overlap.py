"""The book paraphrases the course material; it never copies its sentences.

The course documents (the five ``*.txt`` files of the course directory) are not part of the
repository. Where they are present (by default ``../shared/seeds`` beside the repository; set
``LABS_PY_COURSE_DIR`` to point elsewhere) this test asserts that no run of 12 or more consecutive
words of any of them appears in the book's prose: the markdown cells of ``notebooks/*.ipynb`` and
the pages ``book/*.md``. Without the material the tests that need it skip and say why.

How text is compared: lowercased, and cut into words of letters and digits (``[a-z0-9]+``), so
punctuation, markup and line breaks do not hide a copy. Fenced code blocks and inline code spans
of the book are left out: a command such as ``vllm serve ...`` or a flag may rightly be the same
in both. MyST directive blocks (```` ```{note} ````, ```` ```{exercise-start} ```` and the like)
hold prose and are kept, except code directives (``{code-cell}``, ``{code-block}``, ``{code}``).
Maths is kept as words. A notebook's markdown cells are compared one by one, since a run of words
does not continue from one cell into the next.

The same check, at seven words, holds ``docs/seed-coverage.md`` to its promise of quoting at most
six consecutive words of a course document.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_COURSE_DIR = Path(__file__).resolve().parents[2] / "shared" / "seeds"
RUN = 12  # words: a run this long in the book is a copied sentence
COVERAGE_RUN = 7  # words: docs/seed-coverage.md quotes at most six

FENCE_RE = re.compile(r"^\s*(`{3,}|~{3,})\s*(\{[^}]*\}|[^\s`]*)")
CODE_DIRECTIVES = {"{code-cell}", "{code-block}", "{code}", "{sourcecode}"}
INLINE_CODE_RE = re.compile(r"(`+)(?!`).+?(?<!`)\1(?!`)", re.S)


def course_dir() -> Path:
    return Path(os.environ.get("LABS_PY_COURSE_DIR") or DEFAULT_COURSE_DIR)


def course_documents(directory: Path | None = None) -> dict[str, str]:
    """``name -> text`` of the course documents (``*.txt``; the directory's README is not one)."""
    d = directory or course_dir()
    if not d.is_dir():
        return {}
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(d.glob("*.txt"))}


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def prose(markdown: str) -> str:
    """``markdown`` without fenced code blocks (code directives included) and inline code spans."""
    out: list[str] = []
    fence = None  # the fence of the code block being skipped
    directives: list[str] = []  # the fences of the open prose directives
    for line in markdown.splitlines():
        m = FENCE_RE.match(line)
        if fence is not None:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
                fence = None
            continue
        if m:
            mark, info = m.group(1), m.group(2)
            if (
                not info
                and directives
                and mark[0] == directives[-1][0]
                and len(mark) >= len(directives[-1])
            ):
                directives.pop()  # a prose directive ends
            elif info.startswith("{") and info not in CODE_DIRECTIVES:
                directives.append(mark)  # a prose directive starts: keep what it holds
            else:
                fence = mark  # code: skip to the closing fence
            continue
        out.append(line)
    return INLINE_CODE_RE.sub(" ", "\n".join(out))


def book_texts(root: Path = ROOT) -> dict[str, str]:
    """``label -> prose`` of every markdown cell of the chapters and of every page of the book."""
    out = {}
    for nb_path in sorted((root / "notebooks").glob("*.ipynb")):
        nb = json.loads(nb_path.read_text(encoding="utf-8"))
        for i, cell in enumerate(nb["cells"]):
            if cell["cell_type"] == "markdown":
                out[f"{nb_path.relative_to(root)} (cell {i})"] = prose(
                    "".join(cell["source"])
                )
    for page in sorted((root / "book").glob("*.md")):
        out[str(page.relative_to(root))] = prose(page.read_text(encoding="utf-8"))
    return out


def shared_runs(
    sources: dict[str, str], texts: dict[str, str], n: int = RUN
) -> list[tuple[str, str, str]]:
    """Every maximal run of ``n`` or more consecutive words of a ``texts`` entry found in a source.

    Returns ``(text label, source name, the run's words)``; overlapping windows are merged into one run.
    """
    grams: dict[tuple[str, ...], str] = {}
    for name, text in sources.items():
        w = words(text)
        for i in range(len(w) - n + 1):
            grams.setdefault(tuple(w[i : i + n]), name)
    found = []
    for label, text in texts.items():
        w = words(text)
        i = 0
        while i <= len(w) - n:
            source = grams.get(tuple(w[i : i + n]))
            if source is None:
                i += 1
                continue
            end = i + n  # extend the run while the next window is also shared
            while end < len(w) and tuple(w[end - n + 1 : end + 1]) in grams:
                end += 1
            found.append((label, source, " ".join(w[i:end])))
            i = end
    return found


def _report(found: list[tuple[str, str, str]], n: int) -> str:
    return f"{len(found)} run(s) of {n}+ words copied from the course:\n" + "\n".join(
        f"  {label}, from {source}: {run!r}" for label, source, run in found
    )


needs_course = pytest.mark.skipif(
    not course_documents(),
    reason=f"the course material is not here ({course_dir()} has no *.txt); set LABS_PY_COURSE_DIR to check",
)


@needs_course
def test_the_book_never_repeats_twelve_words_of_the_course():
    found = shared_runs(course_documents(), book_texts())
    assert not found, _report(found, RUN)


@needs_course
def test_the_coverage_page_repeats_at_most_six_words_of_the_course():
    page = (ROOT / "docs" / "seed-coverage.md").read_text(encoding="utf-8")
    found = shared_runs(
        course_documents(), {"docs/seed-coverage.md": prose(page)}, COVERAGE_RUN
    )
    assert not found, _report(found, COVERAGE_RUN)


def test_an_injected_run_is_found_and_a_shorter_one_or_code_is_not():
    source = {
        "doc.txt": "Zero one two three four five six seven eight nine ten eleven twelve thirteen."
    }
    copied = "Before it: ONE two, three four five six seven eight nine ten eleven twelve. After it."
    eleven = "one two three four five six seven eight nine ten eleven, and then something else"
    in_code = "Prose.\n\n```bash\none two three four five six seven eight nine ten eleven twelve\n```\n"
    inline = (
        "Prose `one two three four five six seven eight nine ten eleven twelve` prose."
    )
    texts = {
        name: prose(t)
        for name, t in (
            ("copied", copied),
            ("eleven", eleven),
            ("fenced", in_code),
            ("inline", inline),
        )
    }
    found = shared_runs(source, texts)
    assert found == [
        (
            "copied",
            "doc.txt",
            "one two three four five six seven eight nine ten eleven twelve",
        )
    ]


def test_directive_prose_is_kept_and_code_directives_are_not():
    md = "```{note}\nkept words here\n```\n```{code-cell} python\ndropped = 1\n```\n~~~\ndropped too\n~~~\nafter"
    assert words(prose(md)) == ["kept", "words", "here", "after"]


@needs_course
def test_a_run_copied_from_the_course_into_a_chapter_is_reported():
    docs = course_documents()
    name, text = next(iter(docs.items()))
    w = words(text)
    run = " ".join(w[200 : 200 + RUN])
    texts = book_texts()
    label = next(k for k in texts if k.startswith("notebooks/"))
    texts = {
        label: texts[label] + "\n\nA sentence lifted whole: " + run.upper() + ".\n"
    }
    found = shared_runs(docs, texts)
    assert any(lab == label and run in r for lab, _, r in found), _report(found, RUN)
