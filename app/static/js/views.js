// A view is what the page shows: a data set, an analysis, a question, a state
// (or several, to compare) and the job that answered it. Each lives in the
// page's address, so that a view can be linked, reloaded and walked back to:
//   /?dataset=<id>&analysis=<name>&question=<text>&state=<name>&job=job_id_N
// without dataset for the bundled data, state repeated for a comparison. In
// "every state by category" the state is the one read and `segment` the one
// mapped: the job asked for every state.
export const DEFAULT_DATASET = "default";
const EVERY_STATE_PICKED = new Set(["mean_by_category"]);

export function viewFromAddress(search) {
  const query = new URLSearchParams(search);
  const analysis = query.get("analysis");
  const question = query.get("question");
  if (!analysis || !question) return null;
  const states = query.getAll("state").filter(Boolean);
  return {
    dataset: query.get("dataset") || DEFAULT_DATASET,
    analysis,
    question,
    state: analysis === "compare" ? null : states[0] ?? null,
    states: analysis === "compare" ? states : [],
    segment: query.get("segment"),
    job: query.get("job"),
  };
}

export function addressOf(view) {
  const query = new URLSearchParams();
  if (view.dataset && view.dataset !== DEFAULT_DATASET) query.set("dataset", view.dataset);
  query.set("analysis", view.analysis);
  query.set("question", view.question);
  for (const state of view.analysis === "compare" ? view.states : [view.state]) {
    if (state) query.append("state", state);
  }
  if (view.segment) query.set("segment", view.segment);
  if (view.job) query.set("job", view.job);
  return `/?${query}`;
}

// What the server tells of a job (GET /api/jobs/<job_id>) as a view of it.
export function viewOfRecord(jobId, record) {
  const asked = record.request;
  if (!asked) return null;
  return { dataset: asked.dataset || DEFAULT_DATASET, analysis: asked.statistic, question: asked.question,
           state: asked.state ?? null, states: [], segment: null, job: jobId };
}

// Whether a job answers a view: the statistic it ran (a comparison is drawn
// from the mean of every state), on the same question, state and data set.
export function jobAnswers(view, record) {
  const asked = record.request;
  if (!asked) return false;
  const statistic = view.analysis === "compare" ? "states_mean" : view.analysis;
  return asked.statistic === statistic && asked.question === view.question
    && (asked.dataset || DEFAULT_DATASET) === view.dataset
    && (view.analysis === "compare" || EVERY_STATE_PICKED.has(view.analysis)
        || (asked.state ?? null) === (view.state ?? null));
}
