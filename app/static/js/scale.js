// Colours that say "better" and "worse" the same way on every view.
export const BETTER = [15, 118, 110];
export const WORSE = [194, 65, 12];
export const NEUTRAL = [241, 243, 245];

function mix(from, to, share) {
  return from.map((channel, index) => Math.round(channel + (to[index] - channel) * share));
}

function css(rgb) {
  return `rgb(${rgb.join(", ")})`;
}

// A diverging scale around `centre`: values on the good side of it shade
// towards BETTER, the others towards WORSE. `higherIsBetter` says which
// side is good for the values being drawn.
export function divergingScale(values, centre, higherIsBetter) {
  const spread = Math.max(...values.map((value) => Math.abs(value - centre)), 1e-9);
  function colour(value) {
    const share = Math.min(1, Math.abs(value - centre) / spread);
    const good = (value >= centre) === higherIsBetter;
    return css(mix(NEUTRAL, good ? BETTER : WORSE, 0.15 + 0.85 * share));
  }
  return { colour, min: Math.min(...values), max: Math.max(...values), centre, higherIsBetter };
}

// Whether dark text reads better than white on a background colour.
export function wantsDarkText(colour) {
  const [red, green, blue] = colour.match(/\d+/g).map(Number);
  return 0.299 * red + 0.587 * green + 0.114 * blue > 150;
}

// Round numbers for an axis from `low` to `high`.
export function ticks(low, high, count = 5) {
  const span = high - low || 1;
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((factor) => factor * power).find((candidate) => span / candidate <= count);
  const first = Math.ceil(low / step) * step;
  const result = [];
  for (let value = first; value <= high + step * 1e-9; value += step) result.push(Number(value.toFixed(10)));
  return result;
}
