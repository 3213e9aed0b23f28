// Tables that sort when a column's header is pressed (mouse or keyboard).
import { clear, h } from "./dom.js";

// columns: [{key, label, numeric, format, cellClass}]; rows: [{...values, tone}]
// sort: {key, descending}; caption: text for screen readers and the test.
export function sortableTable(columns, rows, options) {
  let sort = { ...options.sort };
  const body = h("tbody");
  const headers = columns.map((column) => {
    const button = h("button", { type: "button", class: "sort", text: column.label,
                                 onclick: () => {
                                   sort = { key: column.key,
                                            descending: sort.key === column.key ? !sort.descending : !!column.numeric };
                                   draw();
                                 } });
    return h("th", { scope: "col", class: column.numeric ? "numeric" : "" }, button);
  });
  const table = h("table", { class: `data-table ${options.className || ""}`.trim() },
    h("caption", { class: "visually-hidden", text: options.caption }),
    h("thead", {}, h("tr", {}, headers)),
    body);

  function compare(first, second) {
    const a = first[sort.key];
    const b = second[sort.key];
    const order = typeof a === "number" && typeof b === "number" ? a - b : String(a).localeCompare(String(b));
    return sort.descending ? -order : order;
  }

  function draw() {
    columns.forEach((column, index) => {
      const state = column.key === sort.key ? (sort.descending ? "descending" : "ascending") : null;
      if (state) headers[index].setAttribute("aria-sort", state);
      else headers[index].removeAttribute("aria-sort");
    });
    clear(body);
    for (const row of [...rows].sort(compare)) {
      body.append(h("tr", { class: row.tone || "" }, columns.map((column) => {
        const value = row[column.key];
        const text = column.format ? column.format(value, row) : value;
        return h("td", { class: [column.numeric ? "numeric" : "", column.cellClass || ""].join(" ").trim() }, text);
      })));
    }
  }
  draw();
  return h("div", { class: "table-wrap" }, table);
}
