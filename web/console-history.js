// Console view "#history": event history search (text, time range in the site's zone, subsystem,
// kind), newest first, paged backwards with `before`. Also exports the event table the device page uses.
import { t, kindLabel, messages, applyI18n } from "./i18n.js";
import { el, setText, api, siteTime, placeLabel, now } from "./api.js";
import {
  h, site, deviceLink, dataNodes, errorText, optionsOf, zonedInputToIso, isoToZonedInput, SUBSYSTEMS,
  formField,
} from "./console-util.js";

const DEFAULT_SPAN_MS = 24 * 3600 * 1000;

/** A table of events (time, kind, device, point, place, data) labelled by the heading `headingId`. */
export function eventTable(headingId, id) {
  const tbody = h("tbody");
  const cols = ["con.ev.time", "con.ev.kind", "con.ev.device", "con.ev.point", "con.ev.location", "con.ev.data"];
  const table = h("table", { class: "log ev-table", id, "aria-labelledby": headingId },
    h("thead", {}, h("tr", {}, cols.map((key) => h("th", { scope: "col", "data-i18n": key, text: t(key) })))), tbody);
  return {
    table,
    setRows(events) {
      tbody.replaceChildren(...events.map((e) => {
        const kind = el("td", "", kindLabel(e.kind));
        if (e.data && e.data.test) kind.append(" ", el("span", "badge drill", t("alarm.test")));
        const tr = h("tr", {},
          h("td", { class: "num" }, h("time", { datetime: e.ts || "" }, siteTime(e.ts, true))),
          kind,
          h("td", {}, deviceLink(e.site, e.device_id, e.device_name || e.device_id)),
          h("td", {}, site(e.point || "")),
          h("td", {}, site(placeLabel(e.location) || "")),
          h("td", { class: "ev-data" }, dataNodes(e.data), snapshotLinks(e.snapshots)));
        tr.dataset.eventId = String(e.event_id ?? "");
        return tr;
      }));
    },
  };
}

/** A plate event's lane-camera pictures: thumbnails that open the full JPEG. */
function snapshotLinks(snapshots) {
  if (!Array.isArray(snapshots) || !snapshots.length) return null;
  return h("span", { class: "ev-snaps" }, snapshots.map((s) => {
    const label = t("con.ev.snapshot", { camera: s.camera_name || s.camera, time: siteTime(s.taken_at, true) });
    return h("a", { href: s.url, target: "_blank", rel: "noopener", title: label },
      h("img", { src: s.url, alt: label, loading: "lazy", width: 120 }));
  }));
}

function kindOptions() {
  return Object.keys(messages.zh).filter((k) => k.startsWith("kind.")).sort().map((k) => [k.slice(5), k]);
}

export function createHistoryView({ root }) {
  const state = {
    cursors: [null], // cursors[i]: the `before` of page i (null: the newest)
    page: 0,
    rows: [],
    more: false,
    loading: false,
    error: null,
    searched: false,
    query: null,
  };

  const q = h("input", { id: "h-q", type: "search", autocomplete: "off", "data-i18n-attr": "placeholder:con.history.q_hint" });
  const since = h("input", { id: "h-since", type: "datetime-local" });
  const until = h("input", { id: "h-until", type: "datetime-local" });
  // A search starts over the last 24 hours: a text search over all time reads the whole event log.
  const lastDay = () => isoToZonedInput(new Date(now() - DEFAULT_SPAN_MS).toISOString());
  since.value = lastDay();
  const subsystem = h("select", { id: "h-subsystem" });
  const kind = h("select", { id: "h-kind" });
  const size = h("select", { id: "h-size" });
  optionsOf(subsystem, [["", "con.filter.all_subsystems"], ...SUBSYSTEMS.map((s) => [s, "con.sub." + s])]);
  optionsOf(kind, [["", "con.filter.all_kinds"], ...kindOptions()]);
  size.replaceChildren(...[20, 50, 100, 200].map((n) => h("option", { value: n }, String(n))));
  size.value = "50";
  const submit = h("button", { type: "submit", class: "btn primary", "data-i18n": "con.history.search" });
  const reset = h("button", { type: "button", class: "btn", "data-i18n": "con.history.reset", onclick: () => resetForm() });
  const form = h("form", { class: "h-form", role: "search", "data-i18n-attr": "aria-label:con.history.form" },
    formField("h-q", "con.history.q", q), formField("h-since", "con.history.since", since), formField("h-until", "con.history.until", until),
    formField("h-subsystem", "con.filter.subsystem", subsystem), formField("h-kind", "con.history.kind", kind),
    formField("h-size", "con.history.size", size), h("div", { class: "h-buttons" }, submit, reset));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    search();
  });
  const tzNote = h("p", { class: "muted small" });
  const status = h("p", { class: "muted", role: "status", id: "h-status" });
  const error = h("p", { class: "alert", role: "alert" });
  const events = eventTable("h-results-heading", "h-results");
  const newer = h("button", { type: "button", class: "btn", "data-i18n": "con.history.newer", onclick: () => go(-1) });
  const older = h("button", { type: "button", class: "btn", "data-i18n": "con.history.older", onclick: () => go(1) });
  const empty = h("p", { class: "empty", "data-i18n": "con.history.empty", hidden: true });

  root.append(h("section", { class: "panel h-panel", "aria-labelledby": "history-heading" },
    h("div", { class: "panel-head" }, h("h2", { id: "history-heading", "data-i18n": "con.history.heading" })),
    h("div", { class: "panel-body" }, form, tzNote, error,
      h("div", { class: "h-results-head" }, h("h3", { id: "h-results-heading", "data-i18n": "con.history.results" }), status,
        h("div", { class: "h-pager" }, newer, older)),
      events.table, empty)));
  applyI18n(root);

  function readForm() {
    const params = new URLSearchParams();
    if (q.value.trim()) params.set("q", q.value.trim());
    const s = zonedInputToIso(since.value);
    const u = zonedInputToIso(until.value);
    if (s) params.set("since", s);
    if (u) params.set("until", u);
    if (subsystem.value) params.set("subsystem", subsystem.value);
    if (kind.value) params.set("kind", kind.value);
    return { params, limit: Number(size.value) || 50 };
  }

  function search() {
    state.query = readForm();
    state.cursors = [null];
    state.page = 0;
    load();
  }

  function resetForm() {
    q.value = "";
    since.value = lastDay();
    until.value = "";
    subsystem.value = "";
    kind.value = "";
    search();
  }

  function go(delta) {
    const page = state.page + delta;
    if (page < 0 || page >= state.cursors.length || state.loading) return;
    if (delta > 0 && !state.more) return;
    state.page = page;
    load();
  }

  async function load() {
    const query = state.query || readForm();
    const params = new URLSearchParams(query.params);
    params.set("limit", String(query.limit + 1)); // one more: is there an older page?
    const before = state.cursors[state.page];
    if (before !== null && before !== undefined) params.set("before", String(before));
    state.loading = true;
    state.error = null;
    render();
    try {
      const rows = (await api("GET", `/api/events?${params}`)) || [];
      state.more = rows.length > query.limit;
      state.rows = rows.slice(0, query.limit);
      const last = state.rows[state.rows.length - 1];
      state.cursors = state.cursors.slice(0, state.page + 1);
      if (state.more && last) state.cursors.push(last.event_id);
      state.searched = true;
    } catch (err) {
      state.error = errorText(err);
    } finally {
      state.loading = false;
      render();
    }
  }

  function render() {
    setText(tzNote, t("con.history.tz", { tz: document.querySelector('meta[name="mcc-timezone"]')?.content || "Asia/Shanghai" }));
    setText(error, state.error || "");
    events.setRows(state.rows);
    empty.hidden = !state.searched || state.rows.length > 0 || state.loading;
    newer.disabled = state.loading || state.page === 0;
    older.disabled = state.loading || !state.more;
    if (state.loading) setText(status, t("con.history.loading"));
    else if (state.searched) setText(status, t("con.history.page", { page: state.page + 1, n: state.rows.length }));
    else setText(status, "");
  }

  return {
    show(_segments, query) {
      if (query && query.has("q")) {
        q.value = query.get("q") || "";
        search();
      } else if (!state.searched && !state.loading) search();
      render();
    },
    hide() {},
    focusSearch() {
      q.focus();
      q.select();
    },
    onKey(ev) {
      if (ev.key === "n" || ev.key === "]") go(1);
      else if (ev.key === "p" || ev.key === "[") go(-1);
      else return false;
      return true;
    },
    onMessage() {},
    rerender() {
      render();
    },
  };
}
