// The active model's card in words: version, sales fitted on, coefficients, accuracy, checksum.

import { call, messages } from "./api.js";
import { $, el } from "./dom.js";
import { day, money, month, number, percent, plural, when } from "./format.js";
import { inMarket, manyMarkets, marketName } from "./market.js";

const cents = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumFractionDigits: 2 });
const TERMS = {
  beds: ["Each bedroom", "per bedroom"],
  baths: ["Each bathroom", "per bathroom"],
  sqft: ["Each square foot", "per square foot"],
};

/**
 * The active model card from the service, or null when none is served (the page says why).
 * With `expected`, the version just activated: every worker serves it within a second, so the
 * card is asked again (for up to five seconds) until the answering worker has switched too.
 */
export async function loadCard(expected = null) {
  const market = marketName();
  let answer = await call(inMarket("model"));
  for (let tries = 0; expected && answer.ok && answer.data.version !== expected && tries < 25; tries += 1) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    answer = await call(inMarket("model"));
  }
  if (market !== marketName()) return null; // another market was chosen meanwhile
  if (!answer.ok) {
    const why = messages(answer.data, answer.status).join("; ");
    $("card").replaceChildren(el("p", { textContent: `No model is served now: ${why}` }));
    $("serving").textContent = `No model of ${market} is served now.`;
    return null;
  }
  showCard(answer.data, market);
  return answer.data;
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

const signed = (fraction, digits = 1) => `${fraction >= 0 ? "+" : "−"}${percent(Math.abs(fraction), digits)}`;
const ratios = (m) => [
  ["COD", m.cod, (v) => v.toFixed(1)], ["PRD", m.prd, (v) => v.toFixed(3)],
  ["PRB", m.prb, (v) => `${v >= 0 ? "+" : "−"}${Math.abs(v).toFixed(3)}`],
].filter(([, v]) => typeof v === "number").map(([name, v, show]) => `${name} ${show(v)}`).join(", ");

/** A plain model's terms: dollars per bedroom, per bathroom, per square foot. */
function plainTerms(card) {
  const items = [["Base price", `${money(card.intercept)} (the intercept: the estimate before the parts below)`]];
  for (const name of card.features) {
    const [label, unit] = TERMS[name] || [name, card.coefficients[name].unit];
    items.push([label, `${coefficient(card.coefficients[name].value)} ${unit}, the others held equal`]);
  }
  return items;
}

/** A located model's terms: shares of the price, the areas and cells, the index, the comps. */
function locatedTerms(card) {
  const { size, area, location, time, comps, equity } = card.terms;
  const c = card.coefficients;
  const centre = size.centre;
  const index = time ? time.index : [];
  const newest = index.length ? ` in ${month(index[index.length - 1].month)}` : "";
  const items = [
    ["Base price", `${money(card.intercept)}: the market's typical home (${number(centre.beds)} ` +
      `bedrooms, ${number(centre.baths)} bathrooms, ${number(Math.round(centre.sqft))} sq ft) at its level${newest}`],
    ["Each bedroom", `${signed(Math.exp(c.beds.value) - 1)} on the price, the others held equal`],
    ["Each bathroom", `${signed(Math.exp(c.baths.value) - 1)} on the price, the others held equal`],
    ["Square feet", `${signed(c.sqft.value / 100, 2)} on the price for each 1 % more, near the typical size`],
  ];
  if (area.areas) items.push(["Areas", `${plural(area.areas, "area")}, each shrunk toward the market's level by how many sales it has`]);
  const cells = Object.entries(location.cells).filter(([, v]) => v.cells);
  if (cells.length) {
    items.push(["Location", `${cells.map(([k, v]) => `${number(v.cells)} cells of ${k}`).join(" and ")}, shrunk the same way`]);
  }
  if (index.length > 1) {
    const rate = index[index.length - 1].level / index[0].level - 1;
    items.push(["Price index", `${month(index[0].month)} to ${month(index[index.length - 1].month)}: ${signed(rate)}`]);
  }
  if (comps) items.push(["Comparable sales", `each estimate moved by the ${comps.k} sales most like the home, of ${number(comps.sales)}`]);
  if (comps && comps.range) {
    const f = comps.range.factors;
    items.push(["Range by comps", `widened ×${f[0].toFixed(2)} where a home's comps weigh least ` +
      `(few or far), ×${f[f.length - 1].toFixed(2)} where they weigh most`]);
  }
  if (equity) items.push(["Vertical equity", `estimates spread ×${equity.factor.toFixed(3)} about ${money(equity.centre)}, so that cheap and dear homes are valued alike`]);
  return items;
}

function showCard(card, market) {
  const cv = card.metrics.cv || card.metrics;
  const newest = card.metrics.out_of_time;
  const training = card.training || {};
  const items = [
    ...(manyMarkets() ? [["Market", market]] : []),
    ["Version", `${card.version}, made ${when(card.created_at)}`],
    ["Fitted on", `${plural(training.rows ?? 0, "sale")}, ${dates(training)}`],
    ...(card.kind === "located" ? locatedTerms(card) : plainTerms(card)),
  ];
  items.push(
    ["Accuracy", `R² ${cv.r2.toFixed(3)}: the model accounts for ${percent(Math.max(0, cv.r2))} ` +
      `of the variation in sale prices (${cv.folds}-fold cross-validation)`],
    ["Typical error", `${money(cv.mae)} on average; half of the estimates are within ` +
      `${percent(cv.median_ape, 1)} of the sale price`],
  );
  if (typeof cv.cod === "number") {
    items.push(["Ratios", `${ratios(cv)} (IAAO for homes: COD at most 15, PRD 0.98 to 1.03, PRB within ±0.05)`]);
  }
  if (newest) {
    items.push(["Newest 10 %", `held out, estimated by a fit of the sales before them: half within ` +
      `${percent(newest.median_ape, 1)} of the sale price; ${ratios(newest)}`]);
  }
  items.push(["Checksum", `SHA-256 ${card.artifact_sha256.slice(0, 16)}…`]);
  const terms = items.flatMap(([term, text]) => [el("dt", { textContent: term }), el("dd", { textContent: text })]);
  $("card").replaceChildren(el("dl", {}, ...terms));
  $("serving").textContent =
    `Serving ${manyMarkets() ? `${market} with ` : ""}model ${card.version}, fitted on ${plural(training.rows ?? 0, "sale")}.`;
}
