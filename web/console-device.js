// Console views "#devices" (every device with its state and last message, filterable) and
// "#device/<site>/<id>" (one device: what it is, where, its state and last seen, its alarms and events,
// and for a lane or a GB/T 26875.3 device its remote commands: console-commands.js).
import { t, kindLabel, severityLabel, applyI18n } from "./i18n.js";
import { el, setText, api, coalesce, siteTime, placeLabel } from "./api.js";
import { h, site, deviceLink, deviceHref, errorText, ageNode, tickAges } from "./console-util.js";
import { eventTable } from "./console-history.js";
import { createCommandsBox } from "./console-commands.js";

function stateWord(s) {
  return t(["online", "offline", "unknown"].includes(s) ? "con.dev.state." + s : "con.dev.state.unknown");
}

function stateBadge(s) {
  const b = el("span", "badge dev-state", stateWord(s));
  b.dataset.state = s || "unknown";
  return b;
}

/** "11-26 10:02:03 (2分15秒前)" with the age ticking. */
function lastSeen(iso) {
  if (!iso) return document.createTextNode(t("con.dev.never"));
  const span = el("span", "", siteTime(iso, true) + " ");
  const age = ageNode(iso);
  span.append("(", t("con.dev.ago_prefix"), age, t("con.dev.ago_suffix"), ")");
  return span;
}

// ---------------------------------------------------------------- the list

export function createDevicesView({ root }) {
  const state = { devices: [], error: null, filter: "", loaded: false, visible: false };
  const q = h("input", { id: "d-q", type: "search", autocomplete: "off", "data-i18n-attr": "placeholder:con.devices.q_hint" });
  const status = h("span", { class: "muted", role: "status" });
  const error = h("p", { class: "alert", role: "alert" });
  const tbody = h("tbody");
  const cols = ["con.dev.name", "con.dev.id", "con.dev.location", "con.dev.state", "con.dev.last_seen"];
  root.append(h("section", { class: "panel d-panel", "aria-labelledby": "devices-heading" },
    h("div", { class: "panel-head" }, h("h2", { id: "devices-heading", "data-i18n": "con.devices.heading" }), status),
    h("div", { class: "panel-body" },
      h("form", { class: "a-filters", role: "search", "data-i18n-attr": "aria-label:con.devices.filter", onsubmit: (e) => e.preventDefault() },
        h("div", { class: "f-field" }, h("label", { for: "d-q", "data-i18n": "con.filter.text" }), q)),
      error,
      h("table", { class: "log", "aria-labelledby": "devices-heading" },
        h("thead", {}, h("tr", {}, cols.map((key) => h("th", { scope: "col", "data-i18n": key })))), tbody))));
  applyI18n(root);
  q.addEventListener("input", () => {
    state.filter = q.value.trim().toLowerCase();
    render();
  });

  const load = coalesce(async () => {
    try {
      state.devices = (await api("GET", "/api/devices")) || [];
      state.error = null;
      state.loaded = true;
    } catch (err) {
      state.error = errorText(err);
    }
    render();
  }, 500);

  function render() {
    if (!state.visible) return;
    setText(error, state.error || "");
    const shown = state.devices.filter((d) => !state.filter ||
      [d.name, d.name_en, d.device_id, placeLabel(d.location), d.role].filter(Boolean).join(" ").toLowerCase().includes(state.filter));
    tbody.replaceChildren(...shown.map((d) => h("tr", {},
      h("td", {}, deviceLink(d.site, d.device_id, d.name || d.device_id)),
      h("td", {}, site(d.device_id)),
      h("td", {}, site(placeLabel(d.location))),
      h("td", {}, stateBadge(d.state)),
      h("td", {}, lastSeen(d.last_seen)))));
    setText(status, state.loaded ? t("con.devices.count", { shown: shown.length, total: state.devices.length }) : t("console.loading"));
  }

  return {
    show() {
      state.visible = true;
      load();
      render();
    },
    hide() {
      state.visible = false;
    },
    focusSearch() {
      q.focus();
      q.select();
    },
    onKey() {
      return false;
    },
    onMessage(msg) {
      if (state.visible && msg.type === "device.state") load();
    },
    tick() {
      if (state.visible) tickAges(root);
    },
    rerender: render,
  };
}

// ---------------------------------------------------------------- one device

export function createDeviceView({ root }) {
  const state = { site: null, id: null, data: null, error: null, visible: false };
  const heading = h("h2", { id: "device-heading" });
  const stateB = h("span", { class: "badge dev-state" });
  const back = h("a", { href: "#devices", class: "c-back", "data-i18n": "con.dev.back" });
  const historyLink = h("a", { class: "btn", "data-i18n": "con.dev.more_events" });
  const error = h("p", { class: "alert", role: "alert" });
  const facts = h("dl", { class: "p-facts d-facts" });
  const openList = h("ul", { class: "plain", "aria-labelledby": "dev-open-heading" });
  const openEmpty = h("p", { class: "muted", "data-i18n": "con.dev.no_open" });
  const alarmRows = h("tbody");
  const alarmCols = ["con.ev.time", "con.ev.kind", "con.alarm.point", "con.alarm.severity", "con.alarm.state", "con.alarm.ack_comment"];
  const alarmsEmpty = h("p", { class: "muted", "data-i18n": "con.dev.no_alarms" });
  const events = eventTable("dev-events-heading", "dev-events");
  const commandsBox = createCommandsBox();
  const eventsEmpty = h("p", { class: "muted", "data-i18n": "con.dev.no_events" });
  const body = h("div", { class: "panel-body" },
    h("div", { class: "p-head" }, heading, stateB),
    h("div", { class: "a-actions" }, back, historyLink), error, facts, commandsBox.node,
    h("div", { class: "d-cols" },
      h("section", { class: "box", "aria-labelledby": "dev-open-heading" }, h("h3", { id: "dev-open-heading", "data-i18n": "con.dev.open_alarms" }), openList, openEmpty),
      h("section", { class: "box", "aria-labelledby": "dev-alarms-heading" }, h("h3", { id: "dev-alarms-heading", "data-i18n": "con.dev.alarms" }),
        h("table", { class: "log", id: "dev-alarms", "aria-labelledby": "dev-alarms-heading" },
          h("thead", {}, h("tr", {}, alarmCols.map((key) => h("th", { scope: "col", "data-i18n": key })))), alarmRows), alarmsEmpty)),
    h("section", { "aria-labelledby": "dev-events-heading" }, h("h3", { id: "dev-events-heading", "data-i18n": "con.dev.events" }), events.table, eventsEmpty));
  root.append(h("section", { class: "panel d-panel", "aria-labelledby": "device-heading" }, body));
  applyI18n(root);

  const load = coalesce(async () => {
    const key = `${state.site}/${state.id}`;
    if (!state.id) return;
    try {
      const data = await api("GET", `/api/devices/${encodeURIComponent(state.id)}?site=${encodeURIComponent(state.site || "")}`);
      if (key !== `${state.site}/${state.id}`) return;
      state.data = data;
      state.error = null;
    } catch (err) {
      if (key !== `${state.site}/${state.id}`) return;
      state.error = errorText(err);
    }
    render();
  }, 300);

  function fact(key, value) {
    const dd = el("dd");
    dd.append(value instanceof Node ? value : site(value));
    return h("div", {}, h("dt", { text: t(key) }), dd);
  }

  function render() {
    if (!state.visible) return;
    setText(error, state.error || "");
    historyLink.href = `#history?q=${encodeURIComponent(state.id || "")}`;
    const d = state.data;
    if (!d || !d.device) {
      heading.replaceChildren(state.error ? site(state.id) : t("console.loading"));
      stateB.hidden = true;
      facts.replaceChildren();
      return;
    }
    const dev = d.device;
    commandsBox.show(dev);
    const st = d.status || {};
    heading.replaceChildren(site(dev.name || dev.id));
    stateB.hidden = false;
    setText(stateB, stateWord(st.state));
    stateB.dataset.state = st.state || "unknown";
    const sub = dev.subsystem ? t("con.sub." + dev.subsystem) : "—";
    facts.replaceChildren(
      fact("con.dev.id", dev.id),
      fact("con.dev.site", dev.site),
      fact("con.dev.kind", dev.kind || ""),
      fact("con.dev.subsystem", document.createTextNode(sub)),
      fact("con.dev.location", placeLabel(dev.location)),
      fact("con.dev.adapter", dev.adapter || ""),
      fact("con.dev.address", dev.address || ""),
      fact("con.dev.state", stateBadge(st.state)),
      fact("con.dev.last_seen", lastSeen(st.last_seen)),
      fact("con.dev.registered", document.createTextNode(t(st.registered ?? dev.registered ? "con.yes" : "con.no"))),
      fact("con.dev.source", document.createTextNode(dev.source ? t("con.dev.src." + dev.source) : "—")),
    );
    const open = d.open_alarms || [];
    openList.replaceChildren(...open.map((a) => h("li", { class: "proposal" },
      h("span", {}, severityLabel(a.severity), " · ", kindLabel(a.kind), " · ", site(a.point || ""), " · ", siteTime(a.raised_at, true)),
      h("a", { class: "btn small", href: `#alarms/${a.id}` }, t("con.dev.show_alarm")))));
    openEmpty.hidden = open.length > 0;
    const alarms = d.alarms || [];
    alarmRows.replaceChildren(...alarms.map((a) => h("tr", {},
      h("td", { class: "num" }, h("a", { href: `#alarms/${a.id}` }, siteTime(a.raised_at, true))),
      h("td", {}, kindLabel(a.kind)),
      h("td", {}, site(a.point || "")),
      h("td", {}, severityLabel(a.severity)),
      h("td", {}, t(a.cleared ? (a.acknowledged ? "con.astate.cleared" : "con.astate.cleared_unacked") : a.acknowledged ? "con.astate.acked" : "con.astate.unacked")),
      h("td", {}, site(a.ack_comment || "")))));
    alarmsEmpty.hidden = alarms.length > 0;
    alarmRows.parentElement.hidden = alarms.length === 0;
    const evs = d.events || [];
    events.setRows(evs);
    eventsEmpty.hidden = evs.length > 0;
    events.table.hidden = evs.length === 0;
  }

  return {
    show(segments) {
      const [siteId, id] = segments || [];
      if (siteId !== state.site || id !== state.id) {
        state.site = siteId || null;
        state.id = id || null;
        state.data = null;
        state.error = id ? null : t("con.dev.missing");
      }
      state.visible = true;
      render();
      load();
    },
    hide() {
      state.visible = false;
    },
    focusSearch() {
      historyLink.focus();
    },
    onKey() {
      return false;
    },
    onMessage(msg) {
      if (!state.visible || !state.id) return;
      commandsBox.onMessage(msg);
      const data = msg.data || {};
      const about = data.device_id === state.id || data.device === state.id || data.id === state.id;
      if ((msg.type === "event" || msg.type === "device.state" || (msg.type || "").startsWith("alarm.")) && about) load();
      if (msg.type === "snapshot") load();
    },
    tick() {
      if (state.visible) tickAges(root);
    },
    rerender() {
      commandsBox.rerender();
      render();
    },
    href: deviceHref,
  };
}
