// MCC operator console (/console): the shell (hash router, keyboard, status strip, live socket) and
// the task view (#tasks): the open tasks on the left, the selected task's panel on the right (steps,
// dispatch, comments, log, close). The other views live in their own modules: #alarms
// (console-alarms.js), #history (console-history.js), #devices and #device/<site>/<id>
// (console-device.js). Live from /ws; writes through a retrying queue.
import { t, initI18n, initLangSwitch, onLangChange } from "./i18n.js";
import {
  $, el, setText, button, loc, placeLabel, siteTime, countdown, tickCountdowns, now, api, newActionId,
  ActionQueue, syncText, syncKey, LiveSocket, coalesce, ApiError, answerText, fieldLabel, fileButton, uploadable,
} from "./api.js";
import { typing, anyDialogOpen, openDialog, h, site, tn, word } from "./console-util.js";
import { createAlarmsView } from "./console-alarms.js";
import { createHistoryView } from "./console-history.js";
import { createDevicesView, createDeviceView } from "./console-device.js";
import { createStatusStrip } from "./console-status.js";

const state = {
  tasks: new Map(), // id -> summary (open tasks)
  revisions: new Map(), // id -> newest revision seen
  selectedId: null, // the keyboard cursor in the list
  openId: null, // the task in the panel
  detail: null,
  proposals: [],
  error: null,
  conn: "connecting",
  seq: null,
};
const pending = new Set();
const queue = new ActionQueue(renderSync);
const listItems = new Map(); // task id -> {li, btn, ...}
const stepItems = new Map(); // step id -> {li, ...}
const inputs = new Map(); // persistent inputs of step controls

// ---------------------------------------------------------------- status, errors, writes

function renderConn() {
  $("conn-status").dataset.state = state.conn;
  document.body.dataset.conn = state.conn;
  setText($("conn-text"), t("conn." + state.conn));
}

function renderSync(s = queue.state()) {
  $("sync-status").dataset.state = syncKey(s);
  setText($("sync-text"), syncText(s));
}

function showError(err) {
  if (err instanceof ApiError) state.error = { raw: err.detail };
  else if (err && err.key) state.error = err;
  else state.error = { raw: String(err && err.message ? err.message : err) };
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
  const keep = new Set();
  list.forEach((task, i) => {
    keep.add(task.id);
    let item = listItems.get(task.id);
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
      listItems.set(task.id, item);
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
    if (ul.children[i] !== item.li) ul.insertBefore(item.li, ul.children[i] || null);
  });
  for (const [id, item] of listItems) {
    if (!keep.has(id)) {
      item.li.remove();
      listItems.delete(id);
    }
  }
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
    for (const item of stepItems.values()) item.li.remove();
    stepItems.clear();
    inputs.clear();
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

function textInput(id, multiline) {
  let node = inputs.get(id);
  if (!node) {
    node = el(multiline ? "textarea" : "input", "text-in");
    if (multiline) node.rows = 2;
    else node.type = "text";
    node.id = id;
    inputs.set(id, node);
  }
  return node;
}

function labelled(id, text, control) {
  const label = el("label", "", text);
  label.htmlFor = id;
  const box = el("div", "field-in");
  box.append(label, control);
  return box;
}

function stepControls(step) {
  const busy = pending.has(`step-${step.id}`) || pending.has(`photo-${step.id}`);
  const out = [];
  const b = (text, value, cls = "") => {
    const node = button(text, () => answer(step, value), "btn " + cls);
    node.disabled = busy;
    out.push(node);
  };
  if (step.completed_by === "arrival") out.push(el("p", "muted", t("step.arrival_hint")));
  else if (step.completed_by === "alarm_clear") out.push(el("p", "muted", t("step.clear_hint")));
  else if (step.type === "check") b(t("step.do_check"), null, "primary");
  else if (step.type === "yes_no") {
    b(t("answer.yes"), "yes", "danger");
    b(t("answer.no"), "no", "primary");
  } else if (step.type === "choice") {
    for (const c of step.choices || []) b(loc(c.text), c.code);
  } else if (step.type === "approval") b(t("step.approve"), null, "primary");
  else if (step.type === "dispatch") out.push(el("p", "muted", t("step.dispatch_hint")));
  else if (step.type === "text" || step.type === "call_record") {
    const fields = step.type === "text" ? [null] : step.fields || [];
    const nodes = fields.map((f) => {
      const id = `in-${step.id}-${f || "text"}`;
      const node = textInput(id, step.type === "text");
      out.push(labelled(id, f ? fieldLabel(f) : t("step.text_label"), node));
      return [f, node];
    });
    const send = button(t("step.submit"), () => {
      if (step.type === "text") {
        const v = nodes[0][1].value.trim();
        if (!v) return showError({ key: "step.need_text" });
        return answer(step, v);
      }
      return answer(step, Object.fromEntries(nodes.map(([f, n]) => [f, n.value.trim()])));
    }, "btn primary");
    send.disabled = busy;
    out.push(send);
  } else if (step.type === "photo") {
    out.push(fileButton(`file-${step.id}`, t("step.photo"), "btn", busy, (file) => uploadPhoto(step, file)));
  }
  return out;
}

/** A done step's answer: what a person typed (text, call record) or a guard's name is site data. */
function answerNodes(s) {
  if (s.actor === "deadline" || s.completed_by) return [word(answerText(s))];
  if (s.type === "text") return [site(s.answer ?? "")];
  if (s.type === "dispatch" && s.answer && s.answer.guard) return tn("answer.dispatched", { guard: s.answer.guard });
  if (s.type === "call_record" && s.answer && typeof s.answer === "object") {
    const out = [];
    Object.entries(s.answer).forEach(([k, v], i) => {
      if (i) out.push(word("; "));
      out.push(word(`${fieldLabel(k)}: `), site(v));
    });
    return out;
  }
  return [word(answerText(s))];
}

function renderSteps(d) {
  const ol = $("step-list");
  const keep = new Set();
  const open = d.state === "open";
  const stamp = [...pending].join(",") + "|" + document.documentElement.lang + "|" + open;
  (d.steps || []).forEach((s, i) => {
    keep.add(s.id);
    let item = stepItems.get(s.id);
    if (!item) {
      const li = el("li", "step");
      const head = el("div", "s-head");
      const text = el("span", "s-text");
      const role = el("span", "badge role");
      const status = el("span", "badge status");
      head.append(text, role, status);
      const meta = el("p", "s-meta");
      const controls = el("div", "s-controls");
      li.append(head, meta, controls);
      item = { li, text, role, status, meta, controls, sig: null };
      stepItems.set(s.id, item);
    }
    item.li.dataset.status = s.status;
    setText(item.text, loc(s.text) + (s.required ? "" : ` (${t("step.optional")})`));
    setText(item.role, t("role." + s.role));
    setText(item.status, t("status." + s.status));
    item.status.dataset.status = s.status;
    item.meta.replaceChildren();
    if (s.status === "done") {
      item.meta.append(...tn("step.done_by", { actor: s.actor || "", time: word(siteTime(s.done_at)) }), " · ", ...answerNodes(s));
    } else if (s.status === "open" && s.due_at) {
      item.meta.append(t("step.due_at", { time: siteTime(s.due_at) }), " ", countdown(s.due_at));
      if (s.rounds) item.meta.append(" · ", ...tn("step.rounds", { n: s.rounds, actor: s.actor || "", time: word(siteTime(s.done_at)) }));
      if (s.deadline_fired) item.meta.append(" · ", t("step.deadline_fired"));
    }
    item.meta.hidden = !item.meta.childNodes.length;
    const sig = `${s.status}|${stamp}`;
    if (item.sig !== sig) {
      item.sig = sig;
      item.controls.replaceChildren(...(s.status === "open" && open ? stepControls(s) : []));
    }
    if (ol.children[i] !== item.li) ol.insertBefore(item.li, ol.children[i] || null);
  });
  for (const [id, item] of stepItems) {
    if (!keep.has(id)) {
      item.li.remove();
      stepItems.delete(id);
    }
  }
}

function distanceText(p) {
  const d = Number(p.distance);
  if (d === 0) return t("dist.zone");
  if (d === 1) return t("dist.floor");
  if (d >= 1000) return t("dist.unknown");
  if (d >= 500) return t("dist.building");
  if (d === 100) return t("dist.same_building");
  return t("dist.floors", { n: d - 2 });
}

function renderProposals() {
  const d = state.detail;
  const open = !!d && d.state === "open";
  const busy = pending.has("dispatch");
  $("dispatch-nearest").disabled = !open || busy;
  const items = state.proposals.map((p) => {
    const li = el("li", "proposal");
    const text = el("span");
    text.append(site(p.guard));
    if (p.place && p.place !== "?") text.append(" · ", site(p.place));
    text.append(" · ", distanceText(p));
    if (p.tried) text.append(" · ", t("dispatch.tried"));
    li.append(text);
    const b = button("", () => dispatch(p.guard), "btn small");
    b.append(...tn("dispatch.send", { guard: p.guard }));
    b.disabled = !open || busy;
    li.append(b);
    return li;
  });
  $("proposal-list").replaceChildren(...items);
  $("proposals-empty").hidden = items.length > 0;
}

function renderDispatches(d) {
  const items = (d.dispatches || []).slice().reverse().map((x) => {
    const li = el("li", "dispatch");
    li.dataset.state = x.state;
    li.append(site(x.guard, "d-guard"), el("span", "badge dstate", t("dstate." + x.state)),
      el("span", "muted", t("dispatch.assigned_at", { time: siteTime(x.assigned_at) })));
    if (x.state === "assigned" && x.accept_due_at) li.append(el("span", "muted", t("dispatch.accept_by")), countdown(x.accept_due_at));
    if (x.report) li.append(h("span", { class: "d-report" }, tn("dispatch.report", { text: x.report })));
    return li;
  });
  $("dispatch-list").replaceChildren(...items);
  $("dispatches-empty").hidden = items.length > 0;
}

/** A log entry's detail as nodes: catalogue words translatable, what people wrote and names as site data. */
function logDetail(e, d) {
  const data = e.data || {};
  const said = (text) => (text ? [site(text)] : []);
  if (e.action === "answer") {
    if (data.by) return [word(t("log.by." + data.by))];
    const step = (d.steps || []).find((s) => s.id === e.step);
    return step ? answerNodes({ ...step, answer: data.value, actor: e.actor }) : said(JSON.stringify(data.value ?? ""));
  }
  if (e.action === "comment") return said(data.text);
  if (e.action === "dispatch") return said(data.guard);
  if (e.action === "close") return said(data.reason);
  if (e.action === "reported" || e.action === "declined") return said(data.text || data.reason);
  if (e.action === "notified") return [site(data.target || ""), word(` ${data.delivered ? "✓" : "✗"}`)];
  if (e.action === "dispatch_expired") return said(data.guard);
  if (e.action === "deadline") return data.effect ? [word(t("log.effect." + data.effect))] : [];
  return [];
}

function renderLog(d) {
  const steps = new Map((d.steps || []).map((s) => [s.id, s]));
  const rows = (d.log || []).slice().reverse().map((e) => {
    const tr = el("tr");
    const key = "log." + e.action;
    const action = t(key) === key ? e.action : t(key);
    const step = e.step && steps.get(e.step) ? loc(steps.get(e.step).text) : e.step || "";
    tr.append(el("td", "num", siteTime(e.at)), h("td", {}, site(e.actor)), el("td", "", action),
      el("td", "l-step", step), h("td", {}, logDetail(e, d)));
    return tr;
  });
  $("log-rows").replaceChildren(...rows);
}

function renderPhotos(d) {
  const ul = $("photo-list");
  const want = (d.evidence || []).map((e) => String(e.id)).join(",");
  if (ul.dataset.ids !== want) {
    ul.dataset.ids = want;
    ul.replaceChildren(...(d.evidence || []).map((e) => {
      const li = el("li");
      const img = el("img");
      img.src = e.url;
      img.alt = t("photos.alt", { id: e.id, who: e.uploaded_by || "" });
      li.append(img, h("span", { class: "muted" }, site(e.uploaded_by || ""), " ", siteTime(e.uploaded_at)));
      return li;
    }));
  }
  $("photos-empty").hidden = (d.evidence || []).length > 0;
}

function renderPanel() {
  const d = state.detail;
  $("panel-empty").hidden = state.openId !== null;
  $("panel-body").hidden = state.openId === null;
  if (!d || d.id !== state.openId) {
    setText($("panel-heading"), state.openId === null ? "" : t("console.loading"));
    return;
  }
  setText($("panel-heading"), `${loc(d.title)} #${d.id}`);
  $("panel-drill").hidden = !d.drill;
  setText($("panel-state"), t("task.state." + d.state));
  $("panel-state").dataset.state = d.state;
  $("fact-location").setAttribute("translate", "no"); // a place: site data
  setText($("fact-location"), placeLabel(d.location) || "—");
  setText($("fact-alarm"), d.alarm_id == null ? "—" : `#${d.alarm_id}`);
  setText($("fact-opened"), siteTime(d.opened_at, true));
  $("fact-assignee").replaceChildren(...(d.assignee ? [site(d.assignee), word(` · ${t("dstate." + d.dispatch_state)}`)] : [word("—")]));
  const closed = d.state !== "open";
  $("panel-closed").hidden = !closed;
  if (closed) {
    const parts = [...tn("panel.closed_by", { user: d.closed_by || "", time: word(siteTime(d.closed_at, true)) })];
    if (d.close_reason) parts.push(word(" · "), ...tn("panel.close_reason", { reason: d.close_reason }));
    if (d.score) parts.push(word(" · " + t("panel.score", d.score)));
    $("panel-closed").replaceChildren(...parts);
  }
  renderSteps(d);
  renderDispatches(d);
  renderProposals();
  renderLog(d);
  renderPhotos(d);
  setText($("close-condition"), d.close_condition ? t("close.condition", { text: loc(d.close_condition) }) : "");
  for (const id of ["comment-add", "close-btn", "close-reason", "comment-text"]) $(id).disabled = closed;
  $("comment-add").disabled = closed || pending.has("comment");
  $("close-btn").disabled = closed || pending.has("close");
  tickCountdowns($("panel-body"));
}

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
};
const NAV = ["tasks", "alarms", "history", "devices"]; // keys 1–4
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

const SHORTCUTS = [
  ["1 – 4", "con.keys.views"],
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

function renderShortcuts() {
  $("keys-rows").replaceChildren(...SHORTCUTS.map(([keys, label]) =>
    h("tr", {}, h("td", {}, h("kbd", {}, keys)), h("td", {}, t(label)))));
}

function showShortcuts() {
  renderShortcuts();
  openDialog($("keys-dialog"));
}

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
  if (["1", "2", "3", "4"].includes(key)) go(NAV[Number(key) - 1]);
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
    state.seq = typeof msg.seq === "number" ? msg.seq : null;
    for (const s of msg.tasks || []) upsertTask(s);
    refreshList();
    if (state.openId !== null) {
      refreshDetail();
      refreshProposals();
    }
    return;
  }
  if (typeof msg.seq === "number" && state.seq !== null) {
    if (msg.seq <= state.seq) return;
    const gap = msg.seq !== state.seq + 1;
    state.seq = msg.seq;
    if (gap) {
      // missed something: read everything again (cheap: one list and one task, the alarm queue)
      refreshList();
      if (state.openId !== null) refreshDetail();
      views.alarms.resync();
    }
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
  for (const item of stepItems.values()) item.sig = null;
  $("photo-list").dataset.ids = "";
  renderConn();
  renderSync();
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
