"""The instructor's path: the chapters open in plain Jupyter (notebook 7) and the panels replot live.

This starts the Jupyter of ``.venv-live`` (``tools/live.sh`` installs it) on 127.0.0.1,
opens the economics chapter in headless Chromium with the network off, runs all
cells, then drags a slider of the first panel and checks that the plot and the
readout changed. It also checks that the chapter's MyST markup (roles, math,
directives) is rendered by jupyterlab-myst, never shown as raw text. It needs no
GPU and no model download.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.browser.conftest import CHROMIUM_ARGS, chromium_path

pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parents[2]
JUPYTER = ROOT / ".venv-live" / "bin" / "jupyter"
TOKEN = "book-live-test"
CHAPTER = "disaggregation_trade.ipynb"
# Errors of Jupyter's own frontend, not ours, matched in a page error's message or stack:
KNOWN_FRONTEND_NOISE = (
    # Notebook 7.6 throws this while loading its own settings, before any cell runs.
    "Cannot read properties of undefined (reading 'schema')",
    # The cell toolbar measures an active markdown cell's rendered input, which jupyterlab-myst
    # renders asynchronously: Run All makes one cell active before it is rendered. Harmless.
    "_markdownOverlapsToolbar",
)
# MyST that Jupyter shows verbatim unless jupyterlab-myst renders it: a role, a directive's fence or
# option, a math delimiter. None of these may be visible in a rendered markdown cell.
RAW_MYST = r"\{(doc|term|cite|ref|numref|eq|math)[:}]|```|:::|:label:|:class:|\$"
# a markdown cell's rendered part (jupyterlab-myst's widget, or JupyterLab's own renderer if the
# extension failed to load): everything in the input area but the prompt, the editor, a cell toolbar
RENDERED_MD = (
    ".jp-MarkdownCell .jp-InputArea"
    " > :not(.jp-InputPrompt):not(.jp-Editor):not(.jp-Toolbar)"
)
# the visible text of those, without KaTeX's hidden MathML copy (it holds the TeX source)
VISIBLE_MD_TEXT = (
    "sel => Array.from(document.querySelectorAll(sel)).map(e => {"
    " const c = e.cloneNode(true); c.querySelectorAll('.katex-mathml').forEach(m => m.remove());"
    " return c.textContent; })"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def jupyter_url(tmp_path_factory):
    if not JUPYTER.exists():
        pytest.fail(
            f"{JUPYTER} is missing; run tools/live.sh once (tools/test.sh installs it)"
        )
    port = _free_port()
    runtime = tmp_path_factory.mktemp("jupyter-runtime")
    env = {
        **os.environ,
        "JUPYTER_RUNTIME_DIR": str(runtime),
        "JUPYTER_CONFIG_DIR": str(runtime / "config"),
    }
    # a plain Jupyter kernel starts in the live display mode (labs_py.book.display), as an instructor gets it
    # Jupyter autosaves what it runs, so it gets a copy of the chapters, never the repository's files
    workdir = tmp_path_factory.mktemp("chapters")
    shutil.copy2(ROOT / "notebooks" / CHAPTER, workdir / CHAPTER)
    args = [
        str(JUPYTER),
        "notebook",
        "--no-browser",
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        f"--IdentityProvider.token={TOKEN}",
        "--notebook-dir",
        str(workdir),
        "--ServerApp.disable_check_xsrf=False",
    ]
    if os.geteuid() == 0:
        args.append("--allow-root")
    log = open(runtime / "server.log", "w")
    proc = subprocess.Popen(
        args, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2)
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(
                    f"Jupyter exited: {(runtime / 'server.log').read_text()[-2000:]}"
                )
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("Jupyter did not answer within 60 s")
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def test_chapter_runs_live_and_a_slider_replots(jupyter_url, tmp_path):
    from playwright.sync_api import sync_playwright

    external: list[str] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1300, "height": 1000})
        context.route(
            "**/*",
            lambda r: (
                r.continue_()
                if r.request.url.startswith("http://127.0.0.1")
                else (external.append(r.request.url), r.abort())
            ),
        )
        page = context.new_page()
        page.on("pageerror", lambda e: errors.append(f"{e}\n{e.stack or ''}"))
        page.goto(
            f"{jupyter_url}/notebooks/{CHAPTER}?token={TOKEN}", wait_until="networkidle"
        )
        # the kernel must be up before "Run All" is worth clicking (on a busy machine it takes a while)
        page.wait_for_selector(
            '.jp-Notebook-ExecutionIndicator[data-status="idle"]', timeout=180_000
        )
        all_ran = (
            "() => { const p = Array.from(document.querySelectorAll('.jp-CodeCell .jp-InputPrompt'));"
            " return p.length > 0 && p.every(e => /\\[\\d+\\]/.test(e.textContent)); }"
        )
        started = (
            "() => Array.from(document.querySelectorAll('.jp-CodeCell .jp-InputPrompt'))"
            ".some(e => /\\[[*\\d]/.test(e.textContent))"
        )
        for _attempt in range(
            3
        ):  # a click that lands while the menu is still being built is lost; try again
            page.get_by_role("menuitem", name="Run").first.click()
            page.get_by_text("Run All Cells", exact=True).first.click()
            try:
                page.wait_for_function(started, timeout=20_000)
                break
            except Exception:
                page.keyboard.press("Escape")
        else:
            pytest.fail("Run All Cells never started executing the chapter")
        page.wait_for_function(
            all_ran, timeout=600_000
        )  # no cell queued or running ([*])
        plots = page.locator(".js-plotly-plot")
        plots.first.wait_for(timeout=60_000)
        assert plots.count() >= 6, (
            f"expected every panel and figure drawn, found {plots.count()} plotly plots"
        )

        # the first panel: the code cell that holds the first live readout (static figures
        # drawn earlier in the chapter have no controls, so they are not "the first plot")
        panel = page.locator(".jp-CodeCell", has=page.locator(".lx-readout-live")).first
        first = panel.locator(".js-plotly-plot").first
        first.scroll_into_view_if_needed()
        before = first.evaluate("d => JSON.stringify(d.data.map(t => t.y))")
        readout_before = panel.locator(".lx-readout-live").first.inner_text()
        handle = panel.locator(".widget-hslider .noUi-handle").first
        box = handle.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + 70, box["y"] + box["height"] / 2, steps=6)
        page.mouse.up()
        page.wait_for_function(
            "([d, b]) => JSON.stringify(d.data.map(t => t.y)) !== b",
            arg=[first.element_handle(), before],
            timeout=20_000,
        )
        assert panel.locator(".lx-readout-live").first.inner_text() != readout_before
        page.screenshot(
            path=str(ROOT / "_build" / "screenshots" / "live_jupyter_after_slider.png")
        )
        _check_myst_rendered(page)
        browser.close()
    ours = [e for e in errors if not any(noise in e for noise in KNOWN_FRONTEND_NOISE)]
    assert ours == [], f"the live notebook threw: {ours}"
    assert external == [], (
        f"the live notebook asked for outside resources: {external[:5]}"
    )


def _check_myst_rendered(page) -> None:
    """The chapter's markdown as jupyterlab-myst renders it: no raw MyST, elements instead."""
    cells = json.loads((ROOT / "notebooks" / CHAPTER).read_text())["cells"]
    markdown = ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]
    # Run All has scrolled past every cell, so each markdown cell has been rendered
    md = page.locator(".jp-MarkdownCell .myst")
    try:
        page.wait_for_function(
            "n => document.querySelectorAll('.jp-MarkdownCell .myst').length >= n",
            arg=len(markdown),
            timeout=30_000,
        )
    except Exception:
        pytest.fail(
            f"jupyterlab-myst rendered {md.count()} of the {len(markdown)} markdown cells"
        )
    texts = page.evaluate(VISIBLE_MD_TEXT, RENDERED_MD)
    assert len(texts) == len(markdown), (
        f"{len(markdown)} markdown cells, {len(texts)} rendered"
    )
    raw = [
        t[max(m.start() - 40, 0) : m.end() + 40]
        for t in texts
        for m in re.finditer(RAW_MYST, t)
    ]
    assert raw == [], f"raw MyST visible in the rendered markdown: {raw[:5]}"

    # {term}: a glossary link, not the role's text
    assert md.first.locator("a", has_text="interference tax").count() == 1
    # {doc}: a link to the other chapter
    assert md.locator("a", has_text=re.compile(r"^interference$")).count() >= 1
    # {cite}: an element of its own holding the key (no bibliography is loaded live)
    key = re.compile(r"^course-lab15-03$")
    assert md.first.locator(":not(code)", has_text=key).count() == 1
    # math: every $$ block typeset by KaTeX as a display equation, and inline math typeset too
    displays = sum(t.count("$$") for t in markdown) // 2
    assert md.locator(".katex-display").count() == displays
    assert md.locator(".katex:not(.katex-display .katex)").count() >= 1
    # exercise-start/-end in one cell: a titled exercise box holding the question
    exercise = md.locator(".myst-exercise", has_text="How many MiB of KV cache")
    assert exercise.count() == 1
    assert exercise.text_content().startswith("Exercise 1")
    exercise.scroll_into_view_if_needed()
    page.screenshot(path=str(ROOT / "_build" / "screenshots" / "live_jupyter_myst.png"))
