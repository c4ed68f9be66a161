// The operator console's task panel: the selected task's steps in order (each with the control its
// type needs, its countdown, who did it and what they answered), the guards to send, the dispatches,
// the photos and the log. The console (console.js) owns the state and the writes; the panel draws.
import { t } from "./i18n.js";
import {
  $, el, setText, button, loc, placeLabel, siteTime, countdown, tickCountdowns, answerText, fieldLabel, fileButton,
  answerButtons,
} from "./api.js";
import { h, site, tn, word } from "./console-util.js";
import { keyedList } from "./dom.js";

/**
 * ``ctx``: the console's ``state`` (openId, detail, proposals), its ``pending`` writes, and what a
 * control does: ``answer(step, value)``, ``uploadPhoto(step, file)``, ``dispatch(guard)``,
 * ``showError(error)``.
 */
export function createPanel({ state, pending, answer, uploadPhoto, dispatch, showError }) {
  const stepItems = new Map(); // step id -> {li, ...}
  const inputs = new Map(); // persistent inputs of step controls (what was typed survives a redraw)

  function textInput(id, multiline) {
    let node = inputs.get(id);
    if (!node) {
      node = el(multiline ? "textarea" : "input", "text-in");
      if (multiline) node.rows = 2;
      else node.type = "text";
      node.id = id;
      inputs.set(id, node);
    }
    return node;
  }

  function labelled(id, text, control) {
    const label = el("label", "", text);
    label.htmlFor = id;
    const box = el("div", "field-in");
    box.append(label, control);
    return box;
  }

  function stepControls(step) {
    const busy = pending.has(`step-${step.id}`) || pending.has(`photo-${step.id}`);
    const out = [];
    const b = (text, value, cls = "") => {
      const node = button(text, () => answer(step, value), "btn " + cls);
      node.disabled = busy;
      out.push(node);
    };
    if (step.completed_by === "arrival") out.push(el("p", "muted", t("step.arrival_hint")));
    else if (step.completed_by === "alarm_clear") out.push(el("p", "muted", t("step.clear_hint")));
    else if (answerButtons(step, b)) {
      /* check, yes/no, choice */
    } else if (step.type === "approval") b(t("step.approve"), null, "primary");
    else if (step.type === "dispatch") out.push(el("p", "muted", t("step.dispatch_hint")));
    else if (step.type === "text" || step.type === "call_record") {
      const fields = step.type === "text" ? [null] : step.fields || [];
      const nodes = fields.map((f) => {
        const id = `in-${step.id}-${f || "text"}`;
        const node = textInput(id, step.type === "text");
        out.push(labelled(id, f ? fieldLabel(f) : t("step.text_label"), node));
        return [f, node];
      });
      const send = button(t("step.submit"), () => {
        if (step.type === "text") {
          const v = nodes[0][1].value.trim();
          if (!v) return showError({ key: "step.need_text" });
          return answer(step, v);
        }
        return answer(step, Object.fromEntries(nodes.map(([f, n]) => [f, n.value.trim()])));
      }, "btn primary");
      send.disabled = busy;
      out.push(send);
    } else if (step.type === "photo") {
      out.push(fileButton(`file-${step.id}`, t("step.photo"), "btn", busy, (file) => uploadPhoto(step, file)));
    }
    return out;
  }

  /** A done step's answer: what a person typed (text, call record) or a guard's name is site data. */
  function answerNodes(s) {
    if (s.actor === "deadline" || s.completed_by) return [word(answerText(s))];
    if (s.type === "text") return [site(s.answer ?? "")];
    if (s.type === "dispatch" && s.answer && s.answer.guard) return tn("answer.dispatched", { guard: s.answer.guard });
    if (s.type === "call_record" && s.answer && typeof s.answer === "object") {
      const out = [];
      Object.entries(s.answer).forEach(([k, v], i) => {
        if (i) out.push(word("; "));
        out.push(word(`${fieldLabel(k)}: `), site(v));
      });
      return out;
    }
    return [word(answerText(s))];
  }

  function renderSteps(d) {
    const ol = $("step-list");
    const open = d.state === "open";
    const stamp = [...pending].join(",") + "|" + document.documentElement.lang + "|" + open;
    keyedList(ol, stepItems, (d.steps || []), {
      key: (s) => s.id,
      draw(s, item) {
        if (!item) {
          const li = el("li", "step");
          const head = el("div", "s-head");
          const text = el("span", "s-text");
          const role = el("span", "badge role");
          const status = el("span", "badge status");
          head.append(text, role, status);
          const meta = el("p", "s-meta");
          const controls = el("div", "s-controls");
          li.append(head, meta, controls);
          item = { li, text, role, status, meta, controls, sig: null };
        }
        item.li.dataset.status = s.status;
        setText(item.text, loc(s.text) + (s.required ? "" : ` (${t("step.optional")})`));
        setText(item.role, t("role." + s.role));
        setText(item.status, t("status." + s.status));
        item.status.dataset.status = s.status;
        item.meta.replaceChildren();
        if (s.status === "done") {
          item.meta.append(...tn("step.done_by", { actor: s.actor || "", time: word(siteTime(s.done_at)) }), " · ", ...answerNodes(s));
        } else if (s.status === "open" && s.due_at) {
          item.meta.append(t("step.due_at", { time: siteTime(s.due_at) }), " ", countdown(s.due_at));
          if (s.rounds) item.meta.append(" · ", ...tn("step.rounds", { n: s.rounds, actor: s.actor || "", time: word(siteTime(s.done_at)) }));
          if (s.deadline_fired) item.meta.append(" · ", t("step.deadline_fired"));
        }
        item.meta.hidden = !item.meta.childNodes.length;
        const sig = `${s.status}|${stamp}`;
        if (item.sig !== sig) {
          item.sig = sig;
          item.controls.replaceChildren(...(s.status === "open" && open ? stepControls(s) : []));
        }
        return item;
      },
    });
  }

  function distanceText(p) {
    const d = Number(p.distance);
    if (d === 0) return t("dist.zone");
    if (d === 1) return t("dist.floor");
    if (d >= 1000) return t("dist.unknown");
    if (d >= 500) return t("dist.building");
    if (d === 100) return t("dist.same_building");
    return t("dist.floors", { n: d - 2 });
  }

  function renderProposals() {
    const d = state.detail;
    const open = !!d && d.state === "open";
    const busy = pending.has("dispatch");
    $("dispatch-nearest").disabled = !open || busy;
    const items = state.proposals.map((p) => {
      const li = el("li", "proposal");
      const text = el("span");
      text.append(site(p.guard));
      if (p.place && p.place !== "?") text.append(" · ", site(p.place));
      text.append(" · ", distanceText(p));
      if (p.tried) text.append(" · ", t("dispatch.tried"));
      li.append(text);
      const b = button("", () => dispatch(p.guard), "btn small");
      b.append(...tn("dispatch.send", { guard: p.guard }));
      b.disabled = !open || busy;
      li.append(b);
      return li;
    });
    $("proposal-list").replaceChildren(...items);
    $("proposals-empty").hidden = items.length > 0;
  }

  function renderDispatches(d) {
    const items = (d.dispatches || []).slice().reverse().map((x) => {
      const li = el("li", "dispatch");
      li.dataset.state = x.state;
      li.append(site(x.guard, "d-guard"), el("span", "badge dstate", t("dstate." + x.state)),
        el("span", "muted", t("dispatch.assigned_at", { time: siteTime(x.assigned_at) })));
      if (x.state === "assigned" && x.accept_due_at) li.append(el("span", "muted", t("dispatch.accept_by")), countdown(x.accept_due_at));
      if (x.report) li.append(h("span", { class: "d-report" }, tn("dispatch.report", { text: x.report })));
      return li;
    });
    $("dispatch-list").replaceChildren(...items);
    $("dispatches-empty").hidden = items.length > 0;
  }

  /** A log entry's detail as nodes: catalogue words translatable, what people wrote and names as site data. */
  function logDetail(e, d) {
    const data = e.data || {};
    const said = (text) => (text ? [site(text)] : []);
    if (e.action === "answer") {
      if (data.by) return [word(t("log.by." + data.by))];
      const step = (d.steps || []).find((s) => s.id === e.step);
      return step ? answerNodes({ ...step, answer: data.value, actor: e.actor }) : said(JSON.stringify(data.value ?? ""));
    }
    if (e.action === "comment") return said(data.text);
    if (e.action === "dispatch") return said(data.guard);
    if (e.action === "close") return said(data.reason);
    if (e.action === "reported" || e.action === "declined") return said(data.text || data.reason);
    if (e.action === "notified") return [site(data.target || ""), word(` ${data.delivered ? "✓" : "✗"}`)];
    if (e.action === "dispatch_expired") return said(data.guard);
    if (e.action === "deadline") return data.effect ? [word(t("log.effect." + data.effect))] : [];
    if (e.action === "correlated") {
      const device = [data.device_id, data.point].filter(Boolean).join(" · ");
      return tn("log.correlated_detail", { device, zone: data.zone || "", minutes: word(Math.round((data.window_s || 0) / 60)) });
    }
    if (e.action === "snapshot") return said(data.camera);
    return [];
  }

  function renderLog(d) {
    const steps = new Map((d.steps || []).map((s) => [s.id, s]));
    const rows = (d.log || []).slice().reverse().map((e) => {
      const tr = el("tr");
      const key = "log." + e.action;
      const action = t(key) === key ? e.action : t(key);
      const step = e.step && steps.get(e.step) ? loc(steps.get(e.step).text) : e.step || "";
      tr.append(el("td", "num", siteTime(e.at)), h("td", {}, site(e.actor)), el("td", "", action),
        el("td", "l-step", step), h("td", {}, logDetail(e, d)));
      return tr;
    });
    $("log-rows").replaceChildren(...rows);
  }

  function renderPhotos(d) {
    const ul = $("photo-list");
    const want = (d.evidence || []).map((e) => String(e.id)).join(",");
    if (ul.dataset.ids !== want) {
      ul.dataset.ids = want;
      ul.replaceChildren(...(d.evidence || []).map((e) => {
        const li = el("li");
        const img = el("img");
        img.src = e.url;
        img.alt = t("photos.alt", { id: e.id, who: e.uploaded_by || "" });
        li.append(img, h("span", { class: "muted" }, site(e.uploaded_by || ""), " ", siteTime(e.uploaded_at)));
        return li;
      }));
    }
    $("photos-empty").hidden = (d.evidence || []).length > 0;
  }

  function renderPanel() {
    const d = state.detail;
    $("panel-empty").hidden = state.openId !== null;
    $("panel-body").hidden = state.openId === null;
    if (!d || d.id !== state.openId) {
      setText($("panel-heading"), state.openId === null ? "" : t("console.loading"));
      return;
    }
    setText($("panel-heading"), `${loc(d.title)} #${d.id}`);
    $("panel-drill").hidden = !d.drill;
    setText($("panel-state"), t("task.state." + d.state));
    $("panel-state").dataset.state = d.state;
    $("fact-location").setAttribute("translate", "no"); // a place: site data
    setText($("fact-location"), placeLabel(d.location) || "—");
    setText($("fact-alarm"), d.alarm_id == null ? "—" : `#${d.alarm_id}`);
    setText($("fact-opened"), siteTime(d.opened_at, true));
    $("fact-assignee").replaceChildren(...(d.assignee ? [site(d.assignee), word(` · ${t("dstate." + d.dispatch_state)}`)] : [word("—")]));
    const closed = d.state !== "open";
    $("panel-closed").hidden = !closed;
    if (closed) {
      const parts = [...tn("panel.closed_by", { user: d.closed_by || "", time: word(siteTime(d.closed_at, true)) })];
      if (d.close_reason) parts.push(word(" · "), ...tn("panel.close_reason", { reason: d.close_reason }));
      if (d.score) parts.push(word(" · " + t("panel.score", d.score)));
      $("panel-closed").replaceChildren(...parts);
    }
    renderSteps(d);
    renderDispatches(d);
    renderProposals();
    renderLog(d);
    renderPhotos(d);
    setText($("close-condition"), d.close_condition ? t("close.condition", { text: loc(d.close_condition) }) : "");
    for (const id of ["comment-add", "close-btn", "close-reason", "comment-text"]) $(id).disabled = closed;
    $("comment-add").disabled = closed || pending.has("comment");
    $("close-btn").disabled = closed || pending.has("close");
    tickCountdowns($("panel-body"));
  }

  return {
    renderPanel,
    renderProposals,
    /** The language changed: every step's controls and the photos' labels are drawn again. */
    relabel() {
      for (const item of stepItems.values()) item.sig = null;
      $("photo-list").dataset.ids = "";
    },
    /** Another task was opened: its steps and inputs start afresh. */
    reset() {
      for (const item of stepItems.values()) item.li.remove();
      stepItems.clear();
      inputs.clear();
    },
  };
}
