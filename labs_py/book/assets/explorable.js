/* Kernel-free controls for the book's static site.
 *
 * Each .labs-explorable block carries a JSON payload with every combination of
 * its controls' values precomputed by labs_py (labs_py/widgets/explorable.py):
 * pools of unique traces, layouts and readouts, and one frame per combination
 * (last control varying fastest). Moving a control picks the frame and hands it
 * to Plotly.react. Nothing is computed here, so the page shows exactly what
 * labs_py computed. .labs-figure blocks are plain figures drawn once.
 */
(function () {
  "use strict";
  // Explorables drop plotly's mode bar: its buttons are re-rendered on every Plotly.react (about 3 ms
  // here), and the controls are how a reader explores. Plain figures keep it (zoom, pan, save as PNG).
  var CONFIG = { responsive: true, displaylogo: false, displayModeBar: false };
  var FIGURE_CONFIG = { responsive: true, displaylogo: false };

  function clone(obj) { return JSON.parse(JSON.stringify(obj)); }

  function renderReadout(output, keys, values) {
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

    function comboIndex() {
      return inputs.reduce(function (acc, el, j) { return acc + Number(el.value) * strides[j]; }, 0);
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
      // plotly writes computed ranges into the layout it is given, so each render gets a fresh copy
      var layout = clone(payload.layouts[frame[1]]);
      payload.controls.forEach(function (c, j) {
        var label = c.labels[Number(inputs[j].value)];
        if (c.kind === "slider") {
          inputs[j].setAttribute("aria-valuetext", label);
          var shown = inputs[j].parentNode.querySelector(".lx-value");
          if (shown) { shown.textContent = label; }
        }
      });
      renderReadout(output, payload.readout_keys, frame[2].map(function (k) { return payload.strings[k]; }));
      return Plotly.react(plot, data, layout, CONFIG).then(function () {
        root.setAttribute("data-combo", String(index));
        root.setAttribute("data-render-ms", (performance.now() - t0).toFixed(3));
        root.dispatchEvent(new CustomEvent("lx-rendered", { detail: { combo: index } }));
      });
    }

    inputs.forEach(function (el) {
      el.addEventListener("input", render);
      if (el.tagName === "SELECT") { el.addEventListener("change", render); }
    });
    root.labsRender = render;
    render();
  }

  function setupFigure(root) {
    var spec = JSON.parse(root.querySelector("script.lx-figure").textContent);
    Plotly.newPlot(root.querySelector(".lx-plot"), spec.data, spec.layout, FIGURE_CONFIG).then(function () {
      root.setAttribute("data-drawn", "true");
    });
  }

  function init() {
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

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
