// The markets table (sorted by any column, a page at a time), starting a market, retiring one.

import { apiKey, call, messages } from "./api.js";
import { ask } from "./confirm.js";
import { $, el, fillList } from "./dom.js";
import { day, number, percent, plural } from "./format.js";
import { choose, chosenMarket, marketName, marketsChanged } from "./market.js";
import { follow } from "./retrain.js";

const PAGE = 20;
const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
// In words, with the service's thresholds (filled into the page's HTML).
const { poorPercent, oldDays } = document.body.dataset;
const CONCERNS = {
  poor_accuracy: `Poor accuracy (median error over ${poorPercent} %)`,
  old_sales: `Old sales (the newest over ${oldDays} days old)`,
  no_sale_dates: "No sale dates",
};
let sort = "market";
let descending = false;
let tokens = [null]; // the token of each page seen, to go back
let at = 0; // the page shown
let listed = 0;

/** The table's page `at`, in the chosen order. */
export async function loadTable() {
  const mine = ++listed;
  const token = tokens[at];
  const query = `markets?limit=${PAGE}&sort=${sort}&order=${descending ? "desc" : "asc"}` +
    (token ? `&page_token=${encodeURIComponent(token)}` : "");
  const answer = await call(query);
  if (mine !== listed) return;
  if (!answer.ok) {
    $("markets-status").textContent = `The markets could not be listed: ${messages(answer.data, answer.status).join("; ")}`;
    return;
  }
  const { markets, total, next_page_token: next } = answer.data;
  tokens[at + 1] = next;
  $("markets").tBodies[0].replaceChildren(...markets.flatMap((m) => [row(m), ...newest(m)]));
  const pages = Math.max(1, Math.ceil(total / PAGE));
  $("markets-page").textContent = `Page ${at + 1} of ${pages}`;
  $("markets-previous").disabled = at === 0;
  $("markets-next").disabled = !next;
  const first = at * PAGE + 1;
  $("markets-status").textContent = total === 0 ? "No market is served."
    : `${plural(total, "market")}; ${first}–${first + markets.length - 1} shown, by ${label(sort)}` +
      `${descending ? ", highest first" : ""}.`;
  for (const th of $("markets").tHead.querySelectorAll("th[data-sort]")) {
    if (th.dataset.sort === sort) th.setAttribute("aria-sort", descending ? "descending" : "ascending");
    else th.removeAttribute("aria-sort");
  }
}

function label(column) {
  const th = $("markets").tHead.querySelector(`th[data-sort="${column}"]`);
  return th ? th.textContent.trim().toLowerCase() : column;
}

const cell = (text, className = "") => el("td", { textContent: text, className });
const share = (value, digits = 0) => (typeof value === "number" ? percent(value, digits) : "–");
const decimals = (digits) => (value) => (typeof value === "number" ? value.toFixed(digits) : "–");

/** COD and PRD in words, with IAAO's ranges for homes. */
function meaning(key, value) {
  if (typeof value !== "number") return "";
  if (key === "cod") return value <= 15 ? "uniform" : "uneven";
  if (value > 1.03) return "regressive: cheaper homes valued relatively high";
  if (value < 0.98) return "progressive: dearer homes valued relatively high";
  return "fair";
}

const FIGURES = [
  ["median_ape", (v) => share(v, 1)], ["within_10", share], ["within_20", share],
  ["coverage_90", share], ["cod", decimals(1)], ["prd", decimals(3)],
];

/** The cells of a line's figures; COD and PRD with what they mean. */
function figures(accuracy) {
  return FIGURES.map(([key, show]) => {
    const td = cell(show(accuracy[key]), "num");
    const words = key === "cod" || key === "prd" ? meaning(key, accuracy[key]) : "";
    if (words) td.append(el("br"), el("span", { className: "meaning", textContent: words }));
    return td;
  });
}

/** Under a market whose sales are dated: the same figures for its newest 10 %, held out. */
function newest(m) {
  if (!m.out_of_time) return [];
  return [el(
    "tr",
    { className: "newest" },
    el("th", { scope: "row", colSpan: 5, className: "muted", textContent: `${m.market}: newest 10 % of its sales, held out` }),
    ...figures(m.out_of_time),
    cell(""),
  )];
}

function row(m) {
  const link = el("a", { href: `?market=${encodeURIComponent(m.market)}`, textContent: m.market });
  link.addEventListener("click", (event) => {
    event.preventDefault();
    choose(m.market);
    $("estimate-title").focus();
  });
  const status = el("td", { className: "status" }, m.ready ? "Ready" : "Not served now");
  for (const concern of m.concerns) {
    status.append(el("br"), el("strong", { className: "attention", textContent: CONCERNS[concern] || concern }));
  }
  const fitted = cell(day(m.fitted_at.slice(0, 10)), "date");
  if (m.last_fit !== m.fitted_at) {
    fitted.append(el("br"), el("span", { className: "muted", textContent: `newer fit ${day(m.last_fit.slice(0, 10))} not promoted` }));
  }
  return el(
    "tr",
    { className: m.market === marketName() ? "active" : "" },
    el("th", { scope: "row" }, link),
    cell(number(m.n_train), "num"),
    cell(m.first_sale ? day(m.first_sale) : "–", "date"),
    cell(m.last_sale ? day(m.last_sale) : "–", "date"),
    fitted,
    ...figures(m.accuracy),
    status,
  );
}

function sortBy(column) {
  descending = column === sort ? !descending : false;
  sort = column;
  tokens = [null];
  at = 0;
  loadTable();
}

function fieldError(id, text) {
  $(`${id}-error`).textContent = text;
  $(`${id}-error`).hidden = !text;
  $(id).setAttribute("aria-invalid", text ? "true" : "false");
  if (text) $(id).focus();
}

/** A new market: its name and a CSV of its sales to /retrain, the job followed to its end. */
async function start() {
  const name = $("start-name").value.trim();
  const file = $("start-file").files[0];
  fieldError("start-name", "");
  fieldError("start-file", "");
  fillList("start-errors", []);
  if (!NAME.test(name)) {
    fieldError("start-name", "A name of lower-case letters, digits and hyphens, starting with a letter or digit.");
    return;
  }
  if (!file) {
    fieldError("start-file", "Choose a CSV file of the market's sales.");
    return;
  }
  const known = await call(`markets/${encodeURIComponent(name)}`);
  if (known.ok) {
    fieldError("start-name", `A market named ${name} is served already: choose it above and retrain it.`);
    return;
  }
  $("start-job").hidden = false;
  $("start-progress").hidden = false;
  $("start-reason").textContent = "";
  $("start-status").textContent = `Sending ${file.name}…`;
  $("start-button").disabled = true;
  try {
    const sent = await call(`retrain?market=${encodeURIComponent(name)}&mode=replace`, {
      method: "POST", csv: file, auth: true,
    });
    if (!sent.ok) {
      $("start-progress").hidden = true;
      const found = messages(sent.data, sent.status);
      $("start-status").textContent = sent.status === 401
        ? `The key was refused: ${found.join("; ")}`
        : `No market was started: ${sent.status === 422 ? `${plural(found.length, "problem")} in ${file.name}` : found.join("; ")}`;
      if (sent.status === 422) fillList("start-errors", found);
      return;
    }
    const job = await follow(sent.data, file.name, "start");
    if (job.status === "succeeded" && job.promoted) {
      $("start-name").value = "";
      await marketsChanged();
      await loadTable();
      await choose(name);
    }
  } finally {
    $("start-button").disabled = apiKey.get() === "";
  }
}

/** Retire the chosen market, once its name and what becomes of its data are confirmed. */
async function retire() {
  const name = chosenMarket();
  if (!name) return;
  const yes = await ask(
    `Retire ${name}?`,
    `Estimates of ${name} stop within a second: a request naming it is answered 404, and it ` +
      "takes no new sales. Its versions, sales and history stay stored (nothing is deleted) " +
      `until an operator removes them with python -m app.db prune --market ${name}; until ` +
      "then the name cannot be used again.",
    `Retire ${name}`,
  );
  if (!yes) return;
  $("retire-status").textContent = `Retiring ${name}…`;
  const answer = await call(`markets/${encodeURIComponent(name)}`, { method: "DELETE", auth: true });
  if (!answer.ok) {
    $("retire-status").textContent = `${name} was not retired: ${messages(answer.data, answer.status).join("; ")}`;
    return;
  }
  $("retire-status").textContent = `${name} is retired; the default market is chosen.`;
  await choose("");
  tokens = [null];
  at = 0;
  await loadTable();
}

/** The Retire button names the chosen market, and is offered for any but the default one. */
export function showRetire() {
  const name = chosenMarket();
  $("retire-button").hidden = !name;
  $("retire-button").textContent = `Retire ${name}`;
  $("retire-button").setAttribute("aria-describedby", "key-needed");
}

export function startMarkets() {
  for (const th of $("markets").tHead.querySelectorAll("th[data-sort]")) {
    th.querySelector("button").addEventListener("click", () => sortBy(th.dataset.sort));
  }
  $("markets-previous").addEventListener("click", () => {
    at = Math.max(0, at - 1);
    loadTable();
  });
  $("markets-next").addEventListener("click", () => {
    if (!tokens[at + 1]) return;
    at += 1;
    loadTable();
  });
  $("start-form").addEventListener("submit", (event) => {
    event.preventDefault();
    start();
  });
  $("retire-button").addEventListener("click", retire);
}
