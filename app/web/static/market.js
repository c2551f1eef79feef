// The market chooser: which town everything below answers for, kept in the address (?market=).
// It asks the service for the names that match what is typed, twenty at a time, so thousands of
// markets are never listed at once.

import { call, messages } from "./api.js";
import { $, el } from "./dom.js";
import { day, plural } from "./format.js";

const SHOWN = 20;
const PAUSE = 30; // ms after the last key before asking: a fast typist's every key is not a request
let chosen = ""; // the market chosen; "" is the default market
let defaultMarket = "default";
let typed = 0; // the latest lookup; an older answer arriving late is dropped
let active = -1; // the option the arrow keys are on
let onChange = () => {};

/** The market chosen, or "" for the default one. */
export function chosenMarket() {
  return chosen;
}

/** The chosen market's name as people read it ("default" too). */
export function marketName() {
  return chosen || defaultMarket;
}

/** Whether the chooser is shown (more than one market is served). */
export function manyMarkets() {
  return !$("market-chooser").hidden;
}

/** `path` with `market=` added when a market other than the default is chosen. */
export function inMarket(path) {
  if (!chosen) return path;
  return `${path}${path.includes("?") ? "&" : "?"}market=${encodeURIComponent(chosen)}`;
}

/** The address with the chosen market in it, the other parameters kept. */
function addressFor(name) {
  const query = new URLSearchParams(location.search);
  if (name && name !== defaultMarket) query.set("market", name);
  else query.delete("market");
  const text = query.toString();
  return `${location.pathname}${text ? `?${text}` : ""}`;
}

function fromAddress() {
  const name = new URLSearchParams(location.search).get("market") || "";
  return name === defaultMarket ? "" : name;
}

/** The facts of the chosen market: sales fitted on and their dates. */
async function showFacts() {
  const name = marketName();
  const answer = await call(`markets/${encodeURIComponent(name)}`);
  if (name !== marketName()) return;
  if (!answer.ok) {
    $("market-facts").textContent = answer.status === 404
      ? `No market named ${name} is served. Choose another.`
      : `The market could not be read: ${messages(answer.data, answer.status).join("; ")}`;
    $("market-facts").classList.add("error");
    return;
  }
  const m = answer.data;
  const sold = m.first_sale ? `sold ${day(m.first_sale)} to ${day(m.last_sale)}` : "no sale dates recorded";
  $("market-facts").classList.remove("error");
  $("market-facts").textContent = `${m.market}: fitted on ${plural(m.n_train, "sale")}, ${sold}.`;
}

function close() {
  $("market-options").hidden = true;
  $("market-input").setAttribute("aria-expanded", "false");
  $("market-input").removeAttribute("aria-activedescendant");
  active = -1;
}

function options() {
  return [...$("market-options").querySelectorAll('[role="option"]')];
}

function highlight(index) {
  const all = options();
  if (!all.length) return;
  active = (index + all.length) % all.length;
  all.forEach((option, i) => option.setAttribute("aria-selected", String(i === active)));
  $("market-input").setAttribute("aria-activedescendant", all[active].id);
  all[active].scrollIntoView({ block: "nearest" });
}

/** Ask for the markets whose name holds the text typed; show the first twenty. */
async function lookup() {
  const text = $("market-input").value.trim().toLowerCase();
  const mine = ++typed;
  if (!/^[a-z0-9-]*$/.test(text)) {
    showOptions([], 0, "A market's name has only letters, digits and hyphens.");
    return;
  }
  const answer = await call(`markets?limit=${SHOWN}&contains=${encodeURIComponent(text)}`);
  if (mine !== typed) return;
  if (!answer.ok) {
    showOptions([], 0, `The markets could not be listed: ${messages(answer.data, answer.status).join("; ")}`);
    return;
  }
  const { markets, total } = answer.data;
  const names = markets.map((m) => m.market);
  const words = total === 0 ? `No market's name holds “${text}”.`
    : total > names.length ? `${plural(total, "market")} match; the first ${names.length} are listed. Type more to narrow them.`
      : `${plural(total, "market")} match.`;
  showOptions(names, total, words);
}

function showOptions(names, total, words) {
  $("market-count").textContent = words;
  const items = names.map((name, i) => {
    const item = el("li", {
      id: `market-option-${i}`, textContent: name, attrs: { role: "option", "aria-selected": "false" },
      data: { market: name },
    });
    // Chosen on mousedown, before the input's blur closes the list.
    item.addEventListener("mousedown", (event) => {
      event.preventDefault();
      choose(name);
    });
    return item;
  });
  if (total > names.length || names.length === 0) {
    items.push(el("li", { className: "more", textContent: words, attrs: { role: "presentation" } }));
  }
  $("market-options").replaceChildren(...items);
  $("market-options").hidden = false;
  $("market-input").setAttribute("aria-expanded", "true");
  active = -1;
  $("market-input").removeAttribute("aria-activedescendant");
}

/** Make `name` the chosen market: the address, its facts, and every part below follow. */
export async function choose(name, remember = true) {
  close();
  const next = name === defaultMarket ? "" : name;
  $("market-input").value = next || defaultMarket;
  if (next === chosen) return;
  chosen = next;
  if (remember) history.pushState(null, "", addressFor(name));
  $("market-status").textContent = `Market ${marketName()} chosen.`;
  showFacts();
  await onChange();
}

/**
 * The market the address names, at once (nothing waits for the service); then the chooser,
 * shown once more than one market is served or a market is named.
 */
export async function loadMarkets() {
  chosen = fromAddress();
  if (chosen) $("market-chooser").hidden = false;
  $("market-input").value = marketName();
  const answer = await call("markets?limit=1");
  if (answer.ok) defaultMarket = answer.data.default_market;
  if (chosen === defaultMarket) chosen = "";
  const many = !answer.ok || answer.data.total > 1 || chosen !== "";
  $("market-chooser").hidden = !many;
  if (document.activeElement !== $("market-input")) $("market-input").value = marketName();
  if (many) await showFacts();
}

/** `changed()` runs after another market is chosen (the address already names it). */
export function startMarket(changed) {
  onChange = changed;
  const input = $("market-input");
  let timer = 0;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(lookup, PAUSE);
  });
  input.addEventListener("focus", () => input.select());
  input.addEventListener("keydown", (event) => {
    const open = !$("market-options").hidden;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (!open) {
        lookup().then(() => highlight(0));
        return;
      }
      highlight(active + (event.key === "ArrowDown" ? 1 : -1));
    } else if (event.key === "Enter") {
      event.preventDefault();
      const all = options();
      const typedName = input.value.trim().toLowerCase();
      const pick = all[active] || all.find((o) => o.dataset.market === typedName);
      if (pick) choose(pick.dataset.market);
      else if (typedName) $("market-count").textContent = `No market named ${typedName} is served.`;
    } else if (event.key === "Escape") {
      close();
      input.value = marketName();
    }
  });
  input.addEventListener("blur", () => {
    close();
    input.value = marketName();
  });
  window.addEventListener("popstate", () => {
    const named = fromAddress();
    if (named === chosen) return;
    chosen = named;
    input.value = marketName();
    showFacts();
    onChange();
  });
}

/** After a market is made or retired: show the chooser if it is now needed. */
export async function marketsChanged() {
  const answer = await call("markets?limit=1");
  if (answer.ok && (answer.data.total > 1 || chosen !== "")) $("market-chooser").hidden = false;
}
