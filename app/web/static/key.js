// The API key: entered once per tab, forgotten on request; the controls that need it follow it.

import { apiKey } from "./api.js";
import { $ } from "./dom.js";

/** Controls that change the service are usable only with a key; without one they say so. */
export function keyControls() {
  const has = apiKey.get() !== "";
  $("key-needed").hidden = has;
  $("forget-key").hidden = !has;
  $("key-status").textContent = has
    ? "A key is set for this tab. It is sent only with requests that change the service."
    : "Kept in this browser tab only, until you close it.";
  for (const control of document.querySelectorAll("#retrain-form input, #retrain-form button, #start-form input, #start-form button, button.activate")) {
    control.disabled = !has;
  }
}

export function startKey() {
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("api-key").value.trim();
    $("api-key").value = "";
    if (value) apiKey.set(value);
    keyControls();
    if (!value) $("key-status").textContent = "Enter the key first.";
  });
  $("forget-key").addEventListener("click", () => {
    apiKey.forget();
    keyControls();
    $("api-key").focus();
  });
  keyControls();
}
