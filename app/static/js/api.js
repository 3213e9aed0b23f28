// Talking to the server: every refusal becomes an ApiError carrying the
// server's reason, so the page can show it as it is.
export class ApiError extends Error {
  constructor(reason, status) {
    super(reason);
    this.status = status;
  }
}

async function answer(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    throw new ApiError(body && body.reason ? body.reason : `the server answered HTTP ${response.status}`,
                       response.status);
  }
  return body;
}

export async function getJSON(url) {
  return answer(await fetch(url, { headers: { Accept: "application/json" } }));
}

export async function postJSON(url, data) {
  return answer(await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(data),
  }));
}

// `fields` are the form's other fields, {name: value or [values]}; a name
// with several values is sent once for each.
export async function uploadFile(url, file, fields = {}) {
  const form = new FormData();
  form.append("file", file, file.name);
  for (const [name, values] of Object.entries(fields)) {
    for (const value of [values].flat()) form.append(name, value);
  }
  return answer(await fetch(url, { method: "POST", body: form }));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Poll a job until it is no longer running; quick at first, then calmer.
export async function waitForJob(jobId) {
  for (let attempt = 0; ; attempt += 1) {
    const body = await getJSON(`/api/get_results/${encodeURIComponent(jobId)}`);
    if (body.status !== "running") return body;
    await sleep(Math.min(1000, 100 + attempt * 50));
  }
}

export function withDataset(url, dataset) {
  return dataset && dataset !== "default" ? `${url}?dataset=${encodeURIComponent(dataset)}` : url;
}
