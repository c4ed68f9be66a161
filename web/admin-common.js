// Shared helpers of the admin page's sections (/admin): element building with catalogue keys,
// labelled form fields, tables with column headers, alerts and the confirm dialog.
import { t } from "./i18n.js";
import { h } from "./dom.js"; // the one DOM builder (console and admin)
import { goLogin, errorMessage } from "./api.js";

let uid = 0;
/** A unique element id with a readable prefix. */
export const nextId = (prefix) => `${prefix}-${++uid}`;

/**
 * t(key, params) as nodes: each parameter (a user name, a device name, a plate…) in its own
 * <span translate="no">, the catalogue's words around it translatable.
 */
export function tNodes(key, params) {
  const template = t(key);
  const out = [];
  let last = 0;
  template.replace(/\{(\w+)\}/g, (m, name, offset) => {
    if (offset > last) out.push(document.createTextNode(template.slice(last, offset)));
    if (params && Object.prototype.hasOwnProperty.call(params, name)) {
      out.push(h("span", { translate: "no", text: String(params[name]) }));
    } else out.push(document.createTextNode(m));
    last = offset + m.length;
    return m;
  });
  if (last < template.length) out.push(document.createTextNode(template.slice(last)));
  return out;
}

/**
 * Run `work()` with `buttons` (one button or a list) busy. They stay focusable — aria-disabled, not
 * `disabled`: disabling the focused button drops the keyboard focus to <body>, so after a refusal a
 * keyboard or screen-reader user would have to start again from the top of the page. A click or a
 * submit while busy is ignored (returns undefined without running `work`). Returns work's result.
 */
export async function whileBusy(buttons, work) {
  const list = (Array.isArray(buttons) ? buttons : [buttons]).filter(Boolean);
  if (list.some(isBusy)) return undefined;
  for (const b of list) {
    b.setAttribute("aria-disabled", "true");
    b.dataset.busy = "1";
  }
  try {
    return await work();
  } finally {
    for (const b of list) {
      b.removeAttribute("aria-disabled");
      delete b.dataset.busy;
    }
  }
}

/** True while a whileBusy() run holds `button`. */
export const isBusy = (button) => !!button && button.dataset.busy === "1";

/**
 * Re-render rows without losing the keyboard focus: `render()` may replace the focused control; the
 * new control with the same `data-focus-key` (e.g. "toggle:alice") under `root` gets the focus back.
 */
export function keepFocus(root, render) {
  const active = document.activeElement;
  const key = active && root.contains(active) && active.dataset ? active.dataset.focusKey : null;
  render();
  if (!key) return;
  const again = [...root.querySelectorAll("[data-focus-key]")].find((n) => n.dataset.focusKey === key);
  if (again) again.focus();
}

/** Site data (names, ids, payloads, plates): never translated by the browser, exempt from the language check. */
export const data = (text, tag = "span", className) => h(tag, { class: className, translate: "no", text: text ?? "" });

/** A <label> + control pair; the control gets `id`. */
export function field(labelKey, control, { hint, className = "fld" } = {}) {
  if (!control.id) control.id = nextId("f");
  const box = h("div", { class: className }, h("label", { for: control.id, i18n: labelKey }), control);
  if (hint) {
    const hid = nextId("hint");
    box.append(h("p", { id: hid, class: "hint", i18n: hint }));
    control.setAttribute("aria-describedby", hid);
  }
  return box;
}

export const input = (props = {}) => h("input", { type: "text", autocomplete: "off", ...props });

/** <select> with options [value, key] (key a catalogue key; rendered with data-i18n). */
export function select(options, props = {}) {
  const s = h("select", props);
  for (const [value, key] of options) s.append(h("option", { value, i18n: key }));
  return s;
}

/** A table labelled by `headingId`, with column headers from catalogue keys. */
export function table(headingId, columnKeys, className = "tbl") {
  const tbody = h("tbody");
  const tbl = h("table", { class: className, "aria-labelledby": headingId },
    h("thead", {}, h("tr", {}, columnKeys.map((key) => h("th", { scope: "col", i18n: key })))),
    tbody);
  return { table: tbl, tbody };
}

export function td(...children) {
  return h("td", {}, ...children);
}

/** A section's frame: <section aria-labelledby> with an <h2>. */
export function sectionFrame(id, titleKey) {
  const headingId = `${id}-heading`;
  const section = h("section", { id: `sec-${id}`, class: "adm-section", "aria-labelledby": headingId, hidden: true },
    h("h2", { id: headingId, i18n: titleKey }));
  return { section, headingId };
}

/**
 * What every admin section shares: its frame (<section> and <h2>), an alert line for refusals and a
 * status line for confirmations, and a load that fetches then draws: `fetch()` gives the data (null
 * or a refusal keeps what is shown, with the refusal in the alert line), `draw(data)` renders it,
 * `after(data)` fills what is only a convenience (suggestion lists) and may fail quietly.
 * `view({...})` is what the page mounts: show() loads, lang() redraws every line in the new language.
 */
export function adminSection({ id, titleKey, fetch, draw, after = null, initial = null }) {
  const { section, headingId } = sectionFrame(id, titleKey);
  const err = alertBox();
  const ok = statusBox();
  let loadFailed = false; // the alert line shows a failed load (cleared by the next good one)
  const self = {
    section, headingId, err, ok, data: initial,
    async load() {
      try {
        const got = await fetch();
        self.data = got ?? initial;
        if (loadFailed) err.clear(); // a refusal of an action stays until the next action
        loadFailed = false;
      } catch (e) {
        err.show(e);
        loadFailed = true;
      }
      draw(self.data);
      if (after) {
        try {
          await after(self.data);
        } catch {
          /* a convenience only */
        }
      }
    },
    view(extra = {}) {
      return {
        section,
        show: () => self.load(),
        lang() {
          err.render();
          ok.render();
          draw(self.data);
        },
        ...extra,
      };
    },
  };
  return self;
}

/** A sub-part of a section with an <h3>. */
export function part(titleKey, id) {
  const headingId = id || nextId("h3");
  const box = h("section", { class: "adm-part", "aria-labelledby": headingId }, h("h3", { id: headingId, i18n: titleKey }));
  return { box, headingId };
}

/** An alert line (role=alert) that shows a server refusal's own text, or a catalogue message. */
export function alertBox() {
  const node = h("p", { class: "adm-alert", role: "alert", translate: "no" });
  let current = null;
  const render = () => {
    if (current && current.key) {
      node.removeAttribute("translate");
      node.replaceChildren(...tNodes(current.key, current.params));
    } else {
      node.setAttribute("translate", "no");
      node.textContent = current ? current.raw : "";
    }
  };
  return {
    node,
    show(err) {
      current = errorMessage(err);
      render();
    },
    clear() {
      current = null;
      render();
    },
    render,
  };
}

/** A polite status line for "saved"-type confirmations (catalogue key + params). */
export function statusBox() {
  const node = h("p", { class: "adm-ok", role: "status" });
  let current = null;
  const render = () => {
    node.replaceChildren(...(current ? tNodes(current.key, current.params) : []));
  };
  return {
    node,
    show(key, params) {
      current = { key, params };
      render();
    },
    clear() {
      current = null;
      render();
    },
    render,
  };
}

/**
 * A modal dialog (role=dialog, aria-labelledby its heading). `build(body)` fills the body; buttons
 * OK/cancel. Resolves true (ok) / false. `onOk` may return false (or throw) to keep it open.
 */
export function dialog({ titleKey, titleParams, build, okKey = "adm.ok", danger = false, onOk }) {
  return new Promise((resolve) => {
    const hid = nextId("dlg");
    const err = alertBox();
    const body = h("div", { class: "dlg-body" });
    const ok = h("button", { type: "submit", class: danger ? "btn danger" : "btn primary", i18n: okKey });
    const cancel = h("button", { type: "button", class: "btn", i18n: "adm.cancel" });
    const form = h("form", { method: "dialog" }, body, err.node, h("div", { class: "dlg-actions" }, cancel, ok));
    const title = h("h2", { id: hid }, tNodes(titleKey, titleParams));
    const dlg = h("dialog", { class: "adm-dialog", role: "dialog", "aria-labelledby": hid, "aria-modal": "true" }, title, form);
    if (build) build(body);
    let done = false;
    const finish = (value) => {
      if (done) return;
      done = true;
      dlg.close();
      dlg.remove();
      resolve(value);
    };
    cancel.addEventListener("click", () => finish(false));
    dlg.addEventListener("cancel", (ev) => {
      ev.preventDefault();
      finish(false);
    });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (onOk) {
        if (isBusy(ok)) return;
        const keep = await whileBusy(ok, async () => {
          try {
            return await onOk(err);
          } catch (e) {
            err.show(e);
            return false;
          }
        });
        if (keep === false) return;
      }
      finish(true);
    });
    document.body.append(dlg);
    dlg.showModal();
  });
}

export const confirmDialog = (titleKey, textKey, params, okKey = "adm.ok", danger = true) =>
  dialog({
    titleKey, titleParams: params, okKey, danger,
    build: (body) => body.append(h("p", {}, tNodes(textKey, params))),
  });

/** A request whose error body matters (import): JSON in/out, returns {status, ok, body}. */
export async function rawRequest(method, path, { body, contentType } = {}) {
  const headers = { Accept: "application/json" };
  if (contentType) headers["Content-Type"] = contentType;
  const res = await fetch(path, { method, headers, body, credentials: "same-origin", cache: "no-store" });
  const text = await res.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (res.status === 401) goLogin();
  return { status: res.status, ok: res.ok, body: parsed, text };
}

/** "12 ms", "1.2 s" — units from the catalogue. */
export function formatMs(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(Number(ms))) return "—";
  const v = Number(ms);
  return v < 1000 ? t("adm.unit.ms", { n: Math.round(v) }) : t("adm.unit.s", { n: (v / 1000).toFixed(1) });
}

export function formatBytes(n) {
  const v = Number(n) || 0;
  if (v < 1024) return t("adm.unit.bytes", { n: v });
  if (v < 1024 * 1024) return t("adm.unit.kib", { n: (v / 1024).toFixed(1) });
  return t("adm.unit.mib", { n: (v / 1024 / 1024).toFixed(1) });
}

/** A call-record field's label from the shared catalogue (field.*), else its code. */
export function fieldLabelOf(code) {
  const key = "field." + code;
  const text = t(key);
  return text === key ? code : text;
}

export { h };
