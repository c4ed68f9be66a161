// The device page's remote commands: lift a lane's barrier, send a GB/T 26875.3 duty check (查岗),
// each with a reason. A command shows "sent", then "confirmed" when the device's own event says so,
// or "not confirmed" after the site's limit (server: console/api/commands.py). The latest commands
// of the device are listed with their outcome.
import { t } from "./i18n.js";
import { setText, api, siteTime } from "./api.js";
import { h, errorText, formField } from "./console-util.js";

const KINDS = { lane: ["barrier.open", "open-barrier"], gb26875: ["gb.duty_check", "duty-check"] };

export function createCommandsBox() {
  const state = { device: null, kind: null, list: [], error: "" };
  const send = h("button", { type: "button", id: "cmd-send", class: "btn primary", disabled: true, onclick: sendCommand });
  const reason = h("input", { id: "cmd-reason", maxlength: 300, oninput: () => { send.disabled = !reasonGiven(); } });
  const reasonGiven = () => reason.value.trim().length >= 2; // the server asks for a reason (2–300 characters)
  const error = h("p", { id: "cmd-error", class: "form-error", role: "alert" });
  const rows = h("tbody");
  const cols = ["cmd.col.sent", "cmd.col.kind", "cmd.col.by", "cmd.col.reason", "cmd.col.state"];
  const head = h("tr", {});
  const table = h("table", { class: "log", id: "cmd-table", "aria-labelledby": "cmd-heading" }, h("thead", {}, head), rows);
  const heading = h("h3", { id: "cmd-heading" });
  const node = h("section", { class: "box", id: "cmd-box", "aria-labelledby": "cmd-heading", hidden: true },
    heading, h("div", { class: "a-actions" }, formField("cmd-reason", "cmd.reason", reason), send), error, table);

  async function load() {
    if (!state.device) return;
    try {
      state.list = await api("GET", `/api/commands?device_id=${encodeURIComponent(state.device.id)}&limit=10`);
    } catch (err) {
      state.error = errorText(err);
    }
    render();
  }

  async function sendCommand() {
    const [, path] = KINDS[state.kind];
    state.error = "";
    send.disabled = true;
    try {
      await api("POST", `/api/devices/${encodeURIComponent(state.device.id)}/${path}`, { json: { reason: reason.value.trim() } });
      reason.value = "";
    } catch (err) {
      state.error = errorText(err);
    } finally {
      send.disabled = !reasonGiven();
    }
    await load();
  }

  function render() {
    node.hidden = !state.kind;
    if (!state.kind) return;
    const [kind] = KINDS[state.kind];
    setText(heading, t("cmd.heading." + kind));
    setText(send, t("cmd.send." + kind));
    setText(error, state.error);
    head.replaceChildren(...cols.map((key) => h("th", { scope: "col", text: t(key) })));
    rows.replaceChildren(...state.list.map((c) => h("tr", { data: { command: c.id, state: c.state } },
      h("td", { class: "num" }, siteTime(c.sent_at, true)), h("td", {}, t("cmd.kind." + c.kind)),
      h("td", {}, c.sent_by), h("td", {}, c.reason),
      h("td", { class: "cmd-state" }, t("cmd.state." + c.state, { time: c.settled_at ? siteTime(c.settled_at) : "" })))));
    table.hidden = state.list.length === 0;
  }

  return {
    node,
    /** The device shown now (its view from /api/devices/{id}), or null. */
    show(device) {
      const kind = device && (device.role === "lane" ? "lane" : device.adapter === "gb26875" ? "gb26875" : null);
      const changed = (state.device && state.device.id) !== (device && device.id);
      state.device = device;
      state.kind = kind;
      if (changed) {
        state.list = [];
        state.error = "";
        if (kind) load();
      }
      render();
    },
    onMessage(msg) {
      if (msg.type === "command.updated" && state.device && msg.data && msg.data.device_id === state.device.id) load();
    },
    rerender: render,
  };
}
