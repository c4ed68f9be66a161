// Section "displays": every wall's last heartbeat (GET /api/displays), kept live by the /ws
// `display.updated` messages: live / stale (frozen page) / disconnected, sound, last beat, lag.
import { t } from "./i18n.js";
import { api, siteTime, now, parseTime, coalesce } from "./api.js";
import { h, data, table, td, adminSection, part, formatMs } from "./admin-common.js";
import { formatDuration } from "./i18n.js";

const ORDER = { disconnected: 0, stale: 1, live: 2 };

function create(ctx) {
  const byId = new Map();
  const sec = adminSection({ id: "displays", titleKey: "adm.nav.displays",
    fetch: async () => {
      const list = (await api("GET", "/api/displays")) || [];
      byId.clear();
      for (const d of list) byId.set(d.display, d);
      return list;
    },
    draw: () => render() });
  const { section, err } = sec;
  const load = () => sec.load();

  const summary = h("p", { class: "disp-summary", role: "status" });
  const listPart = part("adm.disp.list");
  const { table: tbl, tbody } = table(listPart.headingId,
    ["adm.disp.col.display", "adm.disp.col.state", "adm.disp.col.sound", "adm.disp.col.last", "adm.disp.col.lag",
      "adm.disp.col.alarms", "adm.disp.col.user", "adm.disp.col.address", "adm.disp.col.build"]);
  const empty = h("p", { class: "empty", i18n: "adm.disp.empty", hidden: true });
  listPart.box.append(h("p", { class: "hint", i18n: "adm.disp.hint" }), h("div", { class: "scroll" }, tbl), empty);
  section.append(err.node, summary, listPart.box);

  function render() {
    const list = [...byId.values()].sort((a, b) =>
      (ORDER[a.state] ?? 9) - (ORDER[b.state] ?? 9) || String(a.name || a.display).localeCompare(String(b.name || b.display)));
    const n = { live: 0, stale: 0, disconnected: 0 };
    for (const d of list) if (d.state in n) n[d.state] += 1;
    summary.textContent = t("adm.disp.summary", n);
    summary.dataset.bad = n.stale || n.disconnected ? "true" : "false";
    tbody.replaceChildren(...list.map((d) => {
      const lastMs = parseTime(d.last_at);
      const ago = lastMs === null ? "" : ` (${t("adm.disp.ago", { d: formatDuration((now() - lastMs) / 1000) })})`;
      return h("tr", { data: { display: d.display, state: d.state } },
        td(data(d.name || d.display), d.name && d.name !== d.display ? h("div", {}, data(d.display, "span", "muted")) : null),
        td(h("span", { class: "badge ds-" + d.state, text: t("adm.disp.state." + d.state) })),
        td(h("span", { class: "badge snd-" + d.sound, text: d.sound ? t("adm.disp.sound." + d.sound) : "—" })),
        td(h("span", { class: "num", text: (d.last_at ? siteTime(d.last_at, true) : "—") + ago })),
        td(h("span", { class: "num", text: formatMs(d.lag_ms) })),
        td(h("span", { class: "num", text: d.alarms ?? "—" })),
        td(data(d.user || "")), td(data(d.address || "")), td(data(d.build || "", "code")));
    }));
    empty.hidden = list.length > 0;
  }

  const refetch = coalesce(load, 500);

  ctx.live.on("display.updated", (msg) => {
    const d = msg.data || {};
    if (!d.display) return;
    byId.set(d.display, { ...(byId.get(d.display) || {}), ...d });
    if (!section.hidden) {
      render();
      refetch(); // the message carries the state; the list has the rest (address, alarms, last_seq)
    }
  });
  ctx.live.on("snapshot", () => {
    if (!section.hidden) load();
  });
  setInterval(() => {
    if (!section.hidden) render(); // the "… ago" times
  }, 5000);

  return sec.view();
}

export default { id: "displays", titleKey: "adm.nav.displays", roles: ["admin", "supervisor"], create };
