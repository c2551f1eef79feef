// The market's trend: its monthly price index as a chart with the valuation month marked, in
// words ("prices rose 4.1 % over the last 12 months") and as a table of the card's figures.

import { ticks } from "./curve.js";
import { $, el, svg } from "./dom.js";
import { month, percent } from "./format.js";

const MARGIN = { left: 52, right: 16, top: 14, bottom: 40 };

export function hideTrend() {
  $("trend-figure").hidden = true;
}

/** How prices moved over the last 12 months of the index (or all of it, when shorter). */
export function change(index) {
  const back = Math.min(12, index.length - 1);
  const last = index[index.length - 1];
  const first = index[index.length - 1 - back];
  return { months: back, from: first, to: last, rate: last.level / first.level - 1 };
}

function movement({ months, rate }) {
  const verb = Math.abs(rate) < 0.0005 ? "held level" : rate > 0 ? "rose" : "fell";
  const amount = Math.abs(rate) < 0.0005 ? "" : ` ${percent(Math.abs(rate), 1)}`;
  return `Prices in this market ${verb}${amount} over the last ${months} months`;
}

/** Draw the card's index (nothing for a market without one), `asOf` (YYYY-MM-DD) marked. */
export function drawTrend(card, asOf) {
  const index = card && card.terms && card.terms.time ? card.terms.time.index : [];
  if (index.length < 2) {
    hideTrend();
    return;
  }
  const newest = index[index.length - 1];
  const valued = asOf ? asOf.slice(0, 7) : newest.month;
  const at = index.findIndex((m) => m.month === valued);
  const chart = $("trend");
  const width = Math.round(Math.max(300, Math.min(720, chart.parentElement.clientWidth || 640)));
  const height = Math.round(Math.max(200, Math.min(260, width * 0.4)));
  const { left, right, top, bottom } = MARGIN;
  chart.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const levels = index.map((m) => (m.level / newest.level) * 100); // the newest month = 100
  const y0 = Math.min(...levels) - 2;
  const y1 = Math.max(...levels) + 2;
  const sx = (i) => left + (i / (index.length - 1)) * (width - left - right);
  const sy = (y) => height - bottom - ((y - y0) / (y1 - y0)) * (height - top - bottom);
  const parts = [];
  for (const t of ticks(y0, y1, 4)) {
    parts.push(svg("line", { class: "grid", x1: left, x2: width - right, y1: sy(t), y2: sy(t) }));
    parts.push(svg("text", { x: left - 6, y: sy(t) + 4, "text-anchor": "end" }, String(t)));
  }
  const every = Math.max(1, Math.ceil(index.length / (width < 500 ? 4 : 8)));
  for (let i = 0; i < index.length; i += every) {
    // The last label ends at the chart's edge instead of running past it.
    const anchor = sx(i) > width - right - 30 ? "end" : "middle";
    parts.push(svg("text", { x: sx(i), y: height - bottom + 18, "text-anchor": anchor }, month(index[i].month)));
  }
  parts.push(svg("line", { class: "axis", x1: left, x2: width - right, y1: height - bottom, y2: height - bottom }));
  if (at >= 0) {
    parts.push(svg("line", { class: "valued", x1: sx(at), x2: sx(at), y1: top, y2: height - bottom }));
  }
  parts.push(svg("polyline", { class: "line", points: levels.map((y, i) => `${sx(i)},${sy(y)}`).join(" ") }));
  if (at >= 0) parts.push(svg("circle", { class: "home", cx: sx(at), cy: sy(levels[at]), r: 6 }));
  parts.push(svg("text", { x: (left + width - right) / 2, y: height - 4, "text-anchor": "middle" },
    `price level, ${month(newest.month)} = 100`));
  chart.replaceChildren(...parts);
  const moved = change(index);
  const mark = at >= 0
    ? `The estimate is valued as of ${month(valued)}, marked on the chart.`
    : `The estimate is valued as of ${month(valued)}, outside the index (${month(index[0].month)} to ${month(newest.month)}).`;
  $("trend-desc").textContent =
    `${movement(moved)} (${month(moved.from.month)} to ${month(moved.to.month)}). ${mark}`;
  $("trend-table").tBodies[0].replaceChildren(...index.map((m, i) => el(
    "tr", { className: i === at ? "valued" : "" },
    el("th", { scope: "row", textContent: month(m.month) }),
    el("td", { className: "num", textContent: m.level.toFixed(4), data: { level: String(m.level) } }),
    el("td", { className: "num", textContent: percent(m.level / newest.level - 1, 1) }),
  )));
  $("trend-figure").hidden = false;
}
