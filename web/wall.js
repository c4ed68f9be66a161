// MCC wall display: a read-only, unattended live view fed by the /ws WebSocket, plus a few REST
// reads (floor plans, subsystem health, today's KPIs). Renders are folded into animation frames and
// the queue is keyed (rows are reused, never rebuilt), so 500 alarms and 20 events/s stay smooth.
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
import { TZ, api, coalesce, loc, now, setServerTime, siteTime, parseTime } from "./api.js";
import { FloorPlanView } from "./floorplan.js";

const TICKER_MAX = 20;
const CAM_MAX = 4;
const MAX_ROWS_DEFAULT = 30;
const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 10000;
const STABLE_MS = 10000; // a connection open this long resets the back-off
const AUTH_PROBE_AFTER = 3; // failed handshakes in a row before we check the session
const HEARTBEAT_MS = 15000;
const KPI_EVERY_MS = 60000;
const KPI_SOON_MS = 10000; // after an alarm or task change (each fetch reads the day's report)
const REFETCH_MS = 1500; // floor plans / device summary after device.state: at most this often
const SEVERITY_RANK = { critical: 1, major: 2, minor: 3, warning: 4 };
const SUBSYSTEMS = ["fire", "access", "parking", "video"];
const ALARM_TYPES = new Set(["alarm.raised", "alarm.updated", "alarm.acked", "alarm.cleared"]);
const STORE_SOUND = "mcc.wall.sound";
const STORE_DISPLAY = "mcc.wall.display";
const GONE_KEEP_MS = 5 * 60 * 1000; // how long a removed alarm's revision still rejects stale messages
const GONE_MAX = 2000;

// ---------------------------------------------------------------- small helpers

const partsFmt = new Intl.DateTimeFormat("en-GB", {
  timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
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

const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined && text !== null) e.textContent = text;
  return e;
}

function noTranslate(node) {
  node.setAttribute("translate", "no");
  return node;
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function storeGet(key) {
  try {
    return window.localStorage.getItem(key);
  } catch {
    return null;
  }
}

function storeSet(key, value) {
  try {
    window.localStorage.setItem(key, value);
  } catch {
    /* kiosk without storage: the choice lasts until the next load */
  }
}

function locationLabel(obj) {
  const l = obj.location || {};
  if (l.label) return l.label;
  const parts = [l.building, l.floor, l.zone].filter(Boolean);
  if (parts.length) return parts.join(" ");
  const base = obj.device_name || obj.device_id || "";
  return obj.point ? `${base} · ${obj.point}` : base;
}

function locationDetail(obj) {
  const l = obj.location || {};
  if (!l.label && ![l.building, l.floor, l.zone].some(Boolean)) return "";
  const base = obj.device_name || obj.device_id || "";
  return obj.point ? `${base} · ${obj.point}` : base;
}

function rankOf(a) {
  const r = Number(a.severity_rank);
  return Number.isFinite(r) && r > 0 ? r : SEVERITY_RANK[a.severity] || 9;
}

function sevOf(a) {
  return SEVERITY_RANK[a.severity] ? a.severity : "warning";
}

const isLive = (a) => !(a.acknowledged && a.cleared);

/**
 * THE one rule for "urgent": an unacknowledged fire alarm (kind exactly fire.alarm, not fire.fault /
 * fire.supervisory / fire.isolated) or any unacknowledged critical alarm (gas, duress, ...). An urgent
 * alarm's row blinks, it lights the header beacon (body.has-unacked-fire) and its sound loops until it
 * is acknowledged; every other new alarm sounds once.
 */
function isUrgent(a) {
  return !!a && !a.acknowledged && (String(a.kind || "") === "fire.alarm" || sevOf(a) === "critical");
}

function isShelved(a) {
  const until = a.shelved_until ? parseTime(a.shelved_until) : null;
  return until !== null && until > now();
}

// ---------------------------------------------------------------- state

const state = {
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
  seq: null,
  stream: null,
  sorted: [], // live, unshelved alarms in queue order (kept by renderQueue)
};

// ---------------------------------------------------------------- render scheduling

const dirty = { queue: false, force: false, ticker: false, plan: false, health: false, kpis: false };
let frame = 0;
const pendingEvents = [];

function invalidate(...parts) {
  for (const p of parts) dirty[p] = true;
  if (!frame) frame = requestAnimationFrame(renderFrame);
}

function renderFrame() {
  frame = 0;
  if (dirty.queue) {
    const force = dirty.force;
    dirty.queue = dirty.force = false;
    renderQueue(force);
    dirty.plan = true;
    renderCams(force);
    syncSound();
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
}

// ---------------------------------------------------------------- alarm queue

const tbody = $("alarm-rows");
const wrap = $("alarm-wrap");
const rows = new Map(); // alarm id -> row record (only the rows in the DOM)
let capacity = MAX_ROWS_DEFAULT; // rows that fit above the "+N more" line
let capacityAll = MAX_ROWS_DEFAULT; // rows that fit when there is no "+N more" line
let rowHeight = 0; // measured once per layout (resize / language), 0 = measure again

function taskOf(a) {
  if (a.task_id != null) {
    const task = state.tasks.get(a.task_id);
    if (task) return task;
  }
  return null;
}

/** The state as one short word, plus an optional second line (a second word, or who acknowledged). */
function stateInfo(a) {
  if (a.cleared && !a.acknowledged) return { key: "cleared-unacked", text: t("wall.state.cleared"), sub: t("wall.state.unacked"), user: "" };
  if (a.cleared) return { key: "cleared", text: t("wall.state.cleared"), sub: "", user: "" };
  if (a.acknowledged) return { key: "acked", text: t("wall.state.acked"), sub: "", user: a.acked_by || "" };
  return { key: "unacked", text: t("wall.state.unacked"), sub: "", user: "" };
}

function createRow(a) {
  const tr = el("tr", "alarm-row is-new");
  tr.dataset.alarmId = String(a.id);
  // the alarm: severity pill (with the repeat count and the test badge) above the kind
  const alarmCell = el("td", "col-alarm");
  const pillLine = el("span", "pill-line");
  const sevPill = el("span", "sev-pill");
  const countBadge = el("span", "count-badge");
  const testBadge = el("span", "test-badge");
  pillLine.append(sevPill, countBadge, testBadge);
  const kindText = el("span", "kind-text");
  alarmCell.append(pillLine, kindText);
  const locCell = noTranslate(el("td", "col-loc"));
  const locMain = el("span", "loc-main");
  const locSub = el("span", "loc-sub");
  locCell.append(locMain, locSub);
  const ageCell = el("td", "col-age num");
  const ageTime = el("time", "age");
  ageCell.append(ageTime);
  const stepCell = el("td", "col-step");
  // the countdown first, so a long step text never hides it; the text is what gets cut (2 lines)
  const stepLine = el("span", "step-line");
  const stepText = el("span", "step-text");
  const stepDue = el("time", "step-due");
  stepLine.append(stepDue, " ", stepText); // the space lets a long first word start the next line
  const guardLine = el("span", "guard-line");
  const guardName = noTranslate(el("span", "guard-name"));
  const guardState = el("span", "guard-state");
  guardLine.append(guardName, guardState);
  stepCell.append(stepLine, guardLine);
  const stateCell = el("td", "col-state");
  const stateText = el("span", "state-text");
  const stateSub = el("span", "state-sub");
  const ackUser = noTranslate(el("span", "ack-user"));
  stateCell.append(stateText, stateSub, ackUser);
  tr.append(alarmCell, locCell, ageCell, stepCell, stateCell);
  tr.addEventListener("animationend", (e) => {
    if (e.animationName === "row-arrive") tr.classList.remove("is-new");
  });
  const r = {
    tr, sevPill, kindText, countBadge, testBadge, locMain, locSub, ageTime, stepText, stepDue,
    stepLine, guardLine, guardName, guardState, stateText, stateSub, ackUser, alarm: null, task: undefined, raisedMs: null, dueMs: null,
  };
  rows.set(a.id, r);
  return r;
}

function fillRow(r, a, task) {
  const { tr } = r;
  r.alarm = a;
  r.task = task;
  r.raisedMs = parseTime(a.raised_at);
  const st = stateInfo(a);
  const sev = sevOf(a);
  const kind = String(a.kind || "");
  tr.dataset.severity = sev;
  tr.dataset.kind = kind;
  tr.dataset.state = st.key;
  tr.classList.toggle("is-fire", kind === "fire.alarm");
  tr.classList.toggle("is-unacked", !a.acknowledged);
  tr.classList.toggle("is-blinking", isUrgent(a));
  tr.classList.toggle("is-test", !!a.test);
  setText(r.sevPill, severityLabel(a.severity));
  r.sevPill.className = `sev-pill sev-${sev}`;
  setText(r.kindText, kindLabel(a.kind));
  const count = Number(a.count) || 1;
  setText(r.countBadge, count > 1 ? t("wall.count", { n: count }) : "");
  r.countBadge.title = count > 1 ? t("wall.count_title", { n: count }) : "";
  r.countBadge.hidden = count <= 1;
  setText(r.testBadge, a.test ? t("alarm.test") : "");
  r.testBadge.hidden = !a.test;
  const place = locationLabel(a);
  setText(r.locMain, place);
  const sub = locationDetail(a);
  setText(r.locSub, sub);
  r.locSub.hidden = !sub;
  const placeTitle = sub ? `${place}\n${sub}` : place; // the whole text, should a line be cut
  if (r.locMain.parentNode.title !== placeTitle) r.locMain.parentNode.title = placeTitle;
  if (a.raised_at) r.ageTime.dateTime = a.raised_at;
  // The SOP's current step with its countdown, and the guard sent with their dispatch state.
  const step = task && task.current_step;
  const stepWords = task ? (step ? loc(step.text) : t("wall.step_none")) : t("wall.no_task");
  setText(r.stepText, stepWords);
  if (r.stepLine.title !== stepWords) r.stepLine.title = stepWords;
  r.stepText.classList.toggle("muted", !step);
  r.dueMs = step && step.due_at ? parseTime(step.due_at) : null;
  if (step && step.due_at) r.stepDue.dateTime = step.due_at;
  r.stepDue.hidden = r.dueMs === null;
  if (task && task.assignee) {
    setText(r.guardName, t("wall.guard", { guard: task.assignee }));
    const ds = task.dispatch_state;
    setText(r.guardState, ds ? t(`dstate.${ds}`) : "");
    r.guardLine.dataset.dispatch = ds || "";
  } else {
    setText(r.guardName, task ? t("wall.no_guard") : "");
    setText(r.guardState, "");
    r.guardLine.dataset.dispatch = "";
  }
  r.guardLine.hidden = !task;
  setText(r.stateText, st.text);
  r.stateText.className = `state-text state-${st.key}`;
  setText(r.stateSub, st.sub);
  r.stateSub.hidden = !st.sub;
  setText(r.ackUser, st.user);
  r.ackUser.hidden = !st.user;
  if (r.ackUser.title !== st.user) r.ackUser.title = st.user;
  tickRow(r, now());
}

function tickRow(r, nowMs) {
  setText(r.ageTime, r.raisedMs == null ? "—" : formatDuration((nowMs - r.raisedMs) / 1000));
  if (r.dueMs !== null) {
    const left = (r.dueMs - nowMs) / 1000;
    const overdue = left < 0;
    setText(r.stepDue, overdue ? t("wall.due.overdue", { d: formatDuration(-left) }) : t("wall.due.left", { d: formatDuration(left) }));
    r.stepDue.classList.toggle("overdue", overdue);
  }
}

/**
 * How many rows fit. Every row has the same height (fixed in wall.css, its texts are clamped), so a
 * hidden probe row measures it before the first draw: no first frame with too many rows. Two numbers:
 * the rows that fit when all alarms fit, and those that fit above the "+N more" line.
 */
function measureCapacity() {
  const table = $("alarm-table");
  const probe = el("tr", "alarm-row alarm-probe");
  probe.setAttribute("aria-hidden", "true");
  const cell = el("td", null, "\u00a0");
  cell.colSpan = 5;
  probe.append(cell);
  tbody.append(probe);
  const more = $("alarm-more");
  const moreHidden = more.hidden;
  more.hidden = false;
  const moreH = more.getBoundingClientRect().height;
  more.hidden = moreHidden;
  const h = probe.getBoundingClientRect().height;
  probe.remove();
  const avail = wrap.clientHeight;
  if (!h) return false; // not laid out yet (hidden): measure again on the next render
  const spacing = parseFloat(getComputedStyle(table).borderSpacing.split(" ").pop()) || 0;
  rowHeight = h + spacing;
  if (avail < 2 * rowHeight) {
    // no fixed height to fill (the narrow, scrolling layout of a laptop): the default number of rows
    capacity = capacityAll = MAX_ROWS_DEFAULT;
    return true;
  }
  const head = table.tHead.getBoundingClientRect().height + 2 * spacing;
  capacity = Math.max(1, Math.floor((avail - head - moreH) / rowHeight));
  capacityAll = Math.max(capacity, Math.floor((avail - head) / rowHeight));
  return true;
}

function renderQueue(force = false) {
  if (!rowHeight) measureCapacity(); // before drawing: the first frame already has the right rows
  const all = [...state.alarms.values()];
  const shelved = all.filter(isShelved).length;
  // decorate-sort: each alarm's sort key is computed once, not in every comparison
  const sorted = all.filter((a) => !isShelved(a))
    .map((a) => [rankOf(a), parseTime(a.raised_at) ?? 0, Number(a.id) || 0, a])
    .sort((x, y) => x[0] - y[0] || x[1] - y[1] || x[2] - y[2])
    .map((x) => x[3]);
  state.sorted = sorted;
  const shown = sorted.slice(0, sorted.length <= capacityAll ? capacityAll : capacity);
  const keep = new Set();
  shown.forEach((a, i) => {
    keep.add(a.id);
    let r = rows.get(a.id);
    if (!r) r = createRow(a);
    const task = taskOf(a);
    if (force || r.alarm !== a || r.task !== task) fillRow(r, a, task);
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
  const hidden = sorted.length - shown.length;
  $("alarm-more").hidden = hidden <= 0;
  if (hidden > 0) setText($("alarm-more"), t("wall.more", { n: hidden }));
  const summary = empty ? "" : t("alarms.summary", { total: sorted.length, unacked });
  setText($("alarm-summary"), shelved ? `${summary} ${t("alarms.shelved", { count: shelved })}`.trim() : summary);
  document.body.classList.toggle("has-unacked-fire", sorted.some(isUrgent));
}

// An older revision never overwrites a newer one (messages and snapshots can cross). The map only
// holds the alarms in the queue; an alarm that leaves it is remembered a few minutes in `state.gone`,
// long enough to reject a stale revision that arrives late, then forgotten.
function isStale(a) {
  if (typeof a.revision !== "number") return false;
  let seen = state.revisions.get(a.id);
  if (seen === undefined) {
    const g = state.gone.get(a.id);
    seen = g ? g.revision : undefined;
  }
  return seen !== undefined && a.revision < seen;
}

function noteRevision(a) {
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

function pruneGone(nowMs) {
  for (const [id, g] of state.gone) {
    if (nowMs - g.at < GONE_KEEP_MS) break; // age order: the rest are younger
    state.gone.delete(id);
  }
}

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

// ---------------------------------------------------------------- tasks

function upsertTask(task) {
  if (!task || task.id == null) return;
  const old = state.tasks.get(task.id);
  if (old && typeof old.revision === "number" && typeof task.revision === "number" && task.revision < old.revision) return;
  if (task.state === "open") state.tasks.set(task.id, task);
  else state.tasks.delete(task.id);
  invalidate("queue");
}

// ---------------------------------------------------------------- floor plans

const planView = new FloorPlanView($("plan-view"), {});
const planTabs = new Map(); // plan id -> {btn, name, count}
let currentPlanId = null;
let autoTargetId = null; // the alarm the plan last switched to
let shownPlanKey = "";

function planKey(p) {
  return `${p.id}:${p.revision}:${p.image_url}`;
}

function planOfAlarm(a) {
  const l = a.location || {};
  if (!l.building && !l.floor) return null;
  return state.plans.find((p) => p.building === (l.building || "") && p.floor === (l.floor || "") &&
    (!p.site || !a.site || p.site === a.site)) || null;
}

/** The newest alarm of the top priority among the active (unshelved) ones. */
function topAlarm() {
  let best = null;
  for (const a of state.sorted) {
    if (!best) {
      best = a;
      continue;
    }
    if (rankOf(a) > rankOf(best)) break; // sorted by priority: the top group is done
    if ((parseTime(a.raised_at) ?? 0) >= (parseTime(best.raised_at) ?? 0)) best = a;
  }
  return best;
}

function renderPlan() {
  const plans = state.plans;
  const counts = new Map();
  for (const a of state.sorted) {
    const p = planOfAlarm(a);
    if (p) counts.set(p.id, (counts.get(p.id) || 0) + 1);
  }
  // Switch to the floor of the newest top-priority alarm whenever that alarm changes.
  const top = topAlarm();
  const note = $("plan-note");
  note.hidden = true;
  if (top && top.id !== autoTargetId) {
    const p = planOfAlarm(top);
    if (p) {
      autoTargetId = top.id;
      currentPlanId = p.id;
    } else if (plans.length) {
      note.hidden = false;
      note.replaceChildren(el("span", null, t("wall.plan.no_plan_for")), noTranslate(el("span", "plan-note-loc", ` ${locationLabel(top)}`)));
    }
  } else if (!top) {
    autoTargetId = null;
  }
  if (!plans.some((p) => p.id === currentPlanId)) currentPlanId = plans.length ? plans[0].id : null;
  const plan = plans.find((p) => p.id === currentPlanId) || null;

  // floor tabs (keyed)
  const box = $("plan-floors");
  const keep = new Set();
  plans.forEach((p, i) => {
    keep.add(p.id);
    let tab = planTabs.get(p.id);
    if (!tab) {
      const btn = el("button", "plan-tab");
      btn.type = "button";
      btn.setAttribute("role", "tab");
      btn.setAttribute("aria-controls", "plan-view");
      const name = noTranslate(el("span", "plan-tab-name"));
      const count = el("span", "plan-tab-count");
      btn.append(name, count);
      btn.dataset.planId = String(p.id);
      btn.addEventListener("click", () => {
        currentPlanId = p.id;
        invalidate("plan");
      });
      btn.addEventListener("keydown", onTabKey);
      tab = { btn, name, count };
      planTabs.set(p.id, tab);
    }
    setText(tab.name, [p.building, p.floor].filter(Boolean).join(" "));
    const n = counts.get(p.id) || 0;
    setText(tab.count, n ? t(n === 1 ? "wall.plan.alarm_one" : "wall.plan.alarms", { n }) : "");
    tab.count.hidden = !n;
    tab.btn.classList.toggle("has-alarms", n > 0);
    tab.btn.setAttribute("aria-selected", String(p.id === currentPlanId));
    tab.btn.tabIndex = p.id === currentPlanId ? 0 : -1;
    if (box.children[i] !== tab.btn) box.insertBefore(tab.btn, box.children[i] || null);
  });
  for (const [id, tab] of planTabs) {
    if (!keep.has(id)) {
      tab.btn.remove();
      planTabs.delete(id);
    }
  }
  box.hidden = plans.length === 0;
  if (plan && (plan.id !== scrolledToPlanId || box.children.length !== scrolledTabs)) {
    scrolledToPlanId = plan.id;
    scrolledTabs = box.children.length;
    const tab = planTabs.get(plan.id);
    if (tab) scrollTabIntoView(box, tab.btn);
  }
  const title = plan ? [plan.building, plan.floor].filter(Boolean).join(" · ") : "";
  setText($("plan-title"), title);
  $("plan-view").setAttribute("aria-label", title);
  const key = plan ? planKey(plan) + JSON.stringify(plan.markers || []) : "";
  if (key !== shownPlanKey) {
    shownPlanKey = key;
    planView.setPlan(plan);
  }
  planView.setAlarms(state.sorted);
  if (!plans.length) {
    note.hidden = false;
    note.textContent = state.plansError || t("wall.plan.none");
  }
}

let scrolledToPlanId = null;
let scrolledTabs = 0;

/** The floor tabs are one row that scrolls sideways: bring the shown floor into the middle of it. */
function scrollTabIntoView(box, btn) {
  if (!box.clientWidth) return;
  const target = btn.offsetLeft - (box.clientWidth - btn.offsetWidth) / 2; // the box is the offsetParent
  const left = Math.max(0, Math.min(target, box.scrollWidth - box.clientWidth));
  if (Math.abs(box.scrollLeft - left) > 1) box.scrollLeft = left;
}

/** Arrow keys, Home and End move between the floor tabs (the tablist pattern). */
function onTabKey(e) {
  const tabs = [...$("plan-floors").children];
  const i = tabs.indexOf(e.currentTarget);
  const to = { ArrowLeft: i - 1, ArrowRight: i + 1, Home: 0, End: tabs.length - 1 }[e.key];
  if (to === undefined || i < 0) return;
  e.preventDefault();
  const next = tabs[(to + tabs.length) % tabs.length];
  currentPlanId = Number(next.dataset.planId) || next.dataset.planId;
  renderPlan();
  next.focus();
}

async function fetchPlans() {
  try {
    const plans = await api("GET", "/api/floorplans");
    state.plans = Array.isArray(plans) ? plans : [];
    state.plansError = "";
  } catch (err) {
    state.plansError = t("wall.plan.error", { detail: err.detail || err.message });
  }
  invalidate("plan");
}

// ---------------------------------------------------------------- throttled refetches

const refetchPlans = coalesce(fetchPlans, REFETCH_MS);
const refetchSummary = coalesce(async () => {
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

// ---------------------------------------------------------------- device health per subsystem

const subsysItems = new Map();

function renderHealth() {
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
}

// ---------------------------------------------------------------- camera tiles

const camTiles = new Map(); // alarm id -> {li, alarm, lang}

function renderCams(force) {
  const list = $("cam-list");
  const shown = state.sorted.slice(0, CAM_MAX);
  const keep = new Set();
  const lang = getLang();
  shown.forEach((a, i) => {
    keep.add(a.id);
    let tile = camTiles.get(a.id);
    if (!tile) {
      tile = { li: el("li", "cam"), alarm: null, lang: "" };
      tile.li.dataset.alarmId = String(a.id);
      camTiles.set(a.id, tile);
    }
    if (force || tile.alarm !== a || tile.lang !== lang) fillCam(tile, a);
    if (list.children[i] !== tile.li) list.insertBefore(tile.li, list.children[i] || null);
  });
  for (const [id, tile] of camTiles) {
    if (!keep.has(id)) {
      tile.li.remove();
      camTiles.delete(id);
    }
  }
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
];
const kpiNodes = new Map();

function renderKpis() {
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
    if (typeof v === "number" && Number.isFinite(v)) text = type === "duration" ? formatDuration(v) : String(v);
    setText(node.dd, text);
    node.div.classList.toggle("is-bad", field === "overdue_steps" && Number(v) > 0);
  }
  const err = $("kpi-error");
  err.hidden = !state.kpisError;
  if (state.kpisError) setText(err, t("wall.kpi.error"));
}

const refetchKpis = coalesce(() => fetchKpis(), KPI_SOON_MS);

async function fetchKpis() {
  try {
    state.kpis = await api("GET", "/api/kpis/today");
    state.kpisError = false;
  } catch {
    state.kpisError = true;
  }
  invalidate("kpis");
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

function eventItem(e) {
  const li = el("li");
  const ts = parseTime(e.ts) ?? parseTime(e.received_at);
  const time = el("time", "ev-time", ts == null ? "--:--:--" : siteTime(ts));
  if (e.ts) time.dateTime = e.ts;
  li.className = `ev ev-${eventTone(e.kind)}`;
  li.dataset.kind = e.kind || "";
  li.dataset.eventId = String(e.id ?? "");
  li.append(time, el("span", "ev-kind", kindLabel(e.kind)), noTranslate(el("span", "ev-loc", locationLabel(e))));
  const detail = eventDetail(e);
  if (detail) li.append(noTranslate(el("span", "ev-data", detail)));
  return li;
}

function renderTicker() {
  pendingEvents.length = 0;
  ticker.replaceChildren(...state.events.map(eventItem));
  $("event-empty").hidden = state.events.length > 0;
}

function addEvent(e) {
  if (!e || typeof e !== "object") return;
  const key = eventKey(e);
  if (state.events.some((x) => eventKey(x) === key)) return;
  state.events.unshift(e);
  if (state.events.length > TICKER_MAX) state.events.length = TICKER_MAX;
  pendingEvents.push(e);
  if (pendingEvents.length > TICKER_MAX) pendingEvents.splice(0, pendingEvents.length - TICKER_MAX);
  invalidate("ticker");
}

/** The events that came since the last frame, prepended in one go. */
function flushTicker() {
  if (!pendingEvents.length) return;
  const frag = document.createDocumentFragment();
  for (let i = pendingEvents.length - 1; i >= 0; i -= 1) {
    const li = eventItem(pendingEvents[i]);
    li.classList.add("is-new");
    frag.append(li);
  }
  pendingEvents.length = 0;
  ticker.prepend(frag);
  while (ticker.children.length > TICKER_MAX) ticker.lastElementChild.remove();
  $("event-empty").hidden = true;
}

// ---------------------------------------------------------------- sound

/** A mono 16-bit PCM WAV of `seconds`, sample by sample from fn(t) in -1..1, as a Blob URL. */
function wavUrl(seconds, fn, rate = 22050) {
  const n = Math.round(seconds * rate);
  const buf = new ArrayBuffer(44 + n * 2);
  const v = new DataView(buf);
  const str = (o, s) => [...s].forEach((c, i) => v.setUint8(o + i, c.charCodeAt(0)));
  str(0, "RIFF");
  v.setUint32(4, 36 + n * 2, true);
  str(8, "WAVE");
  str(12, "fmt ");
  v.setUint32(16, 16, true);
  v.setUint16(20, 1, true); // PCM
  v.setUint16(22, 1, true); // mono
  v.setUint32(24, rate, true);
  v.setUint32(28, rate * 2, true);
  v.setUint16(32, 2, true);
  v.setUint16(34, 16, true);
  str(36, "data");
  v.setUint32(40, n * 2, true);
  for (let i = 0; i < n; i += 1) {
    const s = Math.max(-1, Math.min(1, fn(i / rate)));
    v.setInt16(44 + i * 2, Math.round(s * 32767), true);
  }
  return URL.createObjectURL(new Blob([buf], { type: "audio/wav" }));
}

const TAU = Math.PI * 2;
const env = (x, len, edge = 0.01) => Math.min(1, x / edge, (len - x) / edge); // click-free edges

const SOUNDS = {
  // critical: a two-tone siren (960/770 Hz, 4 Hz) for 1.6 s — unmistakable, loops until acknowledged
  critical: () => wavUrl(1.6, (x) => 0.8 * Math.sin(TAU * (Math.floor(x * 4) % 2 ? 770 : 960) * x) * env(x, 1.6)),
  // major: three quick 880 Hz beeps, then a pause
  major: () => wavUrl(1.2, (x) => {
    const k = Math.floor(x / 0.2);
    const y = x - k * 0.2;
    return k < 3 && y < 0.13 ? 0.6 * Math.sin(TAU * 880 * x) * env(y, 0.13) : 0;
  }),
  // minor: one soft falling chime
  minor: () => wavUrl(0.9, (x) => 0.45 * Math.exp(-4 * x) * Math.sin(TAU * (660 - 120 * x) * x) * env(x, 0.9)),
  probe: () => wavUrl(0.25, () => 0),
};

const sound = {
  pref: storeGet(STORE_SOUND) === "on" ? "on" : "off",
  state: "off", // on | off | blocked
  els: {},
  ready: false,
  gestureArmed: false, // the pointer/key listeners of the blocked state are in place
  looping: null,

  init() {
    for (const name of Object.keys(SOUNDS)) {
      const a = $(`sound-${name}`);
      a.src = SOUNDS[name]();
      this.els[name] = a;
    }
    this.ready = true;
    $("sound-toggle").addEventListener("click", (e) => {
      e.stopPropagation();
      if (this.state === "on") this.disable();
      else this.enable();
    });
    if (this.pref === "on") this.unlock(false);
    else this.setState("off");
  },

  setState(s) {
    this.state = s;
    document.body.dataset.sound = s;
    $("sound-status").dataset.state = s;
    this.paint();
    if (s === "blocked" && !this.gestureArmed) {
      // the first click or key anywhere counts as the enabling gesture (one pair of listeners at a time)
      this.gestureArmed = true;
      const once = () => {
        document.removeEventListener("pointerdown", once, true);
        document.removeEventListener("keydown", once, true);
        this.gestureArmed = false;
        if (this.state === "blocked") this.unlock(true);
      };
      document.addEventListener("pointerdown", once, true);
      document.addEventListener("keydown", once, true);
    }
  },

  paint() {
    const s = this.state;
    setText($("sound-text"), t(`wall.sound.${s}`));
    const btn = $("sound-toggle");
    setText(btn, t(s === "on" ? "wall.sound.disable" : "wall.sound.enable"));
    btn.setAttribute("aria-pressed", String(s === "on"));
    const banner = $("sound-banner");
    banner.hidden = s !== "blocked";
    if (s === "blocked") setText(banner, t("wall.sound.blocked_banner"));
  },

  /** Try to play (a silent probe): it works after a gesture, or with a kiosk's autoplay flag. */
  async unlock(gesture) {
    try {
      const probe = this.els.probe;
      probe.currentTime = 0;
      await probe.play();
      this.setState("on");
      this.sync();
    } catch (err) {
      if (err && err.name === "NotAllowedError") this.setState("blocked");
      else if (gesture) this.setState("on");
      else this.setState("blocked");
    }
  },

  enable() {
    this.pref = "on";
    storeSet(STORE_SOUND, "on");
    this.unlock(true);
  },

  disable() {
    this.pref = "off";
    storeSet(STORE_SOUND, "off");
    this.stopAll();
    this.setState("off");
  },

  stopAll() {
    for (const name of ["critical", "major", "minor"]) {
      const a = this.els[name];
      if (!a) continue;
      a.loop = false;
      a.pause();
      a.currentTime = 0;
    }
    this.looping = null;
  },

  play(a, loop) {
    a.loop = loop;
    if (!loop) a.currentTime = 0;
    const p = a.play();
    if (p && p.catch) {
      p.catch((err) => {
        if (err && err.name === "NotAllowedError" && this.state === "on") this.setState("blocked");
      });
    }
  },

  channel(a) {
    const sev = sevOf(a);
    return sev === "critical" ? "critical" : sev === "major" ? "major" : "minor";
  },

  /** Urgent alarms (isUrgent: fire.alarm, critical) sound until acknowledged; the loudest decides. */
  sync() {
    if (!this.ready) return;
    let loopSev = null;
    for (const a of state.sorted) {
      if (!isUrgent(a)) continue;
      const ch = this.channel(a);
      if (!loopSev || SEVERITY_RANK[ch] < SEVERITY_RANK[loopSev]) loopSev = ch;
    }
    if (this.looping && this.looping !== loopSev) {
      const old = this.els[this.looping];
      old.loop = false;
      old.pause();
      old.currentTime = 0;
      this.looping = null;
    }
    if (!loopSev || this.state !== "on") return;
    const a = this.els[loopSev];
    this.looping = loopSev;
    if (a.paused || !a.loop) this.play(a, true);
  },

  /** Other alarms sound once when they arrive. */
  newAlarm(alarm) {
    if (this.state !== "on") return;
    if (isUrgent(alarm)) return; // the loop takes it
    const ch = this.channel(alarm);
    if (this.looping === ch) return;
    this.play(this.els[ch], false);
  },
};

function syncSound() {
  sound.sync();
}

// ---------------------------------------------------------------- connection status

let connState = "connecting";
let disconnectedAt = null;

function setConn(s) {
  connState = s;
  $("conn-status").dataset.state = s;
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
  for (const r of rows.values()) tickRow(r, n); // only the rows on screen
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

// ---------------------------------------------------------------- WebSocket

let ws = null;
let attempt = 0;
let failedHandshakes = 0;
let reconnectTimer = null;
let resumeOk = true;
let awaitingResume = false;
let leaving = false;
let firstBuild = null;

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
    if (resume) {
      setConn("live");
      sendHeartbeat();
    }
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

async function probeSession() {
  try {
    const res = await fetch(window.location.pathname + window.location.search, {
      method: "GET", credentials: "same-origin", redirect: "manual", cache: "no-store",
    });
    if (res.type === "opaqueredirect" || res.status === 401 || res.status === 403) goLogin();
  } catch {
    /* server unreachable: keep retrying */
  }
}

// ---------------------------------------------------------------- display heartbeat

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

function sendHeartbeat() {
  if (!ws || ws.readyState !== WebSocket.OPEN) return;
  const beat = {
    type: "display.heartbeat",
    display: DISPLAY_ID,
    name: DISPLAY_NAME,
    build: firstBuild || "",
    sound: sound.state,
    last_seq: state.seq ?? 0,
    lag_ms: Math.max(0, Math.round(lagMax)),
    alarms: state.alarms.size,
    page: "wall",
  };
  lagMax = 0;
  try {
    ws.send(JSON.stringify(beat));
  } catch {
    /* the socket is closing; the next connection beats again */
  }
}

// ---------------------------------------------------------------- messages

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
  state.seq = typeof msg.seq === "number" ? msg.seq : null;
  state.stream = msg.stream ?? null;
  setServerTime(msg.server_time);
  resumeOk = true;
  awaitingResume = false;
  renderTicker();
  invalidate("queue", "force", "health");
  setConn("live");
  refetchPlans(); // plans may have changed while we were away
  sendHeartbeat();
}

function handleHello(msg) {
  if (msg.server_time) setServerTime(msg.server_time);
  const build = typeof msg.build === "string" ? msg.build : null;
  if (!build) return;
  if (firstBuild === null) {
    firstBuild = build;
    document.body.dataset.build = build;
  } else if (build !== firstBuild) {
    // The server was upgraded: load the new page (and its new scripts).
    leaving = true;
    const banner = $("stale-banner");
    banner.hidden = false;
    setText(banner, t("wall.reloading"));
    window.location.reload();
  }
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
  if (msg.type === "hello") {
    handleHello(msg);
    return;
  }
  if (msg.type === "snapshot") {
    applySnapshot(msg);
    return;
  }
  if (state.seq === null) return; // no baseline yet: wait for the snapshot
  if (typeof msg.seq === "number") {
    if (msg.seq <= state.seq) return; // already applied (duplicate / replay)
    if (msg.seq !== state.seq + 1) {
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
    upsertAlarm(data, msg.type);
    refetchKpis(); // today's figures follow the alarms (at most every KPI_SOON_MS), not only the minute timer
  } else if (msg.type === "task.updated") {
    upsertTask(data);
    refetchKpis();
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
  }
}

// ---------------------------------------------------------------- start

function rerenderAll() {
  rowHeight = 0; // text widths change with the language
  invalidate("queue", "force", "plan", "health", "kpis");
  renderTicker();
  planView.setLang();
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
    rowHeight = 0;
    invalidate("queue");
  }).observe(wrap);
  window.addEventListener("online", () => {
    if (!ws && reconnectTimer) {
      attempt = 0;
      connect();
    }
  });
  setInterval(sendHeartbeat, HEARTBEAT_MS);
  fetchPlans();
  fetchKpis();
  setInterval(fetchKpis, KPI_EVERY_MS);
  connect();
}

start();
