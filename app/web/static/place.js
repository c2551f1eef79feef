// Where and when a home is, for a located market: its area (offered from the market's areas as
// one types), its coordinates, the date it is valued as of, and how many comparable sales to list.

import { call } from "./api.js";
import { $, el } from "./dom.js";
import { month } from "./format.js";
import { inMarket } from "./market.js";

export const PLACE_FIELDS = ["area", "latitude", "longitude", "as_of"];
const TEXT = new Set(["area", "as_of"]);
export const DEFAULT_COMPS = 5;
const PAUSE = 30; // ms after the last key before asking for the matching areas
let typed = 0; // the latest lookup; an older answer arriving late is dropped

/** Whether a card is of a located market: its estimates use where and when. */
export function isLocated(card) {
  return Boolean(card && card.kind === "located");
}

/** Whether a card's market keeps comparable sales (its sales carry coordinates). */
export function hasComps(card) {
  return Boolean(card && card.terms && card.terms.comps);
}

/** The fields shown for a located market's card, hidden for any other. */
export function showPlaceFields(card) {
  $("place-fields").hidden = !isLocated(card);
  $("comps").closest(".field").hidden = !hasComps(card);
  const index = card && card.terms && card.terms.time ? card.terms.time.index : [];
  $("as_of-help").textContent = index.length
    ? `Left empty: the market's newest month, ${month(index[index.length - 1].month)}.`
    : "This market's sales carry no dates: every home is valued as of its newest sale.";
  $("area-options").replaceChildren();
}

/** The place fields the form holds, when it shows them: { area, latitude, longitude, as_of }. */
export function placeInputs() {
  const found = {};
  if ($("place-fields").hidden) return found;
  for (const field of PLACE_FIELDS) {
    const text = $(field).value.trim();
    if (text !== "") found[field] = TEXT.has(field) ? text : Number(text);
  }
  return found;
}

/** How many comparable sales to list: 0 when the market keeps none. */
export function compsWanted() {
  if ($("place-fields").hidden || $("comps").closest(".field").hidden) return 0;
  const text = $("comps").value.trim();
  return text === "" ? DEFAULT_COMPS : Number(text);
}

/** Fill the fields from the address (?area=98105&latitude=…&comps=10). */
export function placeFromUrl(query) {
  for (const field of PLACE_FIELDS) $(field).value = query.get(field) ?? "";
  $("comps").value = query.get("comps") ?? String(DEFAULT_COMPS);
}

/** The address's parameters for the fields that hold something (comps when not the default). */
export function placeToUrl(query) {
  for (const [field, value] of Object.entries(placeInputs())) query.set(field, String(value));
  const comps = $("comps").value.trim();
  if (!$("place-fields").hidden && comps !== "" && comps !== String(DEFAULT_COMPS)) {
    query.set("comps", comps);
  }
}

async function suggest() {
  const mine = ++typed;
  const text = $("area").value.trim();
  const answer = await call(inMarket(`model/areas?contains=${encodeURIComponent(text)}&limit=20`));
  if (mine !== typed || !answer.ok) return;
  $("area-options").replaceChildren(...answer.data.areas.map((name) => el("option", { value: name })));
}

export function startPlace() {
  let pending = 0;
  const later = () => {
    clearTimeout(pending);
    pending = setTimeout(suggest, PAUSE);
  };
  $("area").addEventListener("input", later);
  $("area").addEventListener("focus", later);
}
