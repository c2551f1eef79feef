// The page's start: the model card first (the chart's sizes come from it), then each part.

import { startBatch } from "./batch.js";
import { startCurve } from "./curve.js";
import { estimate, setCard, startEstimate } from "./estimate.js";
import { loadCard, loadVersions, startModel } from "./model.js";

/** After a retrain or a rollback: the new card and versions, and the shown home estimated again. */
async function refresh() {
  setCard(await loadCard());
  await loadVersions();
  if (!document.getElementById("answer").hidden) await estimate(false);
}

startModel(refresh);
startBatch();
startCurve();
const versions = loadVersions();
setCard(await loadCard());
startEstimate();
await versions;
