// Console view "#duty": the duty log (值班记录, GB 25201). The entry due now, pre-filled by the
// console: the people on duty check it against the panel, correct it, write the remarks, and sign,
// the second person at their own login or by their password at this screen. A signed entry is
// corrected by a new one. The day's entries, printable as the paper log; supervisors review the
// late and missed ones. Server: console/api/duty_log.py.
import { t, applyI18n } from "./i18n.js";
import { setText, api, siteTime } from "./api.js";
import { h, errorText, optionsOf, isoToZonedInput, formField } from "./console-util.js";

const CHOICES = {
  linkage: ["auto", "manual", "unknown"],
  main_power: ["normal", "fault", "unknown"],
  backup_power: ["normal", "fault", "unknown"],
  pumps_fans_auto: ["yes", "no", "unknown"],
};
const CHECKS = ["fire", "fault", "supervisory", "isolated", "linkage", "main_power", "backup_power", "pumps_fans_auto"];

const valueText = (check, value) => (CHOICES[check] ? t("duty.val." + value) : String(value ?? "—"));
const signText = (s) => (s ? `${s.by} ${siteTime(s.at)}` : "—");

export function createDutyView({ root }) {
  const state = { current: null, day: [], selected: null, findings: null, error: "", note: "" };

  const slotLine = h("p", { id: "duty-slot", class: "dl-slot" });
  const print = h("a", { id: "duty-print", class: "btn", target: "_blank", rel: "noopener", "data-i18n": "duty.print" });
  const csv = h("a", { id: "duty-csv", class: "btn", "data-i18n": "duty.csv" });
  const error = h("p", { id: "duty-error", class: "form-error", role: "alert" });
  const note = h("p", { id: "duty-note", class: "dl-note", role: "status" });
  const tbody = h("tbody");
  const cols = ["duty.col.time", "duty.col.state", "duty.col.first", "duty.col.second", "duty.col.finding"];
  const table = h("table", { id: "duty-table", class: "log", "aria-labelledby": "duty-day-heading" },
    h("thead", {}, h("tr", {}, cols.map((key) => h("th", { scope: "col", "data-i18n": key })))), tbody);

  const fields = {};
  const hints = {};
  const rows = CHECKS.map((check) => {
    const id = "duty-f-" + check;
    const control = CHOICES[check] ? h("select", { id }) : h("input", { id, type: "number", min: 0, max: 9999, step: 1 });
    fields[check] = control;
    hints[check] = h("span", { class: "dl-hint", id: id + "-hint" });
    return h("div", { class: "f-field dl-check" }, h("label", { for: id, "data-i18n": "duty.check." + check }), control,
      hints[check]);
  });
  const remarks = h("textarea", { id: "duty-remarks", rows: 3, maxlength: 4000 });
  const editorTitle = h("h3", { id: "duty-editor-heading" });
  const save = h("button", { type: "button", id: "duty-save", class: "btn", "data-i18n": "duty.save", onclick: saveEntry });
  const sign = h("button", { type: "button", id: "duty-sign", class: "btn primary", "data-i18n": "duty.sign", onclick: () => signEntry() });
  const csUser = h("input", { id: "duty-cs-user", autocomplete: "off" });
  const csPass = h("input", { id: "duty-cs-pass", type: "password", autocomplete: "off" });
  const countersign = h("button", { type: "button", id: "duty-countersign", class: "btn", "data-i18n": "duty.countersign",
    onclick: () => signEntry({ username: csUser.value.trim(), password: csPass.value }) });
  const reason = h("input", { id: "duty-reason", maxlength: 1000 });
  const correct = h("button", { type: "button", id: "duty-correct", class: "btn", "data-i18n": "duty.correct", onclick: correctEntry });
  const signBox = h("div", { class: "dl-actions", id: "duty-sign-box" }, save, sign,
    h("fieldset", { class: "dl-countersign" }, h("legend", { "data-i18n": "duty.countersign_legend" }),
      formField("duty-cs-user", "duty.cs_user", csUser), formField("duty-cs-pass", "duty.cs_pass", csPass), countersign));
  const correctBox = h("div", { class: "dl-actions", id: "duty-correct-box", hidden: true },
    formField("duty-reason", "duty.reason", reason), correct);
  const editor = h("section", { id: "duty-editor", class: "dl-editor", "aria-labelledby": "duty-editor-heading" },
    editorTitle, h("p", { id: "duty-entry-state", class: "dl-state" }), h("div", { class: "dl-checks" }, rows),
    formField("duty-remarks", "duty.remarks", remarks), signBox, correctBox);
  const findingsList = h("ul", { id: "duty-findings-list", class: "dl-findings" });
  const findings = h("section", { id: "duty-findings", hidden: true, "aria-labelledby": "duty-findings-heading" },
    h("h3", { id: "duty-findings-heading", "data-i18n": "duty.findings" }), findingsList);

  root.append(h("section", { class: "panel dl-panel", "aria-labelledby": "duty-heading" },
    h("div", { class: "panel-head" }, h("h2", { id: "duty-heading", "data-i18n": "duty.heading" }),
      h("div", { class: "dl-links" }, print, csv)),
    h("div", { class: "panel-body" }, slotLine, error, note, editor,
      h("h3", { id: "duty-day-heading", "data-i18n": "duty.day" }), table, findings)));
  applyI18n(root);
  for (const [check, choices] of Object.entries(CHOICES)) optionsOf(fields[check], choices.map((c) => [c, "duty.val." + c]));

  const selected = () => state.day.find((e) => e.id === state.selected)
    || (state.current && state.current.unsigned.find((e) => e.id === state.selected)) || null;

  async function load() {
    try {
      state.current = await api("GET", "/api/duty-log/current");
      const date = isoToZonedInput(state.current.slot_at).slice(0, 10);
      state.date = date;
      state.day = (await api("GET", `/api/duty-log?date=${date}`)) || [];
      if (state.selected === null || !selected()) {
        const unsigned = state.current.unsigned;
        state.selected = (state.current.entry && state.current.entry.state !== "signed" && state.current.entry.id)
          || (unsigned.length && unsigned[0].id) || (state.current.entry && state.current.entry.id) || null;
      }
      try {
        state.findings = await api("GET", "/api/duty-log/findings");
      } catch {
        state.findings = null; // not a supervisor
      }
    } catch (err) {
      state.error = errorText(err);
    }
    render();
  }

  async function act(fn, done) {
    state.error = "";
    try {
      const entry = await fn();
      if (entry && entry.id) state.selected = entry.id;
      state.note = done || ""; // a catalogue key, worded at each render (the language may change)
    } catch (err) {
      state.error = errorText(err);
      state.note = "";
    }
    await load();
  }

  function observed() {
    const out = {};
    for (const check of CHECKS) {
      const v = fields[check].value;
      if (v === "") continue;
      out[check] = CHOICES[check] ? v : Number(v);
    }
    return out;
  }

  function saveEntry() {
    const e = selected();
    if (e) act(() => api("PATCH", `/api/duty-log/${e.id}`, { json: { observed: observed(), remarks: remarks.value } }),
      "duty.saved");
  }

  function signEntry(as) {
    const e = selected();
    if (!e) return;
    act(async () => {
      // What is signed is what this screen saved: its hash goes with the signature (refused if changed since).
      const shown = e.state === "open"
        ? await api("PATCH", `/api/duty-log/${e.id}`, { json: { observed: observed(), remarks: remarks.value } })
        : e;
      const done = await api("POST", `/api/duty-log/${e.id}/sign`, { json: { ...(as || {}), content_sha256: shown.current_sha256 } });
      csPass.value = "";
      csUser.value = "";
      return done;
    }, "duty.signed_note");
  }

  function correctEntry() {
    const e = selected();
    if (e) act(() => api("POST", `/api/duty-log/${e.id}/corrections`,
      { json: { observed: observed(), remarks: remarks.value, reason: reason.value.trim() } }), "duty.corrected");
  }

  function review(entry, input) {
    act(() => api("POST", `/api/duty-log/${entry.id}/review`, { json: { comment: input.value.trim() } }), "duty.reviewed");
  }

  function stateText(e) {
    const parts = [t("duty.state." + e.state)];
    if (e.finding) parts.push(t("duty.finding." + e.finding));
    if (e.corrects) parts.push(t("duty.corrects", { id: e.corrects }));
    if (e.corrected_by.length) parts.push(t("duty.corrected_by", { ids: e.corrected_by.map((i) => "#" + i).join(", ") }));
    return parts.join(" · ");
  }

  function renderEditor(e) {
    editor.hidden = !e;
    if (!e) return;
    setText(editorTitle, t("duty.entry", { id: e.id, time: siteTime(e.slot_at) }));
    setText(editor.querySelector("#duty-entry-state"), stateText(e));
    const frozen = e.state !== "open";
    const suggested = (e.prefill && e.prefill.suggested) || {};
    for (const check of CHECKS) {
      if (document.activeElement !== fields[check]) fields[check].value = e.observed[check] ?? "";
      fields[check].disabled = frozen && e.state !== "signed";
      const hint = check in suggested ? t("duty.suggested", { value: valueText(check, suggested[check]) }) : "";
      setText(hints[check], hint + (e.changed.includes(check) ? " " + t("duty.changed") : ""));
    }
    if (document.activeElement !== remarks) remarks.value = e.remarks || "";
    remarks.disabled = frozen && e.state !== "signed";
    save.hidden = frozen;
    signBox.hidden = e.state === "signed";
    correctBox.hidden = e.state !== "signed";
  }

  function render() {
    const c = state.current;
    setText(error, state.error);
    setText(note, state.note ? t(state.note) : "");
    if (c) {
      const next = new Date(Date.parse(c.slot_at) + c.interval_minutes * 60000).toISOString();
      const due = new Date(Date.parse(c.slot_at) + c.grace_minutes * 60000).toISOString();
      setText(slotLine, c.enabled ? t("duty.slot", { from: siteTime(c.slot_at), to: siteTime(next), due: siteTime(due) })
        : t("duty.off"));
      print.href = `/api/duty-log?date=${state.date}&format=html`;
      csv.href = `/api/duty-log?date=${state.date}&format=csv`;
    }
    tbody.replaceChildren(...state.day.map((e) => h("tr", {
      class: e.id === state.selected ? "selected" : "", data: { entry: String(e.id) },
    },
    h("td", { class: "num" }, h("button", { type: "button", class: "link", onclick: () => { state.selected = e.id; render(); } },
      e.corrects ? t("duty.corrects", { id: e.corrects }) + " " + siteTime(e.slot_at) : siteTime(e.slot_at))),
    h("td", {}, t("duty.state." + e.state)), h("td", {}, signText(e.first)), h("td", {}, signText(e.second)),
    h("td", {}, e.finding ? t("duty.finding." + e.finding) : ""))));
    renderEditor(selected());
    findings.hidden = state.findings === null;
    findingsList.replaceChildren(...(state.findings || []).map((e) => {
      const input = h("input", { class: "dl-review-text", "aria-label": t("duty.review_comment"), maxlength: 4000 });
      return h("li", { data: { entry: String(e.id) } },
        h("span", {}, `${siteTime(e.slot_at, true)} · ${t("duty.finding." + e.finding)} · ${t("duty.state." + e.state)}`),
        input, h("button", { type: "button", class: "btn", text: t("duty.review"), onclick: () => review(e, input) }));
    }));
    if (state.findings && !state.findings.length) findingsList.append(h("li", { class: "empty", text: t("duty.no_findings") }));
  }

  let pending = null;
  return {
    show() {
      load();
    },
    hide() {},
    focusSearch() {},
    onKey() {
      return false;
    },
    onMessage(msg) {
      const touched = msg.type === "duty_log.updated"
        || (msg.type === "batch" && (msg.items || []).some((m) => m.type === "duty_log.updated"));
      if (!touched || root.hidden || pending) return;
      pending = setTimeout(() => {
        pending = null;
        load();
      }, 200);
    },
    rerender() {
      render();
    },
  };
}
