// The model and its data: the active card in words, the versions, and (with the API key)
// retraining on new sales and activating an older version.

import { apiKey, call, messages } from "./api.js";
import { $, fillList } from "./dom.js";
import { day, money, number, percent, plural, when } from "./format.js";

const PAGE = 20;
const cents = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumFractionDigits: 2 });
const TERMS = {
  beds: ["Each bedroom", "per bedroom"],
  baths: ["Each bathroom", "per bathroom"],
  sqft: ["Each square foot", "per square foot"],
};
let nextPage = null;
let onChange = () => {};

/**
 * The active model card from the service, or null when none is served (the page says why).
 * With `expected`, the version just activated: every worker serves it within a second, so the
 * card is asked again (for up to five seconds) until the answering worker has switched too.
 */
export async function loadCard(expected = null) {
  let answer = await call("model");
  for (let tries = 0; expected && answer.ok && answer.data.version !== expected && tries < 25; tries += 1) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    answer = await call("model");
  }
  if (!answer.ok) {
    const why = messages(answer.data, answer.status).join("; ");
    $("card").replaceChildren(paragraph(`No model is served now: ${why}`));
    $("serving").textContent = "No model is served now.";
    return null;
  }
  showCard(answer.data);
  return answer.data;
}

function paragraph(text) {
  const p = document.createElement("p");
  p.textContent = text;
  return p;
}

function coefficient(value) {
  const text = Math.abs(value) < 1000 ? cents.format(Math.abs(value)) : money(Math.abs(value));
  return `${value < 0 ? "−" : "+"}${text}`;
}

function dates(training) {
  const sold = training.sold_at;
  if (sold && sold.first) {
    const some = sold.rows_with_date < training.rows ? ` (${number(sold.rows_with_date)} of them dated)` : "";
    return `sold ${day(sold.first)} to ${day(sold.last)}${some}`;
  }
  return "no sale dates recorded";
}

function showCard(card) {
  const cv = card.metrics.cv || card.metrics;
  const training = card.training || {};
  const items = [
    ["Version", `${card.version}, made ${when(card.created_at)}`],
    ["Fitted on", `${plural(training.rows ?? 0, "sale")}, ${dates(training)}`],
    ["Base price", `${money(card.intercept)} (the intercept: the estimate before the parts below)`],
  ];
  for (const name of card.features) {
    const [label, unit] = TERMS[name] || [name, card.coefficients[name].unit];
    items.push([label, `${coefficient(card.coefficients[name].value)} ${unit}, the others held equal`]);
  }
  items.push(
    ["Accuracy", `R² ${cv.r2.toFixed(3)}: the model accounts for ${percent(Math.max(0, cv.r2))} ` +
      `of the variation in sale prices (${cv.folds}-fold cross-validation)`],
    ["Typical error", `${money(cv.mae)} on average; half of the estimates are within ` +
      `${percent(cv.median_ape, 1)} of the sale price`],
    ["Checksum", `SHA-256 ${card.artifact_sha256.slice(0, 16)}…`],
  );
  const list = document.createElement("dl");
  for (const [term, text] of items) {
    const dt = document.createElement("dt");
    dt.textContent = term;
    const dd = document.createElement("dd");
    dd.textContent = text;
    list.append(dt, dd);
  }
  $("card").replaceChildren(list);
  $("serving").textContent =
    `Serving model ${card.version}, fitted on ${plural(training.rows ?? 0, "sale")}.`;
}

/** The versions, newest first; `more` adds the next page below the ones shown. */
export async function loadVersions(more = false) {
  const query = more && nextPage ? `&page_token=${encodeURIComponent(nextPage)}` : "";
  const answer = await call(`models?limit=${PAGE}${query}`);
  if (!answer.ok) {
    $("versions-status").textContent = `The versions could not be listed: ${messages(answer.data, answer.status).join("; ")}`;
    return;
  }
  const { versions, next_page_token: token } = answer.data;
  nextPage = token;
  const rows = versions.map(versionRow);
  if (more) $("versions").tBodies[0].append(...rows);
  else $("versions").tBodies[0].replaceChildren(...rows);
  $("more-versions").hidden = !token;
  const shown = $("versions").tBodies[0].rows.length;
  $("versions-status").textContent = `${plural(shown, "version")} shown${token ? ", older ones below" : ""}.`;
  keyControls();
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function versionRow(v) {
  const m = v.metrics || {};
  const tr = document.createElement("tr");
  const name = document.createElement("th");
  name.scope = "row";
  name.textContent = v.version;
  const status = document.createElement("td");
  if (v.active) {
    status.textContent = "Active";
    tr.className = "active";
  } else {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "activate";
    button.textContent = "Activate";
    button.setAttribute("aria-label", `Activate ${v.version}`);
    button.setAttribute("aria-describedby", "key-needed");
    button.dataset.version = v.version;
    button.addEventListener("click", () => confirmActivate(v.version));
    status.append(button);
  }
  if (v.kept) status.append(" (kept)");
  tr.append(
    name,
    cell(when(v.created_at)),
    cell(number(v.n_train), "num"),
    cell(typeof m.r2 === "number" ? m.r2.toFixed(3) : "–", "num"),
    cell(typeof m.mae === "number" ? money(m.mae) : "–", "num"),
    cell(typeof m.median_ape === "number" ? percent(m.median_ape, 1) : "–", "num"),
    status,
  );
  return tr;
}

/** Controls that change the service are usable only with a key; without one they say so. */
function keyControls() {
  const has = apiKey.get() !== "";
  $("key-needed").hidden = has;
  $("forget-key").hidden = !has;
  $("key-status").textContent = has
    ? "A key is set for this tab. It is sent only with retrain and activate requests."
    : "Kept in this browser tab only, until you close it.";
  for (const control of document.querySelectorAll("#retrain-form input, #retrain-form button, button.activate")) {
    control.disabled = !has;
  }
}

function confirmActivate(version) {
  $("confirm-title").textContent = `Activate ${version}?`;
  $("confirm-text").textContent = "Every estimate will come from this version within a second. " +
    "The version active now stays stored and can be activated again.";
  $("confirm-yes").dataset.version = version;
  $("confirm").showModal();
}

async function activate(version) {
  $("activate-status").textContent = `Activating ${version}…`;
  const answer = await call(`models/${encodeURIComponent(version)}/activate`, { method: "POST", auth: true });
  if (!answer.ok) {
    $("activate-status").textContent = `${version} was not activated: ${messages(answer.data, answer.status).join("; ")}`;
    return;
  }
  const was = answer.data.previous_version;
  $("activate-status").textContent = `${version} is now active${was ? ` (it replaced ${was})` : ""}.`;
  await onChange(version);
}

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
    const sent = await call(`retrain?mode=${mode}&force=${force}`, { method: "POST", csv: file, auth: true });
    if (!sent.ok) {
      $("job-progress").hidden = true;
      const found = messages(sent.data, sent.status);
      $("job-status").textContent = sent.status === 401
        ? `The key was refused: ${found.join("; ")}`
        : `Nothing was stored: ${sent.status === 422 ? `${plural(found.length, "problem")} in ${file.name}` : found.join("; ")}`;
      if (sent.status === 422) fillList("retrain-errors", found);
      return;
    }
    await follow(sent.data, file.name);
  } finally {
    $("retrain-button").disabled = apiKey.get() === "";
  }
}

/** Poll the job until it ends; show each state, then the gate's reason. */
async function follow(job, name) {
  const received = `${plural(job.rows_received, "sale")} from ${name} stored${job.duplicate ? " (sent before: not stored twice)" : ""}`;
  while (job.status === "queued" || job.status === "running") {
    $("job-status").textContent = `${received}; job ${job.job_id.slice(0, 8)} ${STATES[job.status]}…`;
    await new Promise((resolve) => setTimeout(resolve, 400));
    const next = await call(`jobs/${job.job_id}`);
    if (next.ok) job = next.data;
  }
  $("job-progress").hidden = true;
  if (job.status === "succeeded") {
    $("job-status").textContent = job.promoted
      ? `Done: ${job.version} is now active, fitted on ${plural(job.n_train, "sale")}.`
      : `Done: ${job.version} is stored but not active; ${job.active_version} stays active.`;
  } else {
    $("job-status").textContent = "The job failed; nothing was activated.";
  }
  $("job-reason").textContent = `Reason: ${job.reason}`;
  await onChange(job.active_version);
}

export function startModel(changed) {
  onChange = changed;
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("api-key").value.trim();
    $("api-key").value = "";
    if (value) apiKey.set(value);
    keyControls();
    if (!value) $("key-status").textContent = "Enter the key first.";
  });
  $("forget-key").addEventListener("click", () => {
    apiKey.forget();
    keyControls();
    $("api-key").focus();
  });
  $("retrain-form").addEventListener("submit", (event) => {
    event.preventDefault();
    retrain();
  });
  $("more-versions").addEventListener("click", () => loadVersions(true));
  $("confirm-no").addEventListener("click", () => $("confirm").close());
  $("confirm-yes").addEventListener("click", () => {
    $("confirm").close();
    activate($("confirm-yes").dataset.version);
  });
  keyControls();
}
