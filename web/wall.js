// MCC wall display: read-only live view fed by the /ws WebSocket only.
import {
  t,
  getLang,
  kindLabel,
  severityLabel,
  formatDuration,
  initI18n,
  initLangSwitch,
  onLangChange,
} from "./i18n.js";
import { TZ } from "./api.js"; // the site time zone from <meta name="mcc-timezone">

const TICKER_MAX = 20;
const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 10000;
const STABLE_MS = 10000; // a connection open this long resets the back-off
const AUTH_PROBE_AFTER = 3; // failed handshakes in a row before we check the session
const SEVERITY_RANK = { critical: 1, major: 2, minor: 3, warning: 4 };
const ALARM_TYPES = new Set(["alarm.raised", "alarm.updated", "alarm.acked", "alarm.cleared"]);

// ---------------------------------------------------------------- time zone / formatting

const partsFmt = new Intl.DateTimeFormat("en-GB", {
  timeZone: TZ,
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
});
const weekdayFmt = {
  zh: new Intl.DateTimeFormat("zh-CN", { timeZone: TZ, weekday: "long" }),
  en: new Intl.DateTimeFormat("en-GB", { timeZone: TZ, weekday: "short" }),
};

function zonedParts(ms) {
  const out = {};
  for (const p of partsFmt.formatToParts(new Date(ms))) out[p.type] = p.value;
  if (out.hour === "24") out.hour = "00";
  return out;
}

function hms(ms) {
  const p = zonedParts(ms);
  return `${p.hour}:${p.minute}:${p.second}`;
}

function parseTime(iso) {
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms : null;
}

// Server clock offset: used only if the server puts `server_time` in the snapshot.
let clockOffsetMs = 0;
const now = () => Date.now() + clockOffsetMs;

// ---------------------------------------------------------------- DOM helpers

const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function locationLabel(obj) {
  const loc = obj.location || {};
  if (loc.label) return loc.label;
  const parts = [loc.building, loc.floor, loc.zone].filter(Boolean);
  if (parts.length) return parts.join(" ");
  const base = obj.device_name || obj.device_id || "";
  return obj.point ? `${base} · ${obj.point}` : base;
}

function locationDetail(obj) {
  // second line under the label: the device (and point) the signal came from
  const loc = obj.location || {};
  if (!loc.label && ![loc.building, loc.floor, loc.zone].some(Boolean)) return "";
  const base = obj.device_name || obj.device_id || "";
  return obj.point ? `${base} · ${obj.point}` : base;
}

// ---------------------------------------------------------------- state

const state = {
  alarms: new Map(), // id -> Alarm
  revisions: new Map(), // id -> newest alarm revision seen (kept after an alarm leaves the queue)
  events: [], // newest first, at most TICKER_MAX
  devices: null,
  seq: null,
  stream: null,
};

// ---------------------------------------------------------------- alarm queue

const tbody = $("alarm-rows");
const rows = new Map(); // id -> {tr, alarm, cells…, raisedMs}

function rankOf(a) {
  const r = Number(a.severity_rank);
  return Number.isFinite(r) && r > 0 ? r : SEVERITY_RANK[a.severity] || 9;
}

function compareAlarms(a, b) {
  return (
    rankOf(a) - rankOf(b) ||
    (parseTime(a.raised_at) ?? 0) - (parseTime(b.raised_at) ?? 0) ||
    (Number(a.id) || 0) - (Number(b.id) || 0)
  );
}

function isLive(a) {
  return !(a.acknowledged && a.cleared);
}

function stateInfo(a) {
  if (a.cleared && !a.acknowledged) return { key: "cleared-unacked", text: t("state.cleared_unacked") };
  if (a.cleared) return { key: "cleared", text: t("state.cleared") };
  if (a.acknowledged) {
    return {
      key: "acked",
      text: a.acked_by ? t("state.acked_by", { user: a.acked_by }) : t("state.acked"),
    };
  }
  return { key: "unacked", text: t("state.unacked") };
}

function createRow(a) {
  const tr = el("tr", "alarm-row is-new");
  tr.dataset.alarmId = String(a.id);
  const sevCell = el("td", "col-sev");
  const sevPill = el("span", "sev-pill");
  sevCell.append(sevPill);
  const kindCell = el("td", "col-kind");
  const kindText = el("span", "kind-text");
  const testBadge = el("span", "test-badge");
  kindCell.append(kindText, testBadge);
  const locCell = el("td", "col-loc");
  const locMain = el("span", "loc-main");
  const locSub = el("span", "loc-sub");
  locCell.append(locMain, locSub);
  const ageCell = el("td", "col-age num");
  const ageTime = el("time", "age");
  ageCell.append(ageTime);
  const countCell = el("td", "col-count num");
  const stateCell = el("td", "col-state");
  const stateText = el("span", "state-text");
  stateCell.append(stateText);
  tr.append(sevCell, kindCell, locCell, ageCell, countCell, stateCell);
  tr.addEventListener("animationend", (e) => {
    if (e.animationName === "row-arrive") tr.classList.remove("is-new");
  });
  const r = { tr, sevPill, kindText, testBadge, locMain, locSub, ageTime, countCell, stateText, alarm: null, raisedMs: null };
  rows.set(a.id, r);
  return r;
}

function fillRow(r, a) {
  const { tr } = r;
  r.alarm = a;
  r.raisedMs = parseTime(a.raised_at);
  const st = stateInfo(a);
  const sev = SEVERITY_RANK[a.severity] ? a.severity : "warning";
  tr.dataset.severity = sev;
  tr.dataset.kind = a.kind || "";
  tr.dataset.state = st.key;
  tr.classList.toggle("is-fire", String(a.kind || "").startsWith("fire.alarm"));
  tr.classList.toggle("is-unacked", !a.acknowledged);
  tr.classList.toggle("is-blinking", a.kind === "fire.alarm" && !a.acknowledged);
  tr.classList.toggle("is-test", !!a.test);
  setText(r.sevPill, severityLabel(a.severity));
  r.sevPill.className = `sev-pill sev-${sev}`;
  setText(r.kindText, kindLabel(a.kind));
  setText(r.testBadge, a.test ? t("alarm.test") : "");
  r.testBadge.hidden = !a.test;
  setText(r.locMain, locationLabel(a));
  const sub = locationDetail(a);
  setText(r.locSub, sub);
  r.locSub.hidden = !sub;
  if (a.raised_at) r.ageTime.dateTime = a.raised_at;
  updateAge(r, now());
  setText(r.countCell, String(a.count ?? 1));
  setText(r.stateText, st.text);
  r.stateText.className = `state-text state-${st.key}`;
}

function updateAge(r, nowMs) {
  setText(r.ageTime, r.raisedMs == null ? "—" : formatDuration((nowMs - r.raisedMs) / 1000));
}

/** Bring the table in line with state.alarms, touching only what changed. */
// A supervisor's shelf (搁置) takes a nuisance source out of the queue until it expires.
function isShelved(a) {
  const until = a.shelved_until ? parseTime(a.shelved_until) : null;
  return until !== null && until > now();
}

function renderAlarms(force = false) {
  const all = [...state.alarms.values()];
  const shelved = all.filter(isShelved).length;
  const sorted = all.filter((a) => !isShelved(a)).sort(compareAlarms);
  const keep = new Set();
  sorted.forEach((a, i) => {
    keep.add(a.id);
    let r = rows.get(a.id);
    if (!r) r = createRow(a);
    if (force || r.alarm !== a) fillRow(r, a);
    if (tbody.children[i] !== r.tr) tbody.insertBefore(r.tr, tbody.children[i] || null);
  });
  for (const [id, r] of rows) {
    if (!keep.has(id)) {
      r.tr.remove();
      rows.delete(id);
    }
  }
  let unacked = 0;
  for (const a of sorted) if (!a.acknowledged) unacked += 1;
  const empty = sorted.length === 0;
  $("alarm-empty").hidden = !empty;
  $("alarm-table").classList.toggle("is-empty", empty);
  const summary = empty ? "" : t("alarms.summary", { total: sorted.length, unacked });
  setText($("alarm-summary"), shelved ? `${summary} ${t("alarms.shelved", { count: shelved })}`.trim() : summary);
  document.body.classList.toggle("has-unacked-fire", sorted.some((a) => a.kind === "fire.alarm" && !a.acknowledged));
}

// Alarm messages carry the whole alarm and a revision. Two changes committed close together
// (an operator's ack, a device's restore) can be published in the other order, and a snapshot
// can be newer than messages queued behind it: an older revision never overwrites a newer one.
function isStale(a) {
  const seen = state.revisions.get(a.id);
  return typeof a.revision === "number" && seen !== undefined && a.revision < seen;
}

function noteRevision(a) {
  if (typeof a.revision === "number") state.revisions.set(a.id, a.revision);
}

function upsertAlarm(a) {
  if (!a || a.id === undefined || a.id === null) return;
  if (isStale(a)) return;
  noteRevision(a);
  if (isLive(a)) state.alarms.set(a.id, a);
  else state.alarms.delete(a.id);
  renderAlarms();
}

// ---------------------------------------------------------------- device counts

const DEVICE_KEYS = ["online", "offline", "unknown", "total"];

function renderDevices(flash = false) {
  const d = state.devices;
  for (const k of DEVICE_KEYS) {
    const node = $("dev-" + k);
    const v = d && Number.isFinite(Number(d[k])) ? String(d[k]) : "–";
    if (node.textContent !== v) {
      node.textContent = v;
      if (flash) {
        node.classList.remove("flash");
        void node.offsetWidth; // restart the animation
        node.classList.add("flash");
      }
    }
  }
  $("device-section").classList.toggle("has-offline", !!(d && Number(d.offline) > 0));
}

// ---------------------------------------------------------------- event ticker

const ticker = $("event-list");

function eventKey(e) {
  return `${e.site || ""}|${e.device_id || ""}|${e.id}`;
}

const ROUTINE = /^(access\.granted|access\.door_closed|parking\.(entry|exit|barrier_opened)|device\.(online|heartbeat)|camera\.online|patrol\.checkpoint)$/;

function eventTone(kind) {
  const k = String(kind || "");
  if (k.endsWith(".restore") || k === "fire.reset" || k === "device.online" || k === "camera.online") return "ok";
  if (k === "fire.alarm" || k === "access.duress") return "critical";
  if (ROUTINE.test(k)) return "routine";
  return "alert";
}

function eventDetail(e) {
  const d = e.data && typeof e.data === "object" ? e.data : {};
  const out = [];
  if (d.plate) out.push(t("ev.plate", { v: d.plate }));
  if (d.card) out.push(t("ev.card", { v: d.card }));
  const person = d.person || d.name;
  if (person && typeof person === "string") out.push(t("ev.person", { v: person }));
  if (d.direction) {
    const dir = String(d.direction).toLowerCase();
    const key = dir === "entry" ? "in" : dir === "exit" ? "out" : dir;
    out.push(key === "in" || key === "out" ? t("dir." + key) : String(d.direction));
  }
  if (d.of) out.push(t("ev.of", { v: kindLabel(d.of) }));
  if (e.registered === false) out.push(t("ev.unregistered"));
  return out.join(" · ");
}

function fillEventItem(li, e) {
  li.replaceChildren();
  const ts = parseTime(e.ts) ?? parseTime(e.received_at);
  const time = el("time", "ev-time", ts == null ? "--:--:--" : hms(ts));
  if (e.ts) time.dateTime = e.ts;
  li.className = `ev ev-${eventTone(e.kind)}`;
  li.dataset.kind = e.kind || "";
  li.dataset.eventId = String(e.id ?? "");
  li.append(
    time,
    el("span", "ev-kind", kindLabel(e.kind)),
    el("span", "ev-loc", locationLabel(e)),
  );
  const detail = eventDetail(e);
  if (detail) li.append(el("span", "ev-data", detail));
}

function renderTicker() {
  const items = state.events.map((e) => {
    const li = el("li");
    fillEventItem(li, e);
    return li;
  });
  ticker.replaceChildren(...items);
  $("event-empty").hidden = state.events.length > 0;
}

function addEvent(e) {
  if (!e || typeof e !== "object") return;
  const key = eventKey(e);
  if (state.events.some((x) => eventKey(x) === key)) return;
  state.events.unshift(e);
  const li = el("li");
  fillEventItem(li, e);
  li.classList.add("is-new");
  ticker.prepend(li);
  while (state.events.length > TICKER_MAX) state.events.pop();
  while (ticker.children.length > TICKER_MAX) ticker.lastElementChild.remove();
  $("event-empty").hidden = true;
}

// ---------------------------------------------------------------- connection status

let connState = "connecting";
let disconnectedAt = null;

function setConn(s) {
  connState = s;
  const box = $("conn-status");
  box.dataset.state = s;
  document.body.dataset.conn = s;
  setText($("conn-text"), t("conn." + s));
  if (s === "live") disconnectedAt = null;
  else if (disconnectedAt === null && state.seq !== null) disconnectedAt = now();
  renderStale(now());
}

function renderStale(nowMs) {
  const banner = $("stale-banner");
  const show = connState !== "live" && disconnectedAt !== null;
  banner.hidden = !show;
  if (show) setText(banner, t("conn.stale", { duration: formatDuration((nowMs - disconnectedAt) / 1000) }));
}

// ---------------------------------------------------------------- clock (one timer for everything)

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
  for (const r of rows.values()) updateAge(r, n);
  renderStale(n);
  setTimeout(tick, 1000 - (Date.now() % 1000) + 10);
}

// ---------------------------------------------------------------- WebSocket

let ws = null;
let attempt = 0; // consecutive reconnects (for the back-off)
let failedHandshakes = 0; // closes without ever opening
let reconnectTimer = null;
let resumeOk = true; // false: next connect asks for a fresh snapshot
let awaitingResume = false; // this connection was opened with ?since and has not proven itself
let leaving = false;

function wsUrl(resume) {
  const u = new URL("/ws", window.location.href);
  u.protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
  const token = new URLSearchParams(window.location.search).get("token");
  if (token) u.searchParams.set("token", token);
  if (resume) {
    u.searchParams.set("since", String(state.seq));
    if (state.stream) u.searchParams.set("stream", state.stream);
  }
  return u.toString();
}

function goLogin() {
  if (leaving) return;
  leaving = true;
  setConn("unauthorized");
  clearTimeout(reconnectTimer);
  // The path only: a kiosk ?token= that stopped working must not travel to the login URL.
  window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname));
}

function connect() {
  clearTimeout(reconnectTimer);
  reconnectTimer = null;
  if (leaving) return;
  const resume = resumeOk && state.seq !== null;
  awaitingResume = resume;
  let sock;
  try {
    sock = new WebSocket(wsUrl(resume));
  } catch (err) {
    console.error("mcc: cannot open WebSocket", err);
    scheduleReconnect();
    return;
  }
  ws = sock;
  let openedAt = null;
  sock.onopen = () => {
    if (sock !== ws) return;
    openedAt = Date.now();
    failedHandshakes = 0;
    // A resumed stream is live at once (nothing may be missing); a fresh one after its snapshot.
    if (resume) setConn("live");
  };
  sock.onmessage = (ev) => {
    if (sock !== ws) return;
    handleMessage(ev.data);
  };
  sock.onerror = () => {
    /* a close event follows */
  };
  sock.onclose = (ev) => {
    if (sock !== ws) return;
    ws = null;
    if (ev.code === 4401 || ev.code === 1008) {
      goLogin();
      return;
    }
    if (openedAt === null) failedHandshakes += 1;
    if (openedAt !== null && Date.now() - openedAt > STABLE_MS) attempt = 0;
    setConn("reconnecting");
    if (failedHandshakes >= AUTH_PROBE_AFTER && failedHandshakes % AUTH_PROBE_AFTER === 0) probeSession();
    scheduleReconnect();
  };
}

function scheduleReconnect() {
  if (leaving || reconnectTimer) return;
  const cap = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt);
  const delay = cap / 2 + Math.random() * (cap / 2); // exponential back-off with jitter
  attempt = Math.min(attempt + 1, 10);
  reconnectTimer = setTimeout(connect, delay);
}

/** Reconnect at once, e.g. after a seq gap (ask for the missed messages, or a snapshot). */
function resync(fresh) {
  if (fresh) resumeOk = false;
  const old = ws;
  ws = null;
  if (old) {
    try {
      old.close(4000, "resync");
    } catch {
      /* ignore */
    }
  }
  setConn("resyncing");
  connect();
}

/**
 * A handshake refused before the upgrade shows up as close code 1006, which the browser
 * cannot tell apart from a network error. After a few of them, ask the page URL itself:
 * a redirect (to /login) or 401/403 means the session is gone.
 */
async function probeSession() {
  try {
    const res = await fetch(window.location.pathname + window.location.search, {
      method: "GET",
      credentials: "same-origin",
      redirect: "manual",
      cache: "no-store",
    });
    if (res.type === "opaqueredirect" || res.status === 401 || res.status === 403) goLogin();
  } catch {
    /* server unreachable: keep retrying */
  }
}

function applySnapshot(msg) {
  state.alarms = new Map();
  state.revisions = new Map();
  for (const a of Array.isArray(msg.alarms) ? msg.alarms : []) {
    if (a && a.id !== undefined) noteRevision(a);
    if (a && a.id !== undefined && isLive(a)) state.alarms.set(a.id, a);
  }
  const events = Array.isArray(msg.events) ? msg.events.filter((e) => e && typeof e === "object") : [];
  state.events = events.slice(0, TICKER_MAX);
  state.devices = msg.devices && typeof msg.devices === "object" ? msg.devices : null;
  state.seq = typeof msg.seq === "number" ? msg.seq : null;
  state.stream = msg.stream ?? null;
  const serverNow = parseTime(msg.server_time);
  if (serverNow !== null) clockOffsetMs = serverNow - Date.now();
  resumeOk = true;
  awaitingResume = false;
  renderAlarms(true);
  renderDevices(false);
  renderTicker();
  setConn("live");
}

function handleMessage(raw) {
  let msg;
  try {
    msg = JSON.parse(raw);
  } catch {
    console.warn("mcc: ignoring non-JSON message");
    return;
  }
  if (!msg || typeof msg !== "object") return;
  if (msg.type === "snapshot") {
    applySnapshot(msg);
    return;
  }
  if (state.seq === null) return; // no baseline yet: wait for the snapshot
  if (typeof msg.seq === "number") {
    if (msg.seq <= state.seq) return; // already applied (duplicate / replay)
    if (msg.seq !== state.seq + 1) {
      // Missed something. If a resume just produced a gap again, ask for a fresh snapshot.
      resync(awaitingResume);
      return;
    }
    state.seq = msg.seq;
  }
  awaitingResume = false;
  if (connState !== "live") setConn("live");
  applyChange(msg);
}

function applyChange(msg) {
  const data = msg.data;
  if (ALARM_TYPES.has(msg.type)) {
    upsertAlarm(data);
  } else if (msg.type === "event") {
    addEvent(data);
  } else if (msg.type === "device.state") {
    if (data && data.devices && typeof data.devices === "object") {
      state.devices = data.devices;
      renderDevices(true);
    }
  }
  // task.updated and unknown types: nothing on the wall yet
}

// ---------------------------------------------------------------- start

function rerenderAll() {
  renderAlarms(true);
  renderTicker();
  renderDevices(false);
  setText($("conn-text"), t("conn." + connState));
  renderClock(now());
  renderStale(now());
}

function start() {
  initI18n();
  initLangSwitch($("lang-switch"));
  onLangChange(rerenderAll);
  rerenderAll();
  setConn("connecting");
  tick();
  window.addEventListener("online", () => {
    if (!ws && reconnectTimer) {
      attempt = 0;
      connect();
    }
  });
  connect();
}

start();
