"""A Sphinx extension that makes the built book self-contained and sets the display mode.

What it does:

* runs every chapter in a kernel that starts in the static display mode
  (:mod:`labs_py.book.display`), so that every explorable and figure renders its
  kernel-free HTML: it writes that kernel's spec under ``_build/kernels`` and
  tells MyST-NB to use it in place of the notebooks' ``python3``;
* copies the JavaScript the pages need into ``_static/labs/`` of the built site:
  ``plotly.min.js`` from the pinned plotly package, the book's own
  ``explorable.js``/``.css``, and MathJax 3 from ``node_modules`` (installed by
  the README's setup command from the pinned ``package.json``);
* adds plotly.js and explorable.js only to the pages that have a figure, so
  pages without figures stay light.

Nothing is loaded from a CDN: ``mathjax_path`` in ``_config.yml`` points at the
copy under ``_static/labs/mathjax``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from importlib import resources
from pathlib import Path

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


def mathjax_dir(srcdir: Path) -> Path:
    """MathJax's ``es5`` folder in ``node_modules`` next to the book's sources.

    Taught in: no chapter: the book's machinery (docs/architecture.md).
    """
    path = srcdir / "node_modules" / "mathjax" / "es5"
    if not (path / "tex-mml-chtml.js").exists():
        raise ExtensionError(
            f"MathJax is not installed at {path}. Run `npm ci` in the repository root "
            "(the README's setup command does this) so the book can serve its own MathJax."
        )
    return path


def _copy_assets(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    dest = Path(app.outdir) / "_static" / STATIC_SUBDIR
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(plotly_js_path(), dest / "plotly.min.js")
    assets = resources.files("labs_py.book") / "assets"
    for name in ("explorable.js", "explorable.css"):
        shutil.copy2(str(assets / name), dest / name)
    mj = mathjax_dir(Path(app.srcdir))
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


def _check_mathjax(app: Sphinx) -> None:
    mathjax_dir(
        Path(app.srcdir)
    )  # fail early, before notebooks run, with the fix in the message


def setup(app: Sphinx) -> dict:
    """Register the extension: the static kernel, the page assets and their fixes, the asset copy.

    Taught in: no chapter: the book's machinery (docs/architecture.md).
    """
    app.connect("config-inited", _use_static_kernel)
    app.connect("builder-inited", _check_mathjax)
    app.connect("html-page-context", _add_page_assets)
    app.connect("html-page-context", _dedupe_inline_scripts, priority=900)
    app.connect("html-page-context", _fix_bibliography_roles)
    app.connect("build-finished", _copy_assets)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
