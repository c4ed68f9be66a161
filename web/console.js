// MCC operator console (/console): the shell (hash router, keyboard, status strip, live socket) and
// the task view (#tasks): the open tasks on the left, the selected task's panel on the right (steps,
// dispatch, comments, log, close). The other views live in their own modules: #alarms
// (console-alarms.js), #history (console-history.js), #devices and #device/<site>/<id>
// (console-device.js). Live from /ws; writes through a retrying queue.
import { t, initI18n, initLangSwitch, onLangChange } from "./i18n.js";
import {
  $, el, setText, loc, placeLabel, siteTime, countdown, tickCountdowns, now, api, newActionId,
  coalesce, uploadable, errorMessage,
} from "./api.js";
import { LiveSocket } from "./live.js";
import { ActionQueue, showSync } from "./action-queue.js";
import { typing, anyDialogOpen, tn, word, renderShortcuts, showShortcuts } from "./console-util.js";
import { createAlarmsView } from "./console-alarms.js";
import { createHistoryView } from "./console-history.js";
import { createDutyView } from "./console-duty.js";
import { createShiftView } from "./console-shift.js";
import { createRoundsView } from "./console-rounds.js";
import { createDevicesView, createDeviceView } from "./console-device.js";
import { createStatusStrip } from "./console-status.js";
import { createPanel } from "./console-panel.js";
import { keyedList } from "./dom.js";

const state = {
  tasks: new Map(), // id -> summary (open tasks)
  revisions: new Map(), // id -> newest revision seen
  selectedId: null, // the keyboard cursor in the list
  openId: null, // the task in the panel
  detail: null,
  proposals: [],
  error: null,
  conn: "connecting",
};
const pending = new Set();
const queue = new ActionQueue(showSync);
const listItems = new Map(); // task id -> {li, btn, ...}

// ---------------------------------------------------------------- status, errors, writes

function renderConn() {
  $("conn-status").dataset.state = state.conn;
  document.body.dataset.conn = state.conn;
  setText($("conn-text"), t("conn." + state.conn));
}


function showError(err) {
  state.error = errorMessage(err);
  renderError();
}

function renderError() {
  const e = state.error;
  setText($("panel-error"), e ? (e.key ? t(e.key, e.params) : e.raw) : "");
}

/** Queue a write for the open task; its answer (the task's detail) replaces the panel. */
async function write(key, run) {
  const taskId = state.openId;
  pending.add(key);
  renderPanel();
  try {
    const detail = await queue.push(key, run);
    state.error = null;
    renderError();
    if (detail && detail.id === state.openId) state.detail = detail;
    if (detail && detail.id === taskId) upsertTask(detail);
    return true;
  } catch (err) {
    showError(err);
    return false;
  } finally {
    pending.delete(key);
    renderPanel();
    refreshProposals();
  }
}

// ---------------------------------------------------------------- the task list

function sortedTasks() {
  return [...state.tasks.values()].sort((a, b) =>
    (a.severity_rank ?? 9) - (b.severity_rank ?? 9) || String(b.opened_at).localeCompare(String(a.opened_at)) || b.id - a.id);
}

let upserts = 0; // counts socket updates, so a list read can tell which ones came after it
const touchedAt = new Map(); // task id -> value of `upserts` at its last update

function upsertTask(summary) {
  if (!summary || summary.id === undefined) return;
  upserts += 1;
  touchedAt.set(summary.id, upserts);
  const seen = state.revisions.get(summary.id);
  if (typeof summary.revision === "number" && seen !== undefined && summary.revision < seen) return;
  if (typeof summary.revision === "number") state.revisions.set(summary.id, summary.revision);
  if (summary.state === "open") state.tasks.set(summary.id, summary);
  else state.tasks.delete(summary.id);
  renderList();
}

const refreshList = coalesce(async () => {
  const mark = upserts;
  const list = (await api("GET", "/api/tasks?state=open")) || [];
  const fresh = new Map();
  for (const s of list) {
    const seen = state.revisions.get(s.id);
    if (seen !== undefined && s.revision < seen) {
      // the socket already told us something newer (maybe that it closed): keep that
      if (state.tasks.has(s.id)) fresh.set(s.id, state.tasks.get(s.id));
      continue;
    }
    fresh.set(s.id, s);
    state.revisions.set(s.id, s.revision);
  }
  // a task the socket reported while the list was being read is newer than the list
  for (const [id, s] of state.tasks) if (!fresh.has(id) && (touchedAt.get(id) || 0) > mark) fresh.set(id, s);
  state.tasks = fresh;
  renderList();
});

function renderList() {
  const list = sortedTasks();
  const ul = $("task-list");
  keyedList(ul, listItems, list, {
    key: (task) => task.id,
    draw(task, item) {
      if (!item) {
        const li = el("li", "task-item");
        const btn = el("button", "task-btn");
        btn.type = "button";
        const id = task.id;
        btn.addEventListener("click", () => {
          state.selectedId = id;
          openTask(id);
        });
        const title = el("span", "ti-title");
        const drill = el("span", "badge drill");
        const where = el("span", "ti-loc");
        where.setAttribute("translate", "no"); // a place: site data
        const step = el("span", "ti-step");
        const due = countdown(null);
        const guard = el("span", "ti-guard");
        btn.append(title, drill, where, step, due, guard);
        li.append(btn);
        item = { li, btn, title, drill, where, step, due, guard };
      }
      setText(item.title, `${loc(task.title)} #${task.id}`);
      item.drill.hidden = !task.drill;
      setText(item.drill, t("task.drill"));
      setText(item.where, placeLabel(task.location));
      const cur = task.current_step;
      setText(item.step, cur ? loc(cur.text) : t("console.no_step"));
      item.due.dataset.due = cur && cur.due_at ? cur.due_at : "";
      const guardSig = `${task.assignee || ""}|${task.dispatch_state}|${document.documentElement.lang}`;
      if (item.guard.dataset.sig !== guardSig) {
        item.guard.dataset.sig = guardSig;
        item.guard.replaceChildren(...(task.assignee
          ? tn("console.guard_state", { guard: task.assignee, state: word(t("dstate." + task.dispatch_state)) })
          : [word(t("console.no_guard"))]));
      }
      item.li.classList.toggle("is-selected", task.id === state.selectedId);
      item.li.classList.toggle("is-fire", String(task.alarm_kind || "").startsWith("fire."));
      if (task.id === state.openId) item.btn.setAttribute("aria-current", "true");
      else item.btn.removeAttribute("aria-current");
      return item;
    },
  });
  $("list-empty").hidden = list.length > 0;
  setText($("list-count"), list.length ? t("console.count", { n: list.length }) : "");
  tickCountdowns($("task-list"));
}

function moveSelection(delta) {
  const ids = sortedTasks().map((task) => task.id);
  if (!ids.length) return;
  let i = ids.indexOf(state.selectedId);
  i = i < 0 ? (delta > 0 ? 0 : ids.length - 1) : Math.min(ids.length - 1, Math.max(0, i + delta));
  state.selectedId = ids[i];
  renderList();
  const item = listItems.get(state.selectedId);
  if (item) {
    item.btn.focus();
    item.li.scrollIntoView({ block: "nearest" });
  }
}

// ---------------------------------------------------------------- the panel

function openTask(id) {
  if (state.openId !== id) {
    state.openId = id;
    state.detail = null;
    state.proposals = [];
    state.error = null;
    renderError();
    panel.reset();
  }
  renderList();
  renderPanel();
  refreshDetail();
  refreshProposals();
}

const refreshDetail = coalesce(async () => {
  const id = state.openId;
  if (id === null) return;
  const detail = await api("GET", `/api/tasks/${id}`);
  if (state.openId === id) {
    state.detail = detail;
    renderPanel();
  }
});

const refreshProposals = coalesce(async () => {
  const id = state.openId;
  if (id === null || (state.detail && state.detail.state !== "open")) {
    state.proposals = [];
  } else {
    const list = await api("GET", `/api/tasks/${id}/dispatch/proposals`);
    if (state.openId !== id) return;
    state.proposals = Array.isArray(list) ? list : [];
  }
  renderProposals();
});

function answer(step, value) {
  const id = state.openId;
  const action_id = newActionId();
  return write(`step-${step.id}`, () => api("POST", `/api/tasks/${id}/steps/${step.id}`, { json: { value, action_id } }));
}

async function uploadPhoto(step, picked) {
  const id = state.openId;
  const file = await uploadable(picked);
  const params = new URLSearchParams({ action_id: newActionId() });
  if (step) params.set("step", step.id);
  write(`photo-${step ? step.id : ""}`, () => api("POST", `/api/tasks/${id}/photos?${params}`, { body: file, contentType: file.type || "image/jpeg" }));
}

function dispatch(guard) {
  if (state.openId === null || !state.detail || state.detail.state !== "open") return;
  const id = state.openId;
  const action_id = newActionId();
  write("dispatch", () => api("POST", `/api/tasks/${id}/dispatch`, { json: { guard: guard || null, action_id } }));
}

async function addComment() {
  const box = $("comment-text");
  const text = box.value.trim();
  if (!text) {
    showError({ key: "comment.need" });
    box.focus();
    return;
  }
  const id = state.openId;
  const action_id = newActionId();
  if (await write("comment", () => api("POST", `/api/tasks/${id}/comments`, { json: { text, action_id } }))) box.value = "";
}

function closeTask() {
  const id = state.openId;
  const reason = $("close-reason").value.trim() || null;
  const action_id = newActionId();
  write("close", () => api("POST", `/api/tasks/${id}/close`, { json: { reason, action_id } })).then((done) => {
    if (done) $("close-reason").value = "";
  });
}

const panel = createPanel({ state, pending, answer, uploadPhoto, dispatch, showError });
const { renderPanel, renderProposals } = panel;

// ---------------------------------------------------------------- views and routing

const taskView = {
  show(segments) {
    const id = Number(segments && segments[0]);
    if (segments && segments[0] && Number.isFinite(id)) {
      state.selectedId = id;
      openTask(id);
    }
  },
  hide() {},
  focusSearch() {},
  onKey: taskKey,
  onMessage() {},
  rerender() {},
};

const views = {
  tasks: taskView,
  alarms: createAlarmsView({ root: $("view-alarms") }),
  history: createHistoryView({ root: $("view-history") }),
  devices: createDevicesView({ root: $("view-devices") }),
  device: createDeviceView({ root: $("view-device") }),
  duty: createDutyView({ root: $("view-duty") }),
  shift: createShiftView({ root: $("view-shift") }),
  rounds: createRoundsView({ root: $("view-rounds") }),
};
const NAV = ["tasks", "alarms", "history", "devices", "duty", "shift", "rounds"]; // keys 1–7
const status = createStatusStrip();
let current = null;

function route() {
  const raw = window.location.hash.replace(/^#/, "");
  const [path, query] = raw.split("?");
  const segments = path.split("/").map((x) => {
    try {
      return decodeURIComponent(x);
    } catch {
      return x;
    }
  });
  let name = segments[0] || "tasks";
  if (!views[name]) name = "tasks";
  if (current && current !== name) views[current].hide();
  current = name;
  document.body.dataset.view = name;
  for (const key of Object.keys(views)) $("view-" + key).hidden = key !== name;
  const tab = name === "device" ? "devices" : name;
  for (const key of NAV) {
    const link = $("nav-" + key);
    if (key === tab) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  views[name].show(segments.slice(1), new URLSearchParams(query || ""));
}

function go(name) {
  const hash = "#" + name;
  if (window.location.hash === hash) route();
  else window.location.hash = hash;
}

// ---------------------------------------------------------------- keyboard

/** The task view's keys: J/K select, Enter open, C comment, D send the nearest guard, X close. */
function taskKey(ev) {
  const key = ev.key;
  if (key === "j" || key === "ArrowDown") moveSelection(1);
  else if (key === "k" || key === "ArrowUp") moveSelection(-1);
  else if (key === "Enter") {
    if (ev.target instanceof HTMLButtonElement || ev.target instanceof HTMLAnchorElement) return false; // its own click
    if (state.selectedId !== null) openTask(state.selectedId);
  } else if (key === "c" && state.openId !== null) $("comment-text").focus();
  else if (key === "d" && state.openId !== null) {
    if (!ev.repeat) dispatch(null); // a held key sends one guard, not many
  }
  else if (key === "x" && state.openId !== null) $("close-reason").focus();
  else return false;
  return true;
}

function onKey(ev) {
  if (ev.ctrlKey || ev.metaKey || ev.altKey || typing(ev.target) || anyDialogOpen()) return;
  const key = ev.key;
  let done = true;
  if (["1", "2", "3", "4", "5", "6", "7"].includes(key)) go(NAV[Number(key) - 1]);
  else if (key === "?") showShortcuts();
  else if (key === "/") views[current].focusSearch();
  else done = views[current].onKey(ev) === true;
  if (done) ev.preventDefault();
}

// ---------------------------------------------------------------- live

function onMessage(msg) {
  for (const view of Object.values(views)) {
    try {
      view.onMessage(msg);
    } catch (err) {
      console.error(err);
    }
  }
  status.onMessage(msg);
  if (msg.type === "snapshot") {
    // the first one, or a fresh one after a missed change (the socket asked for it): read everything again
    for (const s of msg.tasks || []) upsertTask(s);
    refreshList();
    if (state.openId !== null) {
      refreshDetail();
      refreshProposals();
    }
    return;
  }
  if (msg.type === "task.updated") {
    upsertTask(msg.data);
    if (msg.data && msg.data.id === state.openId) {
      refreshDetail();
      refreshProposals();
    }
  } else if (msg.type === "guard.updated" && state.openId !== null) {
    refreshProposals();
  }
}

function tick() {
  const n = now();
  setText($("clock"), siteTime(n));
  tickCountdowns();
  for (const view of Object.values(views)) if (view.tick) view.tick();
  setTimeout(tick, 1000 - (n % 1000) + 10); // on the (server-corrected) second
}

function rerenderAll() {
  panel.relabel();
  renderConn();
  showSync(queue.state());
  renderError();
  renderList();
  renderPanel();
  renderShortcuts();
  status.rerender();
  for (const view of Object.values(views)) view.rerender();
}

function start() {
  initI18n();
  initLangSwitch($("lang-switch"));
  onLangChange(rerenderAll);
  document.addEventListener("keydown", onKey);
  $("dispatch-nearest").addEventListener("click", () => dispatch(null));
  $("comment-add").addEventListener("click", addComment);
  $("close-btn").addEventListener("click", closeTask);
  window.addEventListener("hashchange", route);
  $("keys-help").addEventListener("click", showShortcuts);
  rerenderAll();
  route();
  status.start();
  new LiveSocket({
    resume: true, // after a drop: what was missed, or a fresh snapshot
    onState: (s) => {
      state.conn = s;
      renderConn();
    },
    onMessage,
  }).start();
  refreshList();
  tick();
}

start();
