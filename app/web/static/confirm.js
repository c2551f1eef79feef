// The one confirmation dialog: a question, what will happen, and a button that names the act.

import { $ } from "./dom.js";

let answer = () => {};

/** Ask before a change; resolves true for the named act, false for Cancel or Escape. */
export function ask(title, text, act) {
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-yes").textContent = act;
  $("confirm").showModal();
  return new Promise((resolve) => {
    answer = resolve;
  });
}

export function startConfirm() {
  const settle = (value) => {
    $("confirm").close();
    answer(value);
    answer = () => {};
  };
  $("confirm-yes").addEventListener("click", () => settle(true));
  $("confirm-no").addEventListener("click", () => settle(false));
  $("confirm").addEventListener("cancel", () => answer(false));
}
