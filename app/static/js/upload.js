// Uploading a CSV file as a data set. The file is read in the page first,
// so that its questions can be marked lower-is-better before it is sent:
// the server ranks those lowest first, and the choice is part of the data set.
import { uploadFile } from "./api.js";
import { csvRows } from "./csv.js";
import { clear, h } from "./dom.js";
import { bytes, plural } from "./format.js";

const $ = (id) => document.getElementById(id);

function isNumber(text) {
  const trimmed = (text ?? "").trim();
  return trimmed !== "" && Number.isFinite(Number(trimmed));
}

// The file's questions as the server counts them: those of the rows with a
// location and a numeric value (where the file has those columns); null when
// it has no Question column.
function questionsOf(text) {
  const rows = csvRows(text);
  const header = rows.next().value ?? [];
  const [question, location, value] = ["Question", "LocationDesc", "Data_Value"]
    .map((name) => header.findIndex((title) => title.trim() === name));
  if (question < 0) return null;
  const found = new Set();
  for (const row of rows) {
    const asked = (row[question] ?? "").trim();
    if (asked && (location < 0 || (row[location] ?? "").trim()) && (value < 0 || isNumber(row[value]))) {
      found.add(asked);
    }
  }
  return [...found].sort();
}

// The upload controls of the page. `onAdded(stored)` is called with the
// server's description of a data set once it is kept, and answers whether
// the page knew it already (the same file and choices uploaded before).
export function uploader(onAdded) {
  const input = $("upload-file");
  const choices = $("upload-choices");
  const list = $("upload-questions");
  const send = $("upload-send");
  const status = $("upload-status");
  const state = { file: null, maxBytes: Infinity, survey: new Set() };

  function say(text, tone) {
    status.className = tone ? `upload-status ${tone}` : "upload-status";
    status.textContent = text;
  }

  function offer(file, questions) {
    state.file = file;
    $("upload-file-name").textContent = file.name;
    // The survey's own are lower-is-better in any file: shown ticked, not to be unticked.
    clear(list).append(...(questions ?? []).map((question) => {
      const known = state.survey.has(question);
      return h("label", { class: "upload-question" },
        h("input", { type: "checkbox", value: question, checked: known, disabled: known }),
        h("span", {}, question, known ? h("span", { class: "hint" }, " (lower is better in the CDC survey)") : null));
    }));
    list.hidden = !list.childElementCount;
    choices.hidden = false;
    // A file the server will refuse is still sent, so that its reason is shown.
    say(`Read ${file.name}: ${questions === null ? "no Question column" : plural(questions.length, "question")}.`);
    (list.querySelector("input:not(:disabled)") ?? send).focus();
  }

  async function choose() {
    const file = input.files[0];
    // Choosing the same file again (changed on disk, say) reads it again.
    input.value = "";
    if (!file) return;
    state.file = null;
    choices.hidden = true;
    if (file.size > state.maxBytes) {
      say(`Refused: the file is larger than the limit of ${bytes(state.maxBytes)}.`, "error");
      return;
    }
    say(`Reading ${file.name}…`);
    try {
      offer(file, questionsOf(await file.text()));
    } catch (error) {
      say(`The file cannot be read: ${error.message}`, "error");
    }
  }

  async function upload() {
    const { file } = state;
    if (!file) return;
    const lower = [...list.querySelectorAll("input:checked")].map((box) => box.value);
    send.disabled = true;
    say(`Uploading ${file.name}…`);
    try {
      const stored = (await uploadFile("/api/datasets", file, { lower_is_better: lower })).data;
      const known = await onAdded(stored);
      state.file = null;
      choices.hidden = true;
      // The controls that had the focus are gone: back to choosing a file.
      input.focus();
      const count = stored.lower_is_better.length;
      say(`${known ? "Kept already" : "Added"} ${stored.name}: ${plural(stored.rows, "row")}, ${plural(stored.questions.length, "question")}. `
        + `${count ? `Lower is better for ${count} of them.` : "Higher is better for each."} `
        + "It is now the data set in use.", "ok");
    } catch (error) {
      say(`Refused: ${error.message}`, "error");
    } finally {
      send.disabled = false;
    }
  }

  input.addEventListener("change", choose);
  send.addEventListener("click", upload);
  return {
    // Follows GET /api/datasets: the largest upload, and the survey's lower-is-better questions.
    update(listing) {
      state.maxBytes = listing.max_upload_bytes;
      const survey = listing.data.find((dataset) => dataset.id === "default");
      state.survey = new Set(survey ? survey.lower_is_better : []);
      $("upload-limit").textContent = `CSV with the survey's columns, up to ${bytes(state.maxBytes)}.`;
    },
  };
}
