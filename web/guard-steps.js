// The guard page's open task: the guard's own steps with their controls, and the photos sent with
// the task. The page (guard.js) owns the state and the write queue; this module only draws.
import { t } from "./i18n.js";
import { keyedList } from "./dom.js";
import {
  $, el, setText, button, loc, answerButtons, placeLabel, siteTime, countdown, answerText, fieldLabel, fileButton,
} from "./api.js";

/** Text inputs that survive re-renders, so what a guard typed is never wiped by a refresh. */
export const inputs = new Map();

export function textInput(id, multiline) {
  let node = inputs.get(id);
  if (!node) {
    node = el(multiline ? "textarea" : "input", "text-in");
    if (!multiline) node.type = "text";
    else node.rows = 3;
    node.id = id;
    inputs.set(id, node);
  }
  return node;
}

export function labelFor(id, text) {
  const label = el("label", "", text);
  label.htmlFor = id;
  return label;
}

/**
 * The open task's panel. `actions` gives what the page does on a press: answerStep(taskId, stepId,
 * value), uploadPhoto(taskId, stepId, file), showError({key}); `pending` is the set of write keys
 * still in the queue (their buttons stay disabled).
 */
export function createTaskDetail({ pending, actions }) {
  const stepItems = new Map(); // step id -> its list item parts

  function stepControls(taskId, step, canAct) {
    const busy = pending.has(`step-${taskId}-${step.id}`);
    const out = [];
    const answer = (value) => actions.answerStep(taskId, step.id, value);
    const submit = (onPress) => {
      const send = button(t("step.submit"), onPress, "btn big primary");
      send.disabled = busy || !canAct;
      out.push(send);
    };
    const b = (text, value, cls = "") => {
      const node = button(text, () => answer(value), "btn big " + cls);
      node.disabled = busy || !canAct;
      out.push(node);
    };
    if (step.status === "open") {
      if (step.completed_by === "arrival") out.push(el("p", "muted", t("guard.arrival_auto")));
      else if (step.completed_by === "alarm_clear") out.push(el("p", "muted", t("guard.clear_auto")));
      else if (answerButtons(step, b)) {
        /* check, yes/no, choice */
      } else if (step.type === "text") {
        const id = `text-${taskId}-${step.id}`;
        const area = textInput(id, true);
        out.push(labelFor(id, t("step.text_label")), area);
        submit(() => {
          if (!area.value.trim()) {
            actions.showError({ key: "step.need_text" });
            return;
          }
          answer(area.value.trim());
        });
      } else if (step.type === "call_record") {
        const fields = {};
        for (const f of step.fields || []) {
          const id = `field-${taskId}-${step.id}-${f}`;
          fields[f] = textInput(id, false);
          out.push(labelFor(id, fieldLabel(f)), fields[f]);
        }
        submit(() => answer(Object.fromEntries(Object.entries(fields).map(([k, n]) => [k, n.value.trim()]))));
      }
    }
    const wantsPhoto = step.type === "photo" || (step.evidence || []).includes("photo");
    if (wantsPhoto && (step.status === "open" || step.status === "done")) {
      const id = `photo-${taskId}-${step.id}`;
      const disabled = !canAct || pending.has(id);
      const upload = (file) => actions.uploadPhoto(taskId, step.id, file);
      out.push(fileButton(id, t("guard.photo"), "btn big", disabled, upload, "environment"));
    }
    if (step.status === "open" && !canAct && step.completed_by !== "arrival") {
      out.push(el("p", "muted", t("guard.act_after_accept")));
    }
    return out;
  }

  function stepItem() {
    const li = el("li", "step");
    const text = el("p", "s-text");
    const meta = el("p", "s-meta");
    const controls = el("div", "s-controls");
    li.append(text, meta, controls);
    return { li, text, meta, controls, sig: null };
  }

  function renderSteps(d, canAct) {
    const steps = (d.steps || []).filter((s) => s.role === "guard" && (s.status === "open" || s.status === "done"));
    const pendingKeys = [...pending].join(",");
    keyedList($("step-list"), stepItems, steps, {
      key: (s) => s.id,
      draw(s, item = stepItem()) {
        item.li.dataset.status = s.status;
        setText(item.text, loc(s.text));
        const metaParts = [t("status." + s.status)];
        if (s.status === "done") metaParts.push(answerText(s), t("step.done_by", { actor: s.actor || "", time: siteTime(s.done_at) }));
        setText(item.meta, metaParts.join(" · "));
        if (s.status === "open" && s.due_at) item.meta.append(" ", countdown(s.due_at));
        const sig = [d.id, s.status, canAct, pendingKeys, document.documentElement.lang].join("|");
        if (item.sig !== sig) {
          item.sig = sig;
          item.controls.replaceChildren(...stepControls(d.id, s, canAct));
        }
        return item;
      },
    });
    $("steps-empty").hidden = steps.length > 0;
  }

  function renderPhotos(d) {
    const ul = $("photo-list");
    const have = new Set([...ul.children].map((li) => li.dataset.id));
    const want = (d.evidence || []).map((e) => String(e.id));
    if (want.length === have.size && want.every((id) => have.has(id))) return;
    ul.replaceChildren(...(d.evidence || []).map((e) => {
      const li = el("li", "photo");
      li.dataset.id = String(e.id);
      const img = el("img");
      img.src = e.url;
      // the console's own evidence is a camera's snapshot of the alarm (console/video/linker.py)
      const camera = e.uploaded_by === "system";
      img.alt = camera ? t("guard.snapshot_alt", { time: siteTime(e.uploaded_at) }) : t("guard.photo_alt", { id: e.id });
      img.loading = "lazy";
      li.append(img, el("span", "muted", (camera ? t("guard.snapshot") + " · " : "") + siteTime(e.uploaded_at)));
      return li;
    }));
  }

  /** Draw task `d` (or hide the panel when null); `canAct` when the guard holds a live dispatch. */
  function render(d, canAct) {
    const section = $("detail");
    if (!d) {
      section.hidden = true;
      return;
    }
    section.hidden = false;
    setText($("detail-heading"), `${loc(d.title)} #${d.id}${d.drill ? " · " + t("task.drill") : ""}`);
    setText($("detail-loc"), placeLabel(d.location));
    renderSteps(d, canAct);
    renderPhotos(d);
  }

  /** Forget drawn signatures and photos (a language change redraws everything). */
  function reset() {
    for (const item of stepItems.values()) item.sig = null;
    $("photo-list").replaceChildren();
  }

  return { render, reset };
}
