// Check a list: a CSV of homes in, a preview of the answer, its row count and a Download of the
// whole answer exactly as /predict/batch sent it. In a market with comparable sales, the preview
// adds each located row's nearest comp.

import { call, messages } from "./api.js";
import { readCsv } from "./csv.js";
import { $, el, fillList } from "./dom.js";
import { chosenLevel, shownCard } from "./estimate.js";
import { km, money, plural } from "./format.js";
import { chosenMarket, inMarket, manyMarkets, marketName } from "./market.js";
import { hasComps } from "./place.js";

const PREVIEW_ROWS = 10;
const MONEY = new Set(["price", "price_low", "price_high"]);
let download = null; // the object URL of the last answer, released when replaced

function reset(status) {
  $("list-status").textContent = status;
  fillList("list-errors", []);
  $("download-row").hidden = true;
  $("preview-wrap").hidden = true;
  if (download) URL.revokeObjectURL(download);
  download = null;
}

async function check(file) {
  if (!file) return;
  reset(`Estimating ${file.name}…`);
  const market = marketName();
  const answer = await call(inMarket(`predict/batch?level=${chosenLevel()}`), {
    method: "POST", csv: file, as: "blob",
  });
  if (!answer.ok) {
    const found = messages(answer.data, answer.status);
    $("list-status").textContent = answer.status === 422
      ? `${file.name} was not estimated: ${plural(found.length, "problem")} found (at most ten are listed).`
      : `${file.name} was not estimated: ${found.join("; ")}`;
    if (answer.status === 422) fillList("list-errors", found);
    return;
  }
  const table = readCsv(await answer.data.text(), PREVIEW_ROWS);
  const version = answer.headers.get("X-Model-Version");
  const by = !version ? ", each in its own market" : manyMarkets() ? ` by ${market}'s model ${version}` : "";
  $("list-status").textContent = `${file.name}: ${plural(table.count, "home")} estimated${by}.`;
  preview(table, market);
  if (hasComps(await shownCard())) await nearest(table);
  download = URL.createObjectURL(answer.data);
  const link = $("download");
  link.href = download;
  link.download = `${file.name.replace(/\.csv$/i, "")}-estimates.csv`;
  link.setAttribute("aria-label", `Download the estimates of ${plural(table.count, "home")} as CSV`);
  $("download-help").textContent = `${link.download}, every row with price, price_low, price_high and warnings`;
  $("download-row").hidden = false;
}

/** The first rows; a row that names no market shows the market that estimated it. */
function preview({ header, rows, count }, market) {
  const marketColumn = header.indexOf("market");
  const head = el("tr", {}, ...header.map((name) => el("th", { scope: "col", textContent: name })));
  $("preview").tHead.replaceChildren(head);
  $("preview").tBodies[0].replaceChildren(...rows.map((cells) => el("tr", {}, ...cells.map((cell, i) => {
    const value = Number(cell);
    const asMoney = MONEY.has(header[i]) && cell !== "" && Number.isFinite(value);
    if (i === marketColumn && cell.trim() === "") {
      return el("td", { textContent: `${market} (none given)`, className: "muted" });
    }
    return el("td", { textContent: asMoney ? money(value) : cell, className: asMoney ? "num" : "" });
  }))));
  $("preview-caption").textContent = count > rows.length
    ? `The first ${rows.length} of ${plural(count, "home")}`
    : `All ${plural(count, "home")}`;
  $("preview-wrap").hidden = false;
}

const NUMBERS = new Set(["beds", "baths", "sqft", "latitude", "longitude"]);
const SENT = [...NUMBERS, "area", "as_of", "market"];

/** A row of the answer as a home for /predict: the fields it holds. */
function home(header, cells) {
  const found = {};
  header.forEach((name, i) => {
    const cell = (cells[i] ?? "").trim();
    if (SENT.includes(name) && cell !== "") found[name] = NUMBERS.has(name) ? Number(cell) : cell;
  });
  return found;
}

/** A column of each previewed row's nearest comparable sale (asked of /predict with comps). */
async function nearest({ header, rows }) {
  if (!header.includes("latitude") || !header.includes("longitude")) return;
  $("preview").tHead.rows[0].append(el("th", { scope: "col", textContent: "nearest comp" }));
  const cells = rows.map(() => el("td", { className: "num", textContent: "…" }));
  $("preview").tBodies[0].querySelectorAll("tr").forEach((tr, i) => tr.append(cells[i]));
  await Promise.all(rows.map(async (row, i) => {
    const sent = { ...(chosenMarket() ? { market: chosenMarket() } : {}), ...home(header, row) };
    const answer = "latitude" in sent && "longitude" in sent
      ? await call("predict?comps=20", { method: "POST", json: sent }) : null;
    const found = answer && answer.ok ? answer.data.comps.map((c) => c.distance_km) : [];
    cells[i].textContent = found.length ? km(Math.min(...found)) : "–";
  }));
}

export function startBatch() {
  const input = $("csv-file");
  input.addEventListener("change", () => check(input.files[0]));
  const drop = $("drop");
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    check(event.dataTransfer.files[0]);
  });
}
