// The page's start: each part wired up, the card, the versions and any estimate asked at once.

import { startBatch } from "./batch.js";
import { startCurve } from "./curve.js";
import { estimate, setCard, startEstimate } from "./estimate.js";
import { loadCard } from "./card.js";
import { startKey } from "./key.js";
import { startRetrain } from "./retrain.js";
import { loadVersions, startVersions } from "./versions.js";

/** After a retrain or a rollback: the new card and versions, and the shown home estimated again. */
async function refresh(active) {
  const card = loadCard(active);
  setCard(card);
  await Promise.all([card, loadVersions()]);
  if (!document.getElementById("answer").hidden) await estimate(false);
}

startKey();
startVersions(refresh);
startRetrain(refresh);
startBatch();
startCurve();
setCard(loadCard());
loadVersions();
startEstimate();
