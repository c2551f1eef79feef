// The page's start: each part wired up, the market chosen, then its card, versions and estimate.

import { startBatch } from "./batch.js";
import { loadCard } from "./card.js";
import { startComps } from "./comps.js";
import { startConfirm } from "./confirm.js";
import { startCurve } from "./curve.js";
import { estimate, setCard, startEstimate } from "./estimate.js";
import { startKey, keyControls } from "./key.js";
import { loadMarkets, startMarket } from "./market.js";
import { loadTable, showRetire, startMarkets } from "./markets.js";
import { startPlace } from "./place.js";
import { startRetrain } from "./retrain.js";
import { loadVersions, startVersions } from "./versions.js";

/** After a retrain or a rollback: the new card and versions, and the shown home estimated again. */
async function refresh(active) {
  const card = loadCard(active);
  setCard(card);
  await Promise.all([card, loadVersions(), loadTable()]);
  if (!document.getElementById("answer").hidden) await estimate(false);
}

/** Another market chosen: its card, versions and table row, and the shown home in it. */
async function marketChosen() {
  showRetire();
  keyControls();
  const card = loadCard();
  setCard(card);
  await Promise.all([card, loadVersions(), loadTable()]);
  if (!document.getElementById("answer").hidden) await estimate(false);
}

startConfirm();
startKey();
startMarket(marketChosen);
startMarkets();
startVersions(refresh);
startRetrain(refresh);
startBatch();
startCurve();
startPlace();
startComps();
const markets = loadMarkets(); // the chosen market is known at once; the chooser comes after
showRetire();
keyControls();
setCard(loadCard());
loadVersions();
startEstimate();
markets.then(loadTable);
