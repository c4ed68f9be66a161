// An event's data as a person reads it, shared by the pages that list events (console history and
// device pages; meant for the wall's ticker too): the common fields with a label from the catalogue
// ("方向：出", "Direction: out"), their values shown as site data (translate="no": card numbers,
// names, plates, lanes are never machine-translated), words the catalogue knows (in/out, yes/no, a
// restored kind) in the reader's language, and unknown fields as they came (key=value, as data).
import { t, kindLabel, formatDuration } from "./i18n.js";

// The fields with a label, in the order they are shown (anything else follows, as it came).
const FIELDS = [
  "plate", "plate_color", "card", "person", "user", "name", "direction", "lane", "door", "checkpoint", "guard",
  "label", "confidence", "value", "count", "cause", "reason", "code", "zone", "battery", "signal", "duration_s",
  "fee", "of",
];
const SKIP = new Set(["test"]); // shown elsewhere (the drill badge)
const MAX_PARTS = 10;
const MAX_VALUE = 80;

function clip(text) {
  const s = String(text);
  return s.length > MAX_VALUE ? s.slice(0, MAX_VALUE - 1) + "…" : s;
}

function percent(v) {
  const n = Number(v);
  if (typeof v === "boolean" || !Number.isFinite(n)) return null;
  const pct = n > 0 && n <= 1 && !Number.isInteger(n) ? n * 100 : n; // 0.93 or 93
  return `${Math.round(pct * 10) / 10}%`;
}

/** One field's value: {value, data} — data: site data (not translated), else a catalogue word. */
function valueOf(key, v) {
  if (typeof v === "boolean") return { value: t(v ? "con.evt.yes" : "con.evt.no"), data: false };
  if (key === "direction") {
    const d = String(v).toLowerCase();
    const k = d === "entry" || d === "enter" ? "in" : d === "exit" || d === "leave" ? "out" : d;
    if (k === "in" || k === "out") return { value: t("dir." + k), data: false };
  }
  if (key === "of" && typeof v === "string") return { value: kindLabel(v), data: false };
  if (key === "confidence" || key === "battery") {
    const p = percent(v);
    if (p !== null) return { value: p, data: true };
  }
  if (key === "duration_s" && Number.isFinite(Number(v))) return { value: formatDuration(Number(v)), data: false };
  return { value: clip(typeof v === "object" ? JSON.stringify(v) : v), data: true };
}

/**
 * The parts of an event's data: [{key, label, value, data}]. `label` is null for an unknown field
 * (show it as `key=value`). `registered: false` adds the "unregistered device" note (a wall's ticker).
 */
export function eventDataParts(data, { registered } = {}) {
  const out = [];
  const d = data && typeof data === "object" && !Array.isArray(data) ? data : {};
  const keys = Object.keys(d).filter((k) => !SKIP.has(k) && d[k] !== null && d[k] !== undefined && d[k] !== "");
  const known = FIELDS.filter((k) => keys.includes(k));
  const rest = keys.filter((k) => !FIELDS.includes(k));
  for (const key of known) out.push({ key, label: t("con.evt." + key), ...valueOf(key, d[key]) });
  for (const key of rest) out.push({ key, label: null, ...valueOf(key, d[key]) });
  if (out.length > MAX_PARTS) out.splice(MAX_PARTS, out.length - MAX_PARTS, { key: "…", label: null, value: "…", data: false, more: true });
  if (registered === false) out.push({ key: "registered", label: null, value: t("ev.unregistered"), data: false, note: true });
  return out;
}

/** The data as one line of plain text ("方向：出 · 卡号：1234 · via=events"). */
export function eventDataText(data, opts) {
  return eventDataParts(data, opts).map(partText).join(t("con.evt.join"));
}

function partText(p) {
  if (p.more || p.note) return p.value;
  if (p.label === null) return `${p.key}=${p.value}`;
  return `${p.label}${t("con.evt.sep")}${p.value}`;
}

function dataSpan(text, className) {
  const span = document.createElement("span");
  if (className) span.className = className;
  span.setAttribute("translate", "no");
  span.textContent = text;
  return span;
}

/**
 * The data as DOM nodes: labels and catalogue words as text (translatable), values and unknown
 * fields in <span translate="no">. Returns an array of nodes (append them to a cell).
 */
export function eventDataNodes(data, opts) {
  const out = [];
  eventDataParts(data, opts).forEach((p, i) => {
    if (i) out.push(document.createTextNode(t("con.evt.join")));
    const box = document.createElement("span");
    box.className = "evt-part";
    box.dataset.field = p.key;
    if (p.more || p.note) box.append(p.value);
    else if (p.label === null) box.append(dataSpan(`${p.key}=${p.value}`, "evt-raw"));
    else {
      box.append(document.createTextNode(p.label + t("con.evt.sep")));
      box.append(p.data ? dataSpan(p.value, "evt-value") : document.createTextNode(p.value));
    }
    out.push(box);
  });
  return out;
}
