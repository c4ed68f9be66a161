// One DOM builder for the console's and the admin page's modules: h(tag, props, ...children).
// props: class, text, i18n (a catalogue key, kept in data-i18n), i18nAttr ("attr:key;…"),
// on ({event: fn}) or onEvent: fn, data ({k: v} → dataset), for, and the properties value,
// checked, disabled, hidden; anything else is an attribute (true → present, false/null → absent).
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
