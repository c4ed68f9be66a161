// The console's alarm detail, lower half: where the alarm is on its floor plan, and what the
// cameras saw (the snapshots taken on alarm). The plans are read once and kept fresh from /ws.
import { t } from "./i18n.js";
import { el, setText, api, coalesce, siteTime } from "./api.js";
import { h, site, errorText } from "./console-util.js";

/**
 * `onPlans()` is called when the floor plans have been (re)read, so the view draws again;
 * `isCurrent(a)` says whether alarm `a` is still the one shown (plans load asynchronously).
 */
export function createAlarmMedia({ onPlans, isCurrent }) {
  const state = {
    plans: undefined, // undefined: not loaded; null: not available; [] plans
    plansError: null,
  };
  let FloorPlanView; // undefined: not tried; null: unavailable
  let planView = null;
  let shownPlanKey = null;

  const planBox = h("div", { class: "a-plan", id: "alarm-plan" });
  const planNote = h("p", { class: "muted" });
  const cams = h("ul", { class: "photos cams", "aria-labelledby": "cams-heading" });
  const camsEmpty = h("p", { class: "muted", "data-i18n": "con.cams.none" });
  const node = h("div", { class: "a-cols", id: "alarm-cols" },
    h("section", { class: "box", "aria-labelledby": "plan-heading" }, h("h3", { id: "plan-heading", "data-i18n": "con.plan.heading" }), planNote, planBox),
    h("section", { class: "box", "aria-labelledby": "cams-heading" }, h("h3", { id: "cams-heading", "data-i18n": "con.cams.heading" }), cams, camsEmpty));

  function renderCams(a) {
    // a snapshot past its keeping (console/video/retention.py) has no url any more: not shown
    const snaps = (Array.isArray(a.snapshots) ? a.snapshots : []).filter((s) => typeof s === "string" || s.url);
    const want = JSON.stringify(snaps.map((s) => s.url || s.image_url || s));
    if (cams.dataset.sig !== want) {
      cams.dataset.sig = want;
      cams.replaceChildren(...snaps.map((s) => {
        const url = typeof s === "string" ? s : s.url || s.image_url;
        const name = typeof s === "string" ? "" : s.camera_name || s.camera || s.name || "";
        const img = h("img", { src: url, alt: t("con.cams.alt", { name }), loading: "lazy" });
        return h("li", {}, img, site(name, "muted"), el("span", "muted", siteTime(s.at || s.taken_at, true)));
      }));
    }
    camsEmpty.hidden = snaps.length > 0;
  }

  const loadPlans = coalesce(async () => {
    try {
      const plans = await api("GET", "/api/floorplans");
      state.plans = Array.isArray(plans) ? plans : [];
      state.plansError = null;
    } catch (err) {
      state.plans = null;
      state.plansError = err && err.status === 404 ? null : errorText(err);
    }
    shownPlanKey = null;
    onPlans();
  });

  const reloadPlansSoon = coalesce(() => loadPlans(), 3000); // marker states: at most every 3 s

  async function planViewClass() {
    if (FloorPlanView !== undefined) return FloorPlanView;
    try {
      const mod = await import("./floorplan.js");
      FloorPlanView = mod.FloorPlanView || mod.default || null;
    } catch (err) {
      console.warn("mcc: floor-plan view not available", err);
      FloorPlanView = null;
    }
    return FloorPlanView;
  }

  function planFor(a) {
    const l = a.location || {};
    if (!Array.isArray(state.plans) || !l.building) return null;
    return state.plans.find((p) => (!p.site || !a.site || p.site === a.site) && p.building === l.building && String(p.floor) === String(l.floor || "")) || null;
  }

  async function renderPlan(a) {
    if (state.plans === undefined) {
      setText(planNote, t("console.loading"));
      loadPlans();
      return;
    }
    const plan = planFor(a);
    const cls = plan ? await planViewClass() : null;
    if (!isCurrent(a)) return; // another alarm was chosen meanwhile
    let note = "";
    if (state.plansError) note = state.plansError;
    else if (state.plans === null) note = t("con.plan.unavailable");
    else if (!cls && plan) note = t("con.plan.unavailable");
    planNote.replaceChildren();
    if (note) planNote.append(note);
    else if (!plan) {
      const l = a.location || {};
      planNote.append(t("con.plan.none"), " ", site([l.building, l.floor].filter(Boolean).join(" ") || "—"));
    } else planNote.append(site(plan.name || `${plan.building} ${plan.floor}`));
    planBox.hidden = !plan || !cls;
    if (!plan || !cls) return;
    try {
      if (!planView) {
        planView = new cls(planBox, {
          onMarkerClick: (m) => {
            if (m && m.device_id) window.location.hash = `#device/${encodeURIComponent(plan.site || a.site)}/${encodeURIComponent(m.device_id)}`;
          },
          editable: false,
        });
      }
      const key = `${plan.id}@${plan.revision}`;
      if (shownPlanKey !== key) {
        planView.setPlan(plan);
        shownPlanKey = key;
      }
      planView.setAlarms([a]);
    } catch (err) {
      console.error(err);
      setText(planNote, t("con.plan.unavailable"));
    }
  }

  return {
    node,
    render(a) {
      renderCams(a);
      renderPlan(a);
    },
    onMessage(msg, visible) {
      if (msg.type === "floorplan.updated") {
        if (state.plans !== undefined) loadPlans();
      } else if (msg.type === "device.state") {
        if (visible && planView) reloadPlansSoon();
      }
    },
    rerender() {
      if (planView && typeof planView.setLang === "function") planView.setLang();
      cams.dataset.sig = "";
    },
  };
}
