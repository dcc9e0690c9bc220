"""A Sphinx extension that makes the built book self-contained and sets the display mode.

What it does:

* runs every chapter in a kernel that starts in the static display mode
  (:mod:`labs_py.book.display`), so that every explorable and figure renders its
  kernel-free HTML: it writes that kernel's spec under ``_build/kernels`` and
  tells MyST-NB to use it in place of the notebooks' ``python3``;
* copies the JavaScript the pages need into ``_static/labs/`` of the built site:
  ``plotly.min.js`` from the pinned plotly package, the book's own
  ``explorable.js``/``.css``, and MathJax 3 from the pinned ``sphinx-mathjax-offline``
  package (its files only: that package is not loaded as an extension);
* adds plotly.js and explorable.js only to the pages that have a figure, so
  pages without figures stay light;
* adds presenter mode to those pages (``presenter.js``/``.css``: one figure at a
  time, full screen, from the keyboard), and tells each page, in two ``<meta>``
  tags, the previous and next page in the book's order that have figures, so
  the arrow keys can step on into the neighbouring chapter.

Nothing is loaded from a CDN: ``mathjax_path`` in ``_config.yml`` points at the
copy under ``_static/labs/mathjax``.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import sys
from importlib import resources
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

STATIC_SUBDIR = "labs"
#: The parts of the MathJax 3 package the site serves: the combined TeX/MathML
#: component, and what it loads on demand (TeX extensions, fonts, menu, a11y).
MATHJAX_PARTS = (
    "tex-mml-chtml.js",
    "input",
    "output/chtml",
    "ui",
    "a11y",
    "sre",
    "adaptors",
)
MARKERS = ('class="labs-explorable"', 'class="labs-figure"')
#: The book's own assets, copied from ``labs_py/book/assets`` into ``_static/labs/``
#: (book.css goes to every page; the others to pages with figures).
ASSETS = (
    "explorable.js",
    "explorable.css",
    "presenter.js",
    "presenter.css",
    "book.css",
)
#: The instructors' deck: in presenter mode it is a sequence of its own (its figures are the
#: chapters' key figures), so the chapters do not step into it, nor it into them.
PRESENTER_DECK = "notebooks/presentation"


def plotly_js_path() -> Path:
    """The ``plotly.min.js`` shipped inside the installed plotly package.

    Taught in: no chapter: the book's machinery (docs/architecture.md).
    """
    path = Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))
    if not path.exists():
        raise ExtensionError(
            f"plotly.min.js not found at {path}; is plotly installed from requirements.txt?"
        )
    return path


#: The pinned PyPI package that ships MathJax's ``es5`` tree (requirements.txt); its
#: import name has hyphens, so importlib looks it up by name (no import statement can).
MATHJAX_PACKAGE = "sphinx-mathjax-offline"


def mathjax_dir() -> Path:
    """MathJax's ``es5`` folder, as shipped inside the installed ``sphinx-mathjax-offline`` package.

    Taught in: no chapter: the book's machinery (docs/architecture.md).
    """
    try:
        path = Path(str(resources.files(MATHJAX_PACKAGE) / "static" / "mathjax"))
    except ModuleNotFoundError:
        path = None
    if path is None or not (path / "tex-mml-chtml.js").exists():
        raise ExtensionError(
            f"MathJax not found in the Python package {MATHJAX_PACKAGE}: install the pinned "
            "requirements.txt (the README's setup command does) so the book can serve its own MathJax."
        )
    return path


def _copy_assets(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    dest = Path(app.outdir) / "_static" / STATIC_SUBDIR
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(plotly_js_path(), dest / "plotly.min.js")
    assets = resources.files("labs_py.book") / "assets"
    for name in ASSETS:
        shutil.copy2(str(assets / name), dest / name)
    mj = mathjax_dir()
    for part in MATHJAX_PARTS:
        src = mj / part
        target = dest / "mathjax" / part
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, target, dirs_exist_ok=True)
        else:
            shutil.copy2(src, target)


def _add_page_assets(
    app: Sphinx, pagename: str, templatename: str, context: dict, doctree
) -> None:
    body = context.get("body", "")
    if any(marker in body for marker in MARKERS):
        app.add_js_file(f"{STATIC_SUBDIR}/plotly.min.js", priority=600)
        app.add_js_file(
            f"{STATIC_SUBDIR}/explorable.js", priority=601, loading_method="defer"
        )
        app.add_css_file(f"{STATIC_SUBDIR}/explorable.css")
        app.add_js_file(
            f"{STATIC_SUBDIR}/presenter.js", priority=602, loading_method="defer"
        )
        app.add_css_file(f"{STATIC_SUBDIR}/presenter.css")
        context["metatags"] = context.get("metatags", "") + _presenter_links(
            app, pagename
        )


def _presenter_cache(app: Sphinx) -> dict:
    """What presenter mode's links are worked out from, kept for the rest of the build: the
    book's order (docname -> [parent, previous, next], as for the theme's links) and, per page,
    whether it has figures."""
    if not hasattr(app, "_labs_presenter"):
        app._labs_presenter = {"relations": app.env.collect_relations(), "figures": {}}
    return app._labs_presenter


def _has_figures(app: Sphinx, docname: str) -> bool:
    """Whether a page of the book shows a figure, read from its doctree."""
    figures = _presenter_cache(app)["figures"]
    if docname not in figures:
        doctree = app.env.get_doctree(docname)
        figures[docname] = any(
            marker in node.astext()
            for node in doctree.findall(nodes.raw)
            for marker in MARKERS
        )
    return figures[docname]


def _presenter_neighbour(app: Sphinx, pagename: str, step: int) -> str | None:
    """The nearest page before (``step=1``) or after (``step=2``) this one in the book's order
    that has figures: the order of the theme's previous/next links, skipping pages without
    figures and the instructors' deck."""
    relations = _presenter_cache(app)["relations"]
    doc = relations.get(pagename, [None, None, None])[step]
    while doc is not None:
        if doc != PRESENTER_DECK and _has_figures(app, doc):
            return doc
        doc = relations.get(doc, [None, None, None])[step]
    return None


def _presenter_links(app: Sphinx, pagename: str) -> str:
    """``<meta name="labs-present-prev|next">`` tags for presenter mode: where the left arrow
    goes from the first figure, and the right arrow from the last."""
    if pagename == PRESENTER_DECK:
        return ""
    tags = []
    for name, step in (("prev", 1), ("next", 2)):
        doc = _presenter_neighbour(app, pagename, step)
        if doc is None:
            continue
        url = html.escape(app.builder.get_relative_uri(pagename, doc))
        title = (
            html.escape(app.env.titles[doc].astext()) if doc in app.env.titles else ""
        )
        tags.append(
            f'<meta name="labs-present-{name}" content="{url}" data-title="{title}" />'
        )
    return "\n".join(tags) + "\n" if tags else ""


def _dedupe_inline_scripts(
    app: Sphinx, pagename: str, templatename: str, context: dict, doctree
) -> None:
    """Drop repeated inline scripts from the page.

    Under Sphinx 7.4 an inline script that an extension adds after the builder
    starts is registered twice, once with filename ``None`` and once with ``""``,
    which compare unequal; Jupyter Book 1.0.4 pages then declare sphinx-thebe's
    ``const THEBE_JS_URL`` twice, and the second declaration throws in the browser.
    """
    seen: set = set()
    unique = []
    for js in context.get("script_files", []):
        key = (js.filename or "", js.priority, tuple(sorted(js.attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    context["script_files"][:] = unique


def _fix_bibliography_roles(
    app: Sphinx, pagename: str, templatename: str, context: dict, doctree
) -> None:
    """Give bibliography entries the ARIA role their list requires.

    docutils renders a citation list as ``role="list"`` whose entries carry
    ``role="doc-biblioentry"``, a role DPUB-ARIA 1.1 deprecated; screen readers (and
    axe-core) then see a list without list items. The entries are list items.
    """
    body = context.get("body", "")
    if 'role="doc-biblioentry"' in body:
        context["body"] = body.replace('role="doc-biblioentry"', 'role="listitem"')


#: The kernel the book build runs chapters in: Python, started in the static display mode.
STATIC_KERNEL = "labs-py-static"
STATIC_STARTUP = "__import__('labs_py.book.display', fromlist=['use']).use('static')"


def static_kernel_spec() -> dict:
    """The kernel spec of :data:`STATIC_KERNEL`: this Python, with the static mode set at start-up.

    Taught in: no chapter: the book's machinery (docs/architecture.md).
    """
    return {
        "argv": [
            sys.executable,
            "-m",
            "ipykernel_launcher",
            "-f",
            "{connection_file}",
            f"--IPKernelApp.exec_lines={STATIC_STARTUP}",
        ],
        "display_name": "Python 3 (labs_py, static site)",
        "language": "python",
    }


def install_static_kernel(kernels_root: Path) -> Path:
    """Write the static kernel's spec under ``kernels_root/kernels/`` and put it on Jupyter's search path.

    Taught in: no chapter: the book's machinery (docs/architecture.md).
    """
    kdir = kernels_root / "kernels" / STATIC_KERNEL
    kdir.mkdir(parents=True, exist_ok=True)
    (kdir / "kernel.json").write_text(
        json.dumps(static_kernel_spec(), indent=1), encoding="utf-8"
    )
    paths = [str(kernels_root)] + [
        p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p
    ]
    os.environ["JUPYTER_PATH"] = os.pathsep.join(dict.fromkeys(paths))
    return kdir


def _use_static_kernel(app: Sphinx, config) -> None:
    install_static_kernel(Path(app.doctreedir).parent)
    config.nb_kernel_rgx_aliases = {"python3": STATIC_KERNEL}


def _quiet_console(app: Sphinx, config) -> None:
    """Give every page what the browser asks for, so the console stays clean.

    * a favicon (without one, the browser's request for ``/favicon.ico`` is a 404 error);
    * the theme's colour mode: left empty, the theme logs "invalid theme mode" on every page.
      Light, because the figures are drawn on white.
    """
    if not config.html_favicon:
        config.html_favicon = str(
            resources.files("labs_py.book") / "assets" / "favicon.svg"
        )
    # the theme's page template reads ``default_mode`` from the page context
    context = dict(config.html_context or {})
    context.setdefault("default_mode", "light")
    config.html_context = context


def _check_mathjax(app: Sphinx) -> None:
    mathjax_dir()  # fail early, before notebooks run, with the fix in the message


def setup(app: Sphinx) -> dict:
    """Register the extension: the static kernel, the page assets and their fixes, the asset copy.

    Taught in: no chapter: the book's machinery (docs/architecture.md).
    """
    app.connect("config-inited", _use_static_kernel)
    app.connect("config-inited", _quiet_console)
    app.connect("builder-inited", _check_mathjax)
    app.add_css_file(
        f"{STATIC_SUBDIR}/book.css"
    )  # every page: narrow screens and print
    app.connect("html-page-context", _add_page_assets)
    app.connect("html-page-context", _dedupe_inline_scripts, priority=900)
    app.connect("html-page-context", _fix_bibliography_roles)
    app.connect("build-finished", _copy_assets)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
