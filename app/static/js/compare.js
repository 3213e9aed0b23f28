// Several states side by side: their means, their places among all the
// states and how far each is from the global mean. Drawn from one job, the
// mean of every state, and the ranking the server gives for the question.
import { barChart, chartKey } from "./charts.js";
import { h } from "./dom.js";
import { ordinal, unitsOf } from "./format.js";
import { sortableTable } from "./table.js";

export const COMPARE = {
  label: "Compare states", group: "Several states", needsState: false, withMean: true, statistic: "states_mean",
  hint: "Two or more states side by side: their means, ranks and distances from the global mean.",
};

// From the mean of every state: the chosen ones, best first, with their places.
function compared(context, data) {
  const places = new Map((context.ranking || []).map((entry) => [entry.state, entry]));
  const rows = context.states.filter((state) => Object.hasOwn(data, state)).map((state) => ({
    state, value: data[state], rank: places.get(state)?.rank ?? null,
    percentile: places.get(state)?.percentile ?? null,
    gap: context.globalMean === null ? null : data[state] - context.globalMean,
  }));
  rows.sort((a, b) => (context.lowerIsBetter ? a.value - b.value : b.value - a.value) || a.state.localeCompare(b.state));
  return rows;
}

// Better than the global mean, worse, or level with it (or no mean to go by).
function tone(row, context) {
  if (row.gap === null || row.gap === 0) return "";
  return (row.gap < 0) === context.lowerIsBetter ? "best" : "worst";
}

function card(row, count, context, units) {
  return h("div", { class: `stat ${tone(row, context)}`.trim(), "data-state": row.state },
    h("p", { class: "stat-label" }, row.state),
    h("p", { class: "stat-value" }, units.value(row.value)),
    h("p", { class: "stat-detail" }, [
      row.rank !== null ? `${ordinal(row.rank)} of ${count}` : null,
      row.gap !== null ? `${units.gap(row.gap)} against the global mean` : null,
    ].filter(Boolean).join(" · ")));
}

export function compareView(context, data, width) {
  const rows = compared(context, data);
  const units = unitsOf(context.question);
  const missing = context.states.filter((state) => !Object.hasOwn(data, state));
  const count = context.ranking ? context.ranking.length : Object.keys(data).length;
  const note = missing.length ? h("p", { class: "explain" }, `No data for this question: ${missing.join(", ")}.`) : null;
  if (rows.length === 0) return [note];
  const key = [{ kind: "best", label: "better than the global mean" }, { kind: "worst", label: "worse" }];
  const lines = context.globalMean !== null ? [{ value: context.globalMean, label: "Global mean" }] : [];
  const chart = barChart(rows.map((row) => ({ label: row.state, value: row.value, tone: tone(row, context) })),
    { title: `Bar chart: ${rows.map((row) => row.state).join(", ")}`, lines, width,
      format: units.value, tickFormat: units.value });
  const table = sortableTable(
    [{ key: "state", label: "State" },
     { key: "value", label: "Mean", numeric: true, format: (value) => units.value(value) },
     { key: "rank", label: `Rank of ${count}`, numeric: true, format: (value) => (value === null ? "–" : String(value)) },
     { key: "percentile", label: "Percentile", numeric: true, format: (value) => (value === null ? "–" : value.toFixed(1)) },
     { key: "gap", label: "Against the global mean", numeric: true,
       format: (value) => units.gap(value) }],
    rows, { sort: { key: "rank", descending: false }, className: "compared", caption: "The states compared" });
  return [...(note ? [note] : []), h("div", { class: "stats compared-cards" }, rows.map((row) => card(row, count, context, units))),
    h("section", { class: "card", id: "view-chart", "aria-labelledby": "view-chart-title" },
      h("h3", { id: "view-chart-title" }, "Side by side"),
      lines.length ? chartKey([...key, { kind: "line", label: `global mean ${units.value(context.globalMean)}` }]) : null,
      h("div", { class: "chart-wrap" }, chart)),
    h("section", { class: "card", id: "view-table", "aria-labelledby": "view-table-title" },
      h("h3", { id: "view-table-title" }, "Table"), table)];
}
