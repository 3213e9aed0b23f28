// Horizontal bar charts drawn as SVG at the width of their container. Labels
// are printed whole (wrapped, never cut short), every value is printed, and a
// reference line breaks where it would cross a label.
import { h, svg } from "./dom.js";
import { number } from "./format.js";
import { ticks } from "./scale.js";

const TOP = 28;
const BOTTOM = 12;
const VALUE_SIZE = 11;
// Space kept between a label and a bar, the chart's edge or a reference line.
const CLEAR = 4;
const BOLD = new Set(["best", "worst", "marked"]);

let measurer = null;
let family = null;

// The width of a text in the page's own font, so that the layout is decided
// before the chart is on the page.
export function textWidth(text, size, weight = 400) {
  measurer ??= document.createElement("canvas").getContext("2d");
  family ??= getComputedStyle(document.body).fontFamily;
  measurer.font = `${weight} ${size}px ${family}`;
  return measurer.measureText(text).width;
}

// Lines no wider than `room`; a word wider than that alone is split where it must be.
export function wrap(text, room, size, weight) {
  const fits = (candidate) => textWidth(candidate, size, weight) <= room;
  const lines = [];
  let current = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const longer = current ? `${current} ${word}` : word;
    if (fits(longer)) {
      current = longer;
      continue;
    }
    if (current) lines.push(current);
    current = word;
    while (!fits(current) && current.length > 1) {
      let cut = Math.max(1, Math.floor((current.length * room) / textWidth(current, size, weight)));
      while (cut > 1 && !fits(current.slice(0, cut))) cut -= 1;
      lines.push(current.slice(0, cut));
      current = current.slice(cut);
    }
  }
  lines.push(current);
  return lines;
}

// The stretches of a vertical line at `at` from `from` to `to` that cross no box.
function openings(at, boxes, from, to) {
  const blocked = boxes.filter((box) => box.left - CLEAR < at && at < box.right + CLEAR)
    .map((box) => [box.top - CLEAR / 2, box.bottom + CLEAR / 2])
    .sort((a, b) => a[0] - b[0]);
  const stretches = [];
  let y = from;
  for (const [top, bottom] of blocked) {
    if (top > y) stretches.push([y, top]);
    y = Math.max(y, bottom);
  }
  if (y < to) stretches.push([y, to]);
  return stretches;
}

// As many decimals on the axis as its step needs ("2.5", not "2.50").
function decimals(values) {
  return Math.min(2, Math.max(...values.map((value) => (String(value).split(".")[1] || "").length)));
}

function grid(axis, x, height, tickFormat) {
  const digits = decimals(axis);
  return svg("g", { class: "grid" }, axis.flatMap((value) => [
    svg("line", { x1: x(value), x2: x(value), y1: TOP - 6, y2: height - BOTTOM }),
    svg("text", { x: x(value), y: TOP - 12, "text-anchor": "middle", text: tickFormat(value, digits) })]));
}

// One bar with its label and its value, and the boxes those two texts take.
function barRow({ item, lines, weight, middle }, look) {
  const { x, format, size, lineHeight, bar, labelRight } = look;
  const zero = x(0);
  const start = Math.min(zero, x(item.value));
  const barWidth = Math.max(1, Math.abs(x(item.value) - zero));
  const shown = format(item.value);
  const shownWidth = textWidth(shown, VALUE_SIZE);
  const valueX = item.value < 0 ? start - CLEAR : start + barWidth + CLEAR;
  const valueLeft = item.value < 0 ? valueX - shownWidth : valueX;
  const first = middle - ((lines.length - 1) * lineHeight) / 2;
  const boxes = [
    { left: valueLeft, right: valueLeft + shownWidth, top: middle - lineHeight / 2, bottom: middle + lineHeight / 2 },
    { left: labelRight - Math.max(...lines.map((line) => textWidth(line, size, weight))), right: labelRight,
      top: first - lineHeight / 2, bottom: first + (lines.length - 0.5) * lineHeight },
  ];
  const node = svg("g", { class: `bar-row ${item.tone || ""}`.trim(), "data-label": item.label },
    svg("text", { class: "bar-label", x: labelRight, "font-size": size, "text-anchor": "end",
                  "dominant-baseline": "central" },
      lines.map((line, index) => svg("tspan", { x: labelRight, y: first + index * lineHeight, text: line }))),
    svg("rect", { class: "bar", x: start, y: middle - bar / 2, width: barWidth, height: bar, rx: bar > 12 ? 3 : 2,
                  "data-label": item.label, "data-value": item.value },
      svg("title", { text: `${item.label}: ${shown}` })),
    svg("text", { class: "bar-value", x: valueX, y: middle, "text-anchor": item.value < 0 ? "end" : "start",
                  "dominant-baseline": "central", text: shown }));
  return { node, boxes };
}

// items: [{label, value, tone: "best" | "worst" | "marked" | "national" | ""}], in the order drawn.
// options: {title, lines: [{value, label}], width, labelShare,
//           format: (value, digits) => text for the values (number unless given),
//           tickFormat: the same for the axis, dense: thinner bars for long lists,
//           extent: values the axis must reach, labels: the labels to make room for,
//           so that charts one above the other share their axis}
export function barChart(items, options) {
  const width = Math.max(280, options.width || 640);
  const compact = width < 480;
  const size = compact || options.dense ? 11 : 12;
  const lineHeight = size + 3;
  const bar = options.dense ? 10 : 16;
  const gap = options.dense ? 3 : 5;
  const format = options.format || number;
  const labels = options.labels || items.map((item) => item.label);
  // Measured bold: the best, the worst and the marked rows are.
  const natural = Math.max(...labels.map((label) => textWidth(label, size, 700))) + 3 * CLEAR;
  const labelRight = Math.min(width * (options.labelShare || 0.36), natural) - 2 * CLEAR;
  const values = items.map((item) => item.value);
  const extent = options.extent || [];
  // Room for the value labels: those of negative values sit left of the bars.
  const room = (side) => Math.max(0, ...[...values, ...extent].filter(side)
    .map((value) => textWidth(format(value), VALUE_SIZE))) + 2 * CLEAR;
  const lineValues = (options.lines || []).map((line) => line.value);
  let low = Math.min(0, ...values, ...lineValues, ...extent);
  let high = Math.max(0, ...values, ...lineValues, ...extent);
  const axis = ticks(low, high, compact ? 4 : 6);
  low = Math.min(low, axis[0]);
  high = Math.max(high, axis[axis.length - 1]);
  const left = labelRight + 2 * CLEAR + (low < 0 ? room((value) => value < 0) : 0);
  const right = width - room((value) => value >= 0);
  const x = (value) => left + ((value - low) / (high - low || 1)) * (right - left);

  // A row is as tall as its label's lines.
  let y = TOP;
  const rows = items.map((item) => {
    const weight = BOLD.has(item.tone) ? 700 : 400;
    const lines = wrap(item.label, labelRight - CLEAR, size, weight);
    const rowHeight = Math.max(bar, lines.length * lineHeight);
    const row = { item, lines, weight, middle: y + rowHeight / 2 };
    y += rowHeight + gap;
    return row;
  });
  const height = y - gap + BOTTOM;
  const chart = svg("svg", {
    class: "bar-chart", width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": options.title,
  }, svg("title", { text: options.title }), grid(axis, x, height, options.tickFormat || number));
  const look = { x, format, size, lineHeight, bar, labelRight };
  const drawn = rows.map((row) => barRow(row, look));
  const group = svg("g", { class: "bars" }, drawn.map((row) => row.node));
  chart.append(group);
  // Drawn over the bars, under the value labels, and broken where a label sits.
  const boxes = drawn.flatMap((row) => row.boxes);
  for (const line of options.lines || []) {
    const at = x(line.value);
    chart.append(svg("g", { class: "reference-line" },
      openings(at, boxes, TOP - 4, height - BOTTOM + 4)
        .map(([from, to]) => svg("line", { x1: at, x2: at, y1: from, y2: to })),
      svg("title", { text: `${line.label}: ${format(line.value)}` })));
  }
  chart.append(...group.querySelectorAll(".bar-value"));
  return chart;
}

// A caption under a chart: swatches for the tones and the reference lines.
export function chartKey(entries) {
  return h("ul", { class: "chart-key" }, entries.map((entry) =>
    h("li", {}, h("span", { class: `swatch ${entry.kind}`, "aria-hidden": "true" }), entry.label)));
}
