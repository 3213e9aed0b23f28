// The tile-grid map of the US, coloured by a diverging scale, with a legend
// that says which way is better.
import { h, svg } from "./dom.js";
import { number, signed } from "./format.js";
import { BETTER, NEUTRAL, WORSE, wantsDarkText } from "./scale.js";
import { COLUMNS, ROWS, TILES } from "./geo.js";

const CELL = 48;
const TILE = 44;

// values: {location: number}; scale: from divergingScale, or null to show
// the places without colours; marked: locations to outline.
export function tileMap(values, options) {
  const { scale, title, signedValues, marked = [] } = options;
  const width = COLUMNS * CELL;
  const height = ROWS * CELL;
  const map = svg("svg", { class: "tile-map", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title });
  map.append(svg("title", { text: title }));
  for (const [name, [code, column, row, beside]] of Object.entries(TILES)) {
    const has = Object.hasOwn(values, name);
    const fill = has && scale ? scale.colour(values[name]) : has ? "rgb(203, 213, 225)" : "rgb(241, 243, 245)";
    const shown = has ? (signedValues ? signed(values[name], 1) : number(values[name], 1)) : options.missing || "no data";
    const classes = ["tile", beside ? "beside" : "", has ? "" : "empty", marked.includes(name) ? "marked" : ""];
    const tile = svg("g", { class: classes.filter(Boolean).join(" "), "data-location": name,
                            transform: `translate(${column * CELL + 2} ${row * CELL + 2})` },
      svg("title", { text: `${name}: ${shown}` }),
      svg("rect", { width: TILE, height: TILE, rx: 7, fill }),
      svg("text", { class: `tile-code ${wantsDarkText(fill) ? "" : "light"}`, x: TILE / 2, y: has ? 18 : 26,
                    "text-anchor": "middle", text: code }));
    if (has) {
      tile.append(svg("text", { class: `tile-value ${wantsDarkText(fill) ? "" : "light"}`, x: TILE / 2, y: 33,
                                "text-anchor": "middle", text: shown }));
    }
    map.append(tile);
  }
  const unplaced = Object.keys(values).filter((name) => !TILES[name]);
  const beside = Object.entries(TILES).filter(([, tile]) => tile[3]).map(([name, tile]) => `${tile[0]} ${name}`);
  return h("figure", { class: "map-figure" }, map,
    scale ? legend(scale, options) : null,
    h("figcaption", { class: "hint" }, `Dashed tiles are not states: ${beside.join(", ")}.`,
      unplaced.length ? ` Not on the map: ${unplaced.join(", ")}.` : ""));
}

function legend(scale, options) {
  const { min, max, centre, higherIsBetter } = scale;
  const span = max - min || 1;
  const at = (value) => `${(((value - min) / span) * 100).toFixed(2)}%`;
  const lowColour = `rgb(${(higherIsBetter ? WORSE : BETTER).join(",")})`;
  const highColour = `rgb(${(higherIsBetter ? BETTER : WORSE).join(",")})`;
  const neutral = `rgb(${NEUTRAL.join(",")})`;
  const within = centre > min && centre < max;
  const gradient = within
    ? `linear-gradient(to right, ${lowColour}, ${neutral} ${at(centre)}, ${highColour})`
    : `linear-gradient(to right, ${scale.colour(min)}, ${scale.colour(max)})`;
  const format = (value) => (options.signedValues ? signed(value, 1) : number(value, 1));
  return h("div", { class: "legend" },
    h("p", { class: "legend-title" }, h("strong", {}, options.legendTitle), " · ",
      h("span", { class: "direction" }, options.directionText)),
    h("div", { class: "legend-bar", style: `background: ${gradient}` },
      within ? h("span", { class: "legend-centre", style: `left: ${at(centre)}` }) : null),
    h("div", { class: "legend-scale" },
      h("span", {}, format(min)),
      within ? h("span", { class: "legend-centre-label", style: `left: ${at(centre)}` },
        `${options.centreLabel} ${format(centre)}`) : null,
      h("span", {}, format(max))));
}
