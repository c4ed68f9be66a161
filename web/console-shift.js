// Console view "#shift": the shift's routine besides alarms. Start the handover (交接班): the console
// snapshots what is open and opens the handover checklist, whose steps and two signatures (outgoing,
// incoming: two different people) are answered in the task view. The recent handovers with their
// signatures. The reports (shift, daily, monthly; per site): printable with charts, or CSV. The
// drills: planned, started, watched and scored (console-drills.js).
// Server: console/api/reports.py.
import { t, applyI18n } from "./i18n.js";
import { setText, api, siteTime, now } from "./api.js";
import { h, errorText, optionsOf, isoToZonedInput, formField } from "./console-util.js";
import { createDrillsBox } from "./console-drills.js";

const REPORTS = ["shift", "daily", "monthly"];

export function createShiftView({ root }) {
  const state = { handovers: [], started: null, error: "" };
  const drills = createDrillsBox();
  const notes = h("textarea", { id: "ho-notes", rows: 3, maxlength: 4000 });
  const start = h("button", { type: "button", id: "ho-start", class: "btn primary", "data-i18n": "shift.ho.start", onclick: startHandover });
  const error = h("p", { id: "shift-error", class: "form-error", role: "alert" });
  const started = h("p", { id: "ho-started", class: "dl-note", role: "status" });
  const rows = h("tbody");
  const cols = ["shift.ho.col.time", "shift.ho.col.by", "shift.ho.col.open", "shift.ho.col.out", "shift.ho.col.in", "shift.ho.col.state"];
  const table = h("table", { id: "ho-table", class: "log", "aria-labelledby": "ho-list-heading" },
    h("thead", {}, h("tr", {}, cols.map((key) => h("th", { scope: "col", "data-i18n": key })))), rows);

  const kind = h("select", { id: "rep-kind" });
  const day = h("input", { id: "rep-date", type: "date" });
  const month = h("input", { id: "rep-month", type: "month" });
  const site = h("input", { id: "rep-site", autocomplete: "off" });
  const open = h("a", { id: "rep-open", class: "btn primary", target: "_blank", rel: "noopener", "data-i18n": "shift.rep.open" });
  const csv = h("a", { id: "rep-csv", class: "btn", "data-i18n": "shift.rep.csv" });
  const dayField = formField("rep-date", "shift.rep.date", day);
  const monthField = formField("rep-month", "shift.rep.month", month);
  for (const control of [kind, day, month, site]) control.addEventListener("input", renderLinks);

  root.append(h("section", { class: "panel dl-panel", "aria-labelledby": "shift-heading" },
    h("div", { class: "panel-head" }, h("h2", { id: "shift-heading", "data-i18n": "shift.heading" })),
    h("div", { class: "panel-body" }, error,
      h("section", { "aria-labelledby": "ho-heading" }, h("h3", { id: "ho-heading", "data-i18n": "shift.ho.heading" }),
        h("p", { class: "dl-slot", "data-i18n": "shift.ho.hint" }),
        formField("ho-notes", "shift.ho.notes", notes), h("div", { class: "dl-actions" }, start), started,
        h("h4", { id: "ho-list-heading", "data-i18n": "shift.ho.recent" }), table),
      h("section", { "aria-labelledby": "rep-heading" }, h("h3", { id: "rep-heading", "data-i18n": "shift.rep.heading" }),
        h("div", { class: "dl-actions" }, formField("rep-kind", "shift.rep.kind", kind), dayField, monthField,
          formField("rep-site", "shift.rep.site", site), open, csv)), drills.node)));
  applyI18n(root);
  optionsOf(kind, REPORTS.map((k) => [k, "shift.rep." + k]));
  const today = isoToZonedInput(new Date(now()).toISOString()).slice(0, 10);
  day.value = today;
  month.value = today.slice(0, 7);

  function reportUrl(format) {
    const params = new URLSearchParams({ format });
    if (kind.value === "daily") params.set("date", day.value);
    if (kind.value === "monthly") params.set("month", month.value);
    if (site.value.trim()) params.set("site", site.value.trim());
    return `/api/reports/${kind.value}?${params}`;
  }

  function renderLinks() {
    dayField.hidden = kind.value !== "daily";
    monthField.hidden = kind.value !== "monthly";
    open.href = reportUrl("html");
    csv.href = reportUrl("csv");
  }

  async function load() {
    try {
      state.handovers = (await api("GET", "/api/handovers?limit=10")) || [];
    } catch (err) {
      state.error = errorText(err);
    }
    render();
  }

  async function startHandover() {
    state.error = "";
    start.disabled = true;
    try {
      state.started = await api("POST", "/api/handovers", { json: { notes: notes.value } });
      notes.value = "";
    } catch (err) {
      state.error = errorText(err);
    } finally {
      start.disabled = false;
    }
    await load();
  }

  const sign = (s) => (s ? `${s.by} ${siteTime(s.at)}` : "—");

  function render() {
    setText(error, state.error);
    const s = state.started;
    started.replaceChildren(...(s ? [t("shift.ho.started", {
      tasks: s.snapshot.open_tasks.length, isolated: s.snapshot.isolated_devices.length,
      unsigned: (s.snapshot.duty_log_unsigned || []).length,
    }), " ", h("a", { id: "ho-checklist", href: `#tasks/${s.task_id}`, text: t("shift.ho.checklist") })] : []));
    rows.replaceChildren(...state.handovers.map((ho) => h("tr", { data: { handover: String(ho.id) } },
      h("td", { class: "num" }, h("a", { href: `#tasks/${ho.task_id}`, text: siteTime(ho.created_at, true) })),
      h("td", {}, ho.created_by), h("td", {}, String(ho.snapshot.open_tasks.length)),
      h("td", {}, sign(ho.outgoing)), h("td", {}, sign(ho.incoming)),
      h("td", {}, t(ho.complete ? "shift.ho.complete" : "shift.ho.open")))));
    table.hidden = state.handovers.length === 0;
    renderLinks();
  }

  return {
    show() {
      load();
      drills.load();
    },
    hide() {},
    focusSearch() {
      notes.focus();
    },
    onKey() {
      return false;
    },
    onMessage(msg) {
      if (!root.hidden) drills.onMessage(msg);
      if (msg.type === "task.updated" && !root.hidden && state.handovers.some((ho) => ho.task_id === (msg.data || {}).id)) load();
    },
    rerender() {
      optionsOf(kind, REPORTS.map((k) => [k, "shift.rep." + k]));
      render();
      drills.rerender();
    },
  };
}
