// MCC wall display: a read-only, unattended live view fed by the /ws WebSocket, plus a few REST
// reads (floor plans, subsystem health, today's KPIs). Renders are folded into animation frames and
// the queue is keyed (rows are reused, never rebuilt), so 500 alarms and 20 events/s stay smooth.
// The panels live in wall-queue.js, wall-plan.js, wall-panels.js, wall-ticker.js and wall-sound.js;
// the shared state and helpers in wall-state.js; this file connects them to the socket and the clock.
import { t, getLang, formatDuration, initI18n, initLangSwitch, onLangChange } from "./i18n.js";
import { now } from "./api.js";
import { LiveSocket } from "./live.js";
import {
  $, setText, state, storeGet, storeSet, isLive, isShelved, isStale, noteRevision, pruneGone, invalidate, onFrame,
  zonedParts, weekdayFmt, TICKER_MAX,
} from "./wall-state.js";
import { renderQueue, remeasure, tickRows } from "./wall-queue.js";
import { renderPlan, fetchPlans, refetchPlans, setPlanLang } from "./wall-plan.js";
import {
  renderHealth, refetchSummary, renderCams, renderKpis, fetchKpis, refetchKpis, setConsoleHealth,
} from "./wall-panels.js";
import { renderTicker, addEvent, flushTicker } from "./wall-ticker.js";
import { sound } from "./wall-sound.js";

const HEARTBEAT_MS = 15000;
const KPI_EVERY_MS = 60000;
const ALARM_TYPES = new Set(["alarm.raised", "alarm.updated", "alarm.acked", "alarm.cleared"]);
const STORE_DISPLAY = "mcc.wall.display";

// ---------------------------------------------------------------- one frame draws what changed

onFrame((dirty) => {
  if (dirty.queue) {
    const force = dirty.force;
    dirty.queue = dirty.force = false;
    renderQueue(force);
    dirty.plan = true;
    renderCams(force);
    sound.sync();
  }
  if (dirty.plan) {
    dirty.plan = false;
    renderPlan();
  }
  if (dirty.ticker) {
    dirty.ticker = false;
    flushTicker();
  }
  if (dirty.health) {
    dirty.health = false;
    renderHealth();
  }
  if (dirty.kpis) {
    dirty.kpis = false;
    renderKpis();
  }
});

// ---------------------------------------------------------------- connection status

let connState = "connecting";
let disconnectedAt = null;

function setConn(s) {
  connState = s;
  $("conn-status").dataset.state = s;
  document.body.dataset.conn = s;
  setText($("conn-text"), t("conn." + s));
  if (s === "live") disconnectedAt = null;
  else if (disconnectedAt === null && live.seq !== null) disconnectedAt = now();
  renderStale(now());
}

function renderStale(nowMs) {
  const banner = $("stale-banner");
  const show = connState !== "live" && disconnectedAt !== null;
  banner.hidden = !show;
  if (show) setText(banner, t("conn.stale", { duration: formatDuration((nowMs - disconnectedAt) / 1000) }));
}

// ---------------------------------------------------------------- clock and the one 1 s ticker

function renderClock(nowMs) {
  const p = zonedParts(nowMs);
  setText($("clock-time"), `${p.hour}:${p.minute}:${p.second}`);
  $("clock-time").dateTime = new Date(nowMs).toISOString();
  const wd = weekdayFmt[getLang()] || weekdayFmt.zh;
  const date = `${p.year}-${p.month}-${p.day}`;
  const weekday = wd.format(new Date(nowMs));
  setText($("clock-date"), getLang() === "zh" ? `${date} ${weekday}` : `${weekday} ${date}`);
}

function tick() {
  const n = now();
  renderClock(n);
  tickRows(n); // only the rows on screen
  renderStale(n);
  pruneGone(n);
  if (state.sorted.length !== state.alarms.size) invalidate("queue"); // a shelf may have run out
  setTimeout(tick, 1000 - (Date.now() % 1000) + 10);
}

// Main-thread lag: how late a 1 s interval fires (the worst since the last heartbeat).
let lagMax = 0;
let lagLast = performance.now();
setInterval(() => {
  const n = performance.now();
  lagMax = Math.max(lagMax, n - lagLast - 1000);
  lagLast = n;
}, 1000);

// ---------------------------------------------------------------- the display's heartbeat

function displayId() {
  let id = storeGet(STORE_DISPLAY);
  if (!id) {
    const b = window.crypto.getRandomValues(new Uint8Array(8));
    id = "wall-" + [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
    storeSet(STORE_DISPLAY, id);
  }
  return id;
}

const DISPLAY_ID = displayId();
// Without ?name= every wall gets its own default: "wall-" and the first 6 characters of its display id
// (after the id's own "wall-" prefix), e.g. "wall-3fa9c1".
const DISPLAY_NAME = new URLSearchParams(window.location.search).get("name") ||
  `wall-${DISPLAY_ID.replace(/^wall-/, "").slice(0, 6)}`;

function heartbeat() {
  const beat = {
    type: "display.heartbeat",
    display: DISPLAY_ID,
    name: DISPLAY_NAME,
    build: live.build || "",
    sound: sound.state,
    last_seq: live.seq ?? 0,
    lag_ms: Math.max(0, Math.round(lagMax)),
    alarms: state.alarms.size,
    page: "wall",
  };
  lagMax = 0;
  return beat;
}

// ---------------------------------------------------------------- messages

function upsertAlarm(a, type) {
  if (!a || a.id === undefined || a.id === null) return;
  if (isStale(a)) return;
  const known = state.alarms.has(a.id) || state.revisions.has(a.id) || state.gone.has(a.id);
  noteRevision(a);
  if (isLive(a)) state.alarms.set(a.id, a);
  else state.alarms.delete(a.id);
  if (type === "alarm.raised" && !known && !a.acknowledged && !isShelved(a)) sound.newAlarm(a);
  invalidate("queue");
}

function upsertTask(task) {
  if (!task || task.id == null) return;
  const old = state.tasks.get(task.id);
  if (old && typeof old.revision === "number" && typeof task.revision === "number" && task.revision < old.revision) return;
  if (task.state === "open") state.tasks.set(task.id, task);
  else state.tasks.delete(task.id);
  invalidate("queue");
}

function applySnapshot(msg) {
  state.alarms = new Map();
  state.revisions = new Map(); // the snapshot is the new baseline; state.gone keeps its recent removals
  for (const a of Array.isArray(msg.alarms) ? msg.alarms : []) {
    if (a && a.id !== undefined) noteRevision(a);
    if (a && a.id !== undefined && isLive(a)) state.alarms.set(a.id, a);
  }
  state.tasks = new Map();
  for (const task of Array.isArray(msg.tasks) ? msg.tasks : []) {
    if (task && task.id != null && task.state === "open") state.tasks.set(task.id, task);
  }
  const events = Array.isArray(msg.events) ? msg.events.filter((e) => e && typeof e === "object") : [];
  state.events = events.slice(0, TICKER_MAX);
  if (msg.devices && typeof msg.devices === "object") state.devices = msg.devices;
  if (!state.devices || !state.devices.by_subsystem) refetchSummary();
  state.sites = new Map((Array.isArray(msg.sites) ? msg.sites : []).map((x) => [x.id, x.name || x.id]));
  setConsoleHealth(msg.health);
  renderTicker();
  invalidate("queue", "force", "health");
  refetchPlans(); // plans may have changed while we were away
}

function applyChange(msg) {
  const data = msg.data;
  if (ALARM_TYPES.has(msg.type)) {
    upsertAlarm(data, msg.type);
    refetchKpis(); // today's figures follow the alarms (at most every KPI_SOON_MS), not only the minute timer
  } else if (msg.type === "task.updated") {
    upsertTask(data);
    refetchKpis();
  } else if (msg.type === "round.updated") {
    refetchKpis(); // a round started, ended or missed: the patrol figures change
  } else if (msg.type === "event") {
    addEvent(data);
  } else if (msg.type === "device.state") {
    if (data && data.devices && typeof data.devices === "object") {
      state.devices = { ...data.devices, by_subsystem: data.devices.by_subsystem || (state.devices && state.devices.by_subsystem) };
      invalidate("health");
    }
    refetchSummary();
    refetchPlans();
  } else if (msg.type === "floorplan.updated") {
    refetchPlans();
  } else if (msg.type === "console.health") {
    setConsoleHealth(data);
  }
}

const live = new LiveSocket({
  resume: true,
  reloadOnNewBuild: true,
  heartbeat: { everyMs: HEARTBEAT_MS, message: heartbeat },
  onState: setConn,
  onNewBuild: () => {
    const banner = $("stale-banner");
    banner.hidden = false;
    setText(banner, t("wall.reloading"));
  },
  onMessage: (msg) => (msg.type === "snapshot" ? applySnapshot(msg) : applyChange(msg)),
});

// ---------------------------------------------------------------- start

function rerenderAll() {
  remeasure(); // text widths change with the language
  invalidate("queue", "force", "plan", "health", "kpis");
  renderTicker();
  setPlanLang();
  sound.paint();
  setText($("conn-text"), t("conn." + connState));
  renderClock(now());
  renderStale(now());
}

function start() {
  initI18n();
  initLangSwitch($("lang-switch"));
  onLangChange(rerenderAll);
  sound.init();
  rerenderAll();
  setConn("connecting");
  tick();
  new ResizeObserver(() => {
    remeasure();
    invalidate("queue");
  }).observe($("alarm-wrap"));
  fetchPlans();
  fetchKpis();
  setInterval(fetchKpis, KPI_EVERY_MS);
  live.start();
}

start();
