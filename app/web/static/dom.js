// Small helpers for the page's elements.

/** The element with this id. */
export const $ = (id) => document.getElementById(id);

/**
 * A new element: `props` are set as properties (textContent, className, scope, type…), except
 * `attrs` (set as attributes) and `data` (set on its dataset); `children` are appended.
 */
export function el(tag, props = {}, ...children) {
  const { attrs = {}, data = {}, ...rest } = props;
  if (rest.className === "") delete rest.className; // no empty class attribute
  const node = Object.assign(document.createElement(tag), rest);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  Object.assign(node.dataset, data);
  node.append(...children);
  return node;
}

/** Make the list `id` hold one item per text, shown when there is any. */
export function fillList(id, texts) {
  const list = $(id);
  list.replaceChildren(...texts.map((text) => el("li", { textContent: text })));
  list.hidden = texts.length === 0;
}

const SVG = "http://www.w3.org/2000/svg";

/** A new SVG element with these attributes (and text). */
export function svg(name, attributes = {}, text = undefined) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}
