// The wall's alarm queue: by priority then age, keyed rows that are reused (never rebuilt), only the
// rows that fit drawn, with "N more" below; each row's age and SOP countdown tick every second.
import { t, kindLabel, severityLabel, formatDuration } from "./i18n.js";
import { loc, now, parseTime } from "./api.js";
import {
  $, el, noTranslate, setText, state, locationLabel, locationDetail, rankOf, sevOf, isUrgent, isShelved, siteName,
} from "./wall-state.js";
import { keyedList } from "./dom.js";

const MAX_ROWS_DEFAULT = 30;

const tbody = $("alarm-rows");
const wrap = $("alarm-wrap");
const rows = new Map(); // alarm id -> row record (only the rows in the DOM)
let capacity = MAX_ROWS_DEFAULT; // rows that fit above the "+N more" line
let capacityAll = MAX_ROWS_DEFAULT; // rows that fit when there is no "+N more" line
let rowHeight = 0; // measured once per layout (resize / language), 0 = measure again

/** Measure the rows again before the next draw (the layout or the language changed). */
export function remeasure() {
  rowHeight = 0;
}

/** Tick the age and countdown of the rows on screen. */
export function tickRows(nowMs) {
  for (const r of rows.values()) tickRow(r, nowMs);
}

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
  // A group wall says which site each alarm is from, first: the queue ranks all sites together.
  const site = siteName(a);
  const place = site ? `${site} · ${locationLabel(a)}` : locationLabel(a);
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

export function renderQueue(force = false) {
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
  keyedList(tbody, rows, shown, {
    key: (a) => a.id,
    node: (r) => r.tr,
    draw(a, r) {
      if (!r) r = createRow(a);
      const task = taskOf(a);
      if (force || r.alarm !== a || r.task !== task) fillRow(r, a, task);
      return r;
    },
  });
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

