// Colours that say "better" and "worse" the same way on every view, and text
// that stays readable on them.
const BETTER = [15, 118, 110];
const WORSE = [194, 65, 12];
export const NEUTRAL = [241, 243, 245];
// The page's --ink and --muted (dashboard.css), and white.
const INK = [22, 32, 44];
export const MUTED = [85, 96, 112];
export const WHITE = [255, 255, 255];
const BLACK = [0, 0, 0];
// WCAG's 4.5:1 for normal text, with a margin for rounding in other tools.
const READABLE = 4.6;

function mix(from, to, share) {
  return from.map((channel, index) => Math.round(channel + (to[index] - channel) * share));
}

export function css(rgb) {
  return `rgb(${rgb.join(", ")})`;
}

function luminance(rgb) {
  const [red, green, blue] = rgb.map((channel) => {
    const share = channel / 255;
    return share <= 0.04045 ? share / 12.92 : ((share + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * red + 0.7152 * green + 0.0722 * blue;
}

function contrast(first, second) {
  const [light, dark] = [luminance(first), luminance(second)].sort((a, b) => b - a);
  return (light + 0.05) / (dark + 0.05);
}

// The least share of `towards` to mix into `fill` so that `ink` reads on it
// (contrast grows with the share, so halving the interval finds it).
function nudge(fill, ink, towards) {
  if (contrast(mix(fill, towards, 1), ink) < READABLE) return null;
  let [low, high] = [0, 1];
  for (let step = 0; step < 12; step += 1) {
    const middle = (low + high) / 2;
    if (contrast(mix(fill, towards, middle), ink) >= READABLE) high = middle;
    else low = middle;
  }
  return { share: high, fill: mix(fill, towards, high) };
}

// A fill and the ink to write on it. The ink with the better contrast wins;
// when neither reaches 4.5:1 (mid tones), the fill moves the least it must:
// lighter under the dark ink or darker under white. Which way it moves follows
// its lightness, so fills keep their order from light to dark.
export function readable(fill, inks = [INK, WHITE]) {
  const [best] = [...inks].sort((a, b) => contrast(fill, b) - contrast(fill, a));
  if (contrast(fill, best) >= READABLE) return { fill, ink: best };
  const moves = inks.map((ink) => ({ ink, ...nudge(fill, ink, luminance(ink) < luminance(fill) ? WHITE : BLACK) }))
    .filter((move) => move.fill);
  const [least] = moves.sort((a, b) => a.share - b.share);
  return { fill: least.fill, ink: least.ink };
}

// A diverging scale around `centre`: values on the good side of it shade
// towards BETTER, the others towards WORSE. `higherIsBetter` says which
// side is good for the values being drawn. `fill` is a colour with its ink.
export function divergingScale(values, centre, higherIsBetter) {
  const spread = Math.max(...values.map((value) => Math.abs(value - centre)), 1e-9);
  function fill(value) {
    const share = Math.min(1, Math.abs(value - centre) / spread);
    const good = (value >= centre) === higherIsBetter;
    return readable(mix(NEUTRAL, good ? BETTER : WORSE, 0.15 + 0.85 * share));
  }
  return { fill, min: Math.min(...values), max: Math.max(...values), centre, higherIsBetter };
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
