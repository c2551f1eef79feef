// Retraining with the key: a CSV of sales sent to /retrain, its job followed to the gate's verdict.

import { apiKey, call, messages } from "./api.js";
import { $, fillList } from "./dom.js";
import { plural } from "./format.js";
import { inMarket, manyMarkets, marketName } from "./market.js";

let onChange = () => {};

const STATES = {
  queued: "waiting for its turn to fit",
  running: "fitting the model and checking it against the active one",
};

async function retrain() {
  const file = $("sales-file").files[0];
  fillList("retrain-errors", []);
  $("sales-error").hidden = true;
  if (!file) {
    $("sales-error").textContent = "Choose a CSV file of sales first.";
    $("sales-error").hidden = false;
    $("sales-file").focus();
    return;
  }
  const mode = document.querySelector('input[name="mode"]:checked').value;
  const force = $("force").checked;
  $("job").hidden = false;
  $("job-progress").hidden = false;
  $("job-reason").textContent = "";
  $("job-status").textContent = `Sending ${file.name}…`;
  $("retrain-button").disabled = true;
  try {
    const sent = await call(inMarket(`retrain?mode=${mode}&force=${force}`), {
      method: "POST", csv: file, auth: true,
    });
    if (!sent.ok) {
      $("job-progress").hidden = true;
      const found = messages(sent.data, sent.status);
      $("job-status").textContent = sent.status === 401
        ? `The key was refused: ${found.join("; ")}`
        : `Nothing was stored: ${sent.status === 422 ? `${plural(found.length, "problem")} in ${file.name}` : found.join("; ")}`;
      if (sent.status === 422) fillList("retrain-errors", found);
      return;
    }
    const job = await follow(sent.data, file.name, "job");
    await onChange(job.active_version);
  } finally {
    $("retrain-button").disabled = apiKey.get() === "";
  }
}

/**
 * Poll a job until it ends, showing each state in `<prefix>-status`, then the gate's reason in
 * `<prefix>-reason`; the job as it ended.
 */
export async function follow(job, name, prefix) {
  const market = job.market || marketName();
  const received = `${plural(job.rows_received, "sale")} from ${name} stored${job.duplicate ? " (sent before: not stored twice)" : ""}`;
  while (job.status === "queued" || job.status === "running") {
    $(`${prefix}-status`).textContent = `${received}; job ${job.job_id.slice(0, 8)} ${STATES[job.status]}…`;
    await new Promise((resolve) => setTimeout(resolve, 400));
    const next = await call(`jobs/${job.job_id}`);
    if (next.ok) job = next.data;
  }
  $(`${prefix}-progress`).hidden = true;
  if (job.status === "succeeded") {
    $(`${prefix}-status`).textContent = job.promoted
      ? `Done: ${job.version} is now active${manyMarkets() ? ` in ${market}` : ""}, fitted on ${plural(job.n_train, "sale")}.`
      : `Done: ${job.version} is stored but not active; ${job.active_version ?? "no version"} stays active.`;
  } else {
    $(`${prefix}-status`).textContent = "The job failed; nothing was activated.";
  }
  $(`${prefix}-reason`).textContent = `Reason: ${job.reason}`;
  return job;
}

/** `changed(active)` runs after a job ends, with the version active then. */
export function startRetrain(changed) {
  onChange = changed;
  $("retrain-form").addEventListener("submit", (event) => {
    event.preventDefault();
    retrain();
  });
}
