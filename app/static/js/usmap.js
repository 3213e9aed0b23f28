// The tile-grid map of the US, coloured by a diverging scale, with a legend
// that says which way is better.
import { textWidth } from "./charts.js";
import { h, svg } from "./dom.js";
import { number } from "./format.js";
import { MUTED, NEUTRAL, WHITE, css, readable } from "./scale.js";
import { COLUMNS, ROWS, TILES } from "./geo.js";

const CELL = 48;
const TILE = 44;
const VALUE_SIZE = 10.5;
const UNCOLOURED = readable([203, 213, 225]);
// A place without a value is told apart by its pale tile; its code stays readable.
const EMPTY = readable(NEUTRAL, [MUTED, WHITE]);

// values: {location: number}; options: {scale (from divergingScale, or null
// to show the places without colours), marked: locations to outline,
// format: (value, digits) => text, title, missing, and the legend's texts}.
export function tileMap(values, options) {
  const { scale, title, marked = [] } = options;
  const format = options.format || number;
  const width = COLUMNS * CELL;
  const height = ROWS * CELL;
  const readout = h("p", { class: "map-readout", "aria-live": "polite" },
    "Tap or click a tile to read its value here.");
  const map = svg("svg", { class: "tile-map", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title,
                           onclick: (event) => pick(event, readout) });
  map.append(svg("title", { text: title }));
  for (const [name, [code, column, row, beside]] of Object.entries(TILES)) {
    const has = Object.hasOwn(values, name);
    const { fill, ink } = has ? (scale ? scale.fill(values[name]) : UNCOLOURED) : EMPTY;
    const shown = has ? format(values[name], 1) : options.missing || "no data";
    const classes = ["tile", beside ? "beside" : "", has ? "" : "empty", marked.includes(name) ? "marked" : ""];
    const tile = svg("g", { class: classes.filter(Boolean).join(" "), "data-location": name, "data-shown": shown,
                            transform: `translate(${column * CELL + 2} ${row * CELL + 2})` },
      svg("title", { text: `${name}: ${shown}` }),
      svg("rect", { width: TILE, height: TILE, rx: 7, fill: css(fill) }),
      svg("text", { class: "tile-code", x: TILE / 2, y: has ? 18 : 26, "text-anchor": "middle", fill: css(ink),
                    text: code }));
    if (has) {
      // A long number is squeezed into its tile rather than spilling over the next.
      const squeeze = textWidth(shown, VALUE_SIZE) > TILE - 4
        ? { textLength: TILE - 4, lengthAdjust: "spacingAndGlyphs" } : {};
      tile.append(svg("text", { class: "tile-value", x: TILE / 2, y: 33, "text-anchor": "middle", fill: css(ink),
                                text: shown, ...squeeze }));
    }
    map.append(tile);
  }
  const unplaced = Object.keys(values).filter((name) => !TILES[name]);
  const beside = Object.entries(TILES).filter(([, tile]) => tile[3]).map(([name, tile]) => `${tile[0]} ${name}`);
  return h("figure", { class: "map-figure" }, map, readout,
    scale ? legend(scale, format, options) : null,
    h("figcaption", { class: "hint" }, `Dashed tiles are not states: ${beside.join(", ")}.`,
      unplaced.length ? ` Not on the map: ${unplaced.join(", ")}.` : ""));
}

// On a phone the tiles are too small for their values: a tap writes the
// tile's name and value under the map.
function pick(event, readout) {
  const tile = event.target.closest(".tile");
  if (!tile) return;
  for (const picked of tile.parentNode.querySelectorAll(".tile.picked")) picked.classList.remove("picked");
  tile.classList.add("picked");
  readout.replaceChildren(h("strong", {}, tile.dataset.location), `: ${tile.dataset.shown}`);
}

// Stops sampled from the scale itself, so that the bar shows the tiles' own colours.
function gradient(scale) {
  const { min, max } = scale;
  const stops = Array.from({ length: 11 }, (_, index) => min + ((max - min) * index) / 10);
  const colours = stops.map((value, index) => `${css(scale.fill(value).fill)} ${index * 10}%`);
  return `linear-gradient(to right, ${colours.join(", ")})`;
}

function legend(scale, format, options) {
  const { min, max, centre } = scale;
  const share = (centre - min) / (max - min || 1);
  const within = centre > min && centre < max;
  // The centre's label stays inside the legend: centred on its mark, or
  // starting (ending) there when the mark is near the left (right) end.
  const place = share < 0.25 ? `left: ${share * 100}%`
    : share > 0.75 ? `right: ${(1 - share) * 100}%` : `left: ${share * 100}%; transform: translateX(-50%)`;
  return h("div", { class: "legend" },
    h("p", { class: "legend-title" }, h("strong", {}, options.legendTitle), " · ",
      h("span", { class: "direction" }, options.directionText)),
    h("div", { class: "legend-bar", style: `background: ${gradient(scale)}` },
      within ? h("span", { class: "legend-centre", style: `left: ${share * 100}%` }) : null),
    h("div", { class: "legend-scale" },
      h("span", { class: "legend-min" }, format(min, 1)),
      within ? h("span", { class: "legend-centre-label", style: place },
        `${options.centreLabel} ${format(centre, 1)}`) : null,
      h("span", { class: "legend-max" }, format(max, 1))));
}
