// The versions, newest first, a page at a time; activating one (a rollback or a step forward).

import { call, messages } from "./api.js";
import { $, el } from "./dom.js";
import { money, number, percent, plural, when } from "./format.js";
import { ask } from "./confirm.js";
import { keyControls } from "./key.js";
import { inMarket, marketName } from "./market.js";

const PAGE = 20;
let nextPage = null;
let listed = 0; // the latest listing; an older one arriving late (another market's) is dropped
let onChange = () => {};

/** The versions, newest first; `more` adds the next page below the ones shown. */
export async function loadVersions(more = false) {
  const query = more && nextPage ? `&page_token=${encodeURIComponent(nextPage)}` : "";
  const mine = ++listed;
  const answer = await call(inMarket(`models?limit=${PAGE}${query}`));
  if (mine !== listed) return;
  if (!answer.ok) {
    $("versions-status").textContent = `The versions could not be listed: ${messages(answer.data, answer.status).join("; ")}`;
    return;
  }
  const { versions, next_page_token: token } = answer.data;
  nextPage = token;
  const rows = versions.map(versionRow);
  if (more) $("versions").tBodies[0].append(...rows);
  else $("versions").tBodies[0].replaceChildren(...rows);
  $("more-versions").hidden = !token;
  const shown = $("versions").tBodies[0].rows.length;
  $("versions-status").textContent = `${plural(shown, "version")} shown${token ? ", older ones below" : ""}.`;
  keyControls();
}

const cell = (text, className = "") => el("td", { textContent: text, className });

function versionRow(v) {
  const m = v.metrics || {};
  const status = el("td");
  if (v.active) {
    status.textContent = "Active";
  } else {
    const button = el("button", {
      type: "button",
      className: "activate",
      textContent: "Activate",
      attrs: { "aria-label": `Activate ${v.version}`, "aria-describedby": "key-needed" },
      data: { version: v.version },
    });
    button.addEventListener("click", () => confirmActivate(v.version));
    status.append(button);
  }
  if (v.kept) status.append(" (kept)");
  return el(
    "tr",
    { className: v.active ? "active" : "" },
    el("th", { scope: "row", textContent: v.version }),
    cell(when(v.created_at)),
    cell(number(v.n_train), "num"),
    cell(typeof m.r2 === "number" ? m.r2.toFixed(3) : "–", "num"),
    cell(typeof m.mae === "number" ? money(m.mae) : "–", "num"),
    cell(typeof m.median_ape === "number" ? percent(m.median_ape, 1) : "–", "num"),
    status,
  );
}

async function confirmActivate(version) {
  const yes = await ask(`Activate ${version}?`, `Every estimate of ${marketName()} will come ` +
    "from this version within a second. The version active now stays stored and can be " +
    "activated again.", "Activate");
  if (yes) await activate(version);
}

async function activate(version) {
  $("activate-status").textContent = `Activating ${version}…`;
  const answer = await call(`models/${encodeURIComponent(version)}/activate`, { method: "POST", auth: true });
  if (!answer.ok) {
    $("activate-status").textContent = `${version} was not activated: ${messages(answer.data, answer.status).join("; ")}`;
    return;
  }
  const was = answer.data.previous_version;
  $("activate-status").textContent = `${version} is now active${was ? ` (it replaced ${was})` : ""}.`;
  await onChange(version);
}

/** `changed(active)` runs after an activation, with the version now active. */
export function startVersions(changed) {
  onChange = changed;
  $("more-versions").addEventListener("click", () => loadVersions(true));
}
