// Shared by the task pages (/guard, /console): DOM and time helpers, JSON requests, a write queue
// that retries with back-off and client-made action ids, and the /ws socket with reconnects.
import { t, getLang, formatDuration, hasKey } from "./i18n.js";

// ---------------------------------------------------------------- DOM

export const $ = (id) => document.getElementById(id);

export function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined && text !== null) e.textContent = text;
  return e;
}

export function setText(node, text) {
  if (node && node.textContent !== text) node.textContent = text;
}

export function button(text, onClick, className = "btn") {
  const b = el("button", className, text);
  b.type = "button";
  b.addEventListener("click", onClick);
  return b;
}

/**
 * A photo picker: the real <input type=file> (keyboard- and screen-reader-usable, visually hidden)
 * and its <label> drawn as a button. `capture` ("environment") opens a phone's back camera.
 */
export function fileButton(id, text, className, disabled, onFile, capture) {
  const input = el("input", "file-in");
  input.type = "file";
  input.accept = "image/*";
  if (capture) input.setAttribute("capture", capture);
  input.id = id;
  input.disabled = !!disabled;
  input.addEventListener("change", () => {
    const file = input.files && input.files[0];
    input.value = "";
    if (file) onFile(file);
  });
  const label = el("label", `${className} file-btn`, text);
  label.htmlFor = id;
  const box = el("div", "file-box");
  box.append(input, label);
  return box;
}

const PHOTO_TYPES = ["image/jpeg", "image/png", "image/webp"];

/**
 * The photo as the server takes it (JPEG, PNG or WebP, under its size limit): other formats and
 * very large pictures are re-encoded as JPEG in the browser; if that fails the server says why.
 */
export async function uploadable(file, maxBytes = 9 * 1024 * 1024, maxSide = 2560) {
  if (PHOTO_TYPES.includes(file.type) && file.size <= maxBytes) return file;
  try {
    const bitmap = await createImageBitmap(file);
    const scale = Math.min(1, maxSide / Math.max(bitmap.width, bitmap.height));
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(bitmap.width * scale);
    canvas.height = Math.round(bitmap.height * scale);
    canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.85));
    return blob || file;
  } catch {
    return file;
  }
}

/** A {zh, en} text from the API in the current language. */
export function loc(text) {
  if (!text || typeof text !== "object") return text == null ? "" : String(text);
  return text[getLang()] || text.zh || text.en || "";
}

export function placeLabel(location) {
  const l = location || {};
  return l.label || [l.building, l.floor, l.zone].filter(Boolean).join(" ");
}

export function fieldLabel(code) {
  const key = "field." + code;
  const text = t(key);
  return text === key ? code : text;
}

/** A done step's answer as the person reads it. */
export function answerText(step) {
  const a = step.answer;
  if (step.actor === "deadline") return t("answer.deadline", { v: a === "yes" ? t("answer.yes") : a === "no" ? t("answer.no") : String(a ?? "") });
  if (step.completed_by === "arrival") return t("answer.arrival");
  if (step.completed_by === "alarm_ack") return t("answer.ack");
  if (step.completed_by === "alarm_clear") return t("answer.cleared");
  if (step.type === "dispatch") return a && a.guard ? t("answer.dispatched", { guard: a.guard }) : t("answer.done");
  if (step.type === "yes_no") return a === "yes" ? t("answer.yes") : a === "no" ? t("answer.no") : String(a ?? "");
  if (step.type === "choice") {
    const c = (step.choices || []).find((x) => x.code === a);
    return c ? loc(c.text) : String(a ?? "");
  }
  if (step.type === "text") return String(a ?? "");
  if (step.type === "photo") return t("answer.photo");
  if (step.type === "approval") return t("answer.approved");
  if (step.type === "call_record" && a && typeof a === "object") {
    return Object.entries(a).map(([k, v]) => `${fieldLabel(k)}: ${v}`).join("; ");
  }
  return t("answer.done");
}

/** The buttons that answer a check, yes/no or choice step: `add(text, value, cls)` makes one.
 * Returns false for a step of another type. */
export function answerButtons(step, add) {
  if (step.type === "check") add(t("step.do_check"), null, "primary");
  else if (step.type === "yes_no") {
    add(t("answer.yes"), "yes", "danger");
    add(t("answer.no"), "no", "primary");
  } else if (step.type === "choice") {
    for (const c of step.choices || []) add(loc(c.text), c.code);
  } else return false;
  return true;
}

// ---------------------------------------------------------------- time (site zone)

const DEFAULT_TZ = "Asia/Shanghai";

function siteTimeZone() {
  const meta = document.querySelector('meta[name="mcc-timezone"]');
  const tz = meta && meta.content ? meta.content.trim() : "";
  if (tz) {
    try {
      new Intl.DateTimeFormat("en", { timeZone: tz });
      return tz;
    } catch {
      console.warn("mcc: unknown time zone in <meta name=mcc-timezone>:", tz);
    }
  }
  return DEFAULT_TZ;
}

export const TZ = siteTimeZone();
const partsFmt = new Intl.DateTimeFormat("en-GB", {
  timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
});

function zonedParts(ms) {
  const out = {};
  for (const p of partsFmt.formatToParts(new Date(ms))) out[p.type] = p.value;
  if (out.hour === "24") out.hour = "00";
  return out;
}

export function parseTime(iso) {
  if (!iso) return null;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms : null;
}

/** "10:02:03" in the site's zone; with `withDate` "11-26 10:02:03". */
export function siteTime(iso, withDate = false) {
  const ms = typeof iso === "number" ? iso : parseTime(iso);
  if (ms === null) return "—";
  const p = zonedParts(ms);
  const time = `${p.hour}:${p.minute}:${p.second}`;
  return withDate ? `${p.month}-${p.day} ${time}` : time;
}

let clockOffsetMs = 0;
export const now = () => Date.now() + clockOffsetMs;

/** The server's clock from a snapshot: countdowns follow the server, not a phone's wrong clock. */
export function setServerTime(iso) {
  const ms = parseTime(iso);
  if (ms !== null) clockOffsetMs = ms - Date.now();
}

/** Fill a <time> as a countdown to `due` (ISO): "剩余 45秒" or, in red, "超时 1分05秒". */
export function renderCountdown(node, due, nowMs = now()) {
  const dueMs = parseTime(due);
  if (dueMs === null) {
    setText(node, "");
    node.classList.remove("overdue");
    return;
  }
  node.dateTime = due;
  const left = (dueMs - nowMs) / 1000;
  const overdue = left < 0;
  setText(node, overdue ? t("due.overdue", { d: formatDuration(-left) }) : t("due.left", { d: formatDuration(left) }));
  node.classList.toggle("overdue", overdue);
}

/** A <time class="countdown"> that the page's tick keeps up to date (see tickCountdowns). */
export function countdown(due) {
  const node = el("time", "countdown");
  node.dataset.due = due || "";
  renderCountdown(node, due);
  return node;
}

export function tickCountdowns(root = document) {
  const n = now();
  for (const node of root.querySelectorAll("time.countdown[data-due]")) renderCountdown(node, node.dataset.due, n);
}

// ---------------------------------------------------------------- requests

export function newActionId() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
  // randomUUID exists only in secure contexts (https, localhost); a LAN http:// page still has this.
  const b = window.crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export class NetworkError extends Error {}

export class ApiError extends Error {
  /** ``code`` and ``params``: the server's refusal as the pages word it (err.<code> in messages-errors.js). */
  constructor(status, detail, code = null, params = null) {
    super(detail || `HTTP ${status}`);
    this.status = status;
    this.detail = detail || `HTTP ${status}`;
    this.code = typeof code === "string" ? code : null;
    this.params = params && typeof params === "object" ? params : {};
  }
}

/**
 * What to show for an error: {key, params} from the catalogues when the server's refusal has a code
 * the pages know (so it follows the language switch), else {raw} with the text as it came.
 */
export function errorMessage(err) {
  if (err instanceof ApiError) {
    if (err.code && hasKey(`err.${err.code}`)) return { key: `err.${err.code}`, params: err.params };
    return { raw: err.detail };
  }
  if (err && err.key) return err;
  return { raw: String(err && err.message ? err.message : err) };
}

/** An error as text in the reader's language (see errorMessage). */
export function errorText(err) {
  const m = errorMessage(err);
  return m.key ? t(m.key, m.params) : m.raw;
}

function detailText(body) {
  const d = body && typeof body === "object" ? body.detail : null;
  if (typeof d === "string") return d;
  if (Array.isArray(d)) {
    // pydantic: [{loc: ["body", "text"], msg: "..."}]
    return d.map((e) => {
      const where = Array.isArray(e.loc) ? e.loc.filter((x) => x !== "body").join(".") : "";
      return where ? `${where}: ${e.msg}` : String(e.msg || "");
    }).join("; ");
  }
  return d ? JSON.stringify(d) : "";
}

let leaving = false;

/** The page is going away (to the login page, or reloading a new build): stop reconnecting. */
export function leave() {
  leaving = true;
}

export const isLeaving = () => leaving;

export function goLogin() {
  if (leaving) return;
  leaving = true;
  window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname));
}

/** One request; resolves to the JSON body. Throws NetworkError (no answer) or ApiError (4xx/5xx). */
export async function api(method, path, { json, body, contentType } = {}) {
  const headers = { Accept: "application/json" };
  let payload = body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(json);
  } else if (contentType) {
    headers["Content-Type"] = contentType;
  }
  let res;
  let text;
  try {
    res = await fetch(path, { method, headers, body: payload, credentials: "same-origin", cache: "no-store" });
    text = await res.text();
  } catch (err) {
    throw new NetworkError(String(err && err.message ? err.message : err));
  }
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (res.status === 401) {
    goLogin();
    throw new ApiError(401, t("err.session"));
  }
  if (!res.ok) {
    throw new ApiError(res.status, detailText(data) || `HTTP ${res.status}`, data && data.code, data && data.params);
  }
  return data;
}

// ---------------------------------------------------------------- WebSocket

/** A function that runs `fn` at most `ms` after it is called, folding calls together, never two at a time. */
export function coalesce(fn, ms = 100) {
  let timer = null;
  let running = false;
  let again = false;
  const run = async () => {
    timer = null;
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      await fn();
    } catch (err) {
      console.error(err);
    } finally {
      running = false;
      if (again) {
        again = false;
        schedule();
      }
    }
  };
  function schedule() {
    if (timer === null) timer = setTimeout(run, ms); // a throttle, not a debounce: busy times do not starve it
  }
  return schedule;
}
