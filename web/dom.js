// The DOM helpers the pages share: h(tag, props, ...children) builds an element, and keyedList()
// keeps a list in order without rebuilding it. h's props: class, text, i18n (a catalogue key, kept
// in data-i18n), i18nAttr ("attr:key;…"), on ({event: fn}) or onEvent: fn, data ({k: v} → dataset),
// for, and the properties value, checked, disabled, hidden; anything else is an attribute (true →
// present, false/null → absent).
import { t } from "./i18n.js";

export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = String(value);
    else if (key === "i18n") {
      node.setAttribute("data-i18n", value);
      node.textContent = t(value);
    } else if (key === "i18nAttr") {
      node.setAttribute("data-i18n-attr", value);
      for (const pair of value.split(";")) {
        const [attr, k] = pair.split(":").map((x) => x && x.trim());
        if (attr && k) node.setAttribute(attr, t(k));
      }
    } else if (key === "on") {
      for (const [ev, fn] of Object.entries(value)) node.addEventListener(ev, fn);
    } else if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key === "data") {
      Object.assign(node.dataset, value);
    } else if (key === "for") node.htmlFor = value;
    else if (key === "value") node.value = value;
    else if (key === "checked") node.checked = !!value;
    else if (key === "disabled") node.disabled = !!value;
    else if (key === "hidden") node.hidden = !!value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/**
 * Keep `parent`'s children in the order of `list`, redrawing in place rather than rebuilding:
 * `draw(entry, item)` makes an entry's item (when `item` is undefined) or updates it, and returns
 * it; `node(item)` is its element (`item.li` unless told). `items` (key → item) is the cache kept
 * between calls; the items of keys no longer listed leave it and the page.
 */
export function keyedList(parent, items, list, { key, draw, node = (item) => item.li }) {
  const keep = new Set();
  list.forEach((entry, i) => {
    const k = key(entry);
    keep.add(k);
    const item = draw(entry, items.get(k));
    items.set(k, item);
    const el = node(item);
    if (parent.children[i] !== el) parent.insertBefore(el, parent.children[i] || null);
  });
  for (const [k, item] of items) {
    if (!keep.has(k)) {
      node(item).remove();
      items.delete(k);
    }
  }
}
