"""Presenter mode's links between chapters, as the Sphinx extension writes them into each page."""

from __future__ import annotations

from types import SimpleNamespace

from docutils import nodes
from docutils.utils import new_document

from labs_py.book import sphinx as ext

#: A small book in reading order; the pages with figures are marked.
ORDER = [
    "book/intro",
    "notebooks/a",  # figures
    "book/aside",
    "notebooks/b",  # figures
    "book/instructors",
    ext.PRESENTER_DECK,  # figures, but a sequence of its own
    "book/glossary",
]
WITH_FIGURES = {"notebooks/a", "notebooks/b", ext.PRESENTER_DECK}


def _doctree(docname: str):
    doc = new_document(docname)
    html = (
        '<div class="labs-explorable" id="x"></div>'
        if docname in WITH_FIGURES
        else "<p>prose</p>"
    )
    doc += nodes.raw("", html, format="html")
    return doc


def _app():
    relations = {
        doc: [
            None,
            ORDER[i - 1] if i else None,
            ORDER[i + 1] if i + 1 < len(ORDER) else None,
        ]
        for i, doc in enumerate(ORDER)
    }
    env = SimpleNamespace(
        collect_relations=lambda: relations,
        get_doctree=_doctree,
        titles={doc: nodes.title("", doc.split("/")[-1].title()) for doc in ORDER},
    )
    builder = SimpleNamespace(get_relative_uri=lambda here, there: f"../{there}.html")
    return SimpleNamespace(env=env, builder=builder)


def test_chapters_link_to_the_nearest_pages_with_figures():
    app = _app()
    a = ext._presenter_links(app, "notebooks/a")
    assert 'name="labs-present-next" content="../notebooks/b.html" data-title="B"' in a
    assert "labs-present-prev" not in a  # the intro has no figures
    b = ext._presenter_links(app, "notebooks/b")
    assert 'name="labs-present-prev" content="../notebooks/a.html"' in b
    assert (
        "labs-present-next" not in b
    )  # the deck is skipped, and nothing follows it with figures


def test_the_deck_links_nowhere():
    assert ext._presenter_links(_app(), ext.PRESENTER_DECK) == ""
