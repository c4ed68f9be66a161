// MCC guard page (/guard): a guard's phone. Shift, patrol rounds and checkpoint scans, the dispatch
// flow and the guard's steps of a task. Writes wait in IndexedDB (a reload or a killed tab loses
// none) and are sent in order, retried with their action ids; /ws triggers re-reads. A service
// worker (/guard-sw.js) keeps the page itself, so it opens without a network.
import { t, initI18n, initLangSwitch, onLangChange } from "./i18n.js";
import {
  $, el, setText, button, loc, placeLabel, siteTime, countdown, tickCountdowns, api, newActionId,
  coalesce, uploadable, errorMessage, ApiError,
} from "./api.js";
import { LiveSocket } from "./live.js";
import { ActionQueue, showSync } from "./action-queue.js";
import { keyedList } from "./dom.js";
import { cameraAvailable, nfcAvailable, startCamera, startNfc, stopCamera } from "./qr-reader.js";
import { createTaskDetail, inputs, labelFor, textInput } from "./guard-steps.js";
import { IdbOutbox } from "./outbox-store.js";
import { checkedValues, nextPoint, renderChecklist, renderOutbox, renderRounds, resetChecklist } from "./guard-rounds.js";

const state = {
  me: null, // GET /api/guard/me
  tasks: [], // GET /api/tasks?state=open (a guard gets the tasks they were sent to)
  rounds: [], // GET /api/guard/rounds
  openTaskId: null,
  detail: null, // GET /api/tasks/{openTaskId}
  error: null, // {raw} from the server, or {key, params}
  conn: "connecting",
};
const pending = new Set(); // keys of writes in the queue (their buttons are disabled meanwhile)
const USER_KEY = "mcc.guard.user";

/** A queued write, sent: a scan with its photo (the photo first, then the scan naming it), or a request. */
async function perform(entry) {
  if (entry.kind === "scan") {
    const body = { ...entry.body };
    if (entry.photo) {
      const kept = await api("POST", "/api/guard/photos", { body: entry.photo, contentType: entry.photo.type || "image/jpeg" });
      body.photo = kept.sha256;
    }
    return api("POST", "/api/guard/scan", { json: body });
  }
  return api(entry.method, entry.path, { json: entry.json, body: entry.body, contentType: entry.contentType });
}

const queue = new ActionQueue((s) => {
  showSync(s);
  renderOutbox(queue ? queue.waiting() : []);
}, {
  perform,
  onDone: (entry, _answer, err) => {
    // A write left over from before a reload: its answer only changes what the page reads.
    if (err) showError(err);
    refresh();
  },
});

/** Keep this guard's unsent writes in their own IndexedDB (the last guard signed in on this phone
 * is remembered, so a page opened offline still finds and shows them). */
function useOutbox(user, confirmed) {
  if (!user || !("indexedDB" in window)) return;
  if (queue.store && queue.store.name === `mcc-outbox-${user}`) {
    if (confirmed) queue.hold(false); // the guard signed in is the one whose writes these are
    return;
  }
  try {
    const before = localStorage.getItem(USER_KEY);
    // Another guard on this phone: the kept answers (their rounds, their tasks) are not this guard's.
    if (before && before !== user && "caches" in window) caches.delete("mcc-guard-reads");
    localStorage.setItem(USER_KEY, user);
  } catch {
    /* private mode: the queue still works for this page's life */
  }
  queue.switchStore(new IdbOutbox(user));
  // Kept writes are sent only once the server says who is signed in (another guard's stay kept).
  queue.hold(!confirmed);
  queue.restore().catch((err) => console.warn("mcc: outbox", err));
}
const cards = new Map(); // item key -> card parts

// ---------------------------------------------------------------- errors and the queue indicator

function showError(err) {
  state.error = errorMessage(err);
  renderError();
}

function clearError() {
  state.error = null;
  renderError();
}

function renderError() {
  const e = state.error;
  setText($("g-error"), e ? (e.key ? t(e.key, e.params) : e.raw) : "");
}


function renderConn() {
  $("conn-status").dataset.state = state.conn;
  document.body.dataset.conn = state.conn;
  setText($("conn-text"), t("conn." + state.conn));
}

/** Queue a write; on success apply its answer, on a 4xx show the server's detail. */
async function write(key, run, apply) {
  pending.add(key);
  render();
  try {
    const result = await queue.push(key, run);
    clearError();
    if (apply) apply(result);
    return true;
  } catch (err) {
    showError(err);
    return false;
  } finally {
    pending.delete(key);
    render();
    refresh();
  }
}

// ---------------------------------------------------------------- reading

const refresh = coalesce(async () => {
  try {
    const [me, tasks, rounds] = await Promise.all([api("GET", "/api/guard/me"), api("GET", "/api/tasks?state=open"),
      api("GET", "/api/guard/rounds")]);
    state.me = me;
    useOutbox(me.username, true);
    state.tasks = Array.isArray(tasks) ? tasks : [];
    state.rounds = Array.isArray(rounds) ? rounds : [];
    pickOpenTask();
    state.detail = state.openTaskId ? await loadDetail(state.openTaskId) : null;
  } catch (err) {
    if (!(err instanceof ApiError) || err.status >= 500) setTimeout(refresh, 3000); // offline: read again later
    console.warn("mcc: refresh failed", err);
  }
  render();
});

async function loadDetail(id) {
  try {
    return await api("GET", `/api/tasks/${id}`);
  } catch (err) {
    if (err instanceof ApiError && (err.status === 403 || err.status === 404)) return null;
    throw err;
  }
}

/** The guard's list: active dispatches, then open tasks they reported on and still hold. */
function items() {
  const me = state.me;
  if (!me) return [];
  const out = (me.dispatches || []).filter((d) => d.task).map((d) => ({ key: `d${d.id}`, dispatch: d, task: d.task }));
  const seen = new Set(out.map((i) => i.task.id));
  for (const task of state.tasks) {
    if (!seen.has(task.id) && task.assignee === me.username) out.push({ key: `t${task.id}`, dispatch: null, task });
  }
  return out;
}

function pickOpenTask() {
  const list = items();
  if (!list.some((i) => i.task.id === state.openTaskId)) state.openTaskId = list.length ? list[0].task.id : null;
}

function myDispatch(detail) {
  if (!detail || !state.me) return null;
  const mine = (detail.dispatches || []).filter((d) => d.guard === state.me.username);
  return mine.length ? mine[mine.length - 1] : null;
}

// ---------------------------------------------------------------- actions

function toggleShift() {
  const on = !(state.me && state.me.on_shift);
  write("shift", { kind: "request", method: "POST", path: "/api/guard/shift", json: { on },
    label: on ? "guard.q_sign_on" : "guard.q_sign_off" }, (me) => {
    state.me = me;
  });
}

function submitScan(ev) {
  if (ev) ev.preventDefault();
  sendScan($("loc-code").value.trim(), "typed");
}

/** A scan, taken now: queued with the phone's time, the checklist of the point scanned next, the
 * note and the photo, and sent when the network lets it (each scan is its own write). */
function sendScan(code, via) {
  if (!code) {
    showError({ key: "guard.need_code" });
    $("loc-code").focus();
    return;
  }
  const next = nextPoint(state.rounds);
  const body = { code, via, scanned_at: new Date().toISOString(), action_id: newActionId() };
  if (next && next.point.checklist && next.point.checklist.length) {
    body.checks = checkedValues(); // the next point's checklist: the server drops it if the scan is another point
    body.checkpoint = next.point.checkpoint;
  }
  const note = $("scan-note").value.trim();
  if (note) body.note = note;
  const photo = $("scan-photo").files[0] || null;
  const entry = { kind: "scan", body, photo, label: "guard.q_scan", taken_at: body.scanned_at };
  $("loc-code").value = "";
  $("scan-note").value = "";
  $("scan-photo").value = "";
  resetChecklist();
  write(`scan-${body.scanned_at}`, entry, (me) => {
    state.me = me;
  });
}

function roundAction(round, action) {
  write(`round-${round.id}`, { kind: "request", method: "POST", path: `/api/guard/rounds/${round.id}/${action}`,
    label: `guard.q_round_${action}` });
}

function dispatchAction(d, action) {
  const body = {};
  if (action === "arrive") {
    body.code = $("loc-code").value.trim();
    if (!body.code) {
      showError({ key: "guard.need_code" });
      $("loc-code").focus();
      return;
    }
  }
  if (action === "report") {
    const box = inputs.get(`report-${d.id}`);
    body.text = box ? box.value.trim() : "";
    if (!body.text) {
      showError({ key: "guard.need_report" });
      if (box) box.focus();
      return;
    }
  }
  const key = `dispatch-${d.id}`;
  write(key, { kind: "request", method: "POST", path: `/api/dispatches/${d.id}/${action}`, json: body,
    label: "guard.q_dispatch" }, (me) => {
    state.me = me;
    if (action === "arrive") $("loc-code").value = "";
    if (action === "report") inputs.get(`report-${d.id}`).value = "";
  });
}

function answerStep(taskId, stepId, value) {
  const action_id = newActionId(); // made once: every retry of this answer carries the same id
  const key = `step-${taskId}-${stepId}`;
  write(key, { kind: "request", method: "POST", path: `/api/tasks/${taskId}/steps/${stepId}`,
    json: { value, action_id }, label: "guard.q_step" }, (detail) => {
    if (state.openTaskId === taskId) state.detail = detail;
  });
}

async function uploadPhoto(taskId, stepId, picked) {
  const file = await uploadable(picked);
  const action_id = newActionId();
  const key = `photo-${taskId}-${stepId}`;
  const params = new URLSearchParams({ action_id });
  if (stepId) params.set("step", stepId);
  const type = file.type || "image/jpeg";
  write(key, { kind: "request", method: "POST", path: `/api/tasks/${taskId}/photos?${params}`, body: file,
    contentType: type, label: "guard.q_photo" }, (detail) => {
    if (state.openTaskId === taskId) state.detail = detail;
  });
}

// ---------------------------------------------------------------- rendering: the task list

function dispatchStateText(s) {
  return s ? t("dstate." + s) : "";
}

function createCard() {
  const li = el("li", "task-card");
  const head = el("div", "t-head");
  const title = el("h3", "t-title");
  const drill = el("span", "badge drill", t("task.drill"));
  head.append(title, drill);
  const where = el("p", "t-loc");
  const status = el("p", "t-state");
  const step = el("p", "t-step");
  const stepText = el("span", "t-step-text");
  const due = countdown(null);
  step.append(stepText, " ", due);
  const hint = el("p", "t-hint muted");
  const actions = el("div", "actions");
  const report = el("div", "report-box");
  li.append(head, where, status, step, hint, actions, report);
  return { li, title, drill, where, status, stepText, due, hint, actions, report, sig: null };
}

function reportBox(d) {
  const id = `report-${d.id}`;
  return [labelFor(id, t("guard.report_text")), textInput(id, true)];
}

function fillCard(card, item) {
  const { task, dispatch } = item;
  const dstate = dispatch ? dispatch.state : task.dispatch_state;
  setText(card.title, loc(task.title));
  card.drill.hidden = !task.drill;
  setText(card.drill, t("task.drill"));
  setText(card.where, placeLabel(task.location));
  setText(card.status, t("guard.state", { state: dispatchStateText(dstate) }));
  card.li.dataset.state = dstate || "";
  card.li.classList.toggle("is-open", task.id === state.openTaskId);
  const cur = task.current_step;
  setText(card.stepText, cur ? t("guard.current_step", { text: loc(cur.text) }) : t("guard.no_step"));
  card.due.dataset.due = cur && cur.due_at ? cur.due_at : "";
  const hintKey = dispatch && ["accepted", "en_route", "assigned"].includes(dstate) ? "guard.arrive_hint"
    : !dispatch ? "guard.reported_note" : "";
  setText(card.hint, hintKey ? t(hintKey) : "");
  card.hint.hidden = !hintKey;

  const busy = dispatch ? pending.has(`dispatch-${dispatch.id}`) : false;
  const sig = [dstate, busy, task.id === state.openTaskId, document.documentElement.lang].join("|");
  if (card.sig === sig) return;
  card.sig = sig;
  const buttons = [];
  const act = (key, action, cls) => {
    const b = button(t(key), () => dispatchAction(dispatch, action), "btn big " + (cls || ""));
    b.disabled = busy;
    buttons.push(b);
  };
  if (dispatch && dstate === "assigned") {
    act("guard.accept", "accept", "primary");
    act("guard.decline", "decline", "danger");
  } else if (dispatch && dstate === "accepted") {
    act("guard.en_route", "en_route", "");
    act("guard.arrive", "arrive", "primary");
  } else if (dispatch && dstate === "en_route") {
    act("guard.arrive", "arrive", "primary");
  }
  if (task.id !== state.openTaskId) {
    buttons.push(button(t("guard.open"), () => {
      state.openTaskId = task.id;
      state.detail = null;
      render();
      refresh();
    }, "btn big"));
  }
  card.actions.replaceChildren(...buttons);
  if (dispatch && dstate === "on_scene") {
    const send = button(t("guard.report"), () => dispatchAction(dispatch, "report"), "btn big primary");
    send.disabled = busy;
    card.report.replaceChildren(...reportBox(dispatch), send);
    card.report.hidden = false;
  } else {
    card.report.replaceChildren();
    card.report.hidden = true;
  }
}

function renderTasks() {
  const list = items();
  keyedList($("task-list"), cards, list, {
    key: (item) => item.key,
    draw(item, card) {
      if (!card && item.dispatch && item.dispatch.state === "assigned" && navigator.vibrate) {
        navigator.vibrate([300, 150, 300]); // a new dispatch: buzz the phone in the pocket
      }
      card = card || createCard();
      fillCard(card, item);
      return card;
    },
  });
  $("tasks-empty").hidden = list.length > 0;
}

// ---------------------------------------------------------------- rendering: the open task

const detail = createTaskDetail({ pending, actions: { answerStep, uploadPhoto, showError } });

function renderDetail() {
  const d = state.detail;
  if (!d || d.id !== state.openTaskId) {
    detail.render(null);
    return;
  }
  const mine = myDispatch(d);
  const canAct = !!mine && ["accepted", "en_route", "on_scene", "reported"].includes(mine.state) && d.state === "open";
  detail.render(d, canAct);
}

function renderShift() {
  const me = state.me;
  setText($("who"), me ? me.username : "");
  setText($("shift-state"), me ? t(me.on_shift ? "guard.on_shift" : "guard.off_shift") : "—");
  $("shift-state").dataset.on = me && me.on_shift ? "true" : "false";
  const toggle = $("shift-toggle");
  setText(toggle, t(me && me.on_shift ? "guard.sign_off" : "guard.sign_on"));
  toggle.disabled = !me || pending.has("shift");
  toggle.classList.toggle("primary", !(me && me.on_shift));
  const place = me && me.place && placeLabel(me.place);
  setText($("place"), place || t("guard.unknown_place"));
  setText($("place-at"), me && me.place_at ? siteTime(me.place_at) : "");
  $("scan-submit").disabled = pending.has("scan");
}

function render() {
  renderShift();
  renderRounds(state.rounds, { pending, start: (r) => roundAction(r, "start"), finish: (r) => roundAction(r, "finish") });
  renderChecklist(nextPoint(state.rounds));
  renderOutbox(queue.waiting());
  renderTasks();
  renderDetail();
  tickCountdowns();
}

function rerenderAll() {
  for (const card of cards.values()) card.sig = null;
  resetChecklist();
  detail.reset();
  renderConn();
  showSync(queue.state());
  renderError();
  render();
}

// ---------------------------------------------------------------- start

function start() {
  initI18n();
  initLangSwitch($("lang-switch"));
  onLangChange(rerenderAll);
  $("shift-toggle").addEventListener("click", toggleShift);
  $("scan-form").addEventListener("submit", submitScan);
  if (cameraAvailable()) {
    $("camera-btn").hidden = false;
    $("camera-btn").addEventListener("click", () => startCamera(sendScan, () => showError({ key: "guard.camera_failed" })));
    $("camera-stop").addEventListener("click", stopCamera);
  }
  if (nfcAvailable()) {
    $("nfc-btn").hidden = false;
    $("nfc-btn").addEventListener("click", () => startNfc(sendScan, () => showError({ key: "guard.nfc_failed" })));
  }
  let remembered = null;
  try {
    remembered = localStorage.getItem(USER_KEY);
  } catch {
    remembered = null;
  }
  if (remembered) useOutbox(remembered, false); // shown at once; sent once the server confirms the guard
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/guard-sw.js", { scope: "/guard" }).catch((err) => console.warn("mcc: sw", err));
    // Once it controls the page, read again through it: the guard's last answers are then kept too.
    navigator.serviceWorker.addEventListener("controllerchange", () => refresh());
  }
  rerenderAll();
  const socket = new LiveSocket({
    onState: (s) => {
      state.conn = s;
      renderConn();
    },
    onMessage: (msg) => {
      // A guard's socket carries only their own messages, so seq has gaps by design: every
      // relevant message just makes the page read again.
      if (["snapshot", "task.updated", "guard.updated", "round.updated"].includes(msg.type)) refresh();
    },
  });
  socket.start();
  refresh();
  setInterval(tickCountdowns, 1000);
}

start();
