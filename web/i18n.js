// MCC message catalogue and tiny i18n runtime (plain ES module, no build step).
//
// Every visible string of the browser pages comes from `messages`, joined from the catalogues
// messages-*.js (common, tasks, errors, wall, console, duty, admin, admin-lists).
// Static markup uses   data-i18n="key"                 -> textContent
//                      data-i18n-attr="attr:key;attr:key" -> attributes (aria-label, title, placeholder…)
// Dynamic code calls   t(key, params)   and re-renders from onLangChange(fn).
// Chinese (Simplified) is the default; the choice is remembered in localStorage.

import commonMessages from "./messages-common.js";
import tasksMessages from "./messages-tasks.js";
import errorMessages from "./messages-errors.js";
import wallMessages from "./messages-wall.js";
import consoleMessages from "./messages-console.js";
import adminMessages from "./messages-admin.js";
import adminListMessages from "./messages-admin-lists.js";
import dutyMessages from "./messages-duty.js";

const STORAGE_KEY = "mcc.lang";
export const LANGS = ["zh", "en"];
const HTML_LANG = { zh: "zh-CN", en: "en" };

export const messages = {
  zh: {},
  en: {},
};

// The catalogues are joined into one; a key defined twice is a mistake (reported in the console).
for (const part of [commonMessages, tasksMessages, errorMessages, wallMessages, consoleMessages, dutyMessages,
  adminMessages, adminListMessages]) {
  for (const lang of LANGS) {
    for (const [key, text] of Object.entries(part[lang] || {})) {
      if (key in messages[lang]) console.error(`mcc: message key ${key} defined twice`);
      messages[lang][key] = text;
    }
  }
}

function readStoredLang() {
  try {
    const v = window.localStorage.getItem(STORAGE_KEY);
    return LANGS.includes(v) ? v : null;
  } catch {
    return null; // storage disabled (kiosk / private mode)
  }
}

let current = readStoredLang() || "zh";
const listeners = new Set();

export function getLang() {
  return current;
}

/** Translate `key`, substituting `{name}` placeholders from `params`. */
export function t(key, params) {
  let s = messages[current][key];
  if (s === undefined) s = messages.zh[key];
  if (s === undefined) return key;
  if (params) {
    s = s.replace(/\{(\w+)\}/g, (m, name) =>
      Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : m,
    );
  }
  return s;
}

export function hasKey(key) {
  return key in messages[current] || key in messages.zh;
}

/** Human label for a canonical event/alarm kind; unknown kinds are shown as-is. */
export function kindLabel(kind) {
  if (!kind) return "";
  const key = "kind." + kind;
  return hasKey(key) ? t(key) : String(kind);
}

export function severityLabel(sev) {
  const key = "sev." + sev;
  return hasKey(key) ? t(key) : String(sev || "");
}

/** "2分15秒" / "2m 15s"; hours and days for long-running alarms. */
export function formatDuration(totalSeconds) {
  let s = Math.max(0, Math.floor(totalSeconds || 0));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  s = s % 60;
  const pad = (n) => String(n).padStart(2, "0");
  if (d > 0) return t("dur.dh", { d, h });
  if (h > 0) return t("dur.hm", { h, m: pad(m) });
  if (m > 0) return t("dur.ms", { m, s: pad(s) });
  return t("dur.s", { s });
}

/** Fill static markup (data-i18n / data-i18n-attr) under `root`. */
export function applyI18n(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) {
    const text = t(el.getAttribute("data-i18n"));
    if (el.textContent !== text) el.textContent = text;
  }
  for (const el of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of el.getAttribute("data-i18n-attr").split(";")) {
      const [attr, key] = pair.split(":").map((x) => x && x.trim());
      if (attr && key) el.setAttribute(attr, t(key));
    }
  }
}

export function onLangChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Switch language, remember it, re-render static markup and notify the page. */
export function setLang(lang) {
  if (!LANGS.includes(lang)) return;
  current = lang;
  try {
    window.localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    /* ignore */
  }
  document.documentElement.lang = HTML_LANG[lang];
  applyI18n(document);
  for (const fn of listeners) {
    try {
      fn(lang);
    } catch (err) {
      console.error(err);
    }
  }
}

/** Wire a <button> as the language switch (its label is the other language's name). */
export function initLangSwitch(button) {
  const sync = () => {
    const other = current === "zh" ? "en" : "zh";
    button.textContent = t("lang.switch");
    button.setAttribute("lang", HTML_LANG[other]);
    button.title = t("lang.switch_title");
    button.dataset.lang = current;
  };
  button.addEventListener("click", () => setLang(current === "zh" ? "en" : "zh"));
  onLangChange(sync);
  sync();
}

/** Apply the stored language to the page once at start-up. */
export function initI18n() {
  document.documentElement.lang = HTML_LANG[current];
  applyI18n(document);
}
