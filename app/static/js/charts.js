// Horizontal bar charts drawn as SVG at the width of their container.
import { h, svg } from "./dom.js";
import { number, signed } from "./format.js";
import { ticks } from "./scale.js";

const BAR = 16;
const GAP = 5;
const TOP = 28;
const BOTTOM = 12;

// Bold labels are a little wider than this; `fits` below leaves room for them.
function textWidth(text, size) {
  return text.length * size * 0.62;
}

function shorten(text, room) {
  return text.length <= room ? text : `${text.slice(0, Math.max(1, room - 1)).trimEnd()}…`;
}

// items: [{label, value, tone: "best" | "worst" | undefined}], in the order drawn.
// options: {title, lines: [{value, label}], signedValues, width, labelShare,
//           extent: values the axis must reach, labels: the labels to make room for,
//           so that charts one above the other share their axis}
export function barChart(items, options) {
  const width = Math.max(280, options.width || 640);
  const compact = width < 480;
  const fontSize = compact ? 11 : 12;
  const labels = options.labels || items.map((item) => item.label);
  const natural = Math.max(...labels.map((label) => textWidth(label, fontSize))) + 16;
  const room = width * (options.labelShare || 0.36);
  const labelWidth = Math.min(room, natural);
  const fits = natural <= room ? Infinity : Math.floor((room - 12) / (fontSize * 0.62));
  const valueRoom = compact ? 40 : 48;
  const values = items.map((item) => item.value);
  const lineValues = (options.lines || []).map((line) => line.value);
  const extent = options.extent || [];
  let low = Math.min(0, ...values, ...lineValues, ...extent);
  let high = Math.max(0, ...values, ...lineValues, ...extent);
  const axis = ticks(low, high, compact ? 4 : 6);
  low = Math.min(low, axis[0]);
  high = Math.max(high, axis[axis.length - 1]);
  const left = labelWidth + (low < 0 ? valueRoom : 0);
  const right = width - valueRoom;
  const x = (value) => left + ((value - low) / (high - low || 1)) * (right - left);
  const height = TOP + items.length * (BAR + GAP) + BOTTOM;
  const chart = svg("svg", {
    class: "bar-chart", width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": options.title,
  });
  chart.append(svg("title", { text: options.title }));
  const grid = svg("g", { class: "grid" });
  for (const value of axis) {
    grid.append(
      svg("line", { x1: x(value), x2: x(value), y1: TOP - 6, y2: height - BOTTOM }),
      svg("text", { x: x(value), y: TOP - 12, "text-anchor": "middle", text: number(value, value % 1 ? 1 : 0) }),
    );
  }
  chart.append(grid);
  const zero = x(0);
  const rows = svg("g", { class: "bars" });
  items.forEach((item, index) => {
    const top = TOP + index * (BAR + GAP);
    const start = Math.min(zero, x(item.value));
    const barWidth = Math.max(1, Math.abs(x(item.value) - zero));
    const shown = options.signedValues ? signed(item.value) : number(item.value);
    const row = svg("g", { class: `bar-row ${item.tone || ""}`.trim(), "data-label": item.label });
    row.append(
      svg("text", { class: "bar-label", x: labelWidth - 8, y: top + BAR / 2, "text-anchor": "end",
                    "dominant-baseline": "central", text: shorten(item.label, fits) }),
      svg("rect", { class: "bar", x: start, y: top, width: barWidth, height: BAR, rx: 3,
                    "data-label": item.label, "data-value": item.value },
          svg("title", { text: `${item.label}: ${shown}` })),
      svg("text", { class: "bar-value", x: item.value < 0 ? start - 4 : start + barWidth + 4, y: top + BAR / 2,
                    "text-anchor": item.value < 0 ? "end" : "start", "dominant-baseline": "central", text: shown }),
    );
    rows.append(row);
  });
  chart.append(rows);
  // Drawn over the bars, under the value labels' halo.
  for (const line of options.lines || []) {
    const at = x(line.value);
    chart.append(svg("g", { class: "reference-line" },
      svg("line", { x1: at, x2: at, y1: TOP - 4, y2: height - BOTTOM + 4 }),
      svg("title", { text: `${line.label}: ${number(line.value)}` })));
  }
  chart.append(...rows.querySelectorAll(".bar-value"));
  return chart;
}

// A caption under a chart: swatches for the tones and the reference lines.
export function chartKey(entries) {
  return h("ul", { class: "chart-key" }, entries.map((entry) =>
    h("li", {}, h("span", { class: `swatch ${entry.kind}`, "aria-hidden": "true" }), entry.label)));
}
