// The drills (演练) part of the console's "#shift" view: plan a drill (what, where, when), start a
// planned one when the people who run it are ready, watch its task (labelled 演练 in the task view),
// and its score once closed; the history of every drill task. Server: console/api/drills.py.
import { t, kindLabel, getLang } from "./i18n.js";
import { setText, api, siteTime } from "./api.js";
import { h, errorText, zonedInputToIso, formField } from "./console-util.js";

export function createDrillsBox() {
  const state = { plans: [], history: [], kinds: [], error: "" };
  const title = h("input", { id: "dr-title", maxlength: 200 });
  const device = h("input", { id: "dr-device", maxlength: 128, autocomplete: "off" });
  const point = h("input", { id: "dr-point", maxlength: 64, autocomplete: "off" });
  const kind = h("select", { id: "dr-kind" });
  const when = h("input", { id: "dr-when", type: "datetime-local" });
  const add = h("button", { type: "button", id: "dr-add", class: "btn primary", "data-i18n": "drill.add", text: t("drill.add"), onclick: planDrill });
  const error = h("p", { id: "dr-error", class: "form-error", role: "alert" });
  const planRows = h("tbody");
  const historyRows = h("tbody");
  const head = (keys) => h("thead", {}, h("tr", {}, keys.map((key) => h("th", { scope: "col", "data-i18n": key, text: t(key) }))));
  const plans = h("table", { id: "dr-plans", class: "log", "aria-labelledby": "dr-plans-heading" },
    head(["drill.col.title", "drill.col.when", "drill.col.place", "drill.col.kind", "drill.col.state", "drill.col.actions"]), planRows);
  const history = h("table", { id: "dr-history", class: "log", "aria-labelledby": "dr-history-heading" },
    head(["drill.col.started", "drill.col.kind", "drill.col.place", "drill.col.state", "drill.col.score"]), historyRows);
  const node = h("section", { "aria-labelledby": "dr-heading" },
    h("h3", { id: "dr-heading", "data-i18n": "drill.heading", text: t("drill.heading") }),
    h("div", { class: "dl-actions" }, formField("dr-title", "drill.title", title), formField("dr-device", "drill.device", device),
      formField("dr-point", "drill.point", point), formField("dr-kind", "drill.kind", kind), formField("dr-when", "drill.when", when), add),
    error, h("h4", { id: "dr-plans-heading", "data-i18n": "drill.plans", text: t("drill.plans") }), plans,
    h("h4", { id: "dr-history-heading", "data-i18n": "drill.history", text: t("drill.history") }), history);

  async function load() {
    try {
      const data = await api("GET", "/api/drills");
      state.plans = data.plans;
      state.history = data.history;
      if (!state.kinds.length) {
        const sops = (await api("GET", "/api/sops")) || [];
        state.kinds = sops.flatMap((s) => s.kinds).filter((k, i, all) => all.indexOf(k) === i).sort();
      }
    } catch (err) {
      state.error = errorText(err);
    }
    render();
  }

  async function act(fn) {
    state.error = "";
    try {
      await fn();
    } catch (err) {
      state.error = errorText(err);
    }
    await load();
  }

  function planDrill() {
    act(async () => {
      await api("POST", "/api/drills/plans", { json: {
        title: title.value.trim(), device_id: device.value.trim(), point: point.value.trim(), kind: kind.value,
        planned_for: zonedInputToIso(when.value) || null,
      } });
      title.value = "";
    });
  }

  const place = (x) => [x.device_id, x.point].filter(Boolean).join(" · ");
  const score = (s) => (s ? t("drill.score", { percent: s.percent, on_time: s.on_time, late: s.late, missed: s.missed }) : "");

  function planState(p) {
    if (p.state === "cancelled") return t("drill.state.cancelled");
    if (p.state === "planned") return t("drill.state.planned");
    if (!p.task) return t("drill.state.starting");
    return p.task.state === "closed" ? `${t("drill.state.done")} · ${score(p.task.score)}` : t("drill.state.running");
  }

  function render() {
    setText(error, state.error);
    const keep = kind.value;
    kind.replaceChildren(...state.kinds.map((k) => h("option", { value: k, text: `${kindLabel(k)} (${k})` })));
    if (state.kinds.includes(keep)) kind.value = keep;
    planRows.replaceChildren(...state.plans.map((p) => h("tr", { data: { plan: String(p.id), state: p.state } },
      h("td", {}, p.title), h("td", { class: "num" }, p.planned_for ? siteTime(p.planned_for, true) : "—"),
      h("td", {}, place(p)), h("td", {}, kindLabel(p.kind)), h("td", { class: "dr-state" }, planState(p)),
      h("td", {},
        p.state === "planned" ? h("button", { type: "button", class: "btn small primary", text: t("drill.start"),
          onclick: () => act(() => api("POST", `/api/drills/plans/${p.id}/start`)) }) : null,
        p.state === "planned" ? h("button", { type: "button", class: "btn small", text: t("drill.cancel"),
          onclick: () => act(() => api("POST", `/api/drills/plans/${p.id}/cancel`)) }) : null,
        p.task ? h("a", { class: "btn small", href: `#tasks/${p.task.id}`, text: t("drill.watch") }) : null))));
    plans.hidden = state.plans.length === 0;
    historyRows.replaceChildren(...state.history.map((d) => h("tr", { data: { task: String(d.id) } },
      h("td", { class: "num" }, h("a", { href: `#tasks/${d.id}`, text: siteTime(d.opened_at, true) })),
      h("td", {}, d.title ? d.title[getLang()] || d.title.zh : d.sop), h("td", {}, place(d)),
      h("td", {}, t(d.state === "closed" ? "drill.state.done" : "drill.state.running")), h("td", {}, score(d.score)))));
    history.hidden = state.history.length === 0;
  }

  let pending = null;
  return {
    node,
    load,
    onMessage(msg) {
      const drillTask = msg.type === "task.updated" && msg.data && msg.data.drill;
      if ((msg.type !== "drill.updated" && !drillTask) || pending) return;
      pending = setTimeout(() => {
        pending = null;
        load();
      }, 300);
    },
    rerender: render,
  };
}
