// Small helpers shared by the console's view modules (console-*.js): building markup, site data,
// subsystems, site-zone date inputs, dialogs and the "never while typing" rule of the shortcuts.
import { t, formatDuration, kindLabel } from "./i18n.js";
import { h } from "./dom.js"; // the one DOM builder (console and admin)
import { $, el, TZ, now, parseTime, setText } from "./api.js";
import { eventDataText, eventDataNodes } from "./event-text.js";

/** Site data (device names, ids, places, users, comments): never machine-translated. */
export function site(text, className = "") {
  const node = el("span", className, text == null || text === "" ? "—" : String(text));
  node.setAttribute("translate", "no");
  return node;
}

/**
 * t(key, params) as nodes: a string parameter (a user, a guard, a place, a comment) in its own
 * <span translate="no">; a Node parameter (a catalogue word as a text node, a badge) as it is.
 */
export function tn(key, params = {}) {
  const template = t(key);
  const out = [];
  let last = 0;
  template.replace(/\{(\w+)\}/g, (m, name, offset) => {
    if (offset > last) out.push(document.createTextNode(template.slice(last, offset)));
    if (Object.prototype.hasOwnProperty.call(params, name)) {
      const v = params[name];
      out.push(v instanceof Node ? v : site(v));
    } else out.push(document.createTextNode(m));
    last = offset + m.length;
    return m;
  });
  if (last < template.length) out.push(document.createTextNode(template.slice(last)));
  return out;
}

/** A catalogue word as a text node (a tn() parameter that is translated, not site data). */
export const word = (text) => document.createTextNode(text == null ? "" : String(text));

export function typing(target) {
  return target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}

export const SUBSYSTEMS = ["fire", "access", "parking", "video", "other"];
export const SEVERITIES = ["critical", "major", "minor", "warning"];

/** The subsystem of an alarm or event kind (the device's subsystem is the server's word when it has one). */
export function subsystemOf(kind) {
  const k = String(kind || "");
  if (k.startsWith("fire.")) return "fire";
  if (k.startsWith("access.")) return "access";
  if (k.startsWith("parking.")) return "parking";
  if (k.startsWith("camera.") || k.startsWith("video.")) return "video";
  return "other";
}

export function deviceHref(siteId, deviceId) {
  return `#device/${encodeURIComponent(siteId || "")}/${encodeURIComponent(deviceId || "")}`;
}

/** A link to a device's page, its text the device's name (site data). */
export function deviceLink(siteId, deviceId, name) {
  const a = h("a", { href: deviceHref(siteId, deviceId), class: "dev-link", translate: "no" }, name || deviceId || "—");
  return a;
}

export { errorText } from "./api.js";

/** "2分15秒前"-style age of an ISO time, for <time class="age" data-since>. */
export function ageText(iso, n = now()) {
  const ms = parseTime(iso);
  if (ms === null) return "";
  return formatDuration((n - ms) / 1000);
}

export function ageNode(iso, className = "age") {
  const node = el("time", className);
  node.dataset.since = iso || "";
  if (iso) node.dateTime = iso;
  setText(node, ageText(iso));
  return node;
}

export function tickAges(root = document) {
  const n = now();
  for (const node of root.querySelectorAll("time[data-since]")) setText(node, ageText(node.dataset.since, n));
}

// ---------------------------------------------------------------- site-zone date inputs

const partsFmt = new Intl.DateTimeFormat("en-GB", {
  timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  second: "2-digit", hourCycle: "h23",
});

function parts(ms) {
  const out = {};
  for (const p of partsFmt.formatToParts(new Date(ms))) out[p.type] = p.value;
  if (out.hour === "24") out.hour = "00";
  return out;
}

function offsetAt(ms) {
  const p = parts(ms);
  const asUtc = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second);
  return asUtc - Math.floor(ms / 1000) * 1000;
}

/** A <input type=datetime-local> value, read as a wall-clock time in the site's zone → ISO (UTC). */
export function zonedInputToIso(value) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(value || "");
  if (!m) return null;
  const guess = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
  let ms = guess - offsetAt(guess);
  const again = guess - offsetAt(ms);
  if (again !== ms) ms = again;
  return new Date(ms).toISOString();
}

/** ISO → the datetime-local value of that moment in the site's zone. */
export function isoToZonedInput(iso) {
  const ms = parseTime(iso);
  if (ms === null) return "";
  const p = parts(ms);
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`;
}

// ---------------------------------------------------------------- events

/** An event's data as one line of text, the common fields labelled (see event-text.js). */
export function dataSummary(data) {
  const text = eventDataText(data);
  return text.length > 160 ? text.slice(0, 157) + "…" : text;
}

/** An event's data as nodes: labels translatable, values site data (translate="no"). */
export function dataNodes(data) {
  return eventDataNodes(data);
}

export function kindText(kind) {
  return kindLabel(kind);
}

// ---------------------------------------------------------------- dialogs

/** Open a <dialog> modally (falls back to the open attribute where showModal is missing). */
export function openDialog(dialog) {
  if (dialog.open) return;
  if (typeof dialog.showModal === "function") dialog.showModal();
  else dialog.setAttribute("open", "");
}

export function anyDialogOpen() {
  return !!document.querySelector("dialog[open]");
}

/** Fill a <select> with [value, catalogue key] pairs (data-i18n: the language switch relabels them). */
export function optionsOf(select, items) {
  const keep = select.value;
  select.replaceChildren(...items.map(([value, key]) => {
    const o = h("option", { value, "data-i18n": key });
    o.textContent = t(key);
    return o;
  }));
  if (items.some(([value]) => value === keep)) select.value = keep;
}

export { h };

/** A labelled control in a form row (.f-field), its label worded from the catalogue key ``key``. */
export function formField(id, key, control) {
  return h("div", { class: "f-field" }, h("label", { for: id, i18n: key }), control);
}

// ---------------------------------------------------------------- the keys' help (?)

const SHORTCUTS = [
  ["1 – 7", "con.keys.views"],
  ["J / K", "con.keys.jk"],
  ["Enter", "con.keys.enter"],
  ["C", "con.keys.c"],
  ["D", "con.keys.d"],
  ["X", "con.keys.x"],
  ["A", "con.keys.a"],
  ["[ / ]", "con.keys.pages"],
  ["/", "con.keys.slash"],
  ["?", "con.keys.help"],
  ["Esc", "con.keys.esc"],
];

export function renderShortcuts() {
  $("keys-rows").replaceChildren(...SHORTCUTS.map(([keys, label]) =>
    h("tr", {}, h("td", {}, h("kbd", {}, keys)), h("td", {}, t(label)))));
}

export function showShortcuts() {
  renderShortcuts();
  openDialog($("keys-dialog"));
}
