// The page's start: the model card first (the chart's sizes come from it), then each part.

import { startBatch } from "./batch.js";
import { startCurve } from "./curve.js";
import { setCard, startEstimate } from "./estimate.js";
import { loadCard, loadVersions, startModel } from "./model.js";

async function refresh() {
  setCard(await loadCard());
  await loadVersions();
}

startModel(refresh);
startBatch();
startCurve();
const versions = loadVersions();
setCard(await loadCard());
startEstimate();
await versions;
