// Every answer the way people read it: cards, a map, charts and sorted tables.
import { barChart, chartKey } from "./charts.js";
import { h } from "./dom.js";
import { number, ordinal, plural, signed, tupleKey, unitsOf } from "./format.js";
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
                hint: "One state's mean, next to the global mean, and its rank among all the states." },
  // The global mean centres the map of every state's mean that places the state.
  state_diff_from_mean: { label: "One state against the global mean", group: "One state", needsState: true,
                          withMean: true, hint: "The global mean minus the state's mean, and the state's rank." },
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

// The map of every state's mean, centred on the global mean (or, without it, the median).
function meansMap(means, context, options) {
  const { lowerIsBetter, globalMean } = context;
  const values = Object.values(means).sort((a, b) => a - b);
  const centre = globalMean ?? values[Math.floor(values.length / 2)];
  return tileMap(means, {
    scale: divergingScale(values, centre, !lowerIsBetter), format: unitsOf(context.question).value,
    legendTitle: "State mean", directionText: direction(lowerIsBetter),
    centreLabel: globalMean !== null ? "global mean" : "median", ...options,
  });
}

function statesView(context, data, width) {
  const { analysis, lowerIsBetter, globalMean } = context;
  const units = unitsOf(context.question);
  // As the answer has them: the worst five worst first, everything else best first.
  const ranked = rankedStates(data, lowerIsBetter, (analysis === "worst5") === lowerIsBetter);
  const toneOf = tones(ranked.length, analysis);
  const rows = ranked.map((entry, index) => ({ ...entry, rank: index + 1, tone: toneOf(index) }));
  const best = rows[0];
  const worst = rows[rows.length - 1];
  const cards = h("div", { class: "stats" },
    globalMean !== null ? stat("Global mean", units.value(globalMean), "over every row of the question") : null,
    stat(analysis === "worst5" ? "Worst" : "Best", `${best.state}`, units.value(best.value), analysis === "worst5" ? "worst" : "best"),
    analysis === "states_mean"
      ? stat("Worst", worst.state, units.value(worst.value), "worst")
      : stat(analysis === "worst5" ? "Fifth worst" : "Fifth best", worst.state, units.value(worst.value)),
    analysis === "states_mean" ? stat("Places", String(rows.length), "states and territories with data") : null);
  const map = meansMap(data, context, {
    title: `Map of ${ANALYSES[analysis].label.toLowerCase()}`, missing: analysis === "states_mean" ? "no data" : "not among the five",
  });
  const lines = globalMean !== null ? [{ value: globalMean, label: "Global mean" }] : [];
  const chart = barChart(rows.map(barOf), { title: `Bar chart: ${ANALYSES[analysis].label}`, lines, width,
                                            format: units.value, tickFormat: units.value });
  const key = chartKey([
    analysis !== "worst5" ? { kind: "best", label: analysis === "states_mean" ? "best five" : "best" } : null,
    analysis !== "best5" ? { kind: "worst", label: analysis === "states_mean" ? "worst five" : "worst" } : null,
    globalMean !== null ? { kind: "line", label: `global mean ${units.value(globalMean)}` } : null,
  ].filter(Boolean));
  const table = sortableTable(
    [{ key: "rank", label: "Rank", numeric: true }, { key: "state", label: "State" },
     { key: "value", label: "Mean", numeric: true, format: (value) => units.value(value) }],
    rows, { sort: { key: "rank", descending: false }, className: "ranked",
            caption: analysis === "worst5" ? "States ranked from worst to best" : "States ranked from best to worst" });
  return [jumpLinks([["view-map", "Map"], ["view-chart", "Chart"], ["view-table", "Table"]]), cards,
    section("view-map", "Map", map),
    section("view-chart", `Ranked, ${analysis === "worst5" ? "worst" : "best"} first (${direction(lowerIsBetter)})`, key, h("div", { class: "chart-wrap" }, chart)),
    section("view-table", "Table", table)];
}

function diffView(context, data, width) {
  const { lowerIsBetter } = context;
  const units = unitsOf(context.question);
  const difference = `Global mean − state mean${units.gapName ? ` (${units.gapName})` : ""}`;
  // global mean - state mean is positive where the state is below the mean,
  // which is good when lower is better.
  const ranked = rankedStates(data, lowerIsBetter, lowerIsBetter);
  const toneOf = tones(ranked.length, "states_mean");
  const rows = ranked.map((entry, index) => ({ ...entry, rank: index + 1, tone: toneOf(index) }));
  const explain = lowerIsBetter
    ? "Above zero: the state's mean is below the global mean, which is better for this question."
    : "Below zero: the state's mean is above the global mean, which is better for this question.";
  const scale = divergingScale(rows.map((row) => row.value), 0, lowerIsBetter);
  // The tiles are too narrow for the unit: the legend's title names it.
  const map = tileMap(data, {
    scale, format: signed, title: "Map of the difference from the global mean",
    legendTitle: difference, directionText: `${direction(lowerIsBetter)} for the question`,
    centreLabel: "global mean",
  });
  const chart = barChart(rows.map(barOf),
    { title: "Bar chart: global mean minus each state's mean", format: units.gap, tickFormat: signed, width,
      lines: [{ value: 0, label: "Global mean" }] });
  const table = sortableTable(
    [{ key: "rank", label: "Rank", numeric: true }, { key: "state", label: "State" },
     { key: "value", label: difference, numeric: true, format: (value) => units.gap(value) }],
    rows, { sort: { key: "rank", descending: false }, caption: "States ranked from best to worst", className: "ranked" });
  return [jumpLinks([["view-map", "Map"], ["view-chart", "Chart"], ["view-table", "Table"]]),
    h("p", { class: "explain" }, explain),
    section("view-map", "Map", map),
    section("view-chart", `Ranked, best first${units.gapName ? `, in ${units.gapName}` : ""}`,
      chartKey([{ kind: "best", label: "best five" }, { kind: "worst", label: "worst five" },
                { kind: "line", label: "zero: the global mean" }]),
      h("div", { class: "chart-wrap" }, chart)),
    section("view-table", "Table", table)];
}

function globalView(context, data) {
  return [h("div", { class: "stats single" },
    stat("Global mean", unitsOf(context.question).value(data.global_mean),
      `over every row of the question; ${direction(context.lowerIsBetter)}`))];
}

function comparison(value, globalMean, lowerIsBetter, units) {
  const gap = value - globalMean;
  if (Math.abs(gap) < 0.005) return ["level with the global mean", ""];
  const better = (gap < 0) === lowerIsBetter;
  return [`${units.distance(gap)} ${gap > 0 ? "above" : "below"} the global mean of ${units.value(globalMean)}: `
          + `${better ? "better" : "worse"} than the survey as a whole`, better ? "best" : "worst"];
}

// The state's place among every place with data: "12th of 54", and its
// percentile (the share of the other places with a worse mean).
function rankStat(context, state) {
  const places = context.ranking || [];
  const entry = places.find((place) => place.state === state);
  if (!entry) return null;
  const others = places.length - 1;
  const worse = places.filter((place) => (context.lowerIsBetter ? place.mean > entry.mean : place.mean < entry.mean))
    .length;
  const detail = others ? `percentile ${number(entry.percentile, 1)}: ${worse} of the other ${plural(others, "place")} `
                          + `${worse === 1 ? "has" : "have"} a worse mean` : "the only place with data";
  return stat("Rank", `${ordinal(entry.rank)} of ${places.length}`, detail);
}

// Every place's mean, best first, the state's bar marked and its rank in its label.
function rankingSection(context, state, width, ...before) {
  const units = unitsOf(context.question);
  const { ranking, globalMean } = context;
  const items = ranking.map((place) => (place.state === state
    ? { label: `${place.state}, ${ordinal(place.rank)}`, value: place.mean, tone: "marked" }
    : barOf({ state: place.state, value: place.mean })));
  const lines = globalMean !== null ? [{ value: globalMean, label: "Global mean" }] : [];
  const chart = barChart(items, { title: `Bar chart: the mean of every place, ${state} marked`, lines, width,
                                  dense: true, format: units.value, tickFormat: units.value });
  const key = [{ kind: "marked", label: state },
               globalMean !== null ? { kind: "line", label: `global mean ${units.value(globalMean)}` } : null];
  return section("view-ranking", `${state} among ${plural(ranking.length, "place")}, best first`, ...before,
    chartKey(key.filter(Boolean)),
    h("div", { class: "chart-wrap" }, chart));
}

// The state outlined on the map of every state's mean; without the ranking,
// on a map of its own answer alone.
function placeMap(context, state, answer, format) {
  const options = { marked: [state], title: `Map marking ${state}` };
  const map = context.ranking
    ? meansMap(Object.fromEntries(context.ranking.map((place) => [place.state, place.mean])), context, options)
    : tileMap(answer, { ...options, scale: null, format, missing: "not in this answer" });
  return section("view-map", "Where", map);
}

function standingLinks(context) {
  return jumpLinks([["view-map", "Map"], ...(context.ranking ? [["view-ranking", "Ranking"]] : [])]);
}

function oneStateView(context, data, width) {
  const [[state, value]] = Object.entries(data);
  const { globalMean, lowerIsBetter } = context;
  const units = unitsOf(context.question);
  const [words, tone] = globalMean !== null ? comparison(value, globalMean, lowerIsBetter, units) : ["", ""];
  return [standingLinks(context),
    h("div", { class: "stats" },
      stat(`${state}, mean`, units.value(value), words, tone),
      globalMean !== null ? stat("Global mean", units.value(globalMean), direction(lowerIsBetter)) : null,
      rankStat(context, state)),
    placeMap(context, state, data, units.value),
    ...(context.ranking ? [rankingSection(context, state, width)] : [])];
}

function oneStateDiffView(context, data, width) {
  const [[state, value]] = Object.entries(data);
  const units = unitsOf(context.question);
  const better = value !== 0 && (value > 0) === context.lowerIsBetter;
  const words = value === 0 ? `${state} is level with the global mean.`
    : `${state}'s mean is ${units.distance(value)} ${value > 0 ? "below" : "above"} the global mean, `
      + `which is ${better ? "better" : "worse"} for this question (${direction(context.lowerIsBetter)}).`;
  return [standingLinks(context),
    h("div", { class: "stats" },
      stat(`Global mean − ${state}'s mean`, units.gap(value), words, value === 0 ? "" : better ? "best" : "worst"),
      rankStat(context, state)),
    placeMap(context, state, data, units.gap),
    ...(context.ranking ? [rankingSection(context, state, width)] : [])];
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
  const units = unitsOf(context.question);
  const lines = globalMean !== null ? [{ value: globalMean, label: "Global mean" }] : [];
  const names = Object.keys(categories);
  if (!names.length) return [h("p", { class: "explain" }, "No row of this state has a category.")];
  const table = h("table", { class: "data-table grouped" },
    h("caption", { class: "visually-hidden", text: "Means grouped by category" }),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Segment"), h("th", { scope: "col", class: "numeric" }, "Mean"))),
    names.map((category) => h("tbody", {},
      h("tr", { class: "group" }, h("th", { scope: "colgroup", colspan: "2" }, category)),
      categories[category].map((item) => h("tr", {},
        h("td", {}, item.segment), h("td", { class: "numeric" }, units.value(item.value)))))));
  const extent = names.flatMap((category) => categories[category].map((item) => item.value));
  const labels = names.flatMap((category) => categories[category].map((item) => item.segment));
  const charts = names.map((category) => h("figure", { class: "category-chart" },
    h("figcaption", {}, category),
    h("div", { class: "chart-wrap" }, barChart(
      categories[category].map((item) => ({ label: item.segment, value: item.value })),
      { title: `Bar chart: ${category}`, lines, width: width - 28, labelShare: 0.45, extent, labels,
        format: units.value, tickFormat: units.value }))));
  return [section("view-chart", "Charts by category",
      globalMean !== null ? chartKey([{ kind: "line", label: `global mean ${units.value(globalMean)}` }]) : null,
      h("div", { class: "category-charts" }, charts)),
    section("view-table", "Table by category", h("div", { class: "table-wrap" }, table))];
}

// One state's segments, then, in a section of its own, where its mean over
// every row places it among all the states.
function oneStateCategories(context, state, categories, width) {
  const blocks = categoryBlocks(context, categories, width);
  const entry = (context.ranking || []).find((place) => place.state === state);
  if (!entry) return blocks;
  const units = unitsOf(context.question);
  const { globalMean, lowerIsBetter } = context;
  const [words, tone] = globalMean !== null ? comparison(entry.mean, globalMean, lowerIsBetter, units) : ["", ""];
  const cards = h("div", { class: "stats" },
    stat(`${state}, mean over every row`, units.value(entry.mean), words, tone), rankStat(context, state));
  return [
    jumpLinks([["view-chart", "Charts"], ["view-table", "Table"], ["view-ranking", "Ranking"], ["view-map", "Map"]]),
    ...blocks,
    rankingSection(context, state, width, cards), placeMap(context, state)];
}

function categoryView(context, data, width, redraw) {
  const states = byState(context.analysis, data);
  const names = Object.keys(states).sort();
  if (!names.length) return [h("p", { class: "explain" }, "No row of this question has a category.")];
  if (names.length === 1) return oneStateCategories(context, names[0], states[names[0]], width);
  const shown = names.includes(context.shownState) ? context.shownState
    : names.includes("National") ? "National" : names[0];
  const picker = h("select", { id: "shown-state", onchange: (event) => redraw({ shownState: event.target.value }) },
    names.map((name) => h("option", { value: name, selected: name === shown }, name)));
  const pairs = [...new Set(names.flatMap((state) => Object.entries(states[state])
    .flatMap(([category, items]) => items.map((item) => JSON.stringify([category, item.segment])))))]
    .sort((first, second) => {
      const [[categoryA, segmentA], [categoryB, segmentB]] = [JSON.parse(first), JSON.parse(second)];
      return categoryA.localeCompare(categoryB) || bySegment({ segment: segmentA }, { segment: segmentB });
    });
  const chosen = pairs.includes(context.mappedSegment) ? context.mappedSegment : pairs[0];
  const [mapCategory, mapSegment] = JSON.parse(chosen);
  const values = {};
  for (const state of names) {
    const found = (states[state][mapCategory] || []).find((item) => item.segment === mapSegment);
    if (found) values[state] = found.value;
  }
  const segmentPicker = h("select", { id: "mapped-segment",
                                      onchange: (event) => redraw({ mappedSegment: event.target.value }) },
    pairs.map((pair) => {
      const [category, segment] = JSON.parse(pair);
      return h("option", { value: pair, selected: pair === chosen }, `${category}: ${segment}`);
    }));
  // A segment sits far from the question's global mean (the young are seldom
  // obese): the map is centred on the segment's own mean, or every tile
  // would read as one side.
  const mapped = Object.values(values);
  const segmentMean = mapped.reduce((sum, value) => sum + value, 0) / mapped.length;
  const map = tileMap(values, {
    scale: divergingScale(mapped, segmentMean, !context.lowerIsBetter),
    format: unitsOf(context.question).value,
    title: `Map of ${mapCategory}: ${mapSegment}`, legendTitle: `${mapCategory}: ${mapSegment}`,
    directionText: direction(context.lowerIsBetter), centreLabel: "mean of the segment",
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
      return oneStateView(context, data, width);
    case "state_diff_from_mean":
      return oneStateDiffView(context, data, width);
    default:
      return categoryView(context, data, width, redraw);
  }
}

export { direction };
