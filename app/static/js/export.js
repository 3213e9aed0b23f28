// The chart and the map as files to take away: SVG that looks as on the page
// without the page's style sheet, and PNG drawn from that SVG.
import { svg } from "./dom.js";

const SVG_NS = "http://www.w3.org/2000/svg";
// What the style sheet sets on the drawings; copied onto each node of the copy.
const STYLED = ["fill", "fill-opacity", "stroke", "stroke-width", "stroke-dasharray", "stroke-opacity", "opacity",
                "font-family", "font-size", "font-weight", "text-anchor", "dominant-baseline", "paint-order",
                "stroke-linejoin", "visibility", "display"];
const MARGIN = 16;
const LINE = 20;
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

// One SVG document: the title lines, each drawing (with its caption) under the
// one before, and the credit of the data at the bottom.
export function svgDocument(drawings, titleLines, credit) {
  const parts = drawings.map(({ drawing, caption }) => ({ drawing, caption, ...size(drawing) }));
  const width = Math.max(...parts.map((part) => part.width)) + 2 * MARGIN;
  const sheet = svg("svg", { xmlns: SVG_NS, role: "img" });
  let y = MARGIN;
  sheet.append(svg("rect", { width: "100%", height: "100%", fill: "#ffffff" }));
  titleLines.forEach((line, index) => {
    y += LINE;
    sheet.append(text(MARGIN, y, line, index === 0 ? { "font-weight": 700, "font-size": 15 } : {}));
  });
  for (const part of parts) {
    if (part.caption) {
      y += LINE;
      sheet.append(text(MARGIN, y, part.caption, { "font-weight": 600 }));
    }
    y += 8;
    const placed = styledCopy(part.drawing);
    for (const [name, value] of Object.entries({ x: MARGIN, y, width: part.width, height: part.height,
                                                 viewBox: `0 0 ${part.width} ${part.height}` })) {
      placed.setAttribute(name, value);
    }
    sheet.append(placed);
    y += part.height;
  }
  y += LINE;
  sheet.append(text(MARGIN, y, credit, { "font-size": 11, fill: "#4b5563" }));
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
