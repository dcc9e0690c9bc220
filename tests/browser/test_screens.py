"""Every screen a reader uses: a phone, a tablet, a projector and a desktop, and paper.

At each width, every figure of every page is drawn and its text measured: no two text
boxes of one figure may overlap (titles, axis titles, tick labels of different axes,
legend, annotations), no text may be clipped by the figure's edge, the page must not
scroll sideways, and no text the 1,280 px figure shows may be missing (wrapping a title
over two lines is fine; dropping a word is not). Printed, a chapter shows each figure as it
stands with the values that made it and its readout, and hides the controls.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import SITE
from .test_site import site_pages

pytestmark = pytest.mark.browser

#: A phone, a tablet, a 1,024 x 768 projector and the desktop the book was designed on.
WIDTHS = (390, 768, 1024, 1280)
TEXT_BOXES = (Path(__file__).parent / "text_boxes.js").read_text(encoding="utf-8")


def figure_pages() -> list[str]:
    """Every page with figures, but the instructors' deck: its figures are the chapters' own
    (the same explorables, drawn by the same code at the same widths), and presenter mode has its
    own test at a projector's size."""
    return [
        p
        for p in site_pages()
        if not p.endswith("/presentation.html")
        and re.search(
            r'class="labs-(explorable|figure)"', (SITE / p).read_text(encoding="utf-8")
        )
    ]


def _words(texts: list[str]) -> list[str]:
    """The words of a figure's text, however it is wrapped."""
    return sorted(w for t in texts for w in t.split())


def _measure(page, path: str) -> list[dict]:
    html = (SITE / path).read_text(encoding="utf-8")
    expected = len(re.findall(r'class="labs-(?:explorable|figure)"', html))
    # every block of the page's HTML is in the document before any is measured
    page.wait_for_function(
        f"document.querySelectorAll('.labs-explorable, .labs-figure').length >= {expected}",
        timeout=20000,
    )
    out = []
    for block in page.locator(".labs-explorable, .labs-figure").all():
        block.locator(".lx-plot .main-svg").first.wait_for(timeout=20000)
        # a figure settles (measures its own text once) right after it is first drawn
        page.wait_for_function(
            "b => b.getAttribute('data-combo') !== null || b.getAttribute('data-drawn') === 'true'",
            arg=block.element_handle(),
            timeout=20000,
        )
        page.wait_for_timeout(50)
        report = block.locator(".lx-plot").evaluate(TEXT_BOXES)
        report["name"] = block.get_attribute("data-key") or block.get_attribute("id")
        out.append(report)
    return out


@pytest.mark.parametrize("path", figure_pages())
def test_every_figure_fits_every_screen(open_page, shots_dir, path):
    by_width: dict[int, list[dict]] = {}
    problems: list[str] = []
    for width in WIDTHS:
        visit = open_page(path, width=width, height=900 if width > 400 else 844)
        page = visit.page
        by_width[width] = figures = _measure(page, path)
        for fig in figures:
            for o in fig["overlaps"]:
                problems.append(f"{width}px {fig['name']}: overlap {o}")
            for c in fig["clipped"]:
                problems.append(f"{width}px {fig['name']}: clipped {c}")
        scroll, client = page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        if scroll > client + 1:
            problems.append(
                f"{width}px: the page scrolls sideways ({scroll} > {client} px)"
            )
        name = path.replace("/", "_").removesuffix(".html")
        (shots_dir / f"w{width}").mkdir(exist_ok=True)
        # the phone's whole page (every figure, stacked); the wider screens' first view
        page.screenshot(
            path=str(shots_dir / f"w{width}" / f"{name}.png"), full_page=width < 500
        )
        assert visit.errors == [], f"{path} at {width}px threw: {visit.errors}"
    wide = by_width[max(WIDTHS)]
    for width, figures in by_width.items():
        assert len(figures) == len(wide)
        for fig, ref in zip(figures, wide):
            missing = set(_words(ref["texts"])) - set(_words(fig["texts"]))
            if missing:
                problems.append(
                    f"{width}px {fig['name']}: text of the wide figure missing: {sorted(missing)[:8]}"
                )
    assert problems == [], f"{path}:\n  " + "\n  ".join(problems[:30])


@pytest.mark.parametrize(
    "path",
    [p for p in site_pages() if not p.startswith("notebooks/")]
    + ["notebooks/presentation.html"],
)
def test_prose_pages_do_not_scroll_sideways_on_a_phone(open_page, path):
    page = open_page(path, width=390, height=844).page
    scroll, client = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert scroll <= client + 1, (
        f"{path} scrolls sideways on a phone: {scroll} > {client} px"
    )


def test_controls_are_touch_sized_on_a_phone(open_page):
    page = open_page("notebooks/disaggregation_trade.html", width=390, height=844).page
    sizes = page.evaluate(
        """() => Array.from(document.querySelectorAll('.labs-explorable [data-control]'))
             .map(el => el.getBoundingClientRect().height)"""
    )
    assert sizes and min(sizes) >= 44, (
        f"controls shorter than 44 px on a phone: {sizes}"
    )
    wide = open_page("notebooks/disaggregation_trade.html", width=1280).page
    assert wide.locator(".labs-explorable .lx-controls").first.is_visible()


def test_a_printed_chapter_shows_each_figure_as_it_stands(open_page, shots_dir):
    page = open_page("notebooks/disaggregation_trade.html").page
    block = page.locator(".labs-explorable").first
    block.locator(".lx-plot .main-svg").first.wait_for(timeout=20000)
    slider = block.locator('input[type="range"]').first
    combo = block.get_attribute("data-combo")
    slider.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "([el, c]) => el.getAttribute('data-combo') !== c",
        arg=[block.element_handle(), combo],
        timeout=10000,
    )
    moved = slider.get_attribute("aria-valuetext")
    readout = block.locator("output.lx-readout").inner_text()
    page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    page.emulate_media(media="print")
    for b in page.locator(".labs-explorable").all():
        assert not b.locator(".lx-controls").is_visible(), "controls are printed"
        assert b.locator(".lx-plot .main-svg").first.is_visible(), (
            "a figure is not printed"
        )
        assert b.locator("output.lx-readout").is_visible(), "a readout is not printed"
        assert b.evaluate("el => getComputedStyle(el).breakInside") == "avoid"
    state = block.locator(".lx-state")
    assert state.is_visible()
    label = block.locator(".lx-control label").first.inner_text()
    assert f"{label}: {moved}" in state.inner_text(), state.inner_text()
    assert (
        block.locator("output.lx-readout").inner_text() == readout
    )  # the state it was left in
    page.screenshot(
        path=str(shots_dir / "print_disaggregation_trade.png"), full_page=False
    )
    pdf = page.pdf(format="A4")
    assert pdf[:4] == b"%PDF" and len(pdf) > 50_000
