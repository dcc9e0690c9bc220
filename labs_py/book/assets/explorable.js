/* Kernel-free controls for the book's static site.
 *
 * Each .labs-explorable block carries a JSON payload with every combination of
 * its controls' values precomputed by labs_py (labs_py/book/static.py): pools of
 * unique traces, layouts and readouts, and one frame per combination (last
 * control varying fastest). Moving a control picks the frame and hands it to
 * Plotly.react. Nothing is computed here, so the page shows exactly what labs_py
 * computed. .labs-figure blocks are plain figures drawn once.
 *
 * Two things are done here rather than in Python, because only the browser knows them:
 *  - the screen: a layout is fitted to the width its figure really gets (fitLayout below);
 *  - speed: a move hands plotly the pooled trace objects and the layout object it already
 *    has, so plotly redraws only the traces that changed and skips the relayout when the
 *    layout did not change; the readout rewrites only the numbers that changed.
 */
(function () {
  "use strict";
  // Explorables drop plotly's mode bar: its buttons are re-rendered on every Plotly.react (about 3 ms
  // here), and the controls are how a reader explores. Plain figures keep it (zoom, pan, save as PNG).
  var CONFIG = { responsive: true, displaylogo: false, displayModeBar: false };
  var FIGURE_CONFIG = { responsive: true, displaylogo: false };

  /* ----------------------------------------------------------------- fitting a layout to a width
   * Below NARROW_PX of figure width, panels that sit side by side are stacked. Two panels need about
   * 2 x (260 px of plot + 60 px of y-axis labels) + a 40 px gap, about 680 px; the book's text column
   * is 688-755 px wide on tablets and desktops and about 360 px on a phone, so in practice the
   * stacked layout is the phone's (and a narrow window's). Whatever the width, titles, axis titles
   * and paper-anchored annotations are wrapped at word boundaries to the width they have, so no
   * text of the wide figure is dropped or clipped.
   */
  var NARROW_PX = 640;
  var CHAR_EM = 0.6;   // average advance of Helvetica/Arial text, in ems (a little generous; bold is wider)
  var LINE_EM = 1.3;   // plotly's line height, in ems

  function clone(obj) { return JSON.parse(JSON.stringify(obj)); }
  function textOf(t) { return t == null ? "" : (typeof t === "object" ? (t.text || "") : String(t)); }
  function visibleLength(s) {
    var bold = (s.match(/<b>([^<]*)<\/b>/gi) || []).join("").replace(/<[^>]*>/g, "").length;
    return s.replace(/<[^>]*>/g, "").replace(/&[a-z#0-9]+;/gi, "x").length + Math.ceil(bold * 0.08);
  }

  /** Break ``text`` at spaces so that no line is longer than ``maxChars`` visible characters. */
  function wrap(text, maxChars) {
    if (!text || maxChars < 4) { return text; }
    return text.split(/<br\s*\/?>/i).map(function (line) {
      if (visibleLength(line) <= maxChars) { return line; }
      var out = [], cur = "";
      line.split(" ").forEach(function (word) {
        var next = cur ? cur + " " + word : word;
        if (cur && visibleLength(next) > maxChars) { out.push(cur); cur = word; } else { cur = next; }
      });
      if (cur) { out.push(cur); }
      return out.join("<br>");
    }).join("<br>");
  }
  function lines(text) { return text ? text.split(/<br\s*\/?>/i).length : 0; }
  function fontSize(obj, fallback) { return (obj && obj.font && obj.font.size) || fallback; }

  /** The subplots: pairs of non-overlaying x and y axes, with their domains. */
  function subplots(L) {
    var out = [];
    Object.keys(L).forEach(function (k) {
      var m = /^xaxis(\d*)$/.exec(k);
      if (!m || !L[k] || L[k].overlaying) { return; }
      var ax = L[k];
      var yName = ax.anchor && ax.anchor !== "free" ? ax.anchor : "y" + m[1];
      var yKey = "yaxis" + yName.slice(1);
      var ya = L[yKey] || {};
      out.push({
        xKey: k, yKey: yKey,
        xd: (ax.domain || [0, 1]).slice(), yd: (ya.domain || [0, 1]).slice(),
      });
    });
    return out;
  }

  /** The subplot whose box holds the paper point (x, y), allowing a title's place just above it. */
  function owner(panels, x, y) {
    for (var i = 0; i < panels.length; i++) {
      var p = panels[i];
      if (x >= p.xd[0] - 0.01 && x <= p.xd[1] + 0.01 && y >= p.yd[0] - 0.01 && y <= p.yd[1] + 0.06) { return p; }
    }
    return null;
  }

  /** ``src`` fitted to a plot ``width`` px wide: a new layout object; ``src`` is left untouched. */
  var STACKED = new WeakMap();  // fitted layout -> its stacked panels' axis names, top to bottom
  var FIXED = new WeakMap();    // fitted layouts whose size is given (presenter mode)

  function fitLayout(src, width, extraGapPx, entries, stage) {
    var L = clone(src);
    var base = fontSize(L, 12);
    var height = L.height || 450;
    var m = L.margin = Object.assign({ l: 80, r: 80, t: 100, b: 80 }, L.margin || {});
    var panels = subplots(L);
    var columns = {};
    panels.forEach(function (p) { columns[p.xd[0].toFixed(3)] = true; });
    var stack = width < NARROW_PX && Object.keys(columns).length > 1;
    var annotations = L.annotations || [];

    // which annotations belong to which panel (paper coordinates), before any domain moves
    var attached = annotations.map(function (a) {
      var paper = (a.xref || "paper") === "paper" && (a.yref || "paper") === "paper";
      return paper ? owner(panels, a.x == null ? 0.5 : a.x, a.y == null ? 0.5 : a.y) : null;
    });

    if (stack) {
      // one panel per row, top to bottom, left to right
      panels.sort(function (a, b) { return (b.yd[1] - a.yd[1]) || (a.xd[0] - b.xd[0]); });
      var titleLines = 1;
      annotations.forEach(function (a, i) {
        if (attached[i]) { titleLines = Math.max(titleLines, lines(wrap(textOf(a.text), Math.floor(width / (CHAR_EM * fontSize(a, base)))))); }
      });
      // room between two panels for the upper one's tick labels and axis title and the lower one's title
      var gap = Math.round(base * (2 * LINE_EM + 2) + titleLines * LINE_EM * base + 16 + (extraGapPx || 0));
      var oldPlot = height - m.t - m.b;
      var oldRows = {};
      panels.forEach(function (p) { oldRows[p.yd[0].toFixed(3)] = true; });
      var panelPx = Math.max(200, Math.min(300, oldPlot / Object.keys(oldRows).length));
      var plotPx = panels.length * panelPx + (panels.length - 1) * gap;
      height = L.height = Math.round(plotPx + m.t + m.b);
      panels.forEach(function (p, i) {
        var top = i * (panelPx + gap);
        var nd = [1 - (top + panelPx) / plotPx, 1 - top / plotPx];
        var ax = L[p.xKey], ay = L[p.yKey] = L[p.yKey] || {};
        ax.domain = [0, 1];
        ay.domain = nd;
        // axes shared side by side hide their labels; stacked, every panel needs its own
        ay.showticklabels = ay.showticklabels === false && ay.matches ? true : ay.showticklabels;
        p.new = { xd: [0, 1], yd: nd };
      });
      STACKED.set(L, panels.map(function (p) { return p.xKey.replace("axis", ""); }));
      annotations.forEach(function (a, i) {
        var p = attached[i];
        if (!p || !p.new) { return; }
        var fx = (a.x - p.xd[0]) / ((p.xd[1] - p.xd[0]) || 1);
        var fy = (a.y - p.yd[0]) / ((p.yd[1] - p.yd[0]) || 1);
        a.x = p.new.xd[0] + fx * (p.new.xd[1] - p.new.xd[0]);
        a.y = p.new.yd[0] + fy * (p.new.yd[1] - p.new.yd[0]);
      });
    }

    // wrap every text to the width it has
    var plotW = Math.max(120, width - m.l - m.r);
    var topExtra = 0;
    var after = subplots(L);
    function panelWidthPx(d) { return Math.max(80, (d[1] - d[0]) * plotW); }
    annotations.forEach(function (a, i) {
      var paperX = (a.xref || "paper") === "paper";
      if (width < NARROW_PX && paperX && a.xanchor === "left" && a.x >= 0.98) {
        a.x = 1; a.xanchor = "right";  // a label that hung in the right margin goes just inside the plot
      }
      var room = attached[i] && !stack ? panelWidthPx(attached[i].xd) : plotW;
      if (paperX && a.xanchor === "left" && a.x != null) { room = Math.min(room, (1 - a.x) * plotW + m.r); }
      if (paperX && a.xanchor === "right" && a.x != null) { room = Math.min(room, a.x * plotW + m.l); }
      if (!paperX) { room = Math.min(room, plotW); }
      var before = lines(textOf(a.text));
      a.text = wrap(textOf(a.text), Math.floor(room / (CHAR_EM * fontSize(a, base))));
      // a label above the plot that now takes more lines needs a taller top margin
      var added = lines(a.text) - before;
      if (added > 0 && (a.yref || "paper") === "paper" && a.y >= 0.999 && a.yanchor === "bottom") {
        topExtra = Math.max(topExtra, Math.round(added * LINE_EM * fontSize(a, base)));
      }
    });
    if (topExtra) { m.t += topExtra; L.height = height = height + topExtra; }
    after.forEach(function (p) {
      var ax = L[p.xKey];
      if (ax.title) {
        var t = typeof ax.title === "object" ? ax.title : (ax.title = { text: ax.title });
        t.text = wrap(textOf(t), Math.floor(panelWidthPx(ax.domain || [0, 1]) / (CHAR_EM * fontSize(t, base))));
      }
    });
    Object.keys(L).forEach(function (k) {
      if (!/^yaxis\d*$/.test(k) || !L[k] || !L[k].title) { return; }
      var ay = L[k];
      var t = typeof ay.title === "object" ? ay.title : (ay.title = { text: ay.title });
      var d = ay.domain || [0, 1];
      var plotH = height - m.t - m.b;
      // three quarters of the panel's height: the legend below may still take some of it
      t.text = wrap(textOf(t), Math.floor(Math.max(80, 0.75 * (d[1] - d[0]) * plotH) / (CHAR_EM * fontSize(t, base))));
    });
    if (L.title && textOf(L.title)) {
      var title = typeof L.title === "object" ? L.title : (L.title = { text: L.title });
      var size = fontSize(title, base + 2);
      title.text = wrap(textOf(title), Math.floor((width - 24) / (CHAR_EM * size)));
      var n = lines(title.text);
      if (n > 1) {
        var extra = Math.round((n - 1) * LINE_EM * size);
        m.t += extra;
        L.height = height = height + extra;
      }
    }
    var legendOnTop = L.legend && (L.legend.y == null || L.legend.y >= 0.5) && (L.legend.yref || "paper") === "paper";
    if (width < NARROW_PX && L.showlegend !== false && legendOnTop) {
      // the legend goes to the bottom edge of the figure, as rows of entries; the bottom margin grows
      // to hold it under the x axis's labels and title (settle measures and corrects this estimate)
      var rows = Math.ceil(Math.max(1, entries || 3) / Math.max(1, Math.floor(width / 170)));
      var legendPx = Math.round(rows * LINE_EM * 12 + 12);
      var axisPx = Math.round(base * (2 * LINE_EM + 1) + 12);
      var b = Math.max(m.b, axisPx) + legendPx;
      L.height = height = height + (b - m.b);
      m.b = b;
      L.legend = Object.assign({}, L.legend || {}, {
        orientation: "h", x: 0, xanchor: "left", xref: "container", y: 0, yanchor: "bottom", yref: "container",
      });
      if (L.legend.title && L.legend.title.side == null) { L.legend.title.side = "top"; }
    }
    if (stage) {
      // presenter mode: the panel's size, and a legend below the plot goes to the figure's bottom
      // edge (on a plot shorter or taller than the chapter's, a legend placed in fractions of the
      // plotting area would ride up onto the axis title)
      L.width = stage.width;
      L.height = stage.height;
      if (L.legend && typeof L.legend.y === "number" && L.legend.y < 0 && (L.legend.yref || "paper") === "paper") {
        L.legend = Object.assign({}, L.legend, { yref: "container", y: 0, yanchor: "bottom" });
      }
      FIXED.set(L, true);
    }
    return L;
  }

  /* ----------------------------------------------------------------- settling a fitted layout
   * The widths of tick labels and wrapped titles are known only once plotly has drawn them. The first
   * time a fitted layout is shown, its text is measured: a legend below the plot moves down until it
   * clears the axis labels above it, and stacked panels move apart until one panel's axis labels clear
   * the next panel's title. Later moves reuse the settled layout as it is. */
  function boxesOf(plot, selector) {
    return Array.prototype.map.call(plot.querySelectorAll(selector), function (el) { return el.getBoundingClientRect(); })
      .filter(function (r) { return r.width > 0.5 && r.height > 0.5; });
  }
  function lowest(rects) { return rects.reduce(function (acc, r) { return Math.max(acc, r.bottom); }, -Infinity); }

  /** Extra px needed between stacked panels (0 if their text already clears). */
  function stackedClash(plot, L) {
    var names = STACKED.get(L);
    if (!names) { return 0; }
    var need = 0;
    for (var i = 0; i + 1 < names.length; i++) {
      var upper = lowest(boxesOf(plot, ".g-" + names[i] + "title text, g." + names[i] + "tick > text"));
      var below = L["yaxis" + (L["xaxis" + names[i + 1].slice(1)].anchor || "y").slice(1)];
      var size = plot._fullLayout && plot._fullLayout._size;
      if (!below || !size || !isFinite(upper)) { continue; }
      var top = plot.querySelector(".main-svg").getBoundingClientRect().top + size.t + (1 - below.domain[1]) * size.h;
      // the lower panel's title sits just above its top edge; anything of the upper panel below (top - title) clashes
      var titles = boxesOf(plot, ".annotation text").filter(function (r) { return r.bottom <= top + 2 && r.bottom > top - 80; });
      var titleTop = titles.reduce(function (acc, r) { return Math.min(acc, r.top); }, top);
      need = Math.max(need, upper + 6 - titleTop);
    }
    return need > 1 ? need : 0;
  }

  /** px the legend must move down to clear the text above it (0 if it already does). */
  function legendClash(plot) {
    var legend = plot.querySelector(".legend");
    if (!legend) { return 0; }
    var box = legend.getBoundingClientRect();
    var above = boxesOf(plot, ".xtitle, .x2title, .x3title, .x4title, [class^='g-x'] text, [class$='tick'] > text, .annotation text")
      .filter(function (r) { return r.top < box.top + box.height / 2 && r.right > box.left && r.left < box.right; });
    var need = lowest(above) + 6 - box.top;
    return need > 1 ? need : 0;
  }

  /** x-axis titles wider than the plot turned out to be (long tick labels took the room): re-wrapped
   *  to the measured width, as a relayout update, or null if every title fits. */
  function clippedAxisTitles(plot, L) {
    var frame = plot.querySelector(".main-svg").getBoundingClientRect();
    var size = plot._fullLayout && plot._fullLayout._size;
    if (!size) { return null; }
    var update = null;
    Object.keys(L).forEach(function (key) {
      var m = /^([xy])axis(\d*)$/.exec(key);
      var ax = L[key];
      if (!m || !ax || !ax.title || !textOf(ax.title)) { return; }
      var el = plot.querySelector(".g-" + m[1] + m[2] + "title text");
      if (!el) { return; }
      var r = el.getBoundingClientRect();
      var d = ax.domain || [0, 1];
      var room;
      if (m[1] === "x") {
        if (r.left >= frame.left - 1 && r.right <= frame.right + 1) { return; }
        var cx = size.l + (d[0] + d[1]) / 2 * size.w;  // the title is centred on its axis
        room = 2 * Math.min(cx, frame.width - cx) - 8;
      } else {
        if (r.top >= frame.top - 1 && r.bottom <= frame.bottom + 1) { return; }
        var cy = size.t + (1 - (d[0] + d[1]) / 2) * size.h;
        room = 2 * Math.min(cy, frame.height - cy) - 8;
      }
      var t = typeof ax.title === "object" ? ax.title : { text: ax.title };
      var flat = textOf(t).replace(/<br\s*\/?>/gi, " ");
      var text = wrap(flat, Math.max(6, Math.floor(room / (CHAR_EM * fontSize(t, 12)))));
      if (text !== textOf(t)) {
        update = update || {};
        update[key + ".title.text"] = text;
      }
    });
    return update;
  }

  /** px the plot must move down so that nothing reaches up into the figure's title (0 if nothing does). */
  function titleClash(plot) {
    var title = plot.querySelector(".g-gtitle text");
    if (!title) { return 0; }
    var t = title.getBoundingClientRect();
    if (t.height < 0.5) { return 0; }
    var others = boxesOf(plot, ".legend, .annotation text, [class^='g-y'] text, [class^='g-x'] text")
      .filter(function (r) { return r.right > t.left && r.left < t.right && r.bottom > t.top; });
    var need = others.reduce(function (acc, r) { return Math.max(acc, t.bottom + 4 - r.top); }, 0);
    return need > 1 ? need : 0;
  }

  /** Settle ``L`` (the layout ``plot`` shows) against its measured text; resolves with the layout to keep. */
  function settle(plot, L, refit) {
    var rounds = 0;
    function step(layout) {
      if (rounds++ >= 8 || !plot._fullLayout) { return Promise.resolve(layout); }
      var gap = stackedClash(plot, layout);
      if (gap) {
        var again = refit(gap);
        return Plotly.react(plot, plot.data, again).then(function () { return step(again); });
      }
      var high = titleClash(plot);
      var fixed = FIXED.get(layout);  // presenter mode: the size is the panel's; margins give
      if (high) {
        var up = { "margin.t": plot._fullLayout.margin.t + high };
        if (!fixed) { up.height = plot._fullLayout.height + high; }
        return Plotly.relayout(plot, up).then(function () { return step(layout); });
      }
      var legend = layout.legend && (layout.legend.yref === "container" || layout.legend.y < 0) ? legendClash(plot) : 0;
      if (legend && layout.legend.yref === "container") {  // taller figure, same plot area: the legend moves down
        var down = { "margin.b": plot._fullLayout.margin.b + legend };
        if (!fixed) { down.height = plot._fullLayout.height + legend; }
        return Plotly.relayout(plot, down).then(function () { return step(layout); });
      }
      if (legend) {  // a legend the chapter already put below the plot (paper coordinates) moves further down
        var h = plot._fullLayout._size.h || 300;
        return Plotly.relayout(plot, { "legend.y": layout.legend.y - legend / h }).then(function () { return step(layout); });
      }
      var titles = clippedAxisTitles(plot, layout);
      if (titles) {
        return Plotly.relayout(plot, titles).then(function () { return step(layout); });
      }
      return Promise.resolve(layout);
    }
    return step(L);
  }

  /* ----------------------------------------------------------------- the readout */
  function renderReadout(output, keys, values) {
    var shown = output.querySelectorAll(".lx-num");
    if (shown.length === keys.length) {  // rewrite only the numbers that changed
      for (var i = 0; i < keys.length; i++) {
        if (shown[i].textContent !== values[i]) { shown[i].textContent = values[i]; }
      }
      return;
    }
    output.textContent = "";
    keys.forEach(function (key, i) {
      var item = document.createElement("span");
      item.className = "lx-item";
      var k = document.createElement("span");
      k.className = "lx-key";
      k.textContent = key;
      var v = document.createElement("span");
      v.className = "lx-num";
      v.setAttribute("data-readout", key);
      v.textContent = values[i];
      item.appendChild(k);
      item.appendChild(document.createTextNode(" "));
      item.appendChild(v);
      output.appendChild(item);
    });
  }

  /** A fitted layout per (layout, width): while neither changes, plotly gets the very object it
   *  already holds, so Plotly.react finds no layout change and does no relayout. ``settled`` says
   *  whether that layout has been measured and settled yet. */
  function layoutCache(layouts, entries) {
    var cache = {};
    return function (index, width, stage) {
      var key = index + "@" + Math.round(width) + (stage ? "x" + Math.round(stage.height) : "");
      if (!cache[key]) {
        var extra = 0;
        cache[key] = { layout: fitLayout(layouts[index], width, 0, entries, stage), settled: false,
          refit: function (more) { extra += more; return (cache[key].layout = fitLayout(layouts[index], width, extra, entries, stage)); } };
      }
      return cache[key];
    };
  }

  /** How many entries a legend of these traces shows (at most; an estimate for its height). */
  function legendEntries(traces) {
    var names = {};
    traces.forEach(function (t) { if (t.showlegend !== false && t.name) { names[t.legendgroup || t.name] = true; } });
    return Object.keys(names).length;
  }

  /** On a narrow screen, long legend entries (trace names) wrap to the width they have. */
  function wrapNames(traces, width) {
    if (width >= NARROW_PX) { return; }
    var chars = Math.floor((width - 60) / (CHAR_EM * 12));
    traces.forEach(function (t) { if (typeof t.name === "string") { t.name = wrap(t.name, chars); } });
  }

  function plotWidth(plot) { return plot.clientWidth || plot.parentNode.clientWidth || 700; }

  function setupExplorable(root) {
    var payload = JSON.parse(root.querySelector("script.lx-payload").textContent);
    var plot = root.querySelector(".lx-plot");
    var output = root.querySelector("output.lx-readout");
    var inputs = payload.controls.map(function (c) {
      return root.querySelector('[data-control="' + c.name + '"]');
    });
    var strides = new Array(payload.controls.length);
    var stride = 1;
    for (var i = payload.controls.length - 1; i >= 0; i--) {
      strides[i] = stride;
      stride *= payload.controls[i].values.length;
    }
    var fitted = layoutCache(payload.layouts, legendEntries(payload.traces));
    var width = plotWidth(plot);
    wrapNames(payload.traces, width);

    function comboIndex() {
      return inputs.reduce(function (acc, el, j) { return acc + Number(el.value) * strides[j]; }, 0);
    }

    function showLabels() {
      payload.controls.forEach(function (c, j) {
        if (c.kind !== "slider") { return; }
        var label = c.labels[Number(inputs[j].value)];
        if (inputs[j].getAttribute("aria-valuetext") !== label) {
          inputs[j].setAttribute("aria-valuetext", label);
          var shown = inputs[j].parentNode.querySelector(".lx-value");
          if (shown) { shown.textContent = label; }
        }
      });
    }

    function render() {
      var t0 = performance.now();
      var index = comboIndex();
      var frame = payload.frames[index];
      // Hand plotly the pooled objects themselves: a trace that did not change between two
      // frames is the same object, so Plotly.react sees it unchanged and skips it. Only a
      // trace that appears twice in one frame is copied (plotly needs distinct objects).
      var used = {};
      var data = frame[0].map(function (k) {
        if (used[k]) { return clone(payload.traces[k]); }
        used[k] = true;
        return payload.traces[k];
      });
      showLabels();
      renderReadout(output, payload.readout_keys, frame[2].map(function (k) { return payload.strings[k]; }));
      var stage = root.labsStage;  // presenter mode's panel size, when the figure is on it
      var fit = stage ? fitted(frame[1], stage.width, stage) : fitted(frame[1], width);
      return Plotly.react(plot, data, fit.layout, CONFIG).then(function () {
        if (fit.settled) { return null; }
        fit.settled = true;
        return settle(plot, fit.layout, fit.refit);
      }).then(function () {
        root.setAttribute("data-combo", String(index));
        root.setAttribute("data-render-ms", (performance.now() - t0).toFixed(3));
        root.dispatchEvent(new CustomEvent("lx-rendered", { detail: { combo: index } }));
      });
    }

    inputs.forEach(function (el) {
      el.addEventListener("input", render);
      if (el.tagName === "SELECT") { el.addEventListener("change", render); }
    });
    // a new width (a rotated phone, a resized window, presenter mode) gets its own fitted layout
    watchWidth(plot, function (w) { width = w; wrapNames(payload.traces, w); render(); });
    // for others (presenter mode): redraw for the size the figure has now
    root.labsRender = function () { width = plotWidth(plot); return render(); };
    render();
  }

  function setupFigure(root) {
    var spec = JSON.parse(root.querySelector("script.lx-figure").textContent);
    var plot = root.querySelector(".lx-plot");
    var width = plotWidth(plot);
    wrapNames(spec.data, width);
    function draw(w) {
      var extra = 0;
      var entries = legendEntries(spec.data);
      var stage = root.labsStage;  // presenter mode's panel size, when the figure is on it
      if (stage) { w = stage.width; }
      var layout = fitLayout(spec.layout, w, 0, entries, stage);
      return Plotly.react(plot, spec.data, layout, FIGURE_CONFIG).then(function () {
        return settle(plot, layout, function (more) { extra += more; return fitLayout(spec.layout, w, extra, entries, stage); });
      });
    }
    root.labsRender = function () { return draw(plotWidth(plot)); };
    draw(width).then(function () { root.setAttribute("data-drawn", "true"); });
    watchWidth(plot, function (w) { wrapNames(spec.data, w); draw(w); });
  }

  /** Call ``redraw(width)`` when the plot's width changes by more than a few pixels. */
  function watchWidth(plot, redraw) {
    if (!window.ResizeObserver) { return; }
    var last = plotWidth(plot);
    var pending = null;
    new ResizeObserver(function () {
      var w = plotWidth(plot);
      if (Math.abs(w - last) < 4) { return; }
      last = w;
      clearTimeout(pending);
      pending = setTimeout(function () { redraw(w); }, 80);
    }).observe(plot.parentNode);
  }

  /* ----------------------------------------------------------------- print
   * Printed, a figure shows the control values that made it (the controls themselves are hidden by
   * the print stylesheet): written into .lx-state just before printing, so moves do not pay for it. */
  function writeStates() {
    document.querySelectorAll(".labs-explorable").forEach(function (root) {
      var state = root.querySelector(".lx-state");
      if (!state) { return; }
      var parts = [];
      root.querySelectorAll(".lx-control").forEach(function (c) {
        var label = c.querySelector("label");
        var el = c.querySelector("[data-control]");
        var value = el.tagName === "SELECT" ? el.options[el.selectedIndex].text : el.getAttribute("aria-valuetext");
        parts.push((label ? label.textContent : "") + ": " + value);
      });
      state.textContent = parts.join(" \u00b7 ");
    });
  }

  function init() {
    window.addEventListener("beforeprint", writeStates);
    if (window.matchMedia) {
      var print = window.matchMedia("print");
      if (print.addEventListener) { print.addEventListener("change", function (e) { if (e.matches) { writeStates(); } }); }
    }
    var blocks = document.querySelectorAll(".labs-explorable, .labs-figure");
    if (!blocks.length) { return; }
    if (!window.Plotly) {
      blocks.forEach(function (b) {
        b.querySelector(".lx-plot").textContent = "This figure needs plotly.js, which did not load.";
      });
      return;
    }
    document.querySelectorAll(".labs-explorable").forEach(setupExplorable);
    document.querySelectorAll(".labs-figure").forEach(setupFigure);
  }

  window.LabsExplorable = { fitLayout: fitLayout, wrap: wrap, writeStates: writeStates, NARROW_PX: NARROW_PX };

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
