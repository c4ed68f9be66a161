// The guard's rounds (巡更) on the phone: each round with its points in order and their state, the
// round's buttons (start, finish), the checklist of the point to scan next, and the list of
// writes still waiting to be sent.
import { t } from "./i18n.js";
import { $, el, setText, button, siteTime } from "./api.js";

const ROUND_ICON = { due: "○", started: "▶", done: "✓", late: "⚠", incomplete: "✗", missed: "✗", cancelled: "–" };
const POINT_ICON = { pending: "○", done: "✓", late: "⚠", missed: "✗" };

/** The point the guard is expected to scan next: the first pending point of a started round
 * (or of the first round whose window is open). */
export function nextPoint(rounds) {
  const round = rounds.find((r) => r.state === "started") || rounds.find((r) => r.state === "due");
  if (!round) return null;
  const point = round.points.find((p) => p.state === "pending");
  return point ? { round, point } : null;
}

export function renderRounds(rounds, { pending, start, finish }) {
  const list = $("round-list");
  list.replaceChildren(...rounds.map((r) => {
    const li = el("li", "round-card");
    li.dataset.state = r.state;
    const head = el("div", "r-head");
    head.append(el("span", "r-icon", ROUND_ICON[r.state] || ""), el("h3", "r-name", r.name),
      el("span", "r-state", t("round." + r.state)));
    const when = el("p", "r-when muted", r.state === "due"
      ? t("guard.round_window", { from: siteTime(r.due_at), until: siteTime(r.start_by) })
      : r.state === "started" && r.limit_at ? t("guard.round_limit", { until: siteTime(r.limit_at) }) : "");
    const points = el("ol", "r-points");
    for (const p of r.points) {
      const item = el("li", "r-point");
      item.dataset.state = p.state;
      const time = p.scanned_at ? siteTime(p.scanned_at) : p.due_at ? t("guard.point_due", { at: siteTime(p.due_at) }) : "";
      item.append(el("span", "p-icon", POINT_ICON[p.state] || ""), el("span", "p-name", p.name),
        el("span", "p-state", t("point." + p.state)), el("span", "p-time muted", time));
      points.append(item);
    }
    const actions = el("div", "actions");
    if (r.state === "due") {
      const b = button(t("guard.round_start"), () => start(r), "btn big primary");
      b.disabled = pending.has(`round-${r.id}`);
      actions.append(b);
    } else if (r.state === "started") {
      const b = button(t("guard.round_finish"), () => finish(r), "btn big");
      b.disabled = pending.has(`round-${r.id}`);
      actions.append(b);
    }
    li.append(head, when, points, actions);
    return li;
  }));
  $("rounds-empty").hidden = rounds.length > 0;
}

const checks = new Map(); // item id -> select (kept while the same point is next)
let checklistFor = null;

/** The checklist of the point scanned next (ok by default; the guard marks what failed). */
export function renderChecklist(next) {
  const box = $("checklist");
  const items = next && next.point.checklist ? next.point.checklist : [];
  const key = next ? `${next.round.id}:${next.point.seq}:${document.documentElement.lang}` : null;
  box.hidden = items.length === 0;
  if (key === checklistFor) return;
  checklistFor = key;
  checks.clear();
  setText($("checklist-legend"), next ? t("guard.checklist", { name: next.point.name }) : "");
  $("checklist-items").replaceChildren(...items.map((item) => {
    const row = el("label", "check-row");
    const select = el("select", "check");
    for (const value of ["ok", "failed"]) {
      const option = el("option", "", t("check." + value));
      option.value = value;
      select.append(option);
    }
    checks.set(item.id, select);
    row.append(el("span", "", item.text), select);
    return row;
  }));
}

export function checkedValues() {
  const out = {};
  for (const [id, select] of checks) out[id] = select.value;
  return out;
}

export function resetChecklist() {
  checklistFor = null;
}

/** What is still waiting to be sent, oldest first (a scan shows when it was taken). */
export function renderOutbox(waiting) {
  $("outbox").hidden = waiting.length === 0;
  $("outbox-list").replaceChildren(...waiting.map(({ key, entry }) => {
    const what = entry && entry.label ? t(entry.label) : key;
    const at = entry && entry.taken_at ? siteTime(entry.taken_at) : entry && entry.queued_at ? siteTime(entry.queued_at) : "";
    return el("li", "outbox-item", `${what} · ${at}`);
  }));
}
