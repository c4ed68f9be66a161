// Section "sops": the operating procedures as the console runs them (GET /api/sops, /api/sops/{id}),
// each step in order with its role, type, deadline, required flag and options, in the current language.
import { t, kindLabel, formatDuration, hasKey } from "./i18n.js";
import { api, loc } from "./api.js";
import { h, data, table, td, adminSection, part, fieldLabelOf } from "./admin-common.js";

const label = (prefix, code) => (hasKey(prefix + code) ? t(prefix + code) : String(code ?? ""));

function create() {
  let list = [];
  const sec = adminSection({ id: "sops", titleKey: "adm.nav.sops",
    fetch: async () => (list = (await api("GET", "/api/sops")) || list), draw: () => renderList() });
  const { section, err } = sec;
  let detail = null;
  let openId = null;

  const listPart = part("adm.sops.list");
  const { table: tbl, tbody } = table(listPart.headingId,
    ["adm.sops.col.title", "adm.sops.col.id", "adm.sops.col.kinds", "adm.sops.col.steps"]);
  listPart.box.append(h("div", { class: "scroll" }, tbl));

  const detailHeading = "sop-detail-heading";
  const dTitle = h("h3", { id: detailHeading });
  const dFacts = h("dl", { class: "facts" });
  const stepsHeading = "sop-steps-heading";
  const dSteps = h("ol", { class: "sop-steps", "aria-labelledby": stepsHeading });
  const detailBox = h("section", { class: "adm-part sop-detail", "aria-labelledby": detailHeading, hidden: true },
    dTitle, dFacts, h("h4", { id: stepsHeading, i18n: "adm.sops.steps" }), dSteps);

  section.append(err.node, h("div", { class: "two-col sop-cols" }, listPart.box, detailBox));

  function limitSeconds(step) {
    if (step.due_seconds != null) return step.due_seconds;
    const name = step.deadline && step.deadline.limit;
    const limit = name && detail && detail.limits ? detail.limits[name] : null;
    return limit ? limit.seconds ?? limit : null;
  }

  function afterText(step) {
    const after = (step.deadline && step.deadline.after) || step.due_after || "alarm";
    if (after === "alarm") return t("adm.sops.after_alarm");
    const id = String(after).replace(/^step:/, "");
    const ref = (detail.steps || []).find((s) => s.id === id);
    return t("adm.sops.after_step", { step: ref ? loc(ref.text) : id });
  }

  function stepItem(step, index) {
    const facts = [];
    const add = (key, value) => facts.push(h("div", {}, h("dt", { i18n: key }), h("dd", {}, value)));
    add("adm.sops.role", label("role.", step.role));
    add("adm.sops.type", label("adm.steptype.", step.type));
    const secs = limitSeconds(step);
    let due = secs == null ? t("adm.sops.no_deadline") : `${formatDuration(secs)} · ${afterText(step)}`;
    if (secs != null && step.limit && step.limit.proposed) due += ` (${t("adm.sops.proposed")})`;
    add("adm.sops.deadline", due);
    add("adm.sops.required", t(step.required === false ? "adm.no" : "adm.yes"));
    const options = [];
    for (const c of step.choices || step.options || []) {
      if (c && typeof c === "object" && c.text) options.push(h("li", {}, loc(c.text), " ", data(`(${c.code})`, "span", "muted")));
    }
    for (const f of step.fields || []) options.push(h("li", {}, fieldLabelOf(f)));
    if (step.completed_by) options.push(h("li", { text: t("adm.sops.completed_by." + step.completed_by) }));
    if (step.auto_assign) options.push(h("li", { text: t("adm.sops.auto_assign") }));
    if (step.when) {
      options.push(h("li", { text: t("adm.sops.when", { step: step.when.step, answer: label("answer.", step.when.answer) }) }));
    }
    const od = step.on_deadline || step.escalation;
    if (od && od.action) {
      const who = (od.notify || []).map((r) => label("role.", r)).join(", ");
      options.push(h("li", { text: t("adm.sops.on_deadline." + od.action, { who: who || "—", answer: od.answer ? label("answer.", od.answer) : "" }) }));
    }
    if (options.length) add("adm.sops.options", h("ul", { class: "plain" }, options));
    return h("li", { class: "sop-step", data: { step: step.id } },
      h("p", { class: "s-text" }, h("span", { class: "s-no num", text: `${index + 1}.` }), " ", loc(step.text)),
      h("dl", { class: "facts small" }, facts));
  }

  function renderDetail() {
    detailBox.hidden = !detail;
    if (!detail) return;
    dTitle.textContent = loc(detail.title) || detail.id;
    const kinds = detail.kinds || detail.applies_to || [];
    const facts = [
      ["adm.sops.col.id", data(detail.id)],
      ["adm.sops.col.kinds", kinds.map(kindLabel).join(t("adm.sep")) || "—"],
      ["adm.sops.col.source", data(detail.source || (detail.sources || []).join(", ") || "—")],
    ];
    if (detail.close) facts.push(["adm.sops.close", loc(detail.close)]);
    dFacts.replaceChildren(...facts.map(([k, v]) => h("div", {}, h("dt", { i18n: k }), h("dd", {}, v))));
    dSteps.replaceChildren(...(detail.steps || []).map(stepItem));
  }

  async function openSop(id) {
    openId = id;
    err.clear();
    renderList();
    try {
      detail = await api("GET", `/api/sops/${encodeURIComponent(id)}`);
    } catch (e) {
      err.show(e);
      detail = null;
    }
    renderDetail();
  }

  function renderList() {
    tbody.replaceChildren(...list.map((s) => {
      const b = h("button", { type: "button", class: "linkish", text: loc(s.title) || s.id });
      if (s.id === openId) b.setAttribute("aria-current", "true");
      b.addEventListener("click", () => openSop(s.id));
      const steps = typeof s.steps === "number" ? s.steps : (s.steps || []).length;
      return h("tr", { class: s.id === openId ? "is-selected" : "" },
        td(b), td(data(s.id)), td((s.kinds || s.applies_to || []).map(kindLabel).join(t("adm.sep"))),
        td(h("span", { class: "num", text: steps })));
    }));
  }

  return sec.view({
    lang() {
      err.render();
      renderList();
      renderDetail();
    },
  });
}

export default { id: "sops", titleKey: "adm.nav.sops", roles: ["admin", "supervisor"], create };
