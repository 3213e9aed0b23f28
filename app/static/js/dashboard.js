// The dashboard: pick a data set, an analysis, a question and a state (or
// several to compare); run it as a job; read the answer; follow every job.
// What is shown is a view that lives in the page's address (views.js), so
// that reload, back and forward and a shared link all show it again.
import { ANALYSES, answerBody, direction } from "./answers.js";
import { ApiError, getJSON, postJSON, waitForJob, withDataset } from "./api.js";
import { COMPARE, compareView } from "./compare.js";
import { clear, h } from "./dom.js";
import { savePng, saveSvg, svgDocument } from "./export.js";
import { plural } from "./format.js";
import { jobList } from "./joblist.js";
import { matches, shortLabels } from "./questions.js";
import { uploader } from "./upload.js";
import { DEFAULT_DATASET, addressOf, jobAnswers, viewFromAddress, viewOfRecord } from "./views.js";

const $ = (id) => document.getElementById(id);
const form = $("ask");
const fields = {
  dataset: $("dataset"), analysis: $("analysis"), question: $("question"), search: $("question-search"),
  state: $("state"), states: $("compare-states"),
};
const answer = $("answer");
const WELCOME = answer.innerHTML;
// The nine statistics, and the views drawn from one of them.
const VIEWS = { ...ANALYSES, compare: COMPARE };
// The analyses that place one state (or several) among all: they need the ranking.
const RANKED = new Set(["state_mean", "state_diff_from_mean", "state_mean_by_category", "compare"]);

const page = {
  datasets: [],
  questions: [],
  labels: new Map(),
  shown: null,
  showing: 0,
  statesAsked: 0,
};

function announce(text) {
  $("live").textContent = text;
}

function options(select, items, keep) {
  const previous = keep ? select.value : null;
  clear(select).append(...items.map(([value, label, title]) => h("option", { value, title }, label)));
  if (previous && items.some(([value]) => value === previous)) select.value = previous;
}

function withQuery(path, dataset, query) {
  const url = withDataset(path, dataset);
  return `${url}${url.includes("?") ? "&" : "?"}${new URLSearchParams(query)}`;
}

// -- choosing ------------------------------------------------------------

function fillAnalyses() {
  const groups = {};
  for (const [name, analysis] of Object.entries(VIEWS)) {
    (groups[analysis.group] ??= []).push(h("option", { value: name }, analysis.label));
  }
  clear(fields.analysis).append(...Object.entries(groups).map(([label, items]) => h("optgroup", { label }, items)));
}

function datasetName(id) {
  const found = page.datasets.find((dataset) => dataset.id === id);
  return found ? (found.id === DEFAULT_DATASET ? "the CDC survey" : found.name) : id;
}

async function loadDatasets(select) {
  const body = await getJSON("/api/datasets");
  page.datasets = body.data;
  options(fields.dataset, page.datasets.map((dataset) => [dataset.id, dataset.id === DEFAULT_DATASET
    ? "CDC survey, 2011–2022" : dataset.name]), true);
  if (select) fields.dataset.value = select;
  describeDataset();
  uploads.update(body);
}

// The footer credits the data of the answer shown, or else of the data set chosen.
const CDC_CREDIT = $("data-credit").textContent;

function creditOf(datasetId) {
  return datasetId === DEFAULT_DATASET ? CDC_CREDIT
    : `Data: ${datasetName(datasetId)}, a data set uploaded to this server (not the CDC survey).`;
}

function credit(datasetId) {
  $("data-credit").textContent = creditOf(datasetId);
}

function describeDataset() {
  if (!page.shown) credit(fields.dataset.value);
  const dataset = page.datasets.find((item) => item.id === fields.dataset.value);
  $("dataset-hint").textContent = dataset
    ? `${plural(dataset.rows, "row")}, ${plural(dataset.questions.length, "question")}` : "";
}

async function loadDatasetContents() {
  describeDataset();
  const questions = await getJSON(withDataset("/api/questions", fields.dataset.value));
  page.questions = questions.data;
  page.labels = shortLabels(page.questions.map((item) => item.question));
  fields.search.value = "";
  fillQuestions(true);
  await loadStates();
}

// The questions matching the search; the one chosen stays chosen while it matches.
function fillQuestions(keep) {
  const query = fields.search.value;
  const found = page.questions.map((item) => item.question)
    .filter((question) => matches(query, question, page.labels.get(question)));
  options(fields.question, found.map((question) => [question, page.labels.get(question), question]), keep);
  $("search-hint").textContent = query ? `${plural(found.length, "question")} of ${page.questions.length} match.` : "";
  describeQuestion();
}

function describeQuestion() {
  $("question-full").textContent = fields.question.value;
}

// Only the places with data for the question are offered, and none is
// chosen for the user: a run for a state nobody picked would go unnoticed.
async function loadStates() {
  const question = fields.question.value;
  // Only the answer for the latest choice counts: an earlier one may come back later.
  const ticket = ++page.statesAsked;
  const states = question ? await getJSON(withQuery("/api/states", fields.dataset.value, { question }))
    : { data: [] };
  if (ticket !== page.statesAsked) return;
  options(fields.state, [["", "Choose a state"], ...states.data.map((state) => [state, state])], true);
  const checked = new Set(chosenStates());
  clear(fields.states).append(...states.data.map((state) => h("label", { class: "check" },
    h("input", { type: "checkbox", name: "compare-state", value: state, checked: checked.has(state) }), state)));
  describeChoice();
}

function chosenStates() {
  return [...fields.states.querySelectorAll("input:checked")].map((input) => input.value);
}

function questionInfo(question) {
  return page.questions.find((item) => item.question === question) || null;
}

function describeChoice() {
  const analysis = VIEWS[fields.analysis.value];
  const compare = fields.analysis.value === "compare";
  $("state-field").hidden = !analysis.needsState;
  fields.state.disabled = !analysis.needsState;
  fields.state.required = analysis.needsState;
  $("compare-field").hidden = !compare;
  $("analysis-hint").textContent = analysis.hint;
  $("endpoint").textContent = `POST /api/${analysis.statistic ?? fields.analysis.value}`;
  const info = questionInfo(fields.question.value);
  $("direction").textContent = info ? `For this question ${direction(info.lower_is_better)}.` : "";
}

// Puts the form on a view's choices; returns the reason it cannot, if any.
async function choose(view) {
  if (!page.datasets.some((dataset) => dataset.id === view.dataset)) {
    return `no data set has the id ${view.dataset}; the list shows the data sets kept`;
  }
  if (!VIEWS[view.analysis]) return `no analysis is called ${view.analysis}`;
  if (fields.dataset.value !== view.dataset || !page.questions.length) {
    fields.dataset.value = view.dataset;
    await loadDatasetContents();
  }
  if (!questionInfo(view.question)) return `the data set has no question "${view.question}"`;
  fields.analysis.value = view.analysis;
  fields.search.value = "";
  fillQuestions(false);
  fields.question.value = view.question;
  describeQuestion();
  await loadStates();
  fields.state.value = view.state ?? "";
  for (const input of fields.states.querySelectorAll("input")) input.checked = view.states.includes(input.value);
  describeChoice();
  return null;
}

// -- asking --------------------------------------------------------------

function refuse(reason) {
  const refusal = $("refusal");
  refusal.hidden = false;
  clear(refusal).append(h("strong", {}, "Refused: "), reason);
}

function formView() {
  const analysis = fields.analysis.value;
  return { dataset: fields.dataset.value, analysis, question: fields.question.value,
           state: VIEWS[analysis].needsState ? fields.state.value || null : null,
           states: analysis === "compare" ? chosenStates() : [], segment: null, job: null };
}

// Why the page will not send a view, if it will not.
function unready(view) {
  if (!view.question) return ["choose a question first.", fields.search];
  if (VIEWS[view.analysis].needsState && !view.state) {
    return ["choose a state first: this analysis is about one state.", fields.state];
  }
  if (view.analysis === "compare" && view.states.length < 2) {
    return ["choose two states or more to compare.", fields.states.querySelector("input") || fields.analysis];
  }
  return null;
}

async function run(event) {
  event.preventDefault();
  $("refusal").hidden = true;
  const view = formView();
  const problem = unready(view);
  if (problem) {
    refuse(problem[0]);
    problem[1].focus();
    return;
  }
  const submit = $("submit");
  submit.disabled = true;
  try {
    await ask(view, "push");
  } finally {
    submit.disabled = false;
  }
  // Keyboard and screen-reader users land on the answer they asked for.
  const shownId = answer.querySelector(".job-id");
  if (shownId && shownId.textContent === view.job) $("answer-title").focus();
  // On a narrow screen the answer is below the form, out of sight.
  if (window.matchMedia("(max-width: 780px)").matches) answer.scrollIntoView({ block: "start" });
}

// Runs a view as a new job, puts it in the address (a new entry, or in place
// of the current one) and shows it.
async function ask(view, entry) {
  const body = { question: view.question };
  if (view.state && VIEWS[view.analysis].needsState) body.state = view.state;
  if (view.dataset !== DEFAULT_DATASET) body.dataset = view.dataset;
  try {
    view.job = (await postJSON(`/api/${VIEWS[view.analysis].statistic ?? view.analysis}`, body)).job_id;
  } catch (error) {
    refuse(error instanceof ApiError ? error.message : `the server could not be reached (${error.message})`);
    return;
  }
  history[entry === "push" ? "pushState" : "replaceState"](null, "", addressOf(view));
  jobs.refresh();
  await show(view);
}

// -- showing ---------------------------------------------------------------

function heading(view, status) {
  const analysis = view ? VIEWS[view.analysis] : null;
  const info = view ? questionInfo(view.question) : null;
  const lower = info ? info.lower_is_better : null;
  const places = !view ? [] : view.analysis === "compare" ? view.states
    : [VIEWS[view.analysis]?.needsState ? view.state : null].filter(Boolean);
  return h("header", { class: "answer-head" },
    h("p", { class: "eyebrow" }, analysis ? `${analysis.label} · ${datasetName(view.dataset)}` : "An earlier job"),
    h("h2", { id: "answer-title", tabindex: "-1" }, view ? view.question : "A job whose request is not known"),
    h("p", { class: "meta" },
      h("span", { id: "job-status", class: `chip ${status}` }, status),
      h("span", { class: "job-id" }, view ? view.job : ""),
      places.map((place) => h("span", { class: "pill" }, place)),
      lower !== null ? h("span", { class: `pill direction ${lower ? "lower" : "higher"}` },
        `${lower ? "↓" : "↑"} ${direction(lower)}`) : null));
}

function exportLink(id, label, action) {
  return h("button", { type: "button", class: "link", id, onclick: action }, label);
}

// The answer to take away: the data as the server gives it (CSV, a row per
// key, or JSON), and the drawings as SVG and PNG files.
function downloads(view) {
  const jobId = view.job;
  const path = `/api/get_results/${encodeURIComponent(jobId)}`;
  const drawings = [["chart", "#view-chart svg.bar-chart", "Chart"], ["ranking", "#view-ranking svg.bar-chart", "Ranking"],
                    ["map", "#view-map svg.tile-map", "Map"]]
    .filter(([, selector]) => answer.querySelector(selector));
  const exports = drawings.flatMap(([kind, selector, label]) => {
    const source = () => drawingSource(view, selector);
    return [" · ", `${label} `,
      exportLink(`export-${kind}-svg`, "SVG", () => saveSvg(source(), `${jobId}-${kind}.svg`)), " ",
      exportLink(`export-${kind}-png`, "PNG", () => savePng(source(), `${jobId}-${kind}.png`))];
  });
  return h("p", { class: "downloads" }, "Download: ",
    h("a", { id: "download-csv", href: `${path}?format=csv`, download: `${jobId}.csv` }, "CSV"), " · ",
    h("a", { id: "download-json", href: path, download: `${jobId}.json` }, "JSON"), ...exports);
}

// What the page shows around a drawing, for its file: the key of the chart,
// the state chosen in the answer, the map's legend.
function surroundings(drawing) {
  const section = drawing.closest("section");
  const notes = [];
  const key = section?.querySelector(".chart-key");
  if (key) notes.push(`Key: ${[...key.querySelectorAll("li")].map((item) => item.textContent).join(" · ")}`);
  const shownState = answer.querySelector("#shown-state");
  if (shownState && section?.id === "view-chart") notes.push(`State shown: ${shownState.value}`);
  const legend = drawing.closest("figure")?.querySelector(".legend");
  const part = (selector) => legend.querySelector(selector)?.textContent ?? "";
  return { notes, legend: legend ? { title: part(".legend-title"), gradient: legend.querySelector(".legend-bar").style.background,
                                     min: part(".legend-min"), centre: part(".legend-centre-label"),
                                     share: parseFloat(legend.querySelector(".legend-centre")?.style.left ?? "50") / 100,
                                     max: part(".legend-max") } : null };
}

function drawingSource(view, selector) {
  const drawings = [...answer.querySelectorAll(selector)].map((drawing, index) => {
    const caption = drawing.closest("figure")?.querySelector("figcaption:not(.hint)");
    const around = surroundings(drawing);
    // Charts one above the other share their key and state: said once, above the first.
    return { drawing, caption: caption ? caption.textContent : "", ...around, notes: index ? [] : around.notes };
  });
  const places = view.analysis === "compare" ? view.states.join(", ") : VIEWS[view.analysis].needsState && view.state;
  return svgDocument(drawings, [view.question, `${VIEWS[view.analysis].label}${places ? `: ${places}` : ""}`
    + ` (${view.job})`], creditOf(view.dataset));
}

function chartWidth() {
  return Math.max(280, answer.clientWidth - (window.innerWidth < 640 ? 34 : 58));
}

function draw() {
  const { view, data, context } = page.shown;
  const redraw = (changes) => {
    Object.assign(page.shown.context, changes);
    // The state read and the segment mapped stay in the address, in place of the current entry.
    if ("shownState" in changes) view.state = changes.shownState;
    if ("mappedSegment" in changes) view.segment = changes.mappedSegment;
    history.replaceState(null, "", addressOf(view));
    draw();
  };
  const body = view.analysis === "compare" ? compareView(context, data, chartWidth())
    : answerBody(context, data, chartWidth(), redraw);
  const focused = document.activeElement && document.activeElement.id;
  clear(answer).append(heading(view, "done"), ...body);
  answer.querySelector(".answer-head").append(downloads(view));
  credit(view.dataset);
  if (focused && answer.contains($(focused))) $(focused).focus();
}

async function ranking(view) {
  if (!RANKED.has(view.analysis)) return null;
  try {
    return (await getJSON(withQuery("/api/ranking", view.dataset, { question: view.question }))).data;
  } catch {
    // The answer is drawn without the places of the other states.
    return null;
  }
}

async function show(view) {
  const ticket = ++page.showing;
  page.shown = null;
  clear(answer).append(heading(view, "running"),
    h("div", { class: "waiting" }, h("span", { class: "spinner", "aria-hidden": "true" }), "Computing…"));
  announce(`${view.job} running`);
  let result;
  try {
    result = await waitForJob(view.job);
  } catch (error) {
    result = { status: "error", reason: error.message };
  }
  const places = result.status === "done" ? await ranking(view) : null;
  if (ticket !== page.showing) return;
  if (result.status !== "done") {
    clear(answer).append(heading(view, "error"),
      h("p", { class: "failure", role: "alert" }, h("strong", {}, "The job failed: "), result.reason));
    announce(`${view.job} failed`);
  } else {
    const info = questionInfo(view.question);
    const withMean = VIEWS[view.analysis].withMean && info;
    // The global mean that marks the charts comes with the question: no job of the page's own.
    const context = { ...view, datasetName: datasetName(view.dataset), lowerIsBetter: info ? info.lower_is_better : false,
                      globalMean: withMean ? info.global_mean : null, shownState: view.state,
                      mappedSegment: view.segment, ranking: places };
    page.shown = { view, data: result.data, context };
    draw();
    announce(`${view.job} done`);
  }
  jobs.refresh();
}

// A view from the address, the list or history: the job it names when that
// job answers it, else the view run afresh as a new job in its place.
// `found` is what the server told of the job, when the caller asked already.
async function open(view, entry, found) {
  $("refusal").hidden = true;
  const problem = await choose(view);
  if (problem) {
    refuse(problem);
    return;
  }
  const told = found ?? (view.job ? await jobs.record(view.job, null) : null);
  if (told && jobAnswers(view, told)) {
    if (entry === "push") history.pushState(null, "", addressOf(view));
    await show(view);
  } else {
    await ask({ ...view, job: null }, entry === "push" ? "push" : "replace");
  }
}

async function openJob(jobId) {
  const found = await jobs.record(jobId, null);
  const view = found ? viewOfRecord(jobId, found) : null;
  if (view) {
    await open(view, "push", found);
    return;
  }
  // A job recorded before the server kept requests: its answer as it is.
  page.shown = null;
  clear(answer).append(heading(null, "done"), h("pre", { class: "raw" },
    JSON.stringify(await waitForJob(jobId).catch((error) => ({ reason: error.message })), null, 2)));
}

function welcome() {
  ++page.showing;
  page.shown = null;
  answer.innerHTML = WELCOME;
  credit(fields.dataset.value);
}

function openAddress(entry) {
  const view = viewFromAddress(window.location.search);
  if (view) return open(view, entry);
  welcome();
  return Promise.resolve();
}

// -- following the jobs ----------------------------------------------------

function describeJob(found) {
  const asked = found.request;
  if (!asked) return "request not kept";
  // A job of another data set than the one chosen: the survey's labels still apply.
  const label = page.labels.get(asked.question) ?? shortLabels([asked.question]).get(asked.question);
  return `${VIEWS[asked.statistic].label}${asked.state ? `, ${asked.state}` : ""}: ${label}`;
}

const jobs = jobList({ pending: $("num-jobs"), total: $("job-total"), list: $("job-list"), error: $("jobs-error") },
                     { describe: describeJob, open: openJob });

// -- uploading ---------------------------------------------------------------

// An uploaded data set becomes the one in use; says whether it was kept already.
const uploads = uploader(async (stored) => {
  const known = page.datasets.some((dataset) => dataset.id === stored.id);
  await loadDatasets(stored.id);
  await loadDatasetContents();
  return known;
});

// -- start -------------------------------------------------------------------

async function start() {
  fillAnalyses();
  fields.analysis.addEventListener("change", describeChoice);
  fields.question.addEventListener("change", () => {
    describeQuestion();
    loadStates().catch((error) => refuse(error.message));
  });
  fields.search.addEventListener("input", () => {
    const before = fields.question.value;
    fillQuestions(true);
    if (fields.question.value !== before) loadStates().catch((error) => refuse(error.message));
  });
  fields.dataset.addEventListener("change", () => loadDatasetContents().catch((error) => refuse(error.message)));
  form.addEventListener("submit", run);
  window.addEventListener("popstate", () => openAddress("replace"));
  let lastWidth = answer.clientWidth;
  new ResizeObserver(() => {
    if (page.shown && Math.abs(answer.clientWidth - lastWidth) > 30) {
      lastWidth = answer.clientWidth;
      draw();
    }
  }).observe(answer);
  try {
    await loadDatasets();
    await loadDatasetContents();
    $("submit").disabled = false;
    await openAddress("replace");
    document.body.dataset.ready = "true";
  } catch (error) {
    refuse(`the server could not be read: ${error.message}`);
  }
  jobs.refresh();
  jobs.follow();
}

start();
