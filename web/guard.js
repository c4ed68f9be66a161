// MCC guard page (/guard): a guard's phone. Shift, checkpoint scans, the dispatch flow and the
// guard's steps of a task. Writes go through a retrying queue with action ids; /ws triggers re-reads.
import { t, initI18n, initLangSwitch, onLangChange } from "./i18n.js";
import {
  $, el, setText, button, loc, placeLabel, siteTime, countdown, tickCountdowns, api, newActionId,
  ActionQueue, syncText, syncKey, LiveSocket, coalesce, ApiError, answerText, fieldLabel, fileButton, uploadable,
} from "./api.js";

const state = {
  me: null, // GET /api/guard/me
  tasks: [], // GET /api/tasks?state=open (a guard gets the tasks they were sent to)
  openTaskId: null,
  detail: null, // GET /api/tasks/{openTaskId}
  error: null, // {raw} from the server, or {key, params}
  conn: "connecting",
};
const pending = new Set(); // keys of writes in the queue (their buttons are disabled meanwhile)
const queue = new ActionQueue(renderSync);
const cards = new Map(); // item key -> card parts
const stepItems = new Map(); // step id -> step parts
const inputs = new Map(); // persistent text inputs (keep what the guard typed across re-renders)

// ---------------------------------------------------------------- errors and the queue indicator

function showError(err) {
  if (err instanceof ApiError) state.error = { raw: err.detail };
  else if (err && err.key) state.error = err;
  else state.error = { raw: String(err && err.message ? err.message : err) };
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

function renderSync(s = queue.state()) {
  const box = $("sync-status");
  box.dataset.state = syncKey(s);
  setText($("sync-text"), syncText(s));
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
    const [me, tasks] = await Promise.all([api("GET", "/api/guard/me"), api("GET", "/api/tasks?state=open")]);
    state.me = me;
    state.tasks = Array.isArray(tasks) ? tasks : [];
    pickOpenTask();
    state.detail = state.openTaskId ? await loadDetail(state.openTaskId) : null;
  } catch (err) {
    if (!(err instanceof ApiError)) setTimeout(refresh, 3000); // offline: read again later
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
  write("shift", () => api("POST", "/api/guard/shift", { json: { on } }), (me) => {
    state.me = me;
  });
}

function submitScan(ev) {
  ev.preventDefault();
  const code = $("loc-code").value.trim();
  if (!code) {
    showError({ key: "guard.need_code" });
    $("loc-code").focus();
    return;
  }
  write("scan", () => api("POST", "/api/guard/scan", { json: { code } }), (me) => {
    state.me = me;
    $("loc-code").value = "";
  });
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
  write(key, () => api("POST", `/api/dispatches/${d.id}/${action}`, { json: body }), (me) => {
    state.me = me;
    if (action === "arrive") $("loc-code").value = "";
    if (action === "report") inputs.get(`report-${d.id}`).value = "";
  });
}

function answerStep(taskId, stepId, value) {
  const action_id = newActionId(); // made once: every retry of this answer carries the same id
  const key = `step-${taskId}-${stepId}`;
  write(key, () => api("POST", `/api/tasks/${taskId}/steps/${stepId}`, { json: { value, action_id } }), (detail) => {
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
  write(key, () => api("POST", `/api/tasks/${taskId}/photos?${params}`, { body: file, contentType: type }), (detail) => {
    if (state.openTaskId === taskId) state.detail = detail;
  });
}

// ---------------------------------------------------------------- rendering: the task list

function dispatchStateText(s) {
  return s ? t("dstate." + s) : "";
}

function createCard(item) {
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
  const card = { li, title, drill, where, status, stepText, due, hint, actions, report, sig: null };
  cards.set(item.key, card);
  return card;
}

function reportBox(d) {
  const id = `report-${d.id}`;
  let area = inputs.get(id);
  if (!area) {
    area = el("textarea", "text-in");
    area.id = id;
    area.rows = 3;
    inputs.set(id, area);
  }
  const label = el("label", "", t("guard.report_text"));
  label.htmlFor = id;
  return [label, area];
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
  const ul = $("task-list");
  const keep = new Set();
  list.forEach((item, i) => {
    keep.add(item.key);
    if (!cards.has(item.key) && item.dispatch && item.dispatch.state === "assigned" && navigator.vibrate) {
      navigator.vibrate([300, 150, 300]); // a new dispatch: buzz the phone in the pocket
    }
    const card = cards.get(item.key) || createCard(item);
    fillCard(card, item);
    if (ul.children[i] !== card.li) ul.insertBefore(card.li, ul.children[i] || null);
  });
  for (const [key, card] of cards) {
    if (!keep.has(key)) {
      card.li.remove();
      cards.delete(key);
    }
  }
  $("tasks-empty").hidden = list.length > 0;
}

// ---------------------------------------------------------------- rendering: the open task's steps

function textInput(id, multiline) {
  let node = inputs.get(id);
  if (!node) {
    node = el(multiline ? "textarea" : "input", "text-in");
    if (!multiline) node.type = "text";
    else node.rows = 3;
    node.id = id;
    inputs.set(id, node);
  }
  return node;
}

function labelFor(id, text) {
  const label = el("label", "", text);
  label.htmlFor = id;
  return label;
}

function stepControls(taskId, step, canAct) {
  const key = `step-${taskId}-${step.id}`;
  const busy = pending.has(key);
  const out = [];
  const b = (text, value, cls = "") => {
    const node = button(text, () => answerStep(taskId, step.id, value), "btn big " + cls);
    node.disabled = busy || !canAct;
    out.push(node);
  };
  if (step.status === "open") {
    if (step.completed_by === "arrival") out.push(el("p", "muted", t("guard.arrival_auto")));
    else if (step.completed_by === "alarm_clear") out.push(el("p", "muted", t("guard.clear_auto")));
    else if (step.type === "check") b(t("step.do_check"), null, "primary");
    else if (step.type === "yes_no") {
      b(t("answer.yes"), "yes", "danger");
      b(t("answer.no"), "no", "primary");
    } else if (step.type === "choice") {
      for (const c of step.choices || []) b(loc(c.text), c.code);
    } else if (step.type === "text") {
      const id = `text-${taskId}-${step.id}`;
      const area = textInput(id, true);
      out.push(labelFor(id, t("step.text_label")), area);
      const send = button(t("step.submit"), () => {
        if (!area.value.trim()) {
          showError({ key: "step.need_text" });
          return;
        }
        answerStep(taskId, step.id, area.value.trim());
      }, "btn big primary");
      send.disabled = busy || !canAct;
      out.push(send);
    } else if (step.type === "call_record") {
      const fields = {};
      for (const f of step.fields || []) {
        const id = `field-${taskId}-${step.id}-${f}`;
        fields[f] = textInput(id, false);
        out.push(labelFor(id, fieldLabel(f)), fields[f]);
      }
      const send = button(t("step.submit"), () => {
        const value = Object.fromEntries(Object.entries(fields).map(([k, n]) => [k, n.value.trim()]));
        answerStep(taskId, step.id, value);
      }, "btn big primary");
      send.disabled = busy || !canAct;
      out.push(send);
    }
  }
  const wantsPhoto = step.type === "photo" || (step.evidence || []).includes("photo");
  if (wantsPhoto && (step.status === "open" || step.status === "done")) {
    const id = `photo-${taskId}-${step.id}`;
    const disabled = !canAct || pending.has(`photo-${taskId}-${step.id}`);
    out.push(fileButton(id, t("guard.photo"), "btn big", disabled, (file) => uploadPhoto(taskId, step.id, file), "environment"));
  }
  if (step.status === "open" && !canAct && step.completed_by !== "arrival") {
    out.push(el("p", "muted", t("guard.act_after_accept")));
  }
  return out;
}

function renderDetail() {
  const section = $("detail");
  const d = state.detail;
  if (!d || d.id !== state.openTaskId) {
    section.hidden = true;
    return;
  }
  section.hidden = false;
  setText($("detail-heading"), `${loc(d.title)} #${d.id}${d.drill ? " · " + t("task.drill") : ""}`);
  setText($("detail-loc"), placeLabel(d.location));
  const mine = myDispatch(d);
  const canAct = !!mine && ["accepted", "en_route", "on_scene", "reported"].includes(mine.state) && d.state === "open";
  const steps = (d.steps || []).filter((s) => s.role === "guard" && (s.status === "open" || s.status === "done"));
  const ol = $("step-list");
  const keep = new Set();
  const pendingKeys = [...pending].join(",");
  steps.forEach((s, i) => {
    keep.add(s.id);
    let item = stepItems.get(s.id);
    if (!item) {
      const li = el("li", "step");
      const text = el("p", "s-text");
      const meta = el("p", "s-meta");
      const controls = el("div", "s-controls");
      li.append(text, meta, controls);
      item = { li, text, meta, controls, sig: null };
      stepItems.set(s.id, item);
    }
    item.li.dataset.status = s.status;
    setText(item.text, loc(s.text));
    const metaParts = [t("status." + s.status)];
    if (s.status === "done") metaParts.push(answerText(s), t("step.done_by", { actor: s.actor || "", time: siteTime(s.done_at) }));
    setText(item.meta, metaParts.join(" · "));
    if (s.status === "open" && s.due_at) item.meta.append(" ", countdown(s.due_at));
    const sig = [d.id, s.status, canAct, pendingKeys, document.documentElement.lang].join("|");
    if (item.sig !== sig) {
      item.sig = sig;
      item.controls.replaceChildren(...stepControls(d.id, s, canAct));
    }
    if (ol.children[i] !== item.li) ol.insertBefore(item.li, ol.children[i] || null);
  });
  for (const [id, item] of stepItems) {
    if (!keep.has(id)) {
      item.li.remove();
      stepItems.delete(id);
    }
  }
  $("steps-empty").hidden = steps.length > 0;
  renderPhotos(d);
}

function renderPhotos(d) {
  const ul = $("photo-list");
  const have = new Set([...ul.children].map((li) => li.dataset.id));
  const want = (d.evidence || []).map((e) => String(e.id));
  if (want.length === have.size && want.every((id) => have.has(id))) return;
  ul.replaceChildren(...(d.evidence || []).map((e) => {
    const li = el("li", "photo");
    li.dataset.id = String(e.id);
    const img = el("img");
    img.src = e.url;
    // the console's own evidence is a camera's snapshot of the alarm (console/video/linker.py)
    const camera = e.uploaded_by === "system";
    img.alt = camera ? t("guard.snapshot_alt", { time: siteTime(e.uploaded_at) }) : t("guard.photo_alt", { id: e.id });
    img.loading = "lazy";
    li.append(img, el("span", "muted", (camera ? t("guard.snapshot") + " · " : "") + siteTime(e.uploaded_at)));
    return li;
  }));
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
  renderTasks();
  renderDetail();
  tickCountdowns();
}

function rerenderAll() {
  for (const card of cards.values()) card.sig = null;
  for (const item of stepItems.values()) item.sig = null;
  $("photo-list").replaceChildren();
  renderConn();
  renderSync();
  renderError();
  render();
}

// ---------------------------------------------------------------- camera (optional: BarcodeDetector)

let stream = null;

async function startCamera() {
  try {
    const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    const video = $("camera");
    video.srcObject = stream;
    $("camera-box").hidden = false;
    await video.play();
    const look = async () => {
      if (!stream) return;
      try {
        const codes = await detector.detect(video);
        if (codes.length && codes[0].rawValue) {
          $("loc-code").value = codes[0].rawValue;
          stopCamera();
          return;
        }
      } catch {
        /* a frame that is not ready yet */
      }
      setTimeout(look, 250);
    };
    look();
  } catch (err) {
    stopCamera();
    showError({ key: "guard.camera_failed" });
  }
}

function stopCamera() {
  if (stream) for (const track of stream.getTracks()) track.stop();
  stream = null;
  $("camera").srcObject = null;
  $("camera-box").hidden = true;
}

// ---------------------------------------------------------------- start

function start() {
  initI18n();
  initLangSwitch($("lang-switch"));
  onLangChange(rerenderAll);
  $("shift-toggle").addEventListener("click", toggleShift);
  $("scan-form").addEventListener("submit", submitScan);
  if ("BarcodeDetector" in window && navigator.mediaDevices) {
    $("camera-btn").hidden = false;
    $("camera-btn").addEventListener("click", startCamera);
    $("camera-stop").addEventListener("click", stopCamera);
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
      if (msg.type === "snapshot" || msg.type === "task.updated" || msg.type === "guard.updated") refresh();
    },
  });
  socket.start();
  refresh();
  setInterval(tickCountdowns, 1000);
}

start();
