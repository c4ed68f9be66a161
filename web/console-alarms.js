// Console view "#alarms": the live alarm queue (priority, then age; ticking ages; filters), the
// selected alarm's details (its floor plan and snapshots: console-alarm-media.js), and acknowledging
// with a comment.
import { t, kindLabel, severityLabel, applyI18n } from "./i18n.js";
import { el, setText, api, coalesce, parseTime, placeLabel, siteTime } from "./api.js";
import {
  h, site, tn, word, deviceLink, subsystemOf, errorText, ageNode, tickAges, openDialog, optionsOf, SUBSYSTEMS, SEVERITIES,
  formField,
} from "./console-util.js";
import { createAlarmMedia } from "./console-alarm-media.js";
import { keyedList } from "./dom.js";

const SEVERITY_RANK = { critical: 1, major: 2, minor: 3, warning: 4 };

function rankOf(a) {
  const r = Number(a.severity_rank);
  return Number.isFinite(r) && r > 0 ? r : SEVERITY_RANK[a.severity] || 9;
}

function compareAlarms(a, b) {
  return rankOf(a) - rankOf(b) || (parseTime(a.raised_at) ?? 0) - (parseTime(b.raised_at) ?? 0) || (Number(a.id) || 0) - (Number(b.id) || 0);
}

const isClosed = (a) => !!(a.acknowledged && a.cleared);
const isShelved = (a) => !!a.shelved_until && (parseTime(a.shelved_until) ?? 0) > Date.now();

function stateKey(a) {
  if (a.cleared && !a.acknowledged) return "cleared_unacked";
  if (a.cleared) return "cleared";
  return a.acknowledged ? "acked" : "unacked";
}

/** The alarm's state as nodes (who acknowledged it is site data). */
function stateNodes(a) {
  const key = stateKey(a);
  if (key === "acked" && a.acked_by) return tn("con.astate.acked_by", { user: a.acked_by });
  return [word(t("con.astate." + key))];
}

/** "#alarms/12" → 12; anything else (no id, "", "x", "0x1") → null. */
function alarmIdOf(param) {
  const raw = Array.isArray(param) ? param[0] : param;
  if (typeof raw !== "string" && typeof raw !== "number") return null;
  const text = String(raw).trim();
  return /^\d+$/.test(text) ? Number(text) : null;
}

export function createAlarmsView({ root }) {
  const state = {
    alarms: new Map(), // id -> alarm view (live ones, and closed ones seen or fetched)
    revisions: new Map(),
    selectedId: null,
    filters: { q: "", subsystem: "", severity: "", state: "live" },
    error: null,
    busy: false,
    visible: false,
  };
  const items = new Map(); // alarm id -> {li, btn, ...}

  // ---------------------------------------------------------------- markup
  const q = h("input", { id: "a-q", type: "search", autocomplete: "off", "data-i18n-attr": "placeholder:con.alarms.q_hint" });
  const subsystem = h("select", { id: "a-subsystem" });
  const severity = h("select", { id: "a-severity" });
  const stateSel = h("select", { id: "a-state" });
  optionsOf(subsystem, [["", "con.filter.all_subsystems"], ...SUBSYSTEMS.map((s) => [s, "con.sub." + s])]);
  optionsOf(severity, [["", "con.filter.all_severities"], ...SEVERITIES.map((s) => [s, "sev." + s])]);
  optionsOf(stateSel, [["live", "con.filter.live"], ["unacked", "con.filter.unacked"], ["acked", "con.filter.acked"], ["cleared", "con.filter.cleared"]]);
  const filters = h("form", { class: "a-filters", role: "search", "data-i18n-attr": "aria-label:con.alarms.filters", onsubmit: (e) => e.preventDefault() },
    formField("a-q", "con.filter.text", q), formField("a-subsystem", "con.filter.subsystem", subsystem),
    formField("a-severity", "con.filter.severity", severity), formField("a-state", "con.filter.state", stateSel));
  const count = h("span", { class: "muted", id: "alarms-count" });
  const list = h("tbody", { id: "alarm-rows" });
  const cols = ["con.alarm.severity", "con.alarms.col_alarm", "con.alarm.location", "con.alarm.state", "con.alarm.age", "con.alarm.count"];
  const table = h("table", { id: "alarm-table", class: "alarm-table", "aria-labelledby": "alarms-heading" },
    h("thead", {}, h("tr", {}, cols.map((key) => h("th", { scope: "col", "data-i18n": key })))), list);
  const empty = h("p", { class: "empty", id: "alarms-empty" });

  const detailEmpty = h("p", { class: "empty", "data-i18n": "con.alarm.pick" });
  const heading = h("h2", { id: "alarm-heading" });
  const sevBadge = h("span", { class: "badge sev" });
  const stateBadge = h("span", { class: "badge astate" });
  const testBadge = h("span", { class: "badge drill", "data-i18n": "alarm.test", hidden: true });
  const shelfBadge = h("span", { class: "badge shelved", "data-i18n": "con.alarm.shelved", hidden: true });
  const ackBtn = h("button", { type: "button", class: "btn primary", id: "ack-open", "data-i18n": "con.ack.open", hidden: true, onclick: () => openAck() });
  const taskLink = h("a", { class: "btn", id: "alarm-task", hidden: true });
  const detailNote = h("p", { class: "empty", id: "alarm-note", hidden: true });
  const error = h("p", { class: "alert", role: "alert" });
  const facts = h("dl", { class: "p-facts a-facts" });
  const media = createAlarmMedia({
    onPlans: () => renderDetail(),
    isCurrent: (a) => state.alarms.get(state.selectedId) === a,
  });
  const planCols = media.node;
  const detailBody = h("div", { class: "panel-body", hidden: true },
    h("div", { class: "p-head" }, heading, sevBadge, stateBadge, testBadge, shelfBadge),
    h("div", { class: "a-actions" }, ackBtn, taskLink),
    error, detailNote, facts, planCols);

  const ackComment = h("textarea", { id: "ack-comment", rows: 3, maxlength: 1000 });
  const ackSummary = h("p", { class: "ack-summary" });
  const ackError = h("p", { class: "alert", role: "alert" });
  const ackSubmit = h("button", { type: "submit", class: "btn primary", "data-i18n": "con.ack.submit" });
  const ackCancel = h("button", { type: "button", class: "btn", "data-i18n": "con.cancel", onclick: () => closeAck() });
  const ackForm = h("form", { method: "dialog", class: "ack-form", onsubmit: (e) => { e.preventDefault(); submitAck(); } },
    ackSummary, h("label", { for: "ack-comment", "data-i18n": "con.ack.comment" }), ackComment,
    h("p", { class: "muted small", "data-i18n": "con.ack.hint" }), ackError,
    h("div", { class: "c-dialog-actions" }, ackSubmit, ackCancel));
  const ackDialog = h("dialog", { id: "ack-dialog", class: "c-dialog", "aria-labelledby": "ack-heading" },
    h("h2", { id: "ack-heading", "data-i18n": "con.ack.heading" }), ackForm);
  ackComment.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      submitAck();
    }
  });

  root.append(h("div", { class: "a-layout" },
    h("section", { class: "panel a-queue", "aria-labelledby": "alarms-heading" },
      h("div", { class: "panel-head" }, h("h2", { id: "alarms-heading", "data-i18n": "con.alarms.heading" }), count),
      filters, h("div", { class: "a-scroll" }, table, empty)),
    h("section", { class: "panel a-detail", "aria-labelledby": "alarm-heading" }, detailEmpty, detailBody)), ackDialog);
  applyI18n(root);

  q.addEventListener("input", () => { state.filters.q = q.value.trim().toLowerCase(); renderList(); });
  subsystem.addEventListener("change", () => { state.filters.subsystem = subsystem.value; renderList(); });
  severity.addEventListener("change", () => { state.filters.severity = severity.value; renderList(); });
  stateSel.addEventListener("change", () => {
    state.filters.state = stateSel.value;
    if (stateSel.value === "cleared") loadClosed();
    renderList();
  });

  // ---------------------------------------------------------------- data

  function upsert(a) {
    if (!a || a.id === undefined) return;
    const seen = state.revisions.get(a.id);
    if (typeof a.revision === "number" && seen !== undefined && a.revision < seen) return;
    if (typeof a.revision === "number") state.revisions.set(a.id, a.revision);
    state.alarms.set(a.id, a);
  }

  const loadClosed = coalesce(async () => {
    try {
      for (const a of (await api("GET", "/api/alarms?active=false&limit=200")) || []) upsert(a);
    } catch (err) {
      state.error = errorText(err);
    }
    render();
  });

  const refreshAll = coalesce(async () => {
    const live = (await api("GET", "/api/alarms?active=true")) || [];
    const ids = new Set(live.map((a) => a.id));
    for (const a of live) upsert(a);
    // an alarm that was live here but is no longer in the queue has closed: read it once
    for (const [id, a] of state.alarms) if (!ids.has(id) && !isClosed(a)) refreshOne(id);
    render();
  });

  async function refreshOne(id) {
    try {
      upsert(await api("GET", `/api/alarms/${id}`));
    } catch (err) {
      if (id === state.selectedId) state.error = errorText(err);
    }
    render();
  }

  // ---------------------------------------------------------------- queue

  function matches(a) {
    const f = state.filters;
    if (f.state === "live" && isClosed(a)) return false;
    if (f.state === "unacked" && a.acknowledged) return false;
    if (f.state === "acked" && (!a.acknowledged || a.cleared)) return false;
    if (f.state === "cleared" && !a.cleared) return false;
    if (f.subsystem && subsystemOf(a.kind) !== f.subsystem) return false;
    if (f.severity && a.severity !== f.severity) return false;
    if (f.q) {
      const hay = [kindLabel(a.kind), a.kind, a.device_name, a.device_id, a.point, placeLabel(a.location), a.ack_comment, a.acked_by]
        .filter(Boolean).join(" ").toLowerCase();
      if (!hay.includes(f.q)) return false;
    }
    return true;
  }

  function visibleAlarms() {
    return [...state.alarms.values()].filter(matches).sort(compareAlarms);
  }

  function renderNavCount() {
    const n = [...state.alarms.values()].filter((a) => !a.acknowledged && !isClosed(a)).length;
    const badge = document.getElementById("nav-alarms-count");
    if (!badge) return;
    badge.hidden = n === 0;
    setText(badge, String(n));
    badge.setAttribute("aria-label", t("con.nav.unacked", { n }));
  }

  function renderList() {
    renderNavCount();
    if (!state.visible) return;
    const shown = visibleAlarms();
    keyedList(list, items, shown, {
      key: (a) => a.id,
      draw(a, item) {
        if (!item) {
          const id = a.id;
          const sev = el("span", "badge sev");
          const kind = el("span", "al-kind");
          const test = el("span", "badge drill");
          const btn = h("button", { type: "button", class: "al-pick" }, kind, test);
          const dev = site("", "al-dev");
          const where = site("", "al-loc");
          const st = el("span", "al-state");
          const age = ageNode(a.raised_at, "age al-age");
          const cnt = el("span", "al-count");
          const li = h("tr", { class: "alarm-item", onclick: () => select(id) },
            h("td", {}, sev), h("td", { class: "al-main" }, btn, dev), h("td", {}, where), h("td", {}, st),
            h("td", { class: "num" }, age), h("td", { class: "num" }, cnt));
          item = { li, btn, sev, kind, test, dev, where, st, age, cnt };
        }
        item.li.dataset.severity = a.severity || "";
        item.li.dataset.state = stateKey(a);
        setText(item.sev, severityLabel(a.severity));
        item.sev.dataset.sev = a.severity || "";
        setText(item.kind, kindLabel(a.kind));
        item.test.hidden = !a.test;
        setText(item.test, t("alarm.test"));
        setText(item.dev, a.device_name || a.device_id || "");
        setText(item.where, placeLabel(a.location) || a.point || "—");
        item.st.replaceChildren(...stateNodes(a));
        item.age.dataset.since = a.raised_at || "";
        setText(item.cnt, t("con.alarm.times", { n: a.count ?? 1 }));
        item.li.classList.toggle("is-selected", a.id === state.selectedId);
        if (a.id === state.selectedId) item.li.setAttribute("aria-current", "true");
        else item.li.removeAttribute("aria-current");
        return item;
      },
    });
    const total = [...state.alarms.values()].filter((a) => !isClosed(a)).length;
    setText(count, t("con.alarms.count", { shown: shown.length, total }));
    empty.hidden = shown.length > 0;
    table.hidden = shown.length === 0;
    setText(empty, total === 0 && state.filters.state === "live" ? t("con.alarms.empty") : t("con.alarms.none_match"));
    tickAges(list);
  }

  function select(id, focus = false) {
    if (state.selectedId !== id) {
      state.selectedId = id;
      state.error = null;
    }
    if (!state.alarms.has(id)) refreshOne(id);
    renderList();
    renderDetail();
    const item = items.get(id);
    if (item && focus) {
      item.btn.focus();
      item.li.scrollIntoView({ block: "nearest" });
    }
  }

  function move(delta) {
    const ids = visibleAlarms().map((a) => a.id);
    if (!ids.length) return;
    let i = ids.indexOf(state.selectedId);
    i = i < 0 ? (delta > 0 ? 0 : ids.length - 1) : Math.min(ids.length - 1, Math.max(0, i + delta));
    select(ids[i], true);
  }

  // ---------------------------------------------------------------- detail

  function fact(key, value) {
    const dd = el("dd");
    dd.append(value instanceof Node ? value : document.createTextNode(value == null || value === "" ? "—" : String(value)));
    return h("div", {}, h("dt", { text: t(key) }), dd);
  }

  function renderError() {
    const e = state.error;
    if (e && e.key) error.replaceChildren(...tn(e.key, e.params));
    else setText(error, e || "");
  }

  function renderDetail() {
    const a = state.alarms.get(state.selectedId);
    detailEmpty.hidden = state.selectedId !== null;
    detailBody.hidden = state.selectedId === null;
    renderError();
    // no alarm to show (still loading, or the server refused): no badges, no buttons, one line
    for (const node of [sevBadge, stateBadge, testBadge, shelfBadge, ackBtn, taskLink, facts, planCols]) node.hidden = !a;
    detailNote.hidden = !!a;
    if (!a) {
      setText(heading, state.selectedId === null ? "" : t("con.alarm.number", { id: state.selectedId }));
      setText(detailNote, state.error ? t("con.alarm.not_loaded") : t("console.loading"));
      facts.replaceChildren();
      return;
    }
    heading.replaceChildren(kindLabel(a.kind), " · ", site(a.device_name || a.device_id));
    setText(sevBadge, severityLabel(a.severity));
    sevBadge.dataset.sev = a.severity || "";
    stateBadge.replaceChildren(...stateNodes(a));
    stateBadge.dataset.state = stateKey(a);
    testBadge.hidden = !a.test;
    shelfBadge.hidden = !isShelved(a);
    ackBtn.disabled = !!a.acknowledged || state.busy;
    taskLink.hidden = a.task_id == null;
    if (a.task_id != null) {
      taskLink.href = `#tasks/${a.task_id}`;
      setText(taskLink, t("con.alarm.open_task", { id: a.task_id }));
    }
    const rows = [
      fact("con.alarm.id", t("con.alarm.number", { id: a.id })),
      fact("con.alarm.device", deviceLink(a.site, a.device_id, a.device_name || a.device_id)),
      fact("con.alarm.point", site(a.point || "")),
      fact("con.alarm.location", site(placeLabel(a.location))),
      fact("con.alarm.raised", siteTime(a.raised_at, true)),
      fact("con.alarm.age", ageNode(a.raised_at)),
      fact("con.alarm.last", siteTime(a.last_at, true)),
      fact("con.alarm.count", String(a.count ?? 1)),
    ];
    if (a.flood && a.flood.flooding) rows.push(fact("con.alarm.flood", t("con.alarm.flood_n", { n: a.flood.count_10min })));
    if (a.acknowledged) {
      rows.push(fact("con.alarm.acked_by", site(a.acked_by || "")), fact("con.alarm.acked_at", siteTime(a.acked_at, true)),
        fact("con.alarm.ack_comment", site(a.ack_comment || "")));
    }
    if (a.cleared) rows.push(fact("con.alarm.cleared_at", siteTime(a.cleared_at, true)));
    facts.replaceChildren(...rows);
    media.render(a);
  }

  // ---------------------------------------------------------------- acknowledge

  function openAck() {
    const a = state.alarms.get(state.selectedId);
    if (!a) return;
    if (a.acknowledged) {
      state.error = { key: "con.ack.already", params: { user: a.acked_by || "" } };
      renderDetail();
      return;
    }
    ackSummary.replaceChildren(kindLabel(a.kind), " · ", site(a.device_name || a.device_id), " · ", site(placeLabel(a.location)));
    setText(ackError, "");
    ackComment.value = "";
    ackSubmit.disabled = false;
    openDialog(ackDialog);
    ackComment.focus();
  }

  function closeAck() {
    if (ackDialog.open) ackDialog.close();
    const item = items.get(state.selectedId);
    if (item) item.btn.focus();
  }

  async function submitAck() {
    const id = state.selectedId;
    if (id === null || state.busy) return;
    const comment = ackComment.value.trim();
    state.busy = true;
    ackSubmit.disabled = true;
    try {
      const view = await api("POST", `/api/alarms/${id}/ack`, { json: { comment: comment || null } });
      upsert(view);
      state.error = null;
      closeAck();
    } catch (err) {
      setText(ackError, errorText(err));
    } finally {
      state.busy = false;
      ackSubmit.disabled = false;
      render();
    }
  }

  // ---------------------------------------------------------------- the view's interface

  function render() {
    renderList();
    if (state.visible) renderDetail();
  }

  return {
    show(param) {
      state.visible = true;
      const id = alarmIdOf(param); // "#alarms" alone selects nothing
      if (id !== null) select(id);
      render();
    },
    hide() {
      state.visible = false;
      if (ackDialog.open) ackDialog.close();
    },
    focusSearch() {
      q.focus();
      q.select();
    },
    onKey(ev) {
      const key = ev.key;
      if (key === "j" || key === "ArrowDown") move(1);
      else if (key === "k" || key === "ArrowUp") move(-1);
      else if (key === "Enter") {
        if (ev.target instanceof HTMLButtonElement || ev.target instanceof HTMLAnchorElement) return false;
        if (state.selectedId === null) move(1);
        else renderDetail();
      } else if (key === "a" || key === "A") {
        if (ev.repeat) return true;
        openAck();
      } else return false;
      return true;
    },
    onMessage(msg) {
      if (msg.type === "snapshot") {
        const ids = new Set();
        for (const a of msg.alarms || []) {
          ids.add(a.id);
          upsert(a);
        }
        // live alarms missing from the snapshot closed while we were away
        for (const [id, a] of state.alarms) if (!ids.has(id) && !isClosed(a)) refreshOne(id);
        render();
      } else if (msg.type && msg.type.startsWith("alarm.")) {
        upsert(msg.data);
        render();
      } else media.onMessage(msg, state.visible);
    },
    resync() {
      refreshAll();
    },
    tick() {
      if (state.visible) tickAges(root);
    },
    rerender() {
      media.rerender();
      for (const item of items.values()) item.sig = null;
      render();
    },
    get visible() {
      return state.visible;
    },
  };
}
