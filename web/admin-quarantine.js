// Section "quarantine": payloads the console could not take (GET /api/quarantine?limit=), newest
// first, with their reason, topic and an escaped, truncated preview that can be expanded.
import { t } from "./i18n.js";
import { api, siteTime } from "./api.js";
import { h, data, field, select, table, td, adminSection, part, formatBytes } from "./admin-common.js";

const PREVIEW = 120;

function decodeFull(item) {
  if (!item.payload_base64) return item.payload_preview || "";
  try {
    const bytes = Uint8Array.from(atob(item.payload_base64), (c) => c.charCodeAt(0));
    return new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  } catch {
    return item.payload_preview || "";
  }
}

/** Control characters shown visibly (the text goes in via textContent, so markup is never live). */
const visible = (s) => s.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);

/** "invalid JSON: Expecting value…" → "invalid JSON": the reason's family for the counts. */
const reasonFamily = (reason) => String(reason || "").split(/[:(]/, 1)[0].trim() || "—";

function create() {
  let body = { total: 0, items: [] };
  const sec = adminSection({ id: "quarantine", titleKey: "adm.nav.quarantine",
    fetch: async () => (body = (await api("GET", `/api/quarantine?limit=${fLimit.value}`)) || { total: 0, items: [] }),
    draw: () => render() });
  const { section, err } = sec;
  const load = () => sec.load();
  const expanded = new Set();

  const fLimit = select([["100", "adm.q.limit100"], ["500", "adm.q.limit500"], ["1000", "adm.q.limit1000"]]);
  const reload = h("button", { type: "button", class: "btn", i18n: "adm.refresh" });
  const summary = h("p", { class: "muted", role: "status" });
  const tools = h("div", { class: "toolbar" }, field("adm.q.limit", fLimit, { className: "fld inline" }), reload);

  const countPart = part("adm.q.by_reason");
  const { table: cTbl, tbody: cBody } = table(countPart.headingId, ["adm.q.col.reason", "adm.q.col.count"]);
  countPart.box.append(cTbl);

  const listPart = part("adm.q.items");
  const { table: tbl, tbody } = table(listPart.headingId,
    ["adm.q.col.received", "adm.q.col.reason", "adm.q.col.topic", "adm.q.col.adapter", "adm.q.col.size", "adm.q.col.payload"]);
  const empty = h("p", { class: "empty", i18n: "adm.q.empty", hidden: true });
  listPart.box.append(h("div", { class: "scroll" }, tbl), empty);

  section.append(err.node, tools, summary, h("div", { class: "two-col q-cols" }, listPart.box, countPart.box));
  reload.addEventListener("click", load);
  fLimit.addEventListener("change", load);

  function payloadCell(item) {
    const full = visible(decodeFull(item));
    const long = full.length > PREVIEW || (item.size || 0) > full.length;
    const open = expanded.has(item.id);
    const pre = h("pre", { class: "payload", translate: "no", text: open || !long ? full : full.slice(0, PREVIEW) + "…" });
    const cell = td(pre);
    if (long) {
      const b = h("button", { type: "button", class: "btn small", "aria-expanded": open ? "true" : "false",
        text: t(open ? "adm.q.collapse" : "adm.q.expand") });
      b.addEventListener("click", () => {
        if (expanded.has(item.id)) expanded.delete(item.id);
        else expanded.add(item.id);
        render();
      });
      cell.append(b);
      if (open && !item.payload_base64 && (item.size || 0) > full.length) cell.append(h("p", { class: "muted", text: t("adm.q.cut", { n: full.length }) }));
    }
    return cell;
  }

  function render() {
    const items = [...(body.items || [])].sort((a, b) => (b.id || 0) - (a.id || 0));
    summary.textContent = t("adm.q.summary", { shown: items.length, total: body.total ?? items.length });
    tbody.replaceChildren(...items.map((item) => h("tr", { data: { id: item.id } },
      td(h("span", { class: "num", text: siteTime(item.received_at, true) })),
      td(data(item.reason, "span", "q-reason")),
      td(data(item.topic, "code")),
      td(data(item.adapter || "")),
      td(h("span", { class: "num", text: formatBytes(item.size) })),
      payloadCell(item))));
    empty.hidden = items.length > 0;
    const counts = new Map();
    for (const item of items) {
      const k = reasonFamily(item.reason);
      counts.set(k, (counts.get(k) || 0) + 1);
    }
    cBody.replaceChildren(...[...counts.entries()].sort((a, b) => b[1] - a[1]).map(([reason, n]) =>
      h("tr", {}, td(data(reason)), td(h("span", { class: "num", text: n })))));
  }

  return sec.view();
}

export default { id: "quarantine", titleKey: "adm.nav.quarantine", roles: ["admin", "supervisor"], create };
