"""The built site, as a reader sees it: offline, with math, drawn plots and working controls."""

from __future__ import annotations

import json
import math
import re
from importlib import resources
from pathlib import Path

import pytest

from labs_py.book import registry

from .conftest import SITE


def axe_script() -> Path:
    """axe-core's script, as shipped inside the pinned axe-playwright-python package (requirements.txt)."""
    return Path(str(resources.files("axe_playwright_python") / "axe.min.js"))


pytestmark = pytest.mark.browser

EXTERNAL_ASSET = re.compile(
    r'<(?:script|link|img)\b[^>]*(?:src|href)="(https?:)?//', re.I
)


def site_pages() -> list[str]:
    """Every chapter and prose page of the built site."""
    if not SITE.exists():
        return []
    return sorted(
        str(p.relative_to(SITE))
        for d in ("book", "notebooks")
        for p in (SITE / d).glob("*.html")
    )


PAGES = site_pages()


def test_the_site_has_pages():
    assert "book/intro.html" in PAGES, (
        f"expected the intro in the built site; found {PAGES}"
    )
    assert any(p.startswith("notebooks/") for p in PAGES)


@pytest.mark.parametrize("path", PAGES)
def test_no_page_loads_assets_from_another_host(path):
    html = (SITE / path).read_text(encoding="utf-8")
    bad = [m.group(0) for m in EXTERNAL_ASSET.finditer(html)]
    assert not bad, f"{path} loads assets from outside the site: {bad[:3]}"


@pytest.mark.parametrize("path", PAGES)
def test_page_renders_offline_with_math_and_plots(open_page, shots_dir, path):
    visit = open_page(path)
    page = visit.page
    # MathJax is the site's own copy; wait for it to typeset
    if page.locator("div.math, span.math").count():
        page.wait_for_function(
            "window.MathJax && MathJax.startup && MathJax.startup.promise",
            timeout=20000,
        )
        page.evaluate("MathJax.startup.promise")
        assert (
            page.locator("mjx-container").count()
            >= page.locator("div.math, span.math").count()
        )
    # every figure is drawn by the site's own plotly.js
    for block in page.locator(".labs-figure").all():
        block.locator(".lx-plot .main-svg").first.wait_for(timeout=20000)
    for block in page.locator(".labs-explorable").all():
        block.locator(".lx-plot .main-svg").first.wait_for(timeout=20000)
        assert block.get_attribute("data-combo") is not None
    name = path.replace("/", "_").removesuffix(".html")
    page.screenshot(path=str(shots_dir / f"{name}.png"), full_page=False)
    assert visit.errors == [], f"{path} threw: {visit.errors}"
    assert visit.external == [], f"{path} asked for outside resources: {visit.external}"
    assert visit.console == [], f"{path} logged errors or warnings: {visit.console}"


def _explorable_pages() -> list[str]:
    return [
        p
        for p in PAGES
        if 'class="labs-explorable"' in (SITE / p).read_text(encoding="utf-8")
    ]


def _dom_state(block) -> dict:
    """Control indices, plot data and readout as the page shows them."""
    return block.evaluate(
        """root => ({
            combo: root.getAttribute('data-combo'),
            indices: Array.from(root.querySelectorAll('[data-control]')).map(el => Number(el.value)),
            data: root.querySelector('.lx-plot').data.map(t => ({x: t.x, y: t.y, z: t.z, text: t.text})),
            readout: Object.fromEntries(Array.from(root.querySelectorAll('[data-readout]'))
                                        .map(el => [el.getAttribute('data-readout'), el.textContent])),
        })"""
    )


def _close(a, b) -> bool:
    """Plot arrays match labs_py's within the 6 significant digits the page stores
    (half a unit in the 6th digit: 5e-6 relative)."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=6e-6, abs_tol=1e-12)
    return a == b


def _assert_matches_labs_py(block, state: dict) -> None:
    key = block.get_attribute("data-key")
    ex = registry.build(key, **json.loads(block.get_attribute("data-kwargs")))
    values = {c.name: c.values[i] for c, i in zip(ex.controls, state["indices"])}
    expected_readout = ex.readout(**values)
    assert state["readout"] == expected_readout, (
        f"{key} at {values}: page shows {state['readout']}"
    )
    spec = ex.spec(**values)
    assert len(spec["data"]) == len(state["data"])
    for i, (want, got) in enumerate(zip(spec["data"], state["data"])):
        for axis in ("x", "y", "z"):
            if axis in want:
                assert _close(json.loads(json.dumps(want[axis])), got[axis]), (
                    f"{key} trace {i} {axis} at {values}"
                )


def _move(page, block, control, index: int, target: int) -> None:
    """Move one control from ``index`` to the neighbouring ``target``, with the keyboard for sliders,
    and wait until the page has replotted."""
    combo = block.get_attribute("data-combo")
    if control.evaluate("el => el.tagName") == "SELECT":
        control.select_option(value=str(target))
    else:
        control.focus()
        control.press("ArrowRight" if target > index else "ArrowLeft")
    page.wait_for_function(
        "([el, c]) => el.getAttribute('data-combo') !== c",
        arg=[block.element_handle(), combo],
        timeout=10000,
    )


@pytest.mark.parametrize("path", _explorable_pages())
def test_every_control_moves_its_plot_and_shows_labs_py_values(
    open_page, shots_dir, path
):
    visit = open_page(path)
    page = visit.page
    blocks = page.locator(".labs-explorable").all()
    assert blocks
    for b, block in enumerate(blocks):
        block.locator(".lx-plot .main-svg").first.wait_for(timeout=20000)
        block.scroll_into_view_if_needed()
        start = _dom_state(block)
        _assert_matches_labs_py(block, start)
        controls = block.locator("[data-control]").all()
        for c, control in enumerate(controls):
            before = _dom_state(block)
            n = int(
                control.evaluate(
                    "el => el.tagName === 'SELECT' ? el.options.length : Number(el.max) + 1"
                )
            )
            if n < 2:
                continue
            index = before["indices"][c]
            target = index + 1 if index + 1 < n else index - 1
            _move(page, block, control, index, target)
            after = _dom_state(block)
            assert after["indices"][c] == target
            assert after["data"] != before["data"], (
                f"{block.get_attribute('data-key')}: moving {control.get_attribute('data-control')} "
                "did not change the plot"
            )
            _assert_matches_labs_py(block, after)
            _move(
                page, block, control, target, index
            )  # back to the default, so each control is tested from it
            assert _dom_state(block)["data"] == before["data"]
        name = path.replace("/", "_").removesuffix(".html")
        block.screenshot(path=str(shots_dir / f"{name}_explorable{b}.png"))
    assert visit.errors == [] and visit.external == []


def test_sliders_are_reachable_and_operable_from_the_keyboard(open_page):
    pages = _explorable_pages()
    if not pages:
        pytest.skip("no page with interactive figures")
    visit = open_page(pages[0])
    page = visit.page
    first = page.locator(".labs-explorable").first
    slider = first.locator('input[type="range"]').first
    slider.focus()
    assert page.evaluate("document.activeElement.type") == "range"
    combo = first.get_attribute("data-combo")
    page.keyboard.press("ArrowLeft")
    page.wait_for_function(
        "([el, c]) => el.getAttribute('data-combo') !== c",
        arg=[first.element_handle(), combo],
        timeout=10000,
    )
    # the slider announces its value, not its index
    assert not slider.get_attribute("aria-valuetext").isdigit()


@pytest.mark.parametrize("path", PAGES)
def test_page_has_no_serious_accessibility_violations(open_page, path):
    """axe-core (pinned in requirements.txt, injected by the test, not served by the site) finds no
    serious or critical WCAG violation once the figures are drawn."""
    axe = axe_script()
    assert axe.exists(), (
        f"{axe} is missing: install requirements.txt (tools/setup.sh does)"
    )
    visit = open_page(path)
    page = visit.page
    for block in page.locator(".labs-explorable, .labs-figure").all():
        block.locator(".lx-plot .main-svg").first.wait_for(timeout=20000)
    page.add_script_tag(path=str(axe))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    serious = [
        (v["id"], v["help"], [n["target"] for n in v["nodes"][:3]])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == [], f"{path}: {serious}"


@pytest.mark.parametrize("path", [p for p in PAGES if p.startswith("notebooks/")])
def test_chapter_offers_its_notebook_for_download_and_launch_buttons(path):
    html = (SITE / path).read_text(encoding="utf-8")
    name = Path(path).with_suffix(".ipynb").name
    source = SITE / "_sources" / "notebooks" / name
    assert f"_sources/notebooks/{name}" in html and source.exists(), (
        f"no downloadable {name}"
    )
    assert json.loads(source.read_text())["nbformat"] == 4
    for launcher in (
        "mybinder.org/v2/gh/",
        "colab.research.google.com/github/",
        "/hub/user-redirect/git-pull",
    ):
        assert launcher in html, f"{path} has no {launcher} launch button"
