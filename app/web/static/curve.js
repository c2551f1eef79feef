// A picture of the model: estimated price against square feet for the entered bedrooms and
// bathrooms, the range as a band, the entered home marked. The service computes every point.

import { call } from "./api.js";
import { $, svg as el } from "./dom.js";
import { money, number, percent } from "./format.js";
import { inMarket } from "./market.js";

const POINTS = 41;
const MARGIN = { left: 78, right: 16, top: 14, bottom: 44 };
let drawn = 0;
let last = null; // what is drawn, to draw again at a new width

export function hideCurve() {
  drawn += 1;
  $("curve-figure").hidden = true;
}

/** Sizes from the training data's smallest to its largest home, and the entered one. */
function grid(home, card) {
  const range = card && card.feature_ranges && card.feature_ranges.sqft;
  let from = range ? range.min : 500;
  let to = range ? range.max : 4000;
  // The service's own limits, filled into the form's HTML.
  const sqft = document.getElementById("sqft");
  from = Math.max(Number(sqft.min), Math.min(from, home.sqft * 0.8));
  to = Math.min(Number(sqft.max), Math.max(to, home.sqft * 1.2));
  const sizes = [];
  for (let i = 0; i < POINTS; i += 1) sizes.push(Math.round(from + ((to - from) * i) / (POINTS - 1)));
  return sizes;
}

export async function drawCurve(home, answer, card) {
  const mine = ++drawn;
  const sizes = grid(home, card);
  // The home as entered (where and when too), at each size.
  const listings = sizes.map((sqft) => ({ ...home, sqft }));
  const found = await call(inMarket(`predict/batch?level=${answer.level}`), {
    method: "POST", json: { listings },
  });
  if (mine !== drawn) return;
  if (!found.ok) {
    $("curve-desc").textContent = "The chart could not be drawn: the service did not answer.";
    $("curve").replaceChildren();
    $("curve-figure").hidden = false;
    return;
  }
  const points = found.data.predictions.map((p, i) => ({ x: sizes[i], ...p }));
  last = { points, home, answer };
  $("curve-figure").hidden = false;
  render(points, home, answer);
}

/** Round tick values: 1, 2 or 5 times a power of ten, about `count` of them. */
export function ticks(low, high, count) {
  const raw = (high - low) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
  const values = [];
  for (let v = Math.ceil(low / step) * step; v <= high + 1e-9; v += step) values.push(v);
  return values;
}

/** Drawn at the figure's own width in pixels, so that its text stays readable on a phone. */
function render(points, home, answer) {
  const svg = $("curve");
  const width = Math.round(Math.max(300, Math.min(720, svg.parentElement.clientWidth || 640)));
  const height = Math.round(Math.max(220, Math.min(320, width * 0.5)));
  const { left, right, top, bottom } = MARGIN;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const xs = points.map((p) => p.x);
  const lows = points.map((p) => p.price_low);
  const highs = points.map((p) => p.price_high);
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs);
  const y0 = Math.min(0, ...lows, answer.price_low);
  const y1 = Math.max(...highs, answer.price_high) * 1.05;
  const sx = (x) => left + ((x - x0) / (x1 - x0)) * (width - left - right);
  const sy = (y) => height - bottom - ((y - y0) / (y1 - y0)) * (height - top - bottom);
  const parts = [];
  for (const t of ticks(y0, y1, 5)) {
    parts.push(el("line", { class: "grid", x1: left, x2: width - right, y1: sy(t), y2: sy(t) }));
    parts.push(el("text", { x: left - 6, y: sy(t) + 4, "text-anchor": "end" }, money(t)));
  }
  for (const t of ticks(x0, x1, width < 500 ? 4 : 6)) {
    parts.push(el("line", { class: "axis", x1: sx(t), x2: sx(t), y1: height - bottom, y2: height - bottom + 5 }));
    parts.push(el("text", { x: sx(t), y: height - bottom + 18, "text-anchor": "middle" }, number(t)));
  }
  parts.push(el("text", { x: (left + width - right) / 2, y: height - 6, "text-anchor": "middle" }, "square feet"));
  parts.push(el("line", { class: "axis", x1: left, x2: width - right, y1: height - bottom, y2: height - bottom }));
  const upper = points.map((p) => `${sx(p.x)},${sy(p.price_high)}`);
  const lower = points.map((p) => `${sx(p.x)},${sy(p.price_low)}`).reverse();
  parts.push(el("polygon", { class: "band", points: [...upper, ...lower].join(" ") }));
  parts.push(el("polyline", { class: "line", points: points.map((p) => `${sx(p.x)},${sy(p.price)}`).join(" ") }));
  parts.push(el("circle", { class: "home", cx: sx(home.sqft), cy: sy(answer.price), r: 6 }));
  svg.replaceChildren(...parts);
  const first = points[0];
  const last = points[points.length - 1];
  $("curve-desc").textContent =
    `Estimated price of a home with ${number(home.beds)} bedrooms and ${number(home.baths)} ` +
    `bathrooms, from ${number(first.x)} sq ft (${money(first.price)}) to ${number(last.x)} sq ft ` +
    `(${money(last.price)}). The shaded band is the ${percent(answer.level)} range; the dot is ` +
    `the home entered, ${number(home.sqft)} sq ft at ${money(answer.price)}.`;
}

export function startCurve() {
  let pending = 0;
  window.addEventListener("resize", () => {
    clearTimeout(pending);
    pending = setTimeout(() => {
      if (last && !$("curve-figure").hidden) render(last.points, last.home, last.answer);
    }, 150);
  });
}
