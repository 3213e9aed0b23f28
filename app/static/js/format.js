// Numbers and keys as people read them.
const MINUS = "\u2212";

export function number(value, digits = 2) {
  if (typeof value !== "number" || !Number.isFinite(value)) return "–";
  const text = Math.abs(value).toFixed(digits);
  return value < 0 && Number(text) !== 0 ? MINUS + text : text;
}

export function signed(value, digits = 2) {
  if (typeof value !== "number" || !Number.isFinite(value)) return "–";
  const text = number(value, digits);
  return value > 0 && Number(Math.abs(value).toFixed(digits)) !== 0 ? "+" + text : text;
}

// The survey's questions say in their first words that their values are
// percentages ("Percent of adults ..."); an upload's may count something else.
function isPercent(question) {
  return /^\s*percent(age)?\b/i.test(question || "");
}

// How the values of one question read: a mean with its unit ("31.42%"), a
// difference of two means in percentage points ("+1.20 pts"), or bare numbers
// when the question is not a percentage.
export function unitsOf(question) {
  const percent = isPercent(question);
  const unit = (text, suffix) => (percent && text !== "–" ? text + suffix : text);
  return {
    value: (value, digits = 2) => unit(number(value, digits), "%"),
    gap: (value, digits = 2) => unit(signed(value, digits), " pts"),
    distance: (value, digits = 2) => unit(number(Math.abs(value), digits), " pts"),
    gapName: percent ? "percentage points" : "",
  };
}

export function ordinal(rank) {
  const tens = rank % 100;
  const suffix = tens >= 11 && tens <= 13 ? "th" : ({ 1: "st", 2: "nd", 3: "rd" }[rank % 10] ?? "th");
  return `${rank}${suffix}`;
}

const ESCAPES = { n: "\n", t: "\t", r: "\r", "\\": "\\", "'": "'", '"': '"' };

// The answers of the by-category statistics are keyed by Python's str() of
// a tuple of strings, such as "('Ohio', 'Age (years)', '18 - 24')".
export function tupleKey(text) {
  const items = [];
  let at = 0;
  while (at < text.length) {
    const quote = text[at];
    if (quote !== "'" && quote !== '"') {
      at += 1;
      continue;
    }
    let item = "";
    at += 1;
    while (at < text.length && text[at] !== quote) {
      if (text[at] === "\\") {
        const next = text[at + 1];
        if (next === "x") {
          item += String.fromCharCode(parseInt(text.slice(at + 2, at + 4), 16));
          at += 4;
        } else {
          item += ESCAPES[next] ?? next;
          at += 2;
        }
      } else {
        item += text[at];
        at += 1;
      }
    }
    items.push(item);
    at += 1;
  }
  return items;
}

export function plural(count, word, many = word + "s") {
  return `${count.toLocaleString("en-US")} ${count === 1 ? word : many}`;
}

export function bytes(size) {
  if (size >= 1024 * 1024) return `${(size / 1024 / 1024).toFixed(size % (1024 * 1024) ? 1 : 0)} MiB`;
  if (size >= 1024) return `${Math.round(size / 1024)} KiB`;
  return `${size} bytes`;
}
