// The wall's side panels: device health per subsystem, the camera tiles of the top alarms, and
// today's figures (refetched every minute, and soon after an alarm or task changes); and the banner
// that says the console itself cannot take alarms (a full disk, a stalled intake, no broker).
import { t, getLang, kindLabel, formatDuration } from "./i18n.js";
import { api, coalesce, siteTime } from "./api.js";
import { $, el, noTranslate, setText, state, invalidate, locationLabel, sevOf } from "./wall-state.js";
import { keyedList } from "./dom.js";

const CAM_MAX = 4;
const SUBSYSTEMS = ["fire", "access", "parking", "video"];
const REFETCH_MS = 1500; // the device summary after a device change: at most this often
const KPI_SOON_MS = 10000; // after an alarm or task change (each fetch reads the day's report)

// ---------------------------------------------------------------- device health per subsystem

export const refetchSummary = coalesce(async () => {
  try {
    const summary = await api("GET", "/api/devices/summary");
    if (summary && typeof summary === "object") {
      state.devices = summary;
      invalidate("health");
    }
  } catch {
    /* the snapshot's numbers stay; next device.state tries again */
  }
}, REFETCH_MS);

const subsysItems = new Map();

export function renderHealth() {
  const d = state.devices;
  for (const k of ["online", "offline", "unknown", "total"]) {
    const v = d && Number.isFinite(Number(d[k])) ? String(d[k]) : "–";
    setText($("dev-" + k), v);
  }
  $("device-section").classList.toggle("has-offline", !!(d && Number(d.offline) > 0));
  const by = (d && d.by_subsystem) || {};
  const list = $("subsys-list");
  const names = [...SUBSYSTEMS];
  if (by.other && Number(by.other.total) > 0) names.push("other");
  names.forEach((name, i) => {
    let item = subsysItems.get(name);
    if (!item) {
      const li = el("li", "subsys");
      li.dataset.subsystem = name;
      const label = el("span", "subsys-name");
      label.id = `subsys-${name}`;
      const value = el("span", "subsys-value");
      const detail = el("span", "subsys-detail");
      li.append(label, value, detail);
      li.setAttribute("aria-labelledby", label.id);
      item = { li, label, value, detail };
      subsysItems.set(name, item);
    }
    if (list.children[i] !== item.li) list.insertBefore(item.li, list.children[i] || null);
    const s = by[name];
    setText(item.label, t(`wall.health.${name}`));
    const total = s ? Number(s.total) || 0 : null;
    const offline = s ? Number(s.offline) || 0 : 0;
    const online = s ? Number(s.online) || 0 : 0;
    setText(item.value, s ? `${online}/${total}` : "–");
    setText(item.detail, !s ? "" : total === 0 ? t("wall.health.none") : offline ? t("wall.health.offline", { n: offline })
      : online < total ? t("wall.health.unknown", { n: total - online }) : t("wall.health.all_ok"));
    item.li.dataset.health = !s || total === 0 ? "none" : offline ? "bad" : online < total ? "unknown" : "ok";
  });
  for (const [name, item] of subsysItems) {
    if (!names.includes(name)) {
      item.li.remove();
      subsysItems.delete(name);
    }
  }
  renderFault(); // in the reader's language after a switch
}

// ---------------------------------------------------------------- the console's own faults

const FAULT_PARTS = ["store", "intake", "broker"];

/** The console's readiness, from the snapshot's `health` or a `console.health` message: drawn at
 * once, not in the next frame (a fault must show even when frames are held back). */
export function setConsoleHealth(health) {
  state.consoleHealth = health && typeof health === "object" ? health : null;
  renderFault();
}

function renderFault() {
  const banner = $("fault-banner");
  const h = state.consoleHealth;
  const show = !!h && h.ready === false;
  banner.hidden = !show;
  if (!show) return;
  const parts = (Array.isArray(h.faults) ? h.faults : []).filter((f) => FAULT_PARTS.includes(f));
  const words = parts.map((f) => t(`wall.fault.${f}`)).join(" · ");
  setText(banner, t("wall.fault.banner", { faults: words || t("wall.fault.unknown") }));
  banner.title = (Array.isArray(h.reasons) ? h.reasons : []).join("\n");
}

// ---------------------------------------------------------------- camera tiles

const camTiles = new Map(); // alarm id -> {li, alarm, lang}

export function renderCams(force) {
  const list = $("cam-list");
  const shown = state.sorted.slice(0, CAM_MAX);
  const lang = getLang();
  keyedList(list, camTiles, shown, {
    key: (a) => a.id,
    draw(a, tile) {
      if (!tile) {
        tile = { li: el("li", "cam"), alarm: null, lang: "" };
        tile.li.dataset.alarmId = String(a.id);
      }
      if (force || tile.alarm !== a || tile.lang !== lang) fillCam(tile, a);
      return tile;
    },
  });
  $("cam-empty").hidden = shown.length > 0;
}

function fillCam(tile, a) {
  tile.alarm = a;
  tile.lang = getLang();
  const li = tile.li;
  li.dataset.severity = sevOf(a);
  const snaps = Array.isArray(a.snapshots) ? a.snapshots.filter((s) => s && s.url) : [];
  const snap = snaps.length ? snaps[snaps.length - 1] : null;
  li.classList.toggle("has-snapshot", !!snap);
  const head = el("p", "cam-head");
  head.append(el("span", "cam-kind", kindLabel(a.kind)), noTranslate(el("span", "cam-loc", locationLabel(a))));
  if (!snap) {
    li.replaceChildren(head, el("p", "cam-none", t("wall.cam.none")));
    return;
  }
  const img = li.querySelector("img.cam-img");
  const image = img && img.getAttribute("src") === snap.url ? img : el("img", "cam-img");
  image.src = snap.url;
  image.decoding = "async";
  image.alt = t("wall.cam.alt", { camera: snap.camera_name || snap.camera || "", time: siteTime(snap.taken_at) });
  const cap = el("p", "cam-cap");
  cap.append(noTranslate(el("span", "cam-name", snap.camera_name || snap.camera || "")), el("time", "cam-time", siteTime(snap.taken_at)));
  li.replaceChildren(head, image, cap);
}

// ---------------------------------------------------------------- KPIs

const KPI_FIELDS = [
  ["alarms", "wall.kpi.alarms"],
  ["acknowledged", "wall.kpi.acknowledged"],
  ["open_tasks", "wall.kpi.open_tasks"],
  ["median_ack_seconds", "wall.kpi.median_ack", "duration"],
  ["median_arrive_seconds", "wall.kpi.median_arrive", "duration"],
  ["overdue_steps", "wall.kpi.overdue"],
  ["false_alarms", "wall.kpi.false_alarms"],
  ["open_alarms", "wall.kpi.open_alarms"],
  ["rounds_active", "wall.kpi.rounds_active"],
  ["rounds_missed", "wall.kpi.rounds_missed"],
  ["patrol_completion", "wall.kpi.patrol_completion", "percent"],
];
const kpiNodes = new Map();

export function renderKpis() {
  const list = $("kpi-list");
  const k = state.kpis || {};
  for (const [field, key, type] of KPI_FIELDS) {
    let node = kpiNodes.get(field);
    if (!node) {
      const div = el("div", "kpi");
      div.dataset.kpi = field;
      const dt = el("dt", "kpi-label");
      const dd = el("dd", "kpi-value");
      div.append(dt, dd);
      list.append(div);
      node = { div, dt, dd };
      kpiNodes.set(field, node);
    }
    setText(node.dt, t(key));
    const v = k[field];
    let text = t("wall.kpi.none");
    if (typeof v === "number" && Number.isFinite(v)) {
      text = type === "duration" ? formatDuration(v) : type === "percent" ? `${Math.round(v * 100)}%` : String(v);
    }
    setText(node.dd, text);
    node.div.classList.toggle("is-bad", (field === "overdue_steps" || field === "rounds_missed") && Number(v) > 0);
  }
  const err = $("kpi-error");
  err.hidden = !state.kpisError;
  if (state.kpisError) setText(err, t("wall.kpi.error"));
}

export const refetchKpis = coalesce(() => fetchKpis(), KPI_SOON_MS);

export async function fetchKpis() {
  try {
    state.kpis = await api("GET", "/api/kpis/today");
    state.kpisError = false;
  } catch {
    state.kpisError = true;
  }
  invalidate("kpis");
}

