// The active model's card in words: version, sales fitted on, coefficients, accuracy, checksum.

import { call, messages } from "./api.js";
import { $, el } from "./dom.js";
import { day, money, number, percent, plural, when } from "./format.js";
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

function showCard(card, market) {
  const cv = card.metrics.cv || card.metrics;
  const training = card.training || {};
  const items = [
    ...(manyMarkets() ? [["Market", market]] : []),
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
  const terms = items.flatMap(([term, text]) => [el("dt", { textContent: term }), el("dd", { textContent: text })]);
  $("card").replaceChildren(el("dl", {}, ...terms));
  $("serving").textContent =
    `Serving ${manyMarkets() ? `${market} with ` : ""}model ${card.version}, fitted on ${plural(training.rows ?? 0, "sale")}.`;
}
