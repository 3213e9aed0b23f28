// The dashboard: pick a data set, an analysis, a question and a state; run
// it as a job; watch the job; read the answer; follow every job.
import { ANALYSES, answerBody, direction } from "./answers.js";
import { ApiError, getJSON, postJSON, uploadFile, waitForJob, withDataset } from "./api.js";
import { clear, h } from "./dom.js";
import { bytes, plural } from "./format.js";

const $ = (id) => document.getElementById(id);
const form = $("ask");
const fields = {
  dataset: $("dataset"), analysis: $("analysis"), question: $("question"), state: $("state"),
  upload: $("upload-file"),
};
const answer = $("answer");
const MEMORY_KEY = "le-stats-sportif.jobs";
const MEMORY_LIMIT = 300;
const JOBS_SHOWN = 30;

const page = {
  datasets: [],
  maxUpload: Infinity,
  questions: [],
  // job id -> what was asked, for the jobs this browser started
  jobs: new Map(JSON.parse(localStorage.getItem(MEMORY_KEY) || "[]")),
  shown: null,
  showing: 0,
  statesAsked: 0,
};

function remember(jobId, spec) {
  page.jobs.set(jobId, spec);
  const kept = [...page.jobs].slice(-MEMORY_LIMIT);
  localStorage.setItem(MEMORY_KEY, JSON.stringify(kept));
}

function announce(text) {
  $("live").textContent = text;
}

function options(select, items, keep) {
  const previous = keep ? select.value : null;
  clear(select).append(...items.map(([value, label]) => h("option", { value }, label)));
  if (previous && items.some(([value]) => value === previous)) select.value = previous;
}

// -- choosing ------------------------------------------------------------

function fillAnalyses() {
  const groups = {};
  for (const [name, analysis] of Object.entries(ANALYSES)) {
    (groups[analysis.group] ??= []).push(h("option", { value: name }, analysis.label));
  }
  clear(fields.analysis).append(...Object.entries(groups).map(([label, items]) => h("optgroup", { label }, items)));
}

function datasetName(id) {
  const found = page.datasets.find((dataset) => dataset.id === id);
  return found ? (found.id === "default" ? "the CDC survey" : found.name) : id;
}

async function loadDatasets(select) {
  const body = await getJSON("/api/datasets");
  page.datasets = body.data;
  page.maxUpload = body.max_upload_bytes;
  options(fields.dataset, page.datasets.map((dataset) => [dataset.id, dataset.id === "default"
    ? "CDC survey, 2011–2022" : dataset.name]), true);
  if (select) fields.dataset.value = select;
  describeDataset();
  $("upload-limit").textContent = `CSV with the survey's columns, up to ${bytes(page.maxUpload)}.`;
}

// The footer credits the data of the answer shown, or else of the data set chosen.
const CDC_CREDIT = $("data-credit").textContent;

function credit(datasetId) {
  $("data-credit").textContent = datasetId === "default" ? CDC_CREDIT
    : `Data: ${datasetName(datasetId)}, a data set uploaded to this server (not the CDC survey).`;
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
  options(fields.question, page.questions.map((item) => [item.question, item.question]), true);
  await loadStates();
}

// Only the places with data for the question are offered, and none is
// chosen for the user: a run for a state nobody picked would go unnoticed.
async function loadStates() {
  const question = fields.question.value;
  const url = withDataset("/api/states", fields.dataset.value);
  // Only the answer for the latest choice counts: an earlier one may come back later.
  const ticket = ++page.statesAsked;
  const states = question
    ? await getJSON(`${url}${url.includes("?") ? "&" : "?"}question=${encodeURIComponent(question)}`)
    : { data: [] };
  if (ticket !== page.statesAsked) return;
  options(fields.state, [["", "Choose a state"], ...states.data.map((state) => [state, state])], true);
  describeChoice();
}

function questionMean(question) {
  const found = page.questions.find((item) => item.question === question);
  return found ? found.global_mean : null;
}

function lowerIsBetter(question) {
  const found = page.questions.find((item) => item.question === question);
  return found ? found.lower_is_better : false;
}

function describeChoice() {
  const analysis = ANALYSES[fields.analysis.value];
  $("state-field").hidden = !analysis.needsState;
  fields.state.disabled = !analysis.needsState;
  fields.state.required = analysis.needsState;
  $("analysis-hint").textContent = analysis.hint;
  $("endpoint").textContent = `POST /api/${fields.analysis.value}`;
  const question = fields.question.value;
  $("direction").textContent = question ? `For this question ${direction(lowerIsBetter(question))}.` : "";
}

// -- asking --------------------------------------------------------------

function refuse(reason) {
  const refusal = $("refusal");
  refusal.hidden = false;
  clear(refusal).append(h("strong", {}, "Refused: "), reason);
}

async function run(event) {
  event.preventDefault();
  $("refusal").hidden = true;
  const analysis = fields.analysis.value;
  const dataset = fields.dataset.value;
  const question = fields.question.value;
  const body = { question };
  if (ANALYSES[analysis].needsState && !fields.state.value) {
    refuse("choose a state first: this analysis is about one state.");
    fields.state.focus();
    return;
  }
  if (ANALYSES[analysis].needsState) body.state = fields.state.value;
  if (dataset !== "default") body.dataset = dataset;
  const submit = $("submit");
  submit.disabled = true;
  let jobId;
  try {
    jobId = (await postJSON(`/api/${analysis}`, body)).job_id;
  } catch (error) {
    refuse(error instanceof ApiError ? error.message : `the server could not be reached (${error.message})`);
    return;
  } finally {
    submit.disabled = false;
  }
  // The global mean that marks the charts comes with the question: no job of the page's own.
  const spec = { analysis, question, state: body.state ?? null, dataset, datasetName: datasetName(dataset),
                 lowerIsBetter: lowerIsBetter(question),
                 globalMean: ANALYSES[analysis].withMean ? questionMean(question) : null };
  remember(jobId, spec);
  refreshJobs();
  await show(jobId);
  // Keyboard and screen-reader users land on the answer they asked for.
  const shownId = answer.querySelector(".job-id");
  if (shownId && shownId.textContent === jobId) $("answer-title").focus();
  // On a narrow screen the answer is below the form, out of sight.
  if (window.matchMedia("(max-width: 780px)").matches) answer.scrollIntoView({ block: "start" });
}

// -- showing ---------------------------------------------------------------

function heading(jobId, spec, status) {
  const label = spec ? ANALYSES[spec.analysis].label : "An earlier job";
  return h("header", { class: "answer-head" },
    h("p", { class: "eyebrow" }, spec ? `${label} · ${spec.datasetName}` : label),
    h("h2", { id: "answer-title", tabindex: "-1" }, spec ? spec.question : jobId),
    h("p", { class: "meta" },
      h("span", { id: "job-status", class: `chip ${status}` }, status),
      h("span", { class: "job-id" }, jobId),
      spec && spec.state ? h("span", { class: "pill" }, spec.state) : null,
      spec ? h("span", { class: `pill direction ${spec.lowerIsBetter ? "lower" : "higher"}` },
        `${spec.lowerIsBetter ? "↓" : "↑"} ${direction(spec.lowerIsBetter)}`) : null));
}

// The answer to take away, as the server gives it: CSV (a row per key) or JSON.
function downloads(jobId) {
  const path = `/api/get_results/${encodeURIComponent(jobId)}`;
  return h("p", { class: "downloads" }, "Download: ",
    h("a", { id: "download-csv", href: `${path}?format=csv`, download: `${jobId}.csv` }, "CSV"), " · ",
    h("a", { id: "download-json", href: path, download: `${jobId}.json` }, "JSON"));
}

function chartWidth() {
  return Math.max(280, answer.clientWidth - (window.innerWidth < 640 ? 34 : 58));
}

function draw() {
  const { jobId, spec, data, context } = page.shown;
  const redraw = (changes) => {
    Object.assign(page.shown.context, changes);
    draw();
  };
  const body = spec ? answerBody(context, data, chartWidth(), redraw)
    : [h("pre", { class: "raw" }, JSON.stringify(data, null, 2))];
  const focused = document.activeElement && document.activeElement.id;
  clear(answer).append(heading(jobId, spec, "done"), downloads(jobId), ...body);
  if (spec) credit(spec.dataset);
  if (focused && answer.contains($(focused))) $(focused).focus();
}

async function show(jobId) {
  const spec = page.jobs.get(jobId) || null;
  const ticket = ++page.showing;
  page.shown = null;
  clear(answer).append(heading(jobId, spec, "running"),
    h("div", { class: "waiting" }, h("span", { class: "spinner", "aria-hidden": "true" }), "Computing…"));
  announce(`${jobId} running`);
  let result;
  try {
    result = await waitForJob(jobId);
  } catch (error) {
    result = { status: "error", reason: error.message };
  }
  if (ticket !== page.showing) return;
  if (result.status !== "done") {
    clear(answer).append(heading(jobId, spec, "error"),
      h("p", { class: "failure", role: "alert" }, h("strong", {}, "The job failed: "), result.reason));
    announce(`${jobId} failed`);
  } else {
    const globalMean = spec && typeof spec.globalMean === "number" ? spec.globalMean : null;
    page.shown = { jobId, spec, data: result.data, context: { ...spec, globalMean, shownState: spec && spec.state } };
    draw();
    announce(`${jobId} done`);
  }
  refreshJobs();
}

// -- following the jobs ----------------------------------------------------

function describeJob(jobId) {
  const spec = page.jobs.get(jobId);
  if (!spec) return "started elsewhere";
  return `${ANALYSES[spec.analysis].label}${spec.state ? `, ${spec.state}` : ""}`;
}

let refreshing = null;

async function refreshJobs() {
  if (refreshing) return refreshing;
  refreshing = (async () => {
    try {
      // Only the newest jobs, whatever the number kept: a page costs the same at any size.
      const [count, listing] = await Promise.all([getJSON("/api/num_jobs"),
                                                  getJSON(`/api/jobs?limit=${JOBS_SHOWN}`)]);
      $("num-jobs").textContent = `${count.num_jobs} pending`;
      $("num-jobs").classList.toggle("busy", count.num_jobs > 0);
      const jobs = listing.data.map((item) => Object.entries(item)[0]).reverse();
      const total = Math.max(listing.total, jobs.length);
      $("job-total").textContent = plural(total, "job");
      const list = clear($("job-list"));
      for (const [jobId, status] of jobs) {
        list.append(h("li", {}, h("button", { type: "button", class: "job", "data-job": jobId,
                                              onclick: () => show(jobId) },
          h("span", { class: "job-name" }, jobId),
          h("span", { class: "job-what" }, describeJob(jobId)),
          h("span", { class: `chip ${status}` }, status))));
      }
      if (total > jobs.length) list.append(h("li", { class: "hint" }, `and ${total - jobs.length} older`));
      if (!jobs.length) list.append(h("li", { class: "hint" }, "No jobs yet."));
      $("jobs-error").hidden = true;
    } catch (error) {
      $("jobs-error").hidden = false;
      $("jobs-error").textContent = `The job list could not be read: ${error.message}`;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

function followJobs() {
  setInterval(() => {
    if (!document.hidden) refreshJobs();
  }, 2000);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) refreshJobs();
  });
}

// -- uploading ---------------------------------------------------------------

async function upload() {
  const file = fields.upload.files[0];
  if (!file) return;
  const status = $("upload-status");
  status.className = "upload-status";
  if (file.size > page.maxUpload) {
    status.classList.add("error");
    status.textContent = `Refused: the file is larger than the limit of ${bytes(page.maxUpload)}.`;
    fields.upload.value = "";
    return;
  }
  status.textContent = `Uploading ${file.name}…`;
  try {
    const stored = (await uploadFile("/api/datasets", file)).data;
    await loadDatasets(stored.id);
    await loadDatasetContents();
    status.classList.add("ok");
    status.textContent = `Added ${stored.name}: ${plural(stored.rows, "row")}, `
      + `${plural(stored.questions.length, "question")}. It is now the data set in use.`;
  } catch (error) {
    status.classList.add("error");
    status.textContent = `Refused: ${error.message}`;
  } finally {
    fields.upload.value = "";
  }
}

// -- start -------------------------------------------------------------------

async function start() {
  fillAnalyses();
  fields.analysis.addEventListener("change", describeChoice);
  fields.question.addEventListener("change", () => loadStates().catch((error) => refuse(error.message)));
  fields.dataset.addEventListener("change", () => loadDatasetContents().catch((error) => refuse(error.message)));
  fields.upload.addEventListener("change", upload);
  form.addEventListener("submit", run);
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
    document.body.dataset.ready = "true";
  } catch (error) {
    refuse(`the server could not be read: ${error.message}`);
  }
  refreshJobs();
  followJobs();
}

start();
