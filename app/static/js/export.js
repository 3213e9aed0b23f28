// The chart and the map as files to take away: SVG that looks as on the page
// without the page's style sheet, and PNG drawn from that SVG.
import { svg } from "./dom.js";

const SVG_NS = "http://www.w3.org/2000/svg";
// What the style sheet sets on the drawings; copied onto each node of the copy.
const STYLED = ["fill", "fill-opacity", "stroke", "stroke-width", "stroke-dasharray", "stroke-opacity", "opacity",
                "font-family", "font-size", "font-weight", "text-anchor", "dominant-baseline", "paint-order",
                "stroke-linejoin", "visibility", "display"];
const MARGIN = 16;
const PNG_SCALE = 2;

function size(drawing) {
  const box = drawing.viewBox.baseVal;
  return box && box.width ? { width: box.width, height: box.height }
    : { width: drawing.width.baseVal.value, height: drawing.height.baseVal.value };
}

function styledCopy(drawing) {
  const copy = drawing.cloneNode(true);
  const originals = [drawing, ...drawing.querySelectorAll("*")];
  const copies = [copy, ...copy.querySelectorAll("*")];
  originals.forEach((original, index) => {
    const computed = getComputedStyle(original);
    copies[index].setAttribute("style", STYLED.map((name) => `${name}:${computed.getPropertyValue(name)}`).join(";"));
    copies[index].removeAttribute("class");
  });
  return copy;
}

function text(x, y, content, attrs = {}) {
  return svg("text", { x, y, "font-family": "system-ui, sans-serif", "font-size": 13, fill: "#1f2937",
                       text: content, ...attrs });
}

// A text cut into lines that fit `width` (an estimate: SVG text does not wrap itself).
function wrapped(content, width, size) {
  const room = Math.max(20, Math.floor(width / (size * 0.56)));
  const lines = [];
  for (const word of content.split(/\s+/).filter(Boolean)) {
    const last = lines.length ? lines[lines.length - 1] : null;
    if (last !== null && `${last} ${word}`.length <= room) lines[lines.length - 1] = `${last} ${word}`;
    else lines.push(word);
  }
  return lines;
}

// The legend of a map as the page shows it: its title, the colour bar (the
// same stops) and the values at its ends and centre.
function legendBar(legend, x, y, width) {
  const id = `legend-${Math.random().toString(36).slice(2)}`;
  const stops = [...legend.gradient.matchAll(/(rgb\([^)]*\))\s+([\d.]+)%/g)]
    .map(([, colour, offset]) => svg("stop", { offset: `${offset}%`, "stop-color": colour }));
  const group = svg("g", {},
    svg("defs", {}, svg("linearGradient", { id }, stops)),
    svg("rect", { x, y, width, height: 12, rx: 6, fill: `url(#${id})`, stroke: "#d7dde5" }),
    text(x, y + 28, legend.min, { "font-size": 12 }),
    text(x + width, y + 28, legend.max, { "font-size": 12, "text-anchor": "end" }));
  if (legend.centre) {
    const at = x + width * legend.share;
    group.append(svg("rect", { x: at - 1, y: y - 4, width: 2, height: 20, fill: "#1f2937" }),
      text(at, y + 44, legend.centre, { "font-size": 12, "text-anchor": "middle", "font-weight": 600 }));
  }
  return group;
}

// One SVG document: the title lines, each drawing under the one before (with
// its caption and notes above it, its legend under it), and the credit of
// the data at the bottom.
// drawings: [{drawing, caption, notes: [text], legend: {title, gradient, min, centre, share, max} or null}]
export function svgDocument(drawings, titleLines, credit) {
  const parts = drawings.map((part) => ({ ...part, ...size(part.drawing) }));
  const inner = Math.max(360, ...parts.map((part) => part.width));
  const width = inner + 2 * MARGIN;
  const sheet = svg("svg", { xmlns: SVG_NS, role: "img" });
  let y = MARGIN;
  const lines = (content, attrs = {}, size = 13) => {
    for (const line of wrapped(content, inner, size)) {
      y += Math.round(size * 1.5);
      sheet.append(text(MARGIN, y, line, { "font-size": size, ...attrs }));
    }
  };
  sheet.append(svg("rect", { width: "100%", height: "100%", fill: "#ffffff" }));
  titleLines.forEach((line, index) => lines(line, index === 0 ? { "font-weight": 700 } : {}, index === 0 ? 15 : 13));
  for (const part of parts) {
    if (part.caption) lines(part.caption, { "font-weight": 600 });
    for (const note of part.notes || []) lines(note, { fill: "#374151" }, 12);
    y += 8;
    const placed = styledCopy(part.drawing);
    for (const [name, value] of Object.entries({ x: MARGIN, y, width: part.width, height: part.height,
                                                 viewBox: `0 0 ${part.width} ${part.height}` })) {
      placed.setAttribute(name, value);
    }
    sheet.append(placed);
    y += part.height;
    if (part.legend) {
      lines(part.legend.title, { "font-weight": 600 }, 12);
      sheet.append(legendBar(part.legend, MARGIN, y + 8, Math.min(inner, 420)));
      y += 60;
    }
  }
  y += 6;
  lines(credit, { fill: "#4b5563" }, 11);
  const height = y + MARGIN;
  for (const [name, value] of Object.entries({ width, height, viewBox: `0 0 ${width} ${height}` })) {
    sheet.setAttribute(name, value);
  }
  return new XMLSerializer().serializeToString(sheet);
}

function save(blob, filename) {
  const address = URL.createObjectURL(blob);
  const link = Object.assign(document.createElement("a"), { href: address, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(address), 10000);
}

export function saveSvg(source, filename) {
  save(new Blob([source], { type: "image/svg+xml" }), filename);
}

// The SVG drawn on a canvas at twice its size, so that it stays sharp when zoomed.
export async function savePng(source, filename) {
  const image = new Image();
  const address = URL.createObjectURL(new Blob([source], { type: "image/svg+xml" }));
  try {
    image.src = address;
    await image.decode();
    const canvas = Object.assign(document.createElement("canvas"),
      { width: image.naturalWidth * PNG_SCALE, height: image.naturalHeight * PNG_SCALE });
    const context = canvas.getContext("2d");
    context.scale(PNG_SCALE, PNG_SCALE);
    context.drawImage(image, 0, 0);
    save(await new Promise((resolve) => canvas.toBlob(resolve, "image/png")), filename);
  } finally {
    URL.revokeObjectURL(address);
  }
}
