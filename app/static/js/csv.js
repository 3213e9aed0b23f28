// Reading CSV text in the page the way the server's parser reads it: a
// quoted field may hold commas, line breaks and doubled quotes, and text
// after its closing quote joins it.

const UNQUOTED = /[^,\r\n]*/y;

// A quoted field from just after its opening quote: [its text, where the
// text after its closing quote starts].
function quoted(text, start) {
  let field = "";
  let at = start;
  for (;;) {
    const close = text.indexOf('"', at);
    if (close < 0) return [field + text.slice(at), text.length];
    field += text.slice(at, close);
    if (text[close + 1] !== '"') return [field, close + 1];
    field += '"';
    at = close + 2;
  }
}

// Each row of `text` as the array of its fields; lines end in \n, \r\n or \r.
export function* csvRows(text) {
  let at = 0;
  while (at < text.length) {
    const row = [];
    for (;;) {
      let field = "";
      if (text[at] === '"') [field, at] = quoted(text, at + 1);
      UNQUOTED.lastIndex = at;
      UNQUOTED.test(text);
      row.push(field + text.slice(at, UNQUOTED.lastIndex));
      at = UNQUOTED.lastIndex;
      if (text[at] !== ",") break;
      at += 1;
    }
    if (text[at] === "\r") at += 1;
    if (text[at] === "\n") at += 1;
    yield row;
  }
}
