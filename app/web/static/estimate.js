// Estimate one home: the form, its URL (?beds=3&baths=2&sqft=1500), the answer and its parts;
// for a located market its comparable sales and the market's trend too.

import { call, fieldOf, messages } from "./api.js";
import { hideComps, showComps } from "./comps.js";
import { drawCurve, hideCurve } from "./curve.js";
import { $, el, fillList } from "./dom.js";
import { day, money, number, percent, sentence, signedMoney } from "./format.js";
import { chosenMarket, manyMarkets } from "./market.js";
import {
  PLACE_FIELDS, compsWanted, isLocated, placeFromUrl, placeInputs, placeToUrl, showPlaceFields,
} from "./place.js";
import { drawTrend, hideTrend } from "./trend.js";

const FIELDS = ["beds", "baths", "sqft"];
const CHECKED = [...FIELDS, ...PLACE_FIELDS, "comps", "level"]; // the fields an error can name
const PART_NAMES = {
  beds: "Bedrooms", baths: "Bathrooms", sqft: "Square feet", comps: "Comparable sales",
  equity: "Vertical equity",
};

let asked = 0; // the latest request; an older answer arriving late is dropped
let card = Promise.resolve(null); // the active model card, for the chart's sizes

/** The level the page asks for: the Confidence control, as a fraction. */
export function chosenLevel() {
  return Number($("level").value) / 100;
}

function defaultLevel() {
  return Number(document.body.dataset.defaultLevel);
}

function showLevel() {
  $("level-value").textContent = percent(chosenLevel());
}

function setError(field, text) {
  const input = $(field);
  const box = $(`${field}-error`);
  box.textContent = text;
  box.hidden = !text;
  if (input) input.setAttribute("aria-invalid", text ? "true" : "false");
}

function clearErrors() {
  for (const field of CHECKED) setError(field, "");
  $("form-error").hidden = true;
  $("form-error").textContent = "";
}

/** No answer on screen: nothing stale may look current. */
function clearAnswer(message) {
  $("answer").hidden = true;
  $("placeholder").hidden = false;
  $("placeholder").textContent = message;
  hideCurve();
  hideComps();
  hideTrend();
}

function inputs() {
  const body = {};
  for (const field of FIELDS) {
    const text = $(field).value.trim();
    if (text !== "") body[field] = Number(text);
  }
  return { ...body, ...placeInputs() };
}

function urlFor(body, level) {
  const query = new URLSearchParams();
  for (const field of FIELDS) if (field in body) query.set(field, String(body[field]));
  placeToUrl(query);
  if (Math.abs(level - defaultLevel()) > 1e-9) query.set("level", String(level));
  if (chosenMarket()) query.set("market", chosenMarket());
  const text = query.toString();
  return `${location.pathname}${text ? `?${text}` : ""}`;
}

/** Estimate what the form holds; `remember` puts the inputs in the address bar. */
export async function estimate(remember = true) {
  const shownCard = await card; // which fields the market takes
  const body = inputs();
  const wanted = compsWanted();
  const level = chosenLevel();
  if (remember) {
    const url = urlFor(body, level);
    if (url !== `${location.pathname}${location.search}`) history.pushState(null, "", url);
  }
  clearErrors();
  clearAnswer("Estimating…");
  $("estimate-status").textContent = "";
  const mine = ++asked;
  const market = chosenMarket();
  const sent = market ? { ...body, market } : body;
  const comps = wanted ? `&comps=${wanted}` : "";
  const answer = await call(`predict?level=${level}${comps}`, { method: "POST", json: sent });
  if (mine !== asked) return;
  if (!answer.ok) {
    showErrors(answer);
    return;
  }
  show(answer.data, body, shownCard);
  showComps(answer.data, body, wanted);
  drawTrend(shownCard, body.as_of);
  drawCurve(body, answer.data, shownCard);
}

function showErrors(answer) {
  const leftover = [];
  const detail = Array.isArray(answer.data.detail) ? answer.data.detail : null;
  if (answer.status === 422 && detail) {
    const byField = {};
    for (const error of detail) {
      const field = fieldOf(error);
      if (CHECKED.includes(field)) (byField[field] ||= []).push(error.msg);
      else leftover.push(error.msg);
    }
    for (const [field, texts] of Object.entries(byField)) setError(field, texts.join("; "));
    const first = CHECKED.find((f) => f in byField);
    if (first) $(first).focus();
  } else {
    leftover.push(...messages(answer.data, answer.status));
  }
  if (leftover.length) {
    $("form-error").textContent = leftover.join("; ");
    $("form-error").hidden = false;
  }
  clearAnswer("No estimate: correct the marked field and press Estimate again.");
  $("estimate-status").textContent = "No estimate: the service found a problem with the inputs.";
}

function show(data, body, shownCard) {
  $("price").textContent = money(data.price);
  $("per-sqft").textContent = `${money(data.price_per_sqft)} per sq ft`;
  $("answer-version").textContent = manyMarkets()
    ? `${data.model_version} of ${data.market}` : data.model_version;
  showRange(data);
  showWarnings(data.warnings);
  showParts(data.contributions, data.price, body, isLocated(shownCard));
  $("placeholder").hidden = true;
  $("answer").hidden = false;
  $("estimate-status").textContent = `Estimated price ${money(data.price)}, range ${money(
    data.price_low)} to ${money(data.price_high)}.`;
}

function showRange(data) {
  const low = data.price_low;
  const high = data.price_high;
  const pad = (high - low) * 0.15 || Math.abs(data.price) * 0.1 || 1;
  const from = Math.min(low, data.price) - pad;
  const to = Math.max(high, data.price) + pad;
  const at = (value) => ((value - from) / (to - from)) * 100; // percent of the bar's width
  $("range-band").style.left = `${at(low)}%`;
  $("range-band").style.right = `${100 - at(high)}%`;
  $("range-mark").style.left = `${at(data.price)}%`;
  $("price-low").textContent = money(low);
  $("price-high").textContent = money(high);
  $("range-bar").setAttribute("aria-label",
    `Range from ${money(low)} to ${money(high)}, with the estimate ${money(data.price)} marked`);
  $("range-words").textContent =
    `${percent(data.level)} of similar homes sold within this range.`;
}

function showWarnings(warnings) {
  fillList("warnings", warnings.map((w) => sentence(w.message)));
}

/** What a part is called, with the input it stands for. */
function partLabel(name, body, located) {
  if (name === "intercept") return located ? "Base (the market's typical home)" : "Base (intercept)";
  if (FIELDS.includes(name)) return `${PART_NAMES[name]} (${number(body[name])})`;
  if (name === "area") return `Area (${body.area ?? "none given"})`;
  if (name === "location") {
    return "latitude" in body && "longitude" in body
      ? `Location (${body.latitude}, ${body.longitude})` : "Location (none given)";
  }
  if (name === "time") return `Time (as of ${body.as_of ? day(body.as_of) : "the newest month"})`;
  return PART_NAMES[name] || name;
}

/** A waterfall: each part a bar from the running total before it to the one after. */
function showParts(parts, price, body, located) {
  const order = Object.keys(parts).filter((name) => typeof parts[name] === "number");
  let total = 0;
  const steps = order.map((name) => {
    const start = total;
    total += parts[name];
    return { name, value: parts[name], start, end: total };
  });
  const ends = [0, ...steps.map((s) => s.end)];
  const low = Math.min(...ends);
  const high = Math.max(...ends);
  const span = high - low || 1;
  const place = (bar, a, b) => {
    bar.style.left = `${((Math.min(a, b) - low) / span) * 100}%`;
    bar.style.width = `${(Math.abs(b - a) / span) * 100}%`;
  };
  const rows = steps.map((step) => {
    return row(partLabel(step.name, body, located), signedMoney(step.value), (bar) => {
      bar.className = `part-bar ${step.value >= 0 ? "up" : "down"}`;
      place(bar, step.start, step.end);
    });
  });
  const sum = row("Estimated price", money(price), (bar) => {
    bar.className = "part-bar total";
    place(bar, 0, price);
  });
  sum.className = "sum";
  $("parts").tBodies[0].replaceChildren(...rows, sum);
}

function row(label, amount, drawBar) {
  const bar = el("span", { attrs: { "aria-hidden": "true" } });
  drawBar(bar);
  return el(
    "tr",
    {},
    el("th", { scope: "row", textContent: label }),
    el("td", { className: "bar-cell" }, bar),
    el("td", { className: "num", textContent: amount }),
  );
}

/** Fill the form from the address bar; estimate when it names a home. */
function fromUrl() {
  const query = new URLSearchParams(location.search);
  for (const field of FIELDS) $(field).value = query.get(field) ?? "";
  placeFromUrl(query);
  const level = Number(query.get("level"));
  // The bounds are the service's, filled into the slider's HTML (in percent).
  const allowed = level >= Number($("level").min) / 100 && level <= Number($("level").max) / 100;
  $("level").value = String(Math.round((allowed ? level : defaultLevel()) * 100));
  showLevel();
  if (FIELDS.some((f) => query.has(f))) estimate(false);
  else {
    clearErrors();
    clearAnswer("Enter a home and press Estimate.");
  }
}

/** The card of the market shown (a promise of it). */
export function shownCard() {
  return card;
}

/** The card (or a promise of it) that the next chart takes its sizes from. */
export function setCard(value) {
  card = Promise.resolve(value).then((shown) => {
    showPlaceFields(shown);
    return shown;
  });
}

export function startEstimate() {
  $("estimate-form").addEventListener("submit", (event) => {
    event.preventDefault();
    estimate();
  });
  $("level").addEventListener("input", showLevel);
  window.addEventListener("popstate", fromUrl);
  fromUrl();
}
