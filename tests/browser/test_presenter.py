"""Presenter mode on the built site, at a projector's 1,024 x 768, offline, from the keyboard alone.

labs_py/book/assets/presenter.js shows one figure at a time on a full-window panel; these tests
step through the instructors' deck (notebooks/presentation), move a slider on the panel, leave,
and step from one chapter into the next and back.
"""

from __future__ import annotations

import json
from urllib.parse import urlparse

import pytest

from .conftest import SITE

pytestmark = pytest.mark.browser

WIDTH, HEIGHT = 1024, 768
DECK = "notebooks/presentation.html"
FIRST_CHAPTER = "notebooks/why_split.html"

#: What the page shows of presenter mode, read in one go.
STATE = """() => {
    const panel = document.querySelector('.lx-presenter');
    const open = !!panel && !panel.hidden;
    const stage = open ? panel.querySelector('.lx-presenter-stage') : null;
    const blocks = stage ? stage.querySelectorAll('.labs-explorable, .labs-figure') : [];
    const block = blocks[0] || null;
    const plot = block ? block.querySelector('.lx-plot') : null;
    const rect = el => { const r = el.getBoundingClientRect();
                         return {x: r.x, y: r.y, width: r.width, height: r.height, bottom: r.bottom}; };
    return {
        open,
        index: open ? Number(panel.getAttribute('data-index')) : 0,
        count: open ? panel.querySelector('.lx-presenter-count').textContent : '',
        heading: open ? panel.querySelector('.lx-presenter-heading').textContent : '',
        status: open ? panel.querySelector('.lx-presenter-status').textContent : '',
        onStage: blocks.length,
        id: block ? block.id : null,
        panel: open ? rect(panel) : null,
        block: block ? rect(block) : null,
        overflow: stage ? stage.scrollHeight - stage.clientHeight : 0,
        plot: plot ? rect(plot) : null,
        drawnHeight: plot && plot._fullLayout ? plot._fullLayout.height : 0,
        drawn: !!(plot && plot.querySelector('.main-svg')),
        hash: location.hash,
        pageInert: !!document.querySelector('main').closest('[inert]'),
    };
}"""

#: Plot drawn, and drawn at the size the panel leaves for it (not the chapter's fixed height).
FITTED = """() => {
    const panel = document.querySelector('.lx-presenter');
    const plot = panel && !panel.hidden && panel.querySelector('.lx-presenter-stage .lx-plot');
    return !!(plot && plot.querySelector('.main-svg') && plot._fullLayout
              && Math.abs(plot._fullLayout.height - plot.clientHeight) <= 2
              && Math.abs(plot._fullLayout.width - plot.clientWidth) <= 2);
}"""


def _console_error(page, message) -> None:
    """Every console error or warning is the site's own (it has a favicon and a colour mode)."""
    if message.type in ("error", "warning"):
        page.errors.append(f"{message.type}: {message.text}")


@pytest.fixture
def visit(browser, site_url):
    """A 1,024 x 768 tab with the network off, that records uncaught errors and console errors."""
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
    page = context.new_page()
    page.errors = []
    page.external = []

    def route(r):
        if urlparse(r.request.url).hostname == "127.0.0.1":
            r.continue_()
        else:
            page.external.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    page.on("console", lambda m: _console_error(page, m))

    def _go(path: str):
        page.goto(f"{site_url}/{path}", wait_until="load")
        return page

    yield _go
    context.close()


def _state(page) -> dict:
    return page.evaluate(STATE)


def _wait_at(page, index: int) -> dict:
    """Wait until the panel shows figure ``index`` (1-based), drawn at the panel's size."""
    page.wait_for_function(
        "i => { const p = document.querySelector('.lx-presenter');"
        " return p && !p.hidden && p.getAttribute('data-index') === String(i); }",
        arg=index,
        timeout=10000,
    )
    page.wait_for_function(FITTED, timeout=10000)
    return _state(page)


def _assert_full_screen(s: dict, n: int) -> None:
    """One figure on a panel that covers the window, its plot large, nothing cut off."""
    assert s["open"] and s["onStage"] == 1, s
    assert s["count"] == f"{s['index']} / {n}"
    assert s["panel"] == {
        "x": 0,
        "y": 0,
        "width": WIDTH,
        "height": HEIGHT,
        "bottom": HEIGHT,
    }
    assert s["plot"]["width"] >= 0.9 * WIDTH, f"plot too narrow: {s['plot']}"
    assert s["plot"]["height"] >= 0.4 * HEIGHT, f"plot too short: {s['plot']}"
    assert s["block"]["bottom"] <= HEIGHT and s["overflow"] <= 1, f"figure cut off: {s}"
    assert s["drawn"] and s["pageInert"]
    assert s["hash"] == f"#present={s['index']}"


#: Each plot's height and legend placement, as the page draws it (explorable.js fits the chapter's
#: layout to the width the figure has): presenter mode must give back exactly this.
LAYOUTS = """() => Array.from(document.querySelectorAll('main .lx-plot'))
    .map(p => [p._fullLayout.height, p._fullLayout.legend.y, p._fullLayout.legend.yref])"""


def _plot_data(page):
    return page.evaluate(
        "() => document.querySelector('.lx-presenter-stage .lx-plot').data"
        ".map(t => ({x: t.x, y: t.y, z: t.z}))"
    )


def test_presenter_steps_through_the_deck_from_the_keyboard(visit, shots_dir):
    page = visit(DECK)
    order = page.evaluate(
        "() => Array.from(document.querySelectorAll('.labs-explorable, .labs-figure')).map(b => b.id)"
    )
    n = len(order)
    assert n >= 5, f"the deck shows {n} figures"
    button = page.locator(".lx-present-button")
    assert button.is_visible() and button.get_attribute("aria-label").startswith(
        "Present"
    )
    page.locator(".lx-plot .main-svg").first.wait_for(timeout=20000)
    for plot in page.locator(".lx-plot").all():
        plot.locator(".main-svg").first.wait_for(timeout=20000)
    page.wait_for_timeout(
        300
    )  # each figure settles its layout once, right after it is drawn
    as_on_the_page = page.evaluate(LAYOUTS)

    # P opens presenter mode on the first figure
    page.keyboard.press("p")
    s = _wait_at(page, 1)
    _assert_full_screen(s, n)
    assert s["id"] == order[0] and s["heading"]
    page.screenshot(path=str(shots_dir / "presenter_deck_01.png"))

    # the right arrow steps through every figure, each drawn to fill the panel
    for k in range(2, n + 1):
        page.keyboard.press("ArrowRight")
        s = _wait_at(page, k)
        _assert_full_screen(s, n)
        assert s["id"] == order[k - 1]
        page.screenshot(path=str(shots_dir / f"presenter_deck_{k:02d}.png"))
    # the deck stands alone: past its last figure it stays, and says so
    page.keyboard.press("ArrowRight")
    s = _state(page)
    assert s["index"] == n and "Last figure" in s["status"]

    # Home goes back to the first; Tab reaches a slider, whose arrows move it (not the deck)
    page.keyboard.press("Home")
    _wait_at(page, 1)
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate(
            "() => document.activeElement.type === 'range'"
            " && !!document.activeElement.closest('.lx-presenter-stage')"
        ):
            break
    else:
        pytest.fail("Tab did not reach a slider of the figure on the panel")
    block = page.locator(".lx-presenter-stage > .labs-explorable")
    combo, before = block.get_attribute("data-combo"), _plot_data(page)
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "c => document.querySelector('.lx-presenter-stage > .labs-explorable')"
        ".getAttribute('data-combo') !== c",
        arg=combo,
        timeout=10000,
    )
    s = _wait_at(page, 1)  # still the first figure, redrawn at the panel's size
    assert _plot_data(page) != before, "moving the slider did not change the plot"
    page.screenshot(path=str(shots_dir / "presenter_deck_slider.png"))

    # Escape leaves the slider; then the arrows step again
    page.keyboard.press("Escape")
    assert _state(page)["open"]
    assert page.evaluate("() => document.activeElement.type") != "range"
    page.keyboard.press("ArrowRight")
    _wait_at(page, 2)

    # Escape again leaves presenter mode: every figure back in its place, at the chapter's size
    page.keyboard.press("Escape")
    s = _state(page)
    assert not s["open"] and s["hash"] == "" and not s["pageInert"]
    assert (
        page.evaluate(
            "() => Array.from(document.querySelectorAll('main .labs-explorable, main .labs-figure'))"
            ".map(b => b.id)"
        )
        == order
    )
    # back in the page, each figure is redrawn for the page's width (a moment after the move)
    try:
        page.wait_for_function(
            f"want => JSON.stringify(({LAYOUTS})()) === want",
            arg=json.dumps(as_on_the_page, separators=(",", ":")),
            timeout=5000,
        )
    except Exception:
        pass
    assert page.evaluate(LAYOUTS) == as_on_the_page

    # the Present button opens presenter mode too, on the figure on screen (the one just shown);
    # the mouse clicks where the button is, as a reader would (locator.click() would first scroll)
    box = button.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert _wait_at(page, 2)["id"] == order[1]
    page.keyboard.press("Escape")
    assert not _state(page)["open"]
    page.screenshot(path=str(shots_dir / "presenter_deck_left.png"))
    assert page.errors == [], page.errors
    assert page.external == [], page.external


def test_presenter_steps_on_into_the_next_chapter_and_back(visit, shots_dir):
    page = visit(FIRST_CHAPTER + "#present=last")
    n = page.locator(".labs-explorable, .labs-figure").count()
    s = _wait_at(page, n)
    _assert_full_screen(s, n)
    following = page.locator('meta[name="labs-present-next"]')
    assert following.count() == 1, "the first chapter names no next chapter"
    target = following.get_attribute("content")
    assert following.get_attribute("data-title") in s["status"]
    page.screenshot(path=str(shots_dir / "presenter_chapter_last.png"))

    # past the last figure: the next chapter, in presenter mode, on its first figure
    page.keyboard.press("ArrowRight")
    page.wait_for_url(
        lambda url: url.split("#")[0].endswith("/" + target), timeout=20000
    )
    s = _wait_at(page, 1)
    _assert_full_screen(s, page.locator(".labs-explorable, .labs-figure").count())
    page.screenshot(path=str(shots_dir / "presenter_chapter_next.png"))

    # before its first figure: back to the first chapter's last figure
    page.keyboard.press("ArrowLeft")
    page.wait_for_url(
        lambda url: url.split("#")[0].endswith("/" + FIRST_CHAPTER), timeout=20000
    )
    _wait_at(page, n)
    page.keyboard.press("Escape")
    assert not _state(page)["open"]
    assert page.errors == [], page.errors
    assert page.external == [], page.external


def test_the_deck_is_a_sequence_of_its_own():
    """The instructors' deck does not step into the chapters, nor does a chapter step into it."""
    assert 'name="labs-present-' not in (SITE / DECK).read_text(encoding="utf-8")
    for page in (SITE / "notebooks").glob("*.html"):
        assert 'content="presentation.html"' not in page.read_text(encoding="utf-8"), (
            page.name
        )
