// Small helpers for the page's elements.

/** The element with this id. */
export const $ = (id) => document.getElementById(id);

/** Make the list `id` hold one item per text, shown when there is any. */
export function fillList(id, texts) {
  const list = $(id);
  list.replaceChildren(...texts.map((text) => {
    const item = document.createElement("li");
    item.textContent = text;
    return item;
  }));
  list.hidden = texts.length === 0;
}
