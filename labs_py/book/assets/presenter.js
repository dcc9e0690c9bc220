/* Presenter mode for the book's static site: one figure at a time, full screen, from the keyboard.
 *
 * On every page with figures (explorable.js draws them), a "Present" button in the page's toolbar,
 * the key P, or the address ending in #present opens presenter mode: the page is covered by one
 * full-window panel that shows a single figure with its controls enlarged, the heading of its
 * section, the page's title and "k / n".
 *
 *   Right, Down, Page Down, Space   next figure; after the last, the next chapter with figures
 *   Left, Up, Page Up               previous figure; before the first, the previous chapter's last
 *   Home, End                       first, last figure of the page
 *   Tab, Shift+Tab                  reach the figure's controls (and the panel's buttons)
 *   Escape                          in a control: back to stepping; otherwise: leave presenter mode
 *   F                               the browser's own full screen, on or off
 *
 * While a control has the focus it keeps its own keys (a slider's arrows move the slider), so the
 * arrows step through figures only when the focus is not in a control: Escape gives it back.
 *
 * The figure's own element is moved into the panel and back, not copied, so explorable.js keeps
 * driving it. The chapters' layouts fix each plot's height; on the panel the plot is redrawn at the
 * size of the space left for it, so it fills the window (1,024 x 768 and larger).
 *
 * The address keeps the place: #present=3 is the third figure, #present=last the last one. The
 * previous and next chapters come from <meta name="labs-present-prev|next"> tags that the book's
 * Sphinx extension (labs_py/book/sphinx.py) writes. Everything here runs offline: no kernel, no
 * network.
 */
(function () {
  "use strict";
  var BLOCKS = ".labs-explorable, .labs-figure";
  var HASH = /^#present(?:=(\d+|last))?$/;

  var figures = [];      // the page's figure blocks, in reading order
  var current = -1;      // index of the figure on the panel, -1 when presenter mode is off
  var panel = null;      // the full-window panel, made on first use
  var parts = {};        // its pieces: stage, heading, page, count, status, prev, next
  var placeholder = null; // marks where the figure on the panel came from in the page
  var madeInert = [];    // the page's elements hidden from the keyboard while presenting
  var focusBefore = null; // what had the focus before presenter mode, to give it back
  var ownFullscreen = false; // whether F (not the reader's browser or theme) turned full screen on

  // ------------------------------------------------------------------ small helpers

  function link(name) {
    // The neighbouring chapter with figures, as written by labs_py/book/sphinx.py (or null).
    var meta = document.querySelector('meta[name="labs-present-' + name + '"]');
    if (!meta) { return null; }
    return { url: meta.getAttribute("content"), title: meta.getAttribute("data-title") || "" };
  }

  function headingText(h) {
    // A heading's words without the theme's "#" permalink.
    var text = "";
    h.childNodes.forEach(function (n) {
      if (!(n.classList && n.classList.contains("headerlink"))) { text += n.textContent; }
    });
    return text.trim();
  }

  function pageTitle() {
    var h1 = document.querySelector("main h1, article h1, h1");
    return h1 ? headingText(h1) : document.title;
  }

  function sectionHeading(block) {
    // The heading of the section the figure sits in (the slide's headline).
    var section = placeholderOf(block).parentNode.closest("section");
    var h = section && section.querySelector(":scope > h1, :scope > h2, :scope > h3, :scope > h4");
    return h ? headingText(h) : pageTitle();
  }

  function placeholderOf(block) {
    // Where the block stands in the page, even while it is on the panel.
    return (block === figures[current] && placeholder) ? placeholder : block;
  }

  function isControl(el) {
    return !!el && (el.tagName === "INPUT" || el.tagName === "SELECT" || el.tagName === "TEXTAREA" ||
                    el.isContentEditable);
  }

  function isButtonLike(el) {
    // Space and Enter belong to these (a button, a link, the "Text description" toggle).
    return !!el && (el.tagName === "BUTTON" || el.tagName === "A" || el.tagName === "SUMMARY");
  }

  function hashIndex() {
    // #present -> 0, #present=3 -> 2, #present=last -> the last; anything else -> null.
    var m = HASH.exec(window.location.hash);
    if (!m) { return null; }
    if (m[1] === "last") { return figures.length - 1; }
    return m[1] ? Number(m[1]) - 1 : 0;
  }

  function setHash(hash) {
    // Change the address without scrolling or adding a history entry.
    history.replaceState(history.state, "", window.location.pathname + window.location.search + hash);
  }

  // ------------------------------------------------------------------ sizing the plot

  function plotOf(block) { return block.querySelector(".lx-plot"); }

  function stageSize(plot) {
    // The space the panel's layout (presenter.css) leaves for the plot.
    return { width: Math.max(320, Math.floor(plot.clientWidth)),
             height: Math.max(240, Math.floor(plot.clientHeight)) };
  }

  // explorable.js draws every figure fitted to the width it has; on the panel it is told the
  // panel's size instead (block.labsStage) and redraws itself: a fixed width and height, and a
  // legend at the figure's bottom edge. Leaving, the size is taken back and it redraws for the page.
  function redraw(block) {
    if (typeof block.labsRender === "function") { block.labsRender(); }
  }

  function fit(block) {
    // Redraw the plot on the panel at the panel's size (once it has been drawn at all).
    var plot = plotOf(block);
    if (!plot || !plot._fullLayout) { return; }
    block.labsStage = stageSize(plot);
    redraw(block);
  }

  function unfit(block) {
    // Back in the page: explorable.js fits the chapter's layout to the page's width again.
    if (!block.labsStage) { return; }
    delete block.labsStage;
    redraw(block);
  }

  // ------------------------------------------------------------------ the panel

  function button(action, label, text) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "lx-presenter-button";
    b.setAttribute("data-action", action);
    b.setAttribute("aria-label", label);
    b.title = label;
    b.textContent = text;
    return b;
  }

  function makePanel() {
    panel = document.createElement("div");
    panel.className = "lx-presenter";
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-modal", "true");
    panel.setAttribute("aria-labelledby", "lx-presenter-heading");
    panel.hidden = true;

    var bar = document.createElement("div");
    bar.className = "lx-presenter-bar";
    parts.heading = document.createElement("h2");
    parts.heading.id = "lx-presenter-heading";
    parts.heading.className = "lx-presenter-heading";

    var nav = document.createElement("div");
    nav.className = "lx-presenter-nav";
    parts.prev = button("prev", "Previous figure (Left arrow)", "\u2190");
    parts.count = document.createElement("span");
    parts.count.className = "lx-presenter-count";
    parts.next = button("next", "Next figure (Right arrow)", "\u2192");
    var close = button("close", "Leave presenter mode (Escape)", "\u00d7");
    nav.appendChild(parts.prev);
    nav.appendChild(parts.count);
    nav.appendChild(parts.next);
    nav.appendChild(close);
    bar.appendChild(parts.heading);
    bar.appendChild(nav);

    // The stage holds the one figure. It can take the focus (tabindex -1) so that the keys step
    // through figures, and Tab from it reaches the figure's first control.
    parts.stage = document.createElement("div");
    parts.stage.className = "lx-presenter-stage";
    parts.stage.tabIndex = -1;

    // The foot: the page's title and where the right arrow leads next; the keys, as a reminder.
    var foot = document.createElement("div");
    foot.className = "lx-presenter-foot";
    var where = document.createElement("p");
    parts.page = document.createElement("span");
    parts.page.className = "lx-presenter-page";
    parts.status = document.createElement("span");
    parts.status.className = "lx-presenter-status";
    parts.status.setAttribute("aria-live", "polite");
    where.appendChild(parts.page);
    where.appendChild(parts.status);
    var keys = document.createElement("p");
    keys.className = "lx-presenter-keys";
    keys.textContent = "\u2190 \u2192 step \u00b7 Tab: controls \u00b7 Esc: out of a control, or leave " +
                       "\u00b7 F: full screen";
    foot.appendChild(where);
    foot.appendChild(keys);

    panel.appendChild(bar);
    panel.appendChild(parts.stage);
    panel.appendChild(foot);
    panel.addEventListener("click", function (e) {
      var b = e.target.closest("[data-action]");
      if (!b) { return; }
      if (b.getAttribute("data-action") === "prev") { step(-1); }
      if (b.getAttribute("data-action") === "next") { step(1); }
      if (b.getAttribute("data-action") === "close") { leave(); }
    });
    document.body.appendChild(panel);
  }

  function show(index) {
    // Put figure `index` on the panel (the one there before goes back to its place in the page).
    index = Math.max(0, Math.min(figures.length - 1, index));
    if (current >= 0 && placeholder) {
      var old = figures[current];
      placeholder.replaceWith(old);
      unfit(old);
    }
    current = index;
    var block = figures[index];
    placeholder = document.createComment(" presenter mode: figure " + (index + 1) + " is on the panel ");
    block.replaceWith(placeholder);
    parts.stage.appendChild(block);

    parts.heading.textContent = sectionHeading(block);
    parts.page.textContent = pageTitle();
    parts.count.textContent = (index + 1) + " / " + figures.length;
    panel.setAttribute("data-index", String(index + 1));
    var prev = link("prev");
    var next = link("next");
    parts.prev.disabled = index === 0 && !prev;
    parts.next.disabled = index === figures.length - 1 && !next;
    parts.status.textContent =
      index === figures.length - 1 ? (next ? "Next: " + next.title + " \u2192" : "Last figure") : "";
    setHash("#present=" + (index + 1));
    fit(block);
  }

  function step(delta) {
    // One figure on; past either end of the page, on into the neighbouring chapter.
    var target = current + delta;
    if (target >= figures.length) {
      var next = link("next");
      if (next) { window.location.href = next.url + "#present"; }
      else { parts.status.textContent = "Last figure: Escape leaves presenter mode"; }
      return;
    }
    if (target < 0) {
      var prev = link("prev");
      if (prev) { window.location.href = prev.url + "#present=last"; }
      else { parts.status.textContent = "First figure"; }
      return;
    }
    show(target);
    parts.stage.focus({ preventScroll: true });
  }

  function enter(index) {
    if (!figures.length) { return; }
    if (!panel) { makePanel(); }
    if (current < 0) {
      focusBefore = document.activeElement;
      // Everything else on the page leaves the keyboard's and the screen reader's reach.
      madeInert = Array.prototype.filter.call(document.body.children, function (el) {
        return el !== panel && !el.inert;
      });
      madeInert.forEach(function (el) { el.inert = true; });
      document.documentElement.classList.add("lx-presenting");
      panel.hidden = false;
    }
    show(index);
    parts.stage.focus({ preventScroll: true });
  }

  function leave() {
    if (current < 0) { return; }
    var block = figures[current];
    placeholder.replaceWith(block);
    placeholder = null;
    current = -1;
    panel.hidden = true;
    madeInert.forEach(function (el) { el.inert = false; });
    madeInert = [];
    document.documentElement.classList.remove("lx-presenting");
    if (ownFullscreen && document.fullscreenElement) { document.exitFullscreen(); }
    ownFullscreen = false;
    unfit(block);
    setHash("");
    // Back where the talk ended: the last figure shown, in the page. Reading a size first makes
    // the browser apply the page's own overflow again, without which it may not scroll.
    void document.documentElement.offsetHeight;
    block.scrollIntoView({ block: "center", behavior: "instant" });
    if (focusBefore && focusBefore !== document.body && document.contains(focusBefore)) {
      focusBefore.focus({ preventScroll: true });
    }
  }

  function nearestFigure() {
    // The first figure that is at least partly on screen: P presents from where the reader is.
    for (var i = 0; i < figures.length; i++) {
      if (figures[i].getBoundingClientRect().bottom > 80) { return i; }
    }
    return 0;
  }

  function toggleFullscreen() {
    if (document.fullscreenElement) {
      document.exitFullscreen();
      ownFullscreen = false;
    } else if (document.documentElement.requestFullscreen) {
      ownFullscreen = true;
      document.documentElement.requestFullscreen().catch(function () { ownFullscreen = false; });
    }
  }

  // ------------------------------------------------------------------ the keyboard

  function onKey(e) {
    if (e.ctrlKey || e.metaKey || e.altKey) { return; }
    var focus = document.activeElement;
    if (current < 0) {
      // Outside presenter mode only P is ours, and not while the reader types or uses a control.
      if ((e.key === "p" || e.key === "P") && !isControl(focus)) {
        e.preventDefault();
        enter(nearestFigure());
      }
      return;
    }
    var handled = true;
    if (e.key === "Escape") {
      if (isControl(focus)) { parts.stage.focus({ preventScroll: true }); }  // out of the control
      else { leave(); }
    } else if (isControl(focus)) {
      handled = false;  // a control keeps its own keys: a slider's arrows move the slider
    } else if ((e.key === " " || e.key === "Enter") && isButtonLike(focus)) {
      handled = false;  // let a focused button do its own job
    } else if (["ArrowRight", "ArrowDown", "PageDown", " "].indexOf(e.key) >= 0) {
      step(1);
    } else if (["ArrowLeft", "ArrowUp", "PageUp"].indexOf(e.key) >= 0) {
      step(-1);
    } else if (e.key === "Home") {
      show(0);
    } else if (e.key === "End") {
      show(figures.length - 1);
    } else if (e.key === "f" || e.key === "F") {
      toggleFullscreen();
    } else {
      handled = false;
    }
    if (handled) {
      e.preventDefault();
      e.stopPropagation();
    }
  }

  // ------------------------------------------------------------------ start

  function addButton() {
    // A "Present" button in the theme's toolbar above the page (or, without it, in a corner).
    var b = document.createElement("button");
    b.type = "button";
    b.className = "btn btn-sm pst-navbar-icon lx-present-button";
    b.title = "Present the figures one at a time (P)";
    b.setAttribute("aria-label", "Present: the figures one at a time, full screen (P)");
    b.setAttribute("aria-keyshortcuts", "p");
    b.innerHTML = '<span class="lx-present-icon" aria-hidden="true">\u25b6</span>' +
                  '<span class="lx-present-text">Present</span>';
    b.addEventListener("click", function () { enter(nearestFigure()); });
    var toolbar = document.querySelector(".article-header-buttons");
    if (toolbar) { toolbar.insertBefore(b, toolbar.firstChild); }
    else { b.classList.add("lx-present-corner"); document.body.appendChild(b); }
  }

  function init() {
    figures = Array.prototype.slice.call(document.querySelectorAll(BLOCKS));
    if (!figures.length || !window.Plotly) { return; }
    addButton();
    // The capture phase: presenter mode sees the keys before the theme's own shortcuts do.
    window.addEventListener("keydown", onKey, true);
    window.addEventListener("resize", function () {
      if (current >= 0) { fit(figures[current]); }
    });
    window.addEventListener("hashchange", function () {
      var i = hashIndex();
      if (i !== null && i !== current) { enter(i); }
      else if (i === null && current >= 0) { leave(); }
    });
    var start = hashIndex();
    if (start !== null) { enter(start); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
