// Small SVG line charts for CPU and memory over the last few minutes.
//
// No library: a chart is an <svg> with one <polyline> (plus a light area) per series, redrawn
// from a bounded ring of samples. Redraws are batched to one animation frame, so a burst of
// stats messages costs one redraw per chart, and a hidden page (no animation frames) draws
// nothing until it shows again. A redraw changes only the attributes whose value changed.

const NS = "http://www.w3.org/2000/svg";
/** The shortest span shown (s): a young chart spans since its first sample, not a whole
 * window in which the data would be a sliver at the right edge. */
const MIN_SPAN = 60;

/** Default series: CPU and memory, both in percent. */
export const CPU_MEM = [
  { key: "cpu", label: "cpu", cls: "series-cpu" },
  { key: "mem", label: "mem", cls: "series-mem" },
];

const pending = new Set();
let frameRequested = false;

function flush() {
  frameRequested = false;
  const charts = [...pending];
  pending.clear();
  for (const chart of charts) chart.draw();
}

function schedule(chart) {
  pending.add(chart);
  if (!frameRequested) {
    frameRequested = true;
    requestAnimationFrame(flush);
  }
}

/** Set an attribute only when its value changes (an unchanged one still costs the page a
 * style, layout and paint). */
function set(node, name, value) {
  if (node.getAttribute(name) !== value) node.setAttribute(name, value);
}

function el(name, attrs, parent) {
  const node = document.createElementNS(NS, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (parent) parent.appendChild(node);
  return node;
}

/** The smallest "nice" ceiling (1, 2, 5 x 10^n) at or above value; at least `floor`. */
export function niceCeiling(value, floor = 1) {
  const v = Math.max(value, floor);
  const power = 10 ** Math.floor(Math.log10(v));
  for (const step of [1, 2, 5, 10]) {
    if (v <= step * power) return step * power;
  }
  return 10 * power;
}

/**
 * A line chart drawn into an existing <svg> element (its width/height attributes give the
 * drawing size; with `fluid` the width follows the element's layout width). `window` is the
 * time span shown, in seconds; `axes` adds a scale label and grid lines (for the larger
 * charts of the watcher page).
 */
export class Chart {
  constructor(
    svg,
    { series = CPU_MEM, window = 300, axes = false, maxPoints = 600, fluid = false } = {},
  ) {
    this.svg = svg;
    this.series = series;
    this.window = window;
    this.axes = axes;
    this.maxPoints = maxPoints;
    this.points = []; // [t, v0, v1, ...], oldest first
    this.width = Number(svg.getAttribute("width")) || 120;
    this.height = Number(svg.getAttribute("height")) || 28;
    svg.setAttribute("viewBox", `0 0 ${this.width} ${this.height}`);
    svg.classList.add("chart");
    svg.replaceChildren();
    this.grid = el("g", { class: "grid" }, svg);
    this.lines = series.map((s) => ({
      area: el("polygon", { class: `area ${s.cls}` }, svg),
      line: el("polyline", { class: `line ${s.cls}` }, svg),
    }));
    this.scaleLabel = axes ? el("text", { class: "scale", x: 4, y: 11 }, svg) : null;
    this.empty = el("text", { class: "empty", x: this.width / 2, y: this.height / 2 + 4 }, svg);
    this.empty.textContent = "no data";
    this.title = el("title", {}, svg);
    this.drawnAt = -Infinity; // performance.now() of the last draw
    if (fluid) {
      this.fit();
      new ResizeObserver(() => this.fit()).observe(svg);
    }
  }

  /** Take the width the page gives the <svg> (fluid charts). */
  fit() {
    const width = Math.round(this.svg.getBoundingClientRect().width);
    if (!width || width === this.width) return;
    this.width = width;
    this.svg.setAttribute("viewBox", `0 0 ${this.width} ${this.height}`);
    this.empty.setAttribute("x", this.width / 2);
    schedule(this);
  }

  /** Replace the samples: `points` is [[t, v0, v1, ...], ...] in time order. */
  load(points) {
    this.points = points.slice(-this.maxPoints);
    schedule(this);
  }

  /** Add one sample at time `t` (seconds since the epoch). */
  push(t, values) {
    const last = this.points[this.points.length - 1];
    if (last && t < last[0]) return; // out of order: keep the line monotonic
    this.points.push([t, ...values]);
    if (this.points.length > this.maxPoints) this.points.shift();
    schedule(this);
  }

  /** Redraw in the next frame unless drawn within the last `ms`: slides the time window of
   * a chart whose samples stopped coming, without a second redraw of one they come to.
   * Whether a redraw was asked. */
  slide(ms) {
    if (performance.now() - this.drawnAt < ms) return false;
    schedule(this);
    return true;
  }

  /** The latest sample, or null. */
  latest() {
    return this.points.length ? this.points[this.points.length - 1] : null;
  }

  draw() {
    this.drawnAt = performance.now();
    const now = Date.now() / 1000;
    while (this.points.length > 1 && this.points[1][0] < now - this.window) this.points.shift();
    const first = this.points.length ? this.points[0][0] : now;
    const span = Math.min(this.window, Math.max(MIN_SPAN, now - first));
    const start = now - span;
    this.span = span;
    const visible = this.points.filter((p) => p[0] >= start - 5);
    if (this.svg.classList.contains("has-data") !== visible.length > 0) {
      this.svg.classList.toggle("has-data", visible.length > 0);
    }
    let top = 0;
    for (const p of visible) for (let i = 1; i < p.length; i++) top = Math.max(top, p[i] || 0);
    const ceiling = niceCeiling(top * 1.1);
    const pad = this.axes ? 2 : 1;
    const h = this.height - 2 * pad;
    const x = (t) => (Math.max(0, (t - start) / span) * this.width).toFixed(1);
    const y = (v) => (pad + h - ((v || 0) / ceiling) * h).toFixed(1);
    this.series.forEach((s, i) => {
      const coords = visible.map((p) => `${x(p[0])},${y(p[i + 1])}`);
      set(this.lines[i].line, "points", coords.join(" "));
      if (coords.length) {
        const first = x(visible[0][0]);
        const lastX = x(visible[visible.length - 1][0]);
        const base = (pad + h).toFixed(1);
        const area = [`${first},${base}`, ...coords, `${lastX},${base}`];
        set(this.lines[i].area, "points", area.join(" "));
      } else {
        set(this.lines[i].area, "points", "");
      }
    });
    if (this.axes) this.drawGrid(ceiling, pad, h);
    const last = this.latest();
    const title = last
      ? this.series.map((s, i) => `${s.label} ${Number(last[i + 1] || 0).toFixed(1)}%`).join(", ")
      : "no data yet";
    if (this.title.textContent !== title) this.title.textContent = title;
  }

  drawGrid(ceiling, pad, h) {
    const lines = [0, 0.5, 1].map((fraction) => (pad + h - fraction * h).toFixed(1));
    const key = `${this.width} ${lines.join(" ")}`;
    if (this.gridKey !== key) {
      this.gridKey = key;
      this.grid.replaceChildren();
      for (const gy of lines) el("line", { x1: 0, x2: this.width, y1: gy, y2: gy }, this.grid);
    }
    const shown = this.span >= 120 ? `${Math.round(this.span / 60)} min` : `${Math.round(this.span)} s`;
    const label = `${ceiling}% · last ${shown}`;
    if (this.scaleLabel.textContent !== label) this.scaleLabel.textContent = label;
  }
}
