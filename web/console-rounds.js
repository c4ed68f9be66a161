// Console view "#rounds": the patrol rounds of the shift (巡更). Each round with its guard, state,
// progress and the points that are late or missed; where each guard was last seen; the totals and
// completion rate of the last 12 hours, and the printable shift report. It reads again whenever a
// round changes (round.updated). Server: console/api/patrol.py, console/api/guards.py.
import { t, applyI18n } from "./i18n.js";
import { setText, api, siteTime, placeLabel } from "./api.js";
import { h, errorText } from "./console-util.js";

const HOURS = 12;

export function createRoundsView({ root }) {
  const state = { rounds: [], guards: [], report: null, error: "" };
  let loading = false;
  let again = false; // a change came while reading: read once more

  const error = h("p", { id: "rounds-error", class: "form-error", role: "alert" });
  const totals = h("p", { id: "rounds-totals", class: "rd-totals", role: "status" });
  const tbody = h("tbody");
  const cols = ["rounds.col.due", "rounds.col.route", "rounds.col.guard", "rounds.col.state", "rounds.col.progress",
    "rounds.col.attention"];
  const table = h("table", { id: "rounds-table", class: "log", "aria-labelledby": "rounds-heading" },
    h("thead", {}, h("tr", {}, cols.map((key) => h("th", { scope: "col", "data-i18n": key })))), tbody);
  const guardList = h("ul", { id: "rounds-guards", class: "rd-guards", "aria-labelledby": "rounds-guards-heading" });
  const report = h("a", { id: "rounds-report", class: "btn", target: "_blank", rel: "noopener",
    href: "/api/reports/shift?format=html", "data-i18n": "rounds.report" });

  root.append(h("section", { class: "panel rd-panel", "aria-labelledby": "rounds-heading" },
    h("div", { class: "panel-head" }, h("h2", { id: "rounds-heading", "data-i18n": "rounds.heading" }), report),
    h("div", { class: "panel-body" }, error, totals, table,
      h("h3", { id: "rounds-guards-heading", "data-i18n": "rounds.guards" }), guardList)));
  applyI18n(root);

  async function load() {
    if (loading) {
      again = true;
      return;
    }
    loading = true;
    again = false;
    try {
      const until = new Date(Date.now() + 2 * 3600e3).toISOString();
      const since = new Date(Date.now() - HOURS * 3600e3).toISOString();
      const query = new URLSearchParams({ since, until });
      const [rounds, guards, figures] = await Promise.all([api("GET", `/api/patrol/rounds?${query}`),
        api("GET", "/api/guards"), api("GET", `/api/patrol/report?${new URLSearchParams({ since, until })}`)]);
      state.rounds = rounds;
      state.guards = guards;
      state.report = figures;
      state.error = "";
    } catch (err) {
      state.error = errorText(err);
    } finally {
      loading = false;
    }
    render();
    if (again) load();
  }

  function attention(r) {
    const late = r.points.filter((p) => p.state === "late" || p.state === "missed");
    if (r.state === "missed") return t("rounds.never_started", { at: siteTime(r.start_by) });
    const overdue = r.state === "started" ? r.points.filter((p) => p.state === "pending" && p.due_at && Date.parse(p.due_at) < Date.now()) : [];
    return [...late, ...overdue].map((p) => `${p.name} ${t("point." + (p.state === "pending" ? "missed" : p.state))}`).join("、");
  }

  function render() {
    setText(error, state.error);
    const all = state.report ? state.report.totals : null;
    setText(totals, all && all.rounds ? t("rounds.totals", {
      hours: HOURS, rounds: all.rounds, done: all.rounds_done, late: all.rounds_late, incomplete: all.rounds_incomplete,
      missed: all.rounds_missed, rate: Math.round((all.completion_rate || 0) * 100),
    }) : t("rounds.no_totals", { hours: HOURS }));
    tbody.replaceChildren(...state.rounds.map((r) => {
      const c = r.counts;
      const row = h("tr", { "data-state": r.state, "data-round": r.id },
        h("td", {}, siteTime(r.due_at)), h("td", {}, r.name), h("td", {}, r.guard || "—"),
        h("td", { class: "rd-state" }, t("round." + r.state)),
        h("td", {}, `${c.done + c.late}/${r.points.length}`), h("td", { class: "rd-attention" }, attention(r)));
      return row;
    }));
    if (!state.rounds.length) tbody.append(h("tr", {}, h("td", { colspan: cols.length, "data-i18n": "rounds.none" })));
    guardList.replaceChildren(...state.guards.filter((g) => g.on_shift).map((g) => h("li", {},
      `${g.username} · ${(g.place && placeLabel(g.place)) || t("guard.unknown_place")}${g.place_at ? " · " + siteTime(g.place_at) : ""}`)));
    applyI18n(tbody);
  }

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
      const touched = (m) => m.type === "round.updated" || m.type === "guard.updated";
      if (!root.hidden && (touched(msg) || (msg.type === "batch" && (msg.items || []).some(touched)))) load();
    },
    rerender() {
      applyI18n(root);
      render();
    },
    tick() {},
  };
}
