// Section "displays": every wall's last heartbeat (GET /api/displays), kept live by the /ws
// `display.updated` messages: live / stale (frozen page) / disconnected, sound, last beat, lag.
// An admin also pairs a new wall here: the code its /pair page shows, the display login it signs in
// as, and its name (POST /api/displays/pairings/approve).
import { t } from "./i18n.js";
import { api, siteTime, now, parseTime, coalesce } from "./api.js";
import {
  h, data, field, input, table, td, adminSection, part, formatMs, statusBox, whileBusy, isBusy,
} from "./admin-common.js";
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
  if (ctx.me && ctx.me.role === "admin") section.append(pairingPart(err, load));

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

/** Pair a wall: the walls waiting (their codes) and the form that approves one. */
function pairingPart(err, reload) {
  const pairPart = part("adm.pair.title");
  const ok = statusBox();
  const waiting = h("ul", { class: "pair-waiting" });
  const fCode = input({ name: "code", maxlength: 16, required: true, placeholder: "ABCD-EFGH", autocapitalize: "characters" });
  const fUser = input({ name: "user", maxlength: 64, required: true, value: "wall" });
  const fName = input({ name: "name", maxlength: 64 });
  const approveBtn = h("button", { type: "submit", class: "btn primary", i18n: "adm.pair.approve" });
  const form = h("form", { class: "adm-form grid2", "aria-labelledby": pairPart.headingId, novalidate: true },
    field("adm.pair.code", fCode), field("adm.pair.user", fUser, { hint: "adm.pair.user_hint" }),
    field("adm.pair.name", fName), h("div", { class: "form-actions" }, approveBtn));
  pairPart.box.append(h("p", { class: "hint", i18n: "adm.pair.hint" }), waiting, form, ok.node);

  async function listWaiting() {
    try {
      const list = (await api("GET", "/api/displays/pairings")) || [];
      waiting.replaceChildren(...list.map((p) => h("li", {},
        h("button", { type: "button", class: "btn", text: p.code, onclick: () => { fCode.value = p.code; fName.focus(); } }),
        data(` ${p.client} · ${siteTime(p.requested_at, true)}`, "span", "muted"))));
    } catch (e) {
      err.show(e);
    }
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (isBusy(approveBtn)) return;
    err.clear();
    ok.clear();
    if (!fCode.value.trim()) return fCode.focus();
    whileBusy(approveBtn, async () => {
      try {
        const done = await api("POST", "/api/displays/pairings/approve", {
          json: { code: fCode.value.trim(), user: fUser.value.trim(), name: fName.value.trim() },
        });
        ok.show("adm.pair.done", { code: done.code, name: done.name || done.user });
        fCode.value = "";
        fName.value = "";
        await listWaiting();
        await reload();
      } catch (e) {
        err.show(e);
      }
    });
  });
  listWaiting();
  setInterval(() => {
    if (pairPart.box.isConnected && !pairPart.box.closest("[hidden]")) listWaiting();
  }, 5000);
  return pairPart.box;
}

export default { id: "displays", titleKey: "adm.nav.displays", roles: ["admin", "supervisor"], create };
