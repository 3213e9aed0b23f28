// The list of the server's jobs, newest first, a page at a time, each told by
// what it was asked (GET /api/jobs/<job_id>), whoever started it.
import { getJSON } from "./api.js";
import { clear, h } from "./dom.js";
import { plural } from "./format.js";

const PAGE_SIZE = 30;
// Records of settled jobs never change; running ones are asked again once settled.
const RECORDS_KEPT = 2000;

export function jobList(elements, { describe, open }) {
  const records = new Map();
  // The `before` cursor of each page walked to, the newest page (null) first.
  const cursors = [null];
  let refreshing = null;
  // Only the latest drawing is shown: a page asked for later may come back first.
  let drawn = 0;

  async function record(jobId, status) {
    const known = records.get(jobId);
    if (known && known.status === status) return known;
    try {
      const found = await getJSON(`/api/jobs/${encodeURIComponent(jobId)}`);
      if (records.size >= RECORDS_KEPT) records.delete(records.keys().next().value);
      records.set(jobId, found);
      return found;
    } catch {
      return null;
    }
  }

  function item(jobId, status, found) {
    return h("li", {}, h("button", { type: "button", class: "job", "data-job": jobId, onclick: () => open(jobId) },
      h("span", { class: "job-name" }, jobId),
      h("span", { class: "job-what", title: found && found.request ? found.request.question : null },
        found ? describe(found) : "…"),
      h("span", { class: `chip ${status}` }, status)));
  }

  function pager(older) {
    const newer = cursors.length > 1;
    if (!newer && !older) return null;
    return h("li", { class: "pager" },
      h("button", { type: "button", class: "button secondary", id: "jobs-newer", disabled: !newer,
                    onclick: () => { cursors.pop(); show(draw()); } }, "← Newer"),
      h("span", { class: "hint" }, `page ${cursors.length}`),
      h("button", { type: "button", class: "button secondary", id: "jobs-older", disabled: !older,
                    onclick: () => { cursors.push(older); show(draw()); } }, "Older →"));
  }

  async function draw() {
    const ticket = ++drawn;
    const before = cursors[cursors.length - 1];
    const [count, listing] = await Promise.all([getJSON("/api/num_jobs"),
      getJSON(`/api/jobs?limit=${PAGE_SIZE}${before ? `&before=${encodeURIComponent(before)}` : ""}`)]);
    elements.pending.textContent = `${count.num_jobs} pending`;
    elements.pending.classList.toggle("busy", count.num_jobs > 0);
    const jobs = listing.data.map((entry) => Object.entries(entry)[0]).reverse();
    elements.total.textContent = plural(Math.max(listing.total, jobs.length), "job");
    const found = await Promise.all(jobs.map(([jobId, status]) => record(jobId, status)));
    if (ticket !== drawn) return;
    const list = clear(elements.list);
    jobs.forEach(([jobId, status], index) => list.append(item(jobId, status, found[index])));
    if (!jobs.length) list.append(h("li", { class: "hint" }, before ? "No older jobs." : "No jobs yet."));
    const pages = pager(listing.next || null);
    if (pages) list.append(pages);
  }

  function show(drawing) {
    return drawing.then(() => {
      elements.error.hidden = true;
    }, (error) => {
      elements.error.hidden = false;
      elements.error.textContent = `The job list could not be read: ${error.message}`;
    });
  }

  function refresh() {
    refreshing ??= show(draw()).finally(() => {
      refreshing = null;
    });
    return refreshing;
  }

  function follow() {
    setInterval(() => {
      if (!document.hidden) refresh();
    }, 2000);
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) refresh();
    });
  }

  return { refresh, follow, record };
}
