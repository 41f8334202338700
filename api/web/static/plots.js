// Small SVG charts for the study page. The server samples and bins (api/web/plots.py), so
// each chart draws at most a few thousand marks. Text goes in as text nodes only.
"use strict";

const Plots = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const W = 560, H = 300, M = { l: 62, r: 14, t: 12, b: 40 };
  const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22", "#17becf"];

  function node(tag, attrs, text) {
    const n = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) n.setAttribute(k, String(v));
    if (text !== undefined) n.textContent = String(text);
    return n;
  }

  function reset(svg, width, height) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    svg.setAttribute("viewBox", `0 0 ${width || W} ${height || H}`);
    svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
    svg.setAttribute("role", "img");
    return svg;
  }

  function empty(svg, message) {
    reset(svg);
    svg.appendChild(node("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "muted" },
      message));
    svg.dataset.drawn = "0";
  }

  function fmt(x) {
    if (x === null || x === undefined || Number.isNaN(x)) return "";
    const a = Math.abs(x);
    if (a !== 0 && (a >= 1e5 || a < 1e-3)) return x.toExponential(2);
    return String(Number(x.toPrecision(4)));
  }

  function extent(values) {
    let lo = Infinity, hi = -Infinity;
    for (const v of values) if (v !== null && Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    if (lo === Infinity) return [0, 1];
    if (lo === hi) return [lo - 0.5, hi + 0.5];
    const pad = (hi - lo) * 0.04;
    return [lo - pad, hi + pad];
  }

  function scale(domain, range) {
    const [d0, d1] = domain, [r0, r1] = range;
    return (v) => r0 + ((v - d0) / (d1 - d0)) * (r1 - r0);
  }

  function ticks([lo, hi], n) {
    const step = (hi - lo) / n;
    return Array.from({ length: n + 1 }, (_, i) => lo + i * step);
  }

  // Axes and frame; returns {x, y} scales. xLabels: optional category names by position.
  function frame(svg, xDomain, yDomain, xTitle, yTitle, box, xLabels) {
    const b = box || { x: M.l, y: M.t, w: W - M.l - M.r, h: H - M.t - M.b };
    const x = scale(xDomain, [b.x, b.x + b.w]), y = scale(yDomain, [b.y + b.h, b.y]);
    const g = node("g", { class: "axes" });
    g.appendChild(node("rect", { x: b.x, y: b.y, width: b.w, height: b.h, class: "frame" }));
    for (const t of ticks(yDomain, 4)) {
      g.appendChild(node("line", { x1: b.x - 4, x2: b.x, y1: y(t), y2: y(t), class: "tick" }));
      g.appendChild(node("text", { x: b.x - 6, y: y(t) + 3, "text-anchor": "end" }, fmt(t)));
    }
    if (xLabels) {
      xLabels.forEach((label, i) => g.appendChild(
        node("text", { x: x(i), y: b.y + b.h + 14, "text-anchor": "middle" }, label)));
    } else {
      for (const t of ticks(xDomain, 4)) {
        g.appendChild(node("text", { x: x(t), y: b.y + b.h + 14, "text-anchor": "middle" }, fmt(t)));
      }
    }
    if (xTitle) g.appendChild(node("text", { x: b.x + b.w / 2, y: b.y + b.h + 30, "text-anchor": "middle", class: "title" }, xTitle));
    if (yTitle) g.appendChild(node("text", { x: 12, y: b.y + b.h / 2, "text-anchor": "middle", class: "title", transform: `rotate(-90 12 ${b.y + b.h / 2})` }, yTitle));
    svg.appendChild(g);
    return { x, y };
  }

  // yTitle: what the values are (default "value"; a multi-objective study's first metric)
  function history(svg, legend, data, algorithms, yTitle) {
    const h = data.history;
    if (!h.points.length) return empty(svg, "no complete trial yet");
    reset(svg);
    const ys = h.points.map((p) => p[1]);
    const s = frame(svg, [0, Math.max(1, h.last)], extent(ys), "trial number", yTitle || "value");
    const dots = node("g", { class: "dots" });
    for (const [n, v, r, broke] of h.points) {
      const colour = COLORS[(r - 1) % COLORS.length];
      // a trial that broke a constraint: a ring, and left out of the best-so-far line
      const c = node("circle", broke
        ? { cx: s.x(n).toFixed(1), cy: s.y(v).toFixed(1), r: 2.4, fill: "none", stroke: colour, class: "infeasible" }
        : { cx: s.x(n).toFixed(1), cy: s.y(v).toFixed(1), r: 2.4, fill: colour });
      c.appendChild(node("title", {}, `trial ${n}, round ${r}: ${fmt(v)}${broke ? " (broke a constraint)" : ""}`));
      dots.appendChild(c);
    }
    svg.appendChild(dots);
    if (h.best.length) {
      let d = "";
      h.best.forEach(([n, v], i) => {
        const px = s.x(n).toFixed(1), py = s.y(v).toFixed(1);
        d += i === 0 ? `M${px},${py}` : `H${px}V${py}`;
      });
      d += `H${s.x(Math.max(1, h.last)).toFixed(1)}`;
      svg.appendChild(node("path", { d, class: "best" }));
    }
    while (legend.firstChild) legend.removeChild(legend.firstChild);
    algorithms.forEach((a, i) => {
      const item = document.createElement("span");
      const sw = document.createElement("i");
      sw.className = `swatch c${i % COLORS.length}`;
      item.appendChild(sw);
      item.appendChild(document.createTextNode(`round ${i + 1}: ${a}`));
      legend.appendChild(item);
    });
    svg.dataset.drawn = String(h.points.length);
  }

  function importance(svg, data) {
    const items = data.importance.items;
    if (!items.length || data.complete < 3) return empty(svg, "needs 3 complete trials");
    const rowH = 24;
    reset(svg, W, 20 + items.length * rowH);
    const left = 130, width = W - left - 60;
    items.forEach((it, i) => {
      const y = 10 + i * rowH;
      svg.appendChild(node("text", { x: left - 6, y: y + rowH * 0.65, "text-anchor": "end" }, it.param));
      const bar = node("rect", { x: left, y: y + 2, width: Math.max(1, it.share * width), height: rowH - 4, class: "bar" });
      bar.appendChild(node("title", {}, `${it.param}: ${fmt(it.share)} (${it.trials} trials)`));
      svg.appendChild(bar);
      svg.appendChild(node("text", { x: left + Math.max(1, it.share * width) + 4, y: y + rowH * 0.65 }, fmt(it.share)));
    });
    svg.dataset.drawn = String(items.length);
  }

  function parallel(svg, data) {
    const p = data.parallel;
    if (!p.values.length) return empty(svg, "no complete trial yet");
    const width = 1100;
    reset(svg, width, H);
    const axes = [...p.axes, { name: data.value_label || "value", kind: "numeric", values: p.values }];
    const top = 24, bottom = H - 30, left = 50, right = width - 50;
    const step = axes.length > 1 ? (right - left) / (axes.length - 1) : 0;
    const ys = axes.map((a) => {
      if (a.kind === "categorical") {
        const n = Math.max(1, (a.choices || []).length - 1);
        return (v) => (v === null ? null : bottom - (v / n) * (bottom - top));
      }
      const [lo, hi] = extent(a.values);
      return (v) => (v === null ? null : bottom - ((v - lo) / (hi - lo)) * (bottom - top));
    });
    const [vlo, vhi] = extent(p.values);
    const lines = node("g", { class: "lines" });
    p.values.forEach((value, i) => {
      let d = "";
      axes.forEach((a, k) => {
        const y = ys[k](a.values[i]);
        if (y === null) return;
        d += `${d ? "L" : "M"}${(left + k * step).toFixed(1)},${y.toFixed(1)}`;
      });
      const t = (value - vlo) / (vhi - vlo);
      const hue = data.direction === "maximize" ? 240 - t * 240 : t * 240;
      lines.appendChild(node("path", { d, stroke: `hsl(${hue.toFixed(0)},70%,45%)`, class: "pline" }));
    });
    svg.appendChild(lines);
    axes.forEach((a, k) => {
      const x = left + k * step;
      svg.appendChild(node("line", { x1: x, x2: x, y1: top, y2: bottom, class: "axis" }));
      svg.appendChild(node("text", { x, y: 14, "text-anchor": "middle", class: "title" }, a.name));
      if (a.kind === "categorical") {
        (a.choices || []).forEach((c, v) => svg.appendChild(node("text", { x: x + 4, y: ys[k](v) + 3 }, c)));
      } else {
        const [lo, hi] = extent(a.values);
        svg.appendChild(node("text", { x: x + 4, y: bottom + 14 }, fmt(lo)));
        svg.appendChild(node("text", { x: x + 4, y: top - 2 + 12 }, fmt(hi)));
      }
    });
    svg.dataset.drawn = String(p.values.length);
  }

  function slices(box, data) {
    while (box.firstChild) box.removeChild(box.firstChild);
    let drawn = 0;
    for (const sl of data.slices) {
      const svg = node("svg", { class: "plot slice" });
      box.appendChild(svg);
      if (!sl.points.length) { empty(svg, `${sl.name}: no complete trial`); continue; }
      reset(svg, 360, 240);
      const b = { x: 56, y: 10, w: 290, h: 190 };
      const cat = sl.kind === "categorical";
      const xd = cat ? [-0.5, Math.max(0.5, sl.choices.length - 0.5)] : extent(sl.points.map((q) => q[0]));
      const s = frame(svg, xd, extent(sl.points.map((q) => q[1])), sl.name, data.value_label || "value", b, cat ? sl.choices : null);
      const g = node("g", { class: "dots" });
      sl.points.forEach(([x, v], i) => {
        const jitter = cat ? ((i * 0.618) % 1 - 0.5) * 0.5 : 0;
        g.appendChild(node("circle", { cx: s.x(x + jitter).toFixed(1), cy: s.y(v).toFixed(1), r: 2.2, class: "dot" }));
      });
      svg.appendChild(g);
      svg.dataset.drawn = String(sl.points.length);
      drawn += sl.points.length;
    }
    box.dataset.drawn = String(drawn);
  }

  function rounds(svg, data) {
    const boxes = data.rounds.filter((r) => r.n > 0);
    if (!boxes.length) return empty(svg, "no complete trial yet");
    reset(svg);
    const all = boxes.flatMap((r) => [r.min, r.max]);
    const labels = data.rounds.map((r) => `${r.round}: ${r.algorithm || ""}`);
    const s = frame(svg, [-0.5, data.rounds.length - 0.5], extent(all), "round", data.value_label || "value", null, labels);
    const half = Math.min(40, (W - M.l - M.r) / data.rounds.length / 3);
    for (const r of boxes) {
      const x = s.x(r.round - 1);
      const g = node("g", { class: "box" });
      g.appendChild(node("line", { x1: x, x2: x, y1: s.y(r.low), y2: s.y(r.q1), class: "whisker" }));
      g.appendChild(node("line", { x1: x, x2: x, y1: s.y(r.q3), y2: s.y(r.high), class: "whisker" }));
      g.appendChild(node("rect", { x: x - half, y: s.y(r.q3), width: 2 * half, height: Math.max(1, s.y(r.q1) - s.y(r.q3)), fill: COLORS[(r.round - 1) % COLORS.length], class: "iqr" }));
      g.appendChild(node("line", { x1: x - half, x2: x + half, y1: s.y(r.median), y2: s.y(r.median), class: "median" }));
      g.appendChild(node("title", {}, `round ${r.round} (${r.algorithm}): n=${r.n}, median ${fmt(r.median)}, best ${fmt(data.direction === "maximize" ? r.max : r.min)}`));
      svg.appendChild(g);
    }
    svg.dataset.drawn = String(boxes.length);
  }

  function curves(svg, list, emptyText) {
    const drawn = list.filter((c) => c.points.length);
    if (!drawn.length) return empty(svg, emptyText || "no trial reported intermediate values");
    reset(svg);
    const steps = drawn.flatMap((c) => c.points.map((p) => p[0]));
    const values = drawn.flatMap((c) => c.points.map((p) => p[1]));
    const s = frame(svg, extent(steps), extent(values), "step", "intermediate value");
    drawn.forEach((c, i) => {
      const d = c.points.map(([st, v], k) => `${k ? "L" : "M"}${s.x(st).toFixed(1)},${s.y(v).toFixed(1)}`).join("");
      const path = node("path", { d, stroke: COLORS[i % COLORS.length], class: `curve ${c.state || ""}` });
      path.appendChild(node("title", {}, `trial ${c.number}`));
      svg.appendChild(path);
    });
    svg.dataset.drawn = String(drawn.length);
  }

  // Several metrics: the complete trials on the first two metrics, the Pareto front on top.
  function pareto(svg, p) {
    if (!p || !p.points.length) return empty(svg, "no complete trial yet");
    reset(svg);
    const s = frame(svg, extent(p.points.map((q) => q[0])), extent(p.points.map((q) => q[1])),
      `${p.names[0]} (${p.directions[0]})`, `${p.names[1]} (${p.directions[1]})`);
    const dots = node("g", { class: "dots" });
    for (const onFront of [false, true]) {
      for (const [x, y, f, n] of p.points) {
        if ((f === 0) !== onFront) continue;
        const c = node("circle", { cx: s.x(x).toFixed(1), cy: s.y(y).toFixed(1), r: onFront ? 3.4 : 2.2,
          fill: onFront ? COLORS[3] : "#b0b0b0", class: onFront ? "front" : "" });
        const where = f === 0 ? "Pareto front" : f > 0 ? `front ${f + 1}` : "infeasible";
        c.appendChild(node("title", {}, `trial ${n} (${where}): ${fmt(x)}, ${fmt(y)}`));
        dots.appendChild(c);
      }
    }
    svg.appendChild(dots);
    svg.dataset.drawn = String(p.points.length);
  }

  // Several metrics: the hypervolume of the feasible trials so far, by trial number.
  function hypervolume(svg, h) {
    if (!h || !h.points.length) return empty(svg, "no feasible complete trial yet");
    reset(svg);
    const last = Math.max(1, h.last);
    const s = frame(svg, [0, last], extent(h.points.map((p) => p[1])), "trial number", "hypervolume");
    let d = "";
    h.points.forEach(([n, v], i) => {
      const px = s.x(n).toFixed(1), py = s.y(v).toFixed(1);
      d += i === 0 ? `M${px},${py}` : `H${px}V${py}`;
    });
    d += `H${s.x(last).toFixed(1)}`;
    svg.appendChild(node("path", { d, class: "best" }));
    const dots = node("g", { class: "dots" });
    for (const [n, v] of h.points) {
      const c = node("circle", { cx: s.x(n).toFixed(1), cy: s.y(v).toFixed(1), r: 2.0, fill: COLORS[3] });
      c.appendChild(node("title", {}, `up to trial ${n}: ${fmt(v)}`));
      dots.appendChild(c);
    }
    svg.appendChild(dots);
    svg.dataset.drawn = String(h.points.length);
    svg.dataset.last = String(h.points[h.points.length - 1][1]);
  }

  return { history, importance, parallel, slices, rounds, curves, pareto, hypervolume, fmt };
})();
