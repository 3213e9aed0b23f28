// Every answer the way people read it: cards, a map, charts and sorted tables.
import { barChart, chartKey } from "./charts.js";
import { h } from "./dom.js";
import { number, plural, signed, tupleKey } from "./format.js";
import { divergingScale } from "./scale.js";
import { sortableTable } from "./table.js";
import { tileMap } from "./usmap.js";

export const ANALYSES = {
  states_mean: { label: "Mean of every state", group: "Every state", needsState: false, withMean: true,
                 hint: "Each state's mean, ranked from best to worst, with the global mean marked." },
  best5: { label: "The five best states", group: "Every state", needsState: false, withMean: true,
           hint: "The five states with the best means, best first." },
  worst5: { label: "The five worst states", group: "Every state", needsState: false, withMean: true,
            hint: "The five states with the worst means, worst first." },
  diff_from_mean: { label: "Every state against the global mean", group: "Every state", needsState: false,
                    hint: "The global mean minus each state's mean." },
  mean_by_category: { label: "Every state by category", group: "Every state", needsState: false, withMean: true,
                      hint: "The mean of every state for each age group, income, sex, race and education." },
  state_mean: { label: "Mean of one state", group: "One state", needsState: true, withMean: true,
                hint: "One state's mean, next to the global mean." },
  state_diff_from_mean: { label: "One state against the global mean", group: "One state", needsState: true,
                          hint: "The global mean minus the state's mean." },
  state_mean_by_category: { label: "One state by category", group: "One state", needsState: true, withMean: true,
                            hint: "One state's mean for each age group, income, sex, race and education." },
  global_mean: { label: "Global mean", group: "The whole survey", needsState: false,
                 hint: "The mean over every row of the question, whatever the state." },
};

function direction(lowerIsBetter) {
  return lowerIsBetter ? "lower is better" : "higher is better";
}

// The best and the worst few of a list ranked best first.
function tones(count, analysis) {
  if (analysis === "best5") return () => "best";
  if (analysis === "worst5") return () => "worst";
  const few = Math.min(5, Math.floor(count / 2));
  return (index) => (index < few ? "best" : index >= count - few ? "worst" : "");
}

function section(id, title, ...content) {
  return h("section", { class: "card", id, "aria-labelledby": `${id}-title` },
    h("h3", { id: `${id}-title` }, title), ...content);
}

function stat(label, value, detail, tone) {
  return h("div", { class: `stat ${tone || ""}`.trim() },
    h("p", { class: "stat-label" }, label),
    h("p", { class: "stat-value" }, value),
    detail ? h("p", { class: "stat-detail" }, detail) : null);
}

function jumpLinks(entries) {
  return h("nav", { class: "jump", "aria-label": "Parts of the answer" },
    entries.map(([id, label]) => h("a", { href: `#${id}` }, label)));
}

function rankedStates(data, lowerIsBetter, higherValueIsBetter = !lowerIsBetter) {
  const entries = Object.entries(data).map(([state, value]) => ({ state, value }));
  entries.sort((a, b) => (higherValueIsBetter ? b.value - a.value : a.value - b.value) || a.state.localeCompare(b.state));
  return entries;
}

// National is not a state; its bar is told apart unless it is among the best or worst.
function barOf(row) {
  return { label: row.state, value: row.value, tone: row.tone || (row.state === "National" ? "national" : "") };
}

function statesView(context, data, width) {
  const { analysis, lowerIsBetter, globalMean } = context;
  // As the answer has them: the worst five worst first, everything else best first.
  const ranked = rankedStates(data, lowerIsBetter, (analysis === "worst5") === lowerIsBetter);
  const toneOf = tones(ranked.length, analysis);
  const rows = ranked.map((entry, index) => ({ ...entry, rank: index + 1, tone: toneOf(index) }));
  const best = rows[0];
  const worst = rows[rows.length - 1];
  const cards = h("div", { class: "stats" },
    globalMean !== null ? stat("Global mean", number(globalMean), "over every row of the question") : null,
    stat(analysis === "worst5" ? "Worst" : "Best", `${best.state}`, number(best.value), analysis === "worst5" ? "worst" : "best"),
    analysis === "states_mean"
      ? stat("Worst", worst.state, number(worst.value), "worst")
      : stat(analysis === "worst5" ? "Fifth worst" : "Fifth best", worst.state, number(worst.value)),
    analysis === "states_mean" ? stat("Places", String(rows.length), "states and territories with data") : null);
  const centre = globalMean ?? rows[Math.floor(rows.length / 2)].value;
  const scale = divergingScale(rows.map((row) => row.value), centre, !lowerIsBetter);
  const map = tileMap(data, {
    scale, title: `Map of ${ANALYSES[analysis].label.toLowerCase()}`, missing: analysis === "states_mean" ? "no data" : "not among the five",
    legendTitle: "State mean", directionText: `${direction(lowerIsBetter)}`,
    centreLabel: globalMean !== null ? "global mean" : "median",
  });
  const lines = globalMean !== null ? [{ value: globalMean, label: "Global mean" }] : [];
  const chart = barChart(rows.map(barOf), { title: `Bar chart: ${ANALYSES[analysis].label}`, lines, width });
  const key = chartKey([
    analysis !== "worst5" ? { kind: "best", label: analysis === "states_mean" ? "best five" : "best" } : null,
    analysis !== "best5" ? { kind: "worst", label: analysis === "states_mean" ? "worst five" : "worst" } : null,
    globalMean !== null ? { kind: "line", label: `global mean ${number(globalMean)}` } : null,
  ].filter(Boolean));
  const table = sortableTable(
    [{ key: "rank", label: "Rank", numeric: true }, { key: "state", label: "State" },
     { key: "value", label: "Mean", numeric: true, format: (value) => number(value) }],
    rows, { sort: { key: "rank", descending: false }, className: "ranked",
            caption: analysis === "worst5" ? "States ranked from worst to best" : "States ranked from best to worst" });
  return [jumpLinks([["view-map", "Map"], ["view-chart", "Chart"], ["view-table", "Table"]]), cards,
    section("view-map", "Map", map),
    section("view-chart", `Ranked, ${analysis === "worst5" ? "worst" : "best"} first (${direction(lowerIsBetter)})`, key, h("div", { class: "chart-wrap" }, chart)),
    section("view-table", "Table", table)];
}

function diffView(context, data, width) {
  const { lowerIsBetter } = context;
  // global mean - state mean is positive where the state is below the mean,
  // which is good when lower is better.
  const ranked = rankedStates(data, lowerIsBetter, lowerIsBetter);
  const toneOf = tones(ranked.length, "states_mean");
  const rows = ranked.map((entry, index) => ({ ...entry, rank: index + 1, tone: toneOf(index) }));
  const explain = lowerIsBetter
    ? "Above zero: the state's mean is below the global mean, which is better for this question."
    : "Below zero: the state's mean is above the global mean, which is better for this question.";
  const scale = divergingScale(rows.map((row) => row.value), 0, lowerIsBetter);
  const map = tileMap(data, {
    scale, signedValues: true, title: "Map of the difference from the global mean",
    legendTitle: "Global mean − state mean", directionText: `${direction(lowerIsBetter)} for the question`,
    centreLabel: "global mean",
  });
  const chart = barChart(rows.map(barOf),
    { title: "Bar chart: global mean minus each state's mean", signedValues: true, width,
      lines: [{ value: 0, label: "Global mean" }] });
  const table = sortableTable(
    [{ key: "rank", label: "Rank", numeric: true }, { key: "state", label: "State" },
     { key: "value", label: "Global mean − state mean", numeric: true, format: (value) => signed(value) }],
    rows, { sort: { key: "rank", descending: false }, caption: "States ranked from best to worst", className: "ranked" });
  return [jumpLinks([["view-map", "Map"], ["view-chart", "Chart"], ["view-table", "Table"]]),
    h("p", { class: "explain" }, explain),
    section("view-map", "Map", map),
    section("view-chart", "Ranked, best first",
      chartKey([{ kind: "best", label: "best five" }, { kind: "worst", label: "worst five" },
                { kind: "line", label: "zero: the global mean" }]),
      h("div", { class: "chart-wrap" }, chart)),
    section("view-table", "Table", table)];
}

function globalView(context, data) {
  return [h("div", { class: "stats single" },
    stat("Global mean", number(data.global_mean), `over every row of the question; ${direction(context.lowerIsBetter)}`))];
}

function comparison(value, globalMean, lowerIsBetter) {
  const gap = value - globalMean;
  if (Math.abs(gap) < 0.005) return ["level with the global mean", ""];
  const better = (gap < 0) === lowerIsBetter;
  return [`${number(Math.abs(gap))} ${gap > 0 ? "above" : "below"} the global mean of ${number(globalMean)}: `
          + `${better ? "better" : "worse"} than the survey as a whole`, better ? "best" : "worst"];
}

function oneStateView(context, data) {
  const [[state, value]] = Object.entries(data);
  const { globalMean, lowerIsBetter } = context;
  const [words, tone] = globalMean !== null ? comparison(value, globalMean, lowerIsBetter) : ["", ""];
  const scale = globalMean !== null ? divergingScale([value, globalMean], globalMean, !lowerIsBetter) : null;
  return [h("div", { class: "stats" },
      stat(`${state}, mean`, number(value), words, tone),
      globalMean !== null ? stat("Global mean", number(globalMean), direction(lowerIsBetter)) : null),
    section("view-map", "Where", tileMap(data, { scale, marked: [state], title: `Map marking ${state}`,
      missing: "not in this answer",
      legendTitle: "State mean", directionText: direction(lowerIsBetter), centreLabel: "global mean" }))];
}

function oneStateDiffView(context, data) {
  const [[state, value]] = Object.entries(data);
  const better = value !== 0 && (value > 0) === context.lowerIsBetter;
  const words = value === 0 ? `${state} is level with the global mean.`
    : `${state}'s mean is ${number(Math.abs(value))} ${value > 0 ? "below" : "above"} the global mean, `
      + `which is ${better ? "better" : "worse"} for this question (${direction(context.lowerIsBetter)}).`;
  return [h("div", { class: "stats single" },
      stat(`Global mean − ${state}'s mean`, signed(value), words, value === 0 ? "" : better ? "best" : "worst")),
    section("view-map", "Where", tileMap(data, { scale: null, marked: [state], signedValues: true,
                                                 missing: "not in this answer",
                                                 title: `Map marking ${state}` }))];
}

// Education levels have no number to go by: their ladder, lowest first.
const EDUCATION = ["Less than high school", "High school graduate", "Some college or technical school",
                   "College graduate"];

// Segments in the order people expect: education up its ladder, the others by
// the first number in their name ("Less than $15,000" first, "65 or older"
// after "55 - 64"), and the rest by name.
function segmentRank(segment) {
  const level = EDUCATION.indexOf(segment);
  if (level >= 0) return level;
  if (/^less than/i.test(segment)) return -1;
  const found = segment.replace(/,/g, "").match(/\d+(\.\d+)?/);
  return found ? Number(found[0]) : Infinity;
}

function bySegment(first, second) {
  return segmentRank(first.segment) - segmentRank(second.segment) || first.segment.localeCompare(second.segment);
}

// {state: {category: [{segment, value}]}} from either by-category answer.
function byState(analysis, data) {
  const result = {};
  const add = (state, category, segment, value) => {
    ((result[state] ??= {})[category] ??= []).push({ segment, value });
  };
  if (analysis === "mean_by_category") {
    for (const [key, value] of Object.entries(data)) add(...tupleKey(key), value);
  } else {
    for (const [state, pairs] of Object.entries(data)) {
      result[state] ??= {};
      for (const [key, value] of Object.entries(pairs)) add(state, ...tupleKey(key), value);
    }
  }
  for (const categories of Object.values(result)) {
    for (const items of Object.values(categories)) items.sort(bySegment);
  }
  return result;
}

function categoryBlocks(context, categories, width) {
  const { globalMean } = context;
  const lines = globalMean !== null ? [{ value: globalMean, label: "Global mean" }] : [];
  const names = Object.keys(categories);
  if (!names.length) return [h("p", { class: "explain" }, "No row of this state has a category.")];
  const table = h("table", { class: "data-table grouped" },
    h("caption", { class: "visually-hidden", text: "Means grouped by category" }),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Segment"), h("th", { scope: "col", class: "numeric" }, "Mean"))),
    names.map((category) => h("tbody", {},
      h("tr", { class: "group" }, h("th", { scope: "colgroup", colspan: "2" }, category)),
      categories[category].map((item) => h("tr", {},
        h("td", {}, item.segment), h("td", { class: "numeric" }, number(item.value)))))));
  const extent = names.flatMap((category) => categories[category].map((item) => item.value));
  const labels = names.flatMap((category) => categories[category].map((item) => item.segment));
  const charts = names.map((category) => h("figure", { class: "category-chart" },
    h("figcaption", {}, category),
    h("div", { class: "chart-wrap" }, barChart(
      categories[category].map((item) => ({ label: item.segment, value: item.value })),
      { title: `Bar chart: ${category}`, lines, width: width - 28, labelShare: 0.45, extent, labels }))));
  return [section("view-chart", "Charts by category",
      globalMean !== null ? chartKey([{ kind: "line", label: `global mean ${number(globalMean)}` }]) : null,
      h("div", { class: "category-charts" }, charts)),
    section("view-table", "Table by category", h("div", { class: "table-wrap" }, table))];
}

function categoryView(context, data, width, redraw) {
  const states = byState(context.analysis, data);
  const names = Object.keys(states).sort();
  if (!names.length) return [h("p", { class: "explain" }, "No row of this question has a category.")];
  if (names.length === 1) return categoryBlocks(context, states[names[0]], width);
  const shown = names.includes(context.shownState) ? context.shownState
    : names.includes("National") ? "National" : names[0];
  const picker = h("select", { id: "shown-state", onchange: (event) => redraw({ shownState: event.target.value }) },
    names.map((name) => h("option", { value: name, selected: name === shown }, name)));
  const pairs = [...new Set(names.flatMap((state) => Object.entries(states[state])
    .flatMap(([category, items]) => items.map((item) => JSON.stringify([category, item.segment])))))].sort();
  const mapped = pairs.includes(context.mappedSegment) ? context.mappedSegment : pairs[0];
  const [mapCategory, mapSegment] = JSON.parse(mapped);
  const values = {};
  for (const state of names) {
    const found = (states[state][mapCategory] || []).find((item) => item.segment === mapSegment);
    if (found) values[state] = found.value;
  }
  const segmentPicker = h("select", { id: "mapped-segment",
                                      onchange: (event) => redraw({ mappedSegment: event.target.value }) },
    pairs.map((pair) => {
      const [category, segment] = JSON.parse(pair);
      return h("option", { value: pair, selected: pair === mapped }, `${category}: ${segment}`);
    }));
  const centre = context.globalMean ?? Object.values(values).sort((a, b) => a - b)[Math.floor(Object.keys(values).length / 2)];
  const map = tileMap(values, {
    scale: divergingScale(Object.values(values), centre, !context.lowerIsBetter),
    title: `Map of ${mapCategory}: ${mapSegment}`, legendTitle: `${mapCategory}: ${mapSegment}`,
    directionText: direction(context.lowerIsBetter),
    centreLabel: context.globalMean !== null ? "global mean" : "median",
  });
  return [jumpLinks([["view-chart", "Charts"], ["view-table", "Table"], ["view-map", "Map"]]),
    h("div", { class: "pickers" },
      h("label", { for: "shown-state" }, "State shown"), picker,
      h("p", { class: "hint" }, `The answer covers ${plural(names.length, "place")}; pick one to read.`)),
    ...categoryBlocks(context, states[shown], width),
    section("view-map", "One segment across the states",
      h("div", { class: "pickers" }, h("label", { for: "mapped-segment" }, "Segment on the map"), segmentPicker),
      map)];
}

export function answerBody(context, data, width, redraw) {
  switch (context.analysis) {
    case "states_mean":
    case "best5":
    case "worst5":
      return statesView(context, data, width);
    case "diff_from_mean":
      return diffView(context, data, width);
    case "global_mean":
      return globalView(context, data);
    case "state_mean":
      return oneStateView(context, data);
    case "state_diff_from_mean":
      return oneStateDiffView(context, data);
    default:
      return categoryView(context, data, width, redraw);
  }
}

export { direction };
