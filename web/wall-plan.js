// The wall's floor plan: the floor of the newest top-priority alarm (an operator may pick another
// floor's tab; the next new top alarm takes it back), a tab per floor with its alarm count, markers
// coloured by device state that blink while an alarm on them is unacknowledged.
import { t } from "./i18n.js";
import { api, coalesce, parseTime, errorText } from "./api.js";
import { FloorPlanView } from "./floorplan.js";
import { $, el, noTranslate, setText, state, invalidate, locationLabel, rankOf } from "./wall-state.js";
import { keyedList } from "./dom.js";

const REFETCH_MS = 1500; // at most this often after a device or plan change

const planView = new FloorPlanView($("plan-view"), {});
const planTabs = new Map(); // plan id -> {btn, name, count}
let currentPlanId = null;
let autoTargetId = null; // the alarm the plan last switched to
let shownPlanKey = "";

function planKey(p) {
  return `${p.id}:${p.revision}:${p.image_url}`;
}

function planOfAlarm(a) {
  const l = a.location || {};
  if (!l.building && !l.floor) return null;
  return state.plans.find((p) => p.building === (l.building || "") && p.floor === (l.floor || "") &&
    (!p.site || !a.site || p.site === a.site)) || null;
}

/** The newest alarm of the top priority among the active (unshelved) ones. */
function topAlarm() {
  let best = null;
  for (const a of state.sorted) {
    if (!best) {
      best = a;
      continue;
    }
    if (rankOf(a) > rankOf(best)) break; // sorted by priority: the top group is done
    if ((parseTime(a.raised_at) ?? 0) >= (parseTime(best.raised_at) ?? 0)) best = a;
  }
  return best;
}

export function renderPlan() {
  const plans = state.plans;
  const counts = new Map();
  for (const a of state.sorted) {
    const p = planOfAlarm(a);
    if (p) counts.set(p.id, (counts.get(p.id) || 0) + 1);
  }
  // Switch to the floor of the newest top-priority alarm whenever that alarm changes.
  const top = topAlarm();
  const note = $("plan-note");
  note.hidden = true;
  if (top && top.id !== autoTargetId) {
    const p = planOfAlarm(top);
    if (p) {
      autoTargetId = top.id;
      currentPlanId = p.id;
    } else if (plans.length) {
      note.hidden = false;
      note.replaceChildren(el("span", null, t("wall.plan.no_plan_for")), noTranslate(el("span", "plan-note-loc", ` ${locationLabel(top)}`)));
    }
  } else if (!top) {
    autoTargetId = null;
  }
  if (!plans.some((p) => p.id === currentPlanId)) currentPlanId = plans.length ? plans[0].id : null;
  const plan = plans.find((p) => p.id === currentPlanId) || null;

  // floor tabs (keyed)
  const box = $("plan-floors");
  keyedList(box, planTabs, plans, {
    key: (p) => p.id,
    node: (tab) => tab.btn,
    draw(p, tab) {
      if (!tab) {
        const btn = el("button", "plan-tab");
        btn.type = "button";
        btn.setAttribute("role", "tab");
        btn.setAttribute("aria-controls", "plan-view");
        const name = noTranslate(el("span", "plan-tab-name"));
        const count = el("span", "plan-tab-count");
        btn.append(name, count);
        btn.dataset.planId = String(p.id);
        btn.addEventListener("click", () => {
          currentPlanId = p.id;
          invalidate("plan");
        });
        btn.addEventListener("keydown", onTabKey);
        tab = { btn, name, count };
      }
      setText(tab.name, [p.building, p.floor].filter(Boolean).join(" "));
      const n = counts.get(p.id) || 0;
      setText(tab.count, n ? t(n === 1 ? "wall.plan.alarm_one" : "wall.plan.alarms", { n }) : "");
      tab.count.hidden = !n;
      tab.btn.classList.toggle("has-alarms", n > 0);
      tab.btn.setAttribute("aria-selected", String(p.id === currentPlanId));
      tab.btn.tabIndex = p.id === currentPlanId ? 0 : -1;
      return tab;
    },
  });
  box.hidden = plans.length === 0;
  if (plan && (plan.id !== scrolledToPlanId || box.children.length !== scrolledTabs)) {
    scrolledToPlanId = plan.id;
    scrolledTabs = box.children.length;
    const tab = planTabs.get(plan.id);
    if (tab) scrollTabIntoView(box, tab.btn);
  }
  const title = plan ? [plan.building, plan.floor].filter(Boolean).join(" · ") : "";
  setText($("plan-title"), title);
  $("plan-view").setAttribute("aria-label", title);
  const key = plan ? planKey(plan) + JSON.stringify(plan.markers || []) : "";
  if (key !== shownPlanKey) {
    shownPlanKey = key;
    planView.setPlan(plan);
  }
  planView.setAlarms(state.sorted);
  if (!plans.length) {
    note.hidden = false;
    note.textContent = state.plansError || t("wall.plan.none");
  }
}

let scrolledToPlanId = null;
let scrolledTabs = 0;

/** The floor tabs are one row that scrolls sideways: bring the shown floor into the middle of it. */
function scrollTabIntoView(box, btn) {
  if (!box.clientWidth) return;
  const target = btn.offsetLeft - (box.clientWidth - btn.offsetWidth) / 2; // the box is the offsetParent
  const left = Math.max(0, Math.min(target, box.scrollWidth - box.clientWidth));
  if (Math.abs(box.scrollLeft - left) > 1) box.scrollLeft = left;
}

/** Arrow keys, Home and End move between the floor tabs (the tablist pattern). */
function onTabKey(e) {
  const tabs = [...$("plan-floors").children];
  const i = tabs.indexOf(e.currentTarget);
  const to = { ArrowLeft: i - 1, ArrowRight: i + 1, Home: 0, End: tabs.length - 1 }[e.key];
  if (to === undefined || i < 0) return;
  e.preventDefault();
  const next = tabs[(to + tabs.length) % tabs.length];
  currentPlanId = Number(next.dataset.planId) || next.dataset.planId;
  renderPlan();
  next.focus();
}

export async function fetchPlans() {
  try {
    const plans = await api("GET", "/api/floorplans");
    state.plans = Array.isArray(plans) ? plans : [];
    state.plansError = "";
  } catch (err) {
    state.plansError = t("wall.plan.error", { detail: errorText(err) });
  }
  invalidate("plan");
}

export const refetchPlans = coalesce(fetchPlans, REFETCH_MS);

/** Draw the plan's labels in the language now chosen. */
export function setPlanLang() {
  planView.setLang();
}
