// Collect every text box of one drawn plotly figure and report the ones that collide.
// Called by the browser tests as  (plotDiv) => report ; plotDiv is a .lx-plot element.
// Groups: each title, each annotation and the legend are their own group; tick labels are grouped by
// axis (plotly thins and rotates an axis's own labels; labels of *different* axes must not touch).
(plot) => {
  const svgs = plot.querySelectorAll(".main-svg");
  if (!svgs.length) { return { error: "not drawn" }; }
  const frame = plot.querySelector(".main-svg").getBoundingClientRect();
  const boxes = [];
  const add = (el, group, label) => {
    const r = el.getBoundingClientRect();
    // a wrapped text is one <text> with a <tspan class="line"> per line: keep the lines apart
    const lines = el.querySelectorAll ? el.querySelectorAll("tspan.line") : [];
    const text = (lines.length ? Array.from(lines).map((t) => t.textContent).join(" ") : (el.textContent || "")).trim();
    if (!text || r.width < 0.5 || r.height < 0.5) { return; }
    const hidden = getComputedStyle(el).display === "none" || el.closest("[display='none']");
    if (hidden) { return; }
    boxes.push({ group, label: label || text, text, x0: r.left, y0: r.top, x1: r.right, y1: r.bottom });
  };
  plot.querySelectorAll(".g-gtitle text.gtitle").forEach((el) => add(el, "title"));
  plot.querySelectorAll("[class^='g-x'][class$='title'] text, [class^='g-y'][class$='title'] text").forEach((el) => {
    add(el, "axis-title " + el.parentNode.getAttribute("class"));
  });
  plot.querySelectorAll(".annotation").forEach((el, i) => {
    const t = el.querySelector("text");
    if (t) { add(t, "annotation " + i); }
  });
  plot.querySelectorAll(".legend .legendtext").forEach((el) => add(el, "legend"));
  plot.querySelectorAll(".legend .legendtitletext").forEach((el) => add(el, "legend"));
  plot.querySelectorAll("g.xtick > text, g.ytick > text, [class$='tick'] > text").forEach((el) => {
    const cls = el.parentNode.getAttribute("class") || "";
    add(el, "ticks " + cls.split(" ")[0]);
  });
  // one axis's tick labels, plus the colorbar's, counted once
  const seen = new Set();
  const unique = boxes.filter((b) => {
    const k = [b.group, b.text, Math.round(b.x0), Math.round(b.y0)].join("|");
    if (seen.has(k)) { return false; }
    seen.add(k);
    return true;
  });
  const overlaps = [];
  const slack = 1.0;  // px: touching boxes are fine
  for (let i = 0; i < unique.length; i++) {
    for (let j = i + 1; j < unique.length; j++) {
      const a = unique[i], b = unique[j];
      if (a.group === b.group) { continue; }
      const w = Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0);
      const h = Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0);
      if (w > slack && h > slack) {
        overlaps.push(`${a.group} "${a.label.slice(0, 40)}" / ${b.group} "${b.label.slice(0, 40)}" (${w.toFixed(0)}x${h.toFixed(0)} px)`);
      }
    }
  }
  const clipped = unique
    .filter((b) => b.x0 < frame.left - slack || b.x1 > frame.right + slack || b.y0 < frame.top - slack || b.y1 > frame.bottom + slack)
    .map((b) => `${b.group} "${b.label.slice(0, 40)}"`);
  const texts = unique.filter((b) => !b.group.startsWith("ticks")).map((b) => b.text);
  return { overlaps, clipped, texts, width: frame.width, height: frame.height, n: unique.length };
}
