// The comparable sales under an estimate, in the appraiser's grid: the home's column first, then
// each sale with its price adjusted to the home in dollars; a drawing of where they lie; and
// each sale in words for screen readers.

import { drawMap, direction, offset } from "./compsmap.js";
import { $, el } from "./dom.js";
import { day, km, money, number, plural, sentence, signedMoney } from "./format.js";

const ADJUSTMENTS = [
  ["beds", "Bedrooms"], ["baths", "Bathrooms"], ["sqft", "Square feet"],
  ["area", "Area"], ["location", "Location"], ["time", "Time"],
];
const SORTS = {
  similarity: (a, b) => a.rank - b.rank,
  distance: (a, b) => a.distance_km - b.distance_km || a.rank - b.rank,
  date: (a, b) => (b.sold_at || "").localeCompare(a.sold_at || "") || a.rank - b.rank,
  adjusted: (a, b) => a.adjusted_price - b.adjusted_price || a.rank - b.rank,
};
let shown = null; // { sales, home, answer }: what the grid holds
let sort = "similarity";
let chosen = -1; // the rank of the comp chosen in the grid or the drawing

export function hideComps() {
  $("comps-block").hidden = true;
  shown = null;
}

/** The comps of an answer under it; `wanted` 0 (none asked) hides the block. */
export function showComps(answer, home, wanted) {
  if (!wanted) {
    hideComps();
    return;
  }
  const sales = (answer.comps || []).map((sale, rank) => ({ ...sale, rank }));
  const why = answer.warnings.find((w) => w.code === "comps_not_listed" || w.code === "no_comps");
  const part = answer.contributions.comps;
  $("comps-block").hidden = false;
  $("comps-none").hidden = sales.length > 0;
  $("comps-shown").hidden = sales.length === 0;
  $("comps-none").textContent = why ? sentence(why.message) : "No comparable sale was found.";
  $("comps-summary").textContent = typeof part === "number"
    ? `Sales like this home moved the estimate by ${signedMoney(part)} (the Comparable sales part).`
    : "";
  if (!sales.length) {
    shown = null;
    return;
  }
  shown = { sales, home, answer };
  chosen = -1;
  render();
}

function where(sale) {
  return `${km(sale.distance_km)} ${direction(offset(shown.home, sale))}`;
}

/** One row of the grid: its label, the home's cell, then each sale's. */
function line(label, home, each, sales, className = "") {
  return el(
    "tr",
    { className },
    el("th", { scope: "row", textContent: label }),
    el("td", { className: "num home", textContent: home }),
    ...sales.map((sale) => el("td", {
      className: `num${sale.rank === chosen ? " chosen" : ""}`, textContent: each(sale),
    })),
  );
}

function render() {
  const { sales: all, home, answer } = shown;
  const sales = [...all].sort(SORTS[sort]);
  const heads = sales.map((sale) => {
    const button = el("button", {
      type: "button", textContent: `Comp ${sale.rank + 1}`,
      attrs: { "aria-pressed": String(sale.rank === chosen) }, data: { rank: sale.rank },
    });
    button.addEventListener("click", () => choose(sale.rank === chosen ? -1 : sale.rank, sale.rank));
    return el("th", { scope: "col", className: `num${sale.rank === chosen ? " chosen" : ""}` }, button);
  });
  $("comps-grid").tHead.replaceChildren(el(
    "tr", {}, el("td", {}), el("th", { scope: "col", className: "num home", textContent: "This home" }), ...heads,
  ));
  const asOf = home.as_of ? day(home.as_of) : "newest month";
  const rows = [
    line("Sale price", "–", (s) => money(s.price), sales),
    line("Sale date", `as of ${asOf}`, (s) => (s.sold_at ? day(s.sold_at) : "–"), sales),
    line("Distance", "–", where, sales),
    line("Bedrooms", number(home.beds), (s) => number(s.beds), sales),
    line("Bathrooms", number(home.baths), (s) => number(s.baths), sales),
    line("Square feet", number(home.sqft), (s) => number(s.sqft), sales),
    line("Area", home.area || "–", (s) => s.area || "–", sales),
    line("Weight", "–", (s) => s.weight.toFixed(2), sales),
    el("tr", { className: "group" }, el("th", {
      scope: "colgroup", colSpan: sales.length + 2, textContent: "Adjustments to this home",
    })),
    ...ADJUSTMENTS.map(([key, label]) => line(label, "–", (s) => signedMoney(s.adjustments[key]), sales)),
    line("Adjusted price", `estimate ${money(answer.price)}`, (s) => money(s.adjusted_price), sales, "sum"),
  ];
  $("comps-grid").tBodies[0].replaceChildren(...rows);
  $("comps-caption").textContent =
    `${plural(sales.length, "comparable sale")}, by ${sort === "adjusted" ? "adjusted price" : sort}; ` +
    "each sale's price plus its adjustments is its adjusted price.";
  $("comps-words").replaceChildren(...sales.map((s) => el("li", { textContent: words(s, home) })));
  for (const button of document.querySelectorAll("#comps-shown .sort-row button")) {
    button.setAttribute("aria-pressed", String(button.dataset.sort === sort));
  }
  drawMap(home, all, chosen, choose);
}

function words(sale, home) {
  const changes = ADJUSTMENTS.filter(([key]) => Math.round(sale.adjustments[key]) !== 0)
    .map(([key, label]) => `${label.toLowerCase()} ${signedMoney(sale.adjustments[key])}`);
  return `Comp ${sale.rank + 1}: sold for ${money(sale.price)}` +
    `${sale.sold_at ? ` on ${day(sale.sold_at)}` : ""}, ${where(sale)} of this home; ` +
    `${plural(sale.beds, "bedroom")}, ${plural(sale.baths, "bathroom")}, ${number(sale.sqft)} sq ft` +
    `${sale.area ? ` in ${sale.area}` : ""}. Adjusted to this home (${number(home.beds)} ` +
    `bedrooms, ${number(home.baths)} bathrooms, ${number(home.sqft)} sq ft): ` +
    `${money(sale.adjusted_price)}${changes.length ? ` (${changes.join(", ")})` : ""}.`;
}

/** Mark one comp (by rank) in the grid and the drawing (-1: none), the focus kept on the comp
 * it was on (`at`), in the grid or the drawing. */
function choose(rank, at = rank) {
  const active = document.activeElement;
  const inMap = Boolean(active && active.closest && active.closest("#comps-map"));
  const inGrid = Boolean(active && active.closest && active.closest("#comps-grid"));
  chosen = rank;
  render();
  const box = inMap ? $("comps-map") : inGrid ? $("comps-grid") : null;
  const target = box && box.querySelector(`[data-rank="${at}"]`);
  if (target) target.focus();
}

export function startComps() {
  for (const button of document.querySelectorAll("#comps-shown .sort-row button")) {
    button.addEventListener("click", () => {
      sort = button.dataset.sort;
      if (shown) render();
    });
  }
}
