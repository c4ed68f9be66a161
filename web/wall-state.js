// The wall's shared state and small helpers: the live alarms, tasks and events, the render
// scheduling (changes mark parts dirty, one animation frame draws them), the revision rules that keep
// an older message from overwriting a newer one, and the words every panel shares.
import { $, TZ, el, now, parseTime, setText } from "./api.js";

export { $, el, setText }; // the wall's modules take every helper from here

export const TICKER_MAX = 20;
export const SEVERITY_RANK = { critical: 1, major: 2, minor: 3, warning: 4 };
const GONE_KEEP_MS = 5 * 60 * 1000; // how long a removed alarm's revision still rejects stale messages
const GONE_MAX = 2000;

// ---------------------------------------------------------------- small helpers

const partsFmt = new Intl.DateTimeFormat("en-GB", {
  timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
});
export const weekdayFmt = {
  zh: new Intl.DateTimeFormat("zh-CN", { timeZone: TZ, weekday: "long" }),
  en: new Intl.DateTimeFormat("en-GB", { timeZone: TZ, weekday: "short" }),
};

export function zonedParts(ms) {
  const out = {};
  for (const p of partsFmt.formatToParts(new Date(ms))) out[p.type] = p.value;
  if (out.hour === "24") out.hour = "00";
  return out;
}

export function noTranslate(node) {
  node.setAttribute("translate", "no");
  return node;
}

export function storeGet(key) {
  try {
    return window.localStorage.getItem(key);
  } catch {
    return null;
  }
}

export function storeSet(key, value) {
  try {
    window.localStorage.setItem(key, value);
  } catch {
    /* kiosk without storage: the choice lasts until the next load */
  }
}

/** On a group wall (several sites), the name of the site ``obj`` is from; "" on a single site's wall. */
export function siteName(obj) {
  if (state.sites.size < 2 || !obj || !obj.site) return "";
  return state.sites.get(obj.site) || obj.site;
}

export function locationLabel(obj) {
  const l = obj.location || {};
  if (l.label) return l.label;
  const parts = [l.building, l.floor, l.zone].filter(Boolean);
  if (parts.length) return parts.join(" ");
  const base = obj.device_name || obj.device_id || "";
  return obj.point ? `${base} · ${obj.point}` : base;
}

export function locationDetail(obj) {
  const l = obj.location || {};
  if (!l.label && ![l.building, l.floor, l.zone].some(Boolean)) return "";
  const base = obj.device_name || obj.device_id || "";
  return obj.point ? `${base} · ${obj.point}` : base;
}

export function rankOf(a) {
  const r = Number(a.severity_rank);
  return Number.isFinite(r) && r > 0 ? r : SEVERITY_RANK[a.severity] || 9;
}

export function sevOf(a) {
  return SEVERITY_RANK[a.severity] ? a.severity : "warning";
}

export const isLive = (a) => !(a.acknowledged && a.cleared);

/**
 * THE one rule for "urgent": an unacknowledged fire alarm (kind exactly fire.alarm, not fire.fault /
 * fire.supervisory / fire.isolated) or any unacknowledged critical alarm (gas, duress, ...). An urgent
 * alarm's row blinks, it lights the header beacon (body.has-unacked-fire) and its sound loops until it
 * is acknowledged; every other new alarm sounds once.
 */
export function isUrgent(a) {
  return !!a && !a.acknowledged && (String(a.kind || "") === "fire.alarm" || sevOf(a) === "critical");
}

export function isShelved(a) {
  const until = a.shelved_until ? parseTime(a.shelved_until) : null;
  return until !== null && until > now();
}

// ---------------------------------------------------------------- state

export const state = {
  alarms: new Map(), // id -> alarm view (live only)
  revisions: new Map(), // id -> newest alarm revision seen, for the alarms in the queue only
  gone: new Map(), // id -> {revision, at}: alarms that just left the queue (GONE_KEEP_MS, at most GONE_MAX)
  tasks: new Map(), // task id -> task summary (open tasks)
  events: [], // newest first, at most TICKER_MAX
  devices: null,
  plans: [],
  plansError: "",
  kpis: null,
  kpisError: false,
  consoleHealth: null, // can the console take alarms: {ready, faults, reasons, since} (snapshot, console.health)
  sites: new Map(), // site id -> name: the sites this wall shows (snapshot); several make a group wall
  sorted: [], // live, unshelved alarms in queue order (kept by renderQueue)
};

// ---------------------------------------------------------------- render scheduling

const dirty = { queue: false, force: false, ticker: false, plan: false, health: false, kpis: false };
let frame = 0;
let draw = () => {};

/** What draws the dirty parts (the wall's renderFrame); called once per animation frame. */
export function onFrame(fn) {
  draw = fn;
}

export function invalidate(...parts) {
  for (const p of parts) dirty[p] = true;
  if (!frame) {
    frame = requestAnimationFrame(() => {
      frame = 0;
      draw(dirty);
    });
  }
}

// ---------------------------------------------------------------- revisions

// An older revision never overwrites a newer one (messages and snapshots can cross). The map only
// holds the alarms in the queue; an alarm that leaves it is remembered a few minutes in `state.gone`,
// long enough to reject a stale revision that arrives late, then forgotten.
export function isStale(a) {
  if (typeof a.revision !== "number") return false;
  let seen = state.revisions.get(a.id);
  if (seen === undefined) {
    const g = state.gone.get(a.id);
    seen = g ? g.revision : undefined;
  }
  return seen !== undefined && a.revision < seen;
}

export function noteRevision(a) {
  if (isLive(a)) {
    if (typeof a.revision === "number") state.revisions.set(a.id, a.revision);
    state.gone.delete(a.id);
    return;
  }
  const seen = state.revisions.get(a.id);
  state.revisions.delete(a.id);
  const revision = typeof a.revision === "number" ? a.revision : seen;
  state.gone.delete(a.id); // re-inserted at the end: the Map stays in age order
  if (revision !== undefined) state.gone.set(a.id, { revision, at: now() });
  if (state.gone.size > GONE_MAX) state.gone.delete(state.gone.keys().next().value);
}

export function pruneGone(nowMs) {
  for (const [id, g] of state.gone) {
    if (nowMs - g.at < GONE_KEEP_MS) break; // age order: the rest are younger
    state.gone.delete(id);
  }
}

