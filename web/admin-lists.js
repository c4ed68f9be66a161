// Sections "shelves" (搁置: GET/POST/DELETE /api/shelves; fire and life-safety kinds are refused
// by the server, whose reason is shown) and "plates" (block / allow lists: /api/plates).
import { t, kindLabel, messages } from "./i18n.js";
import { api, siteTime } from "./api.js";
import {
  h, tNodes, data, field, input, select, table, td, adminSection, part, confirmDialog, nextId,
  whileBusy, isBusy,
} from "./admin-common.js";

function datalist(id, values) {
  const dl = h("datalist", { id });
  dl.replaceChildren(...values.map((v) => h("option", { value: v })));
  return dl;
}

function createShelves() {
  let rows = [];
  const sec = adminSection({ id: "shelves", titleKey: "adm.nav.shelves",
    fetch: async () => (rows = (await api("GET", `/api/shelves?active=${!fAll.checked}`)) || []),
    draw: () => render(),
    after: async () => {
      const devices = (await api("GET", "/api/devices")) || [];
      document.getElementById(devList).replaceChildren(...devices.map((d) => h("option", { value: d.device_id })));
    } });
  const { section, err, ok } = sec;
  const load = () => sec.load();

  const newPart = part("adm.shelf.new");
  const devList = nextId("devices");
  const kindList = nextId("kinds");
  const fDevice = input({ list: devList, required: true, maxlength: 128 });
  const fPoint = input({ maxlength: 64 });
  const fKind = input({ list: kindList, maxlength: 48 });
  const fReason = input({ required: true, maxlength: 500 });
  const fMinutes = input({ type: "number", min: 1, max: 10080, value: "60", inputmode: "numeric" });
  const submit = h("button", { type: "submit", class: "btn primary", i18n: "adm.shelf.submit" });
  const kinds = Object.keys(messages.zh).filter((k) => k.startsWith("kind.")).map((k) => k.slice(5));
  const form = h("form", { class: "adm-form grid2", "aria-labelledby": newPart.headingId, novalidate: true },
    field("adm.shelf.device", fDevice), field("adm.shelf.point", fPoint, { hint: "adm.shelf.point_hint" }),
    field("adm.shelf.kind", fKind, { hint: "adm.shelf.kind_hint" }), field("adm.shelf.minutes", fMinutes),
    field("adm.shelf.reason", fReason), h("div", { class: "form-actions" }, submit),
    datalist(devList, []), datalist(kindList, kinds));
  newPart.box.append(form);

  const listPart = part("adm.shelf.list");
  const fAll = h("input", { type: "checkbox" });
  const { table: tbl, tbody } = table(listPart.headingId,
    ["adm.shelf.col.device", "adm.shelf.col.point", "adm.shelf.col.kind", "adm.shelf.col.reason", "adm.shelf.col.by",
      "adm.shelf.col.expires", "adm.shelf.col.state", "adm.col.actions"]);
  const empty = h("p", { class: "empty", i18n: "adm.shelf.empty", hidden: true });
  listPart.box.append(field("adm.shelf.show_all", fAll, { className: "fld check" }), h("div", { class: "scroll" }, tbl), empty);
  fAll.addEventListener("change", load);

  section.append(err.node, ok.node, newPart.box, listPart.box);

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (isBusy(submit)) return;
    err.clear();
    ok.clear();
    const body = {
      device_id: fDevice.value.trim(), point: fPoint.value.trim() || null, kind: fKind.value.trim() || null,
      reason: fReason.value.trim(), minutes: Number(fMinutes.value),
    };
    if (!body.device_id || !body.reason) return err.show({ key: "adm.shelf.need" });
    await whileBusy(submit, async () => {
      try {
        await api("POST", "/api/shelves", { json: body });
        ok.show("adm.shelf.done", { device: body.device_id });
        fReason.value = "";
        await load();
      } catch (e) {
        err.show(e);
      }
    });
  });

  function render() {
    tbody.replaceChildren(...rows.map((r) => {
      const active = !r.removed_at && Date.parse(r.expires_at) > Date.now();
      let actions = null;
      if (active) {
        actions = h("button", { type: "button", class: "btn small", text: t("adm.shelf.remove"),
          "aria-label": t("adm.shelf.remove_of", { device: r.device_id }) });
        actions.addEventListener("click", async () => {
          if (!(await confirmDialog("adm.shelf.remove_title", "adm.shelf.remove_text", { device: r.device_id }, "adm.shelf.remove"))) return;
          err.clear();
          try {
            await api("DELETE", `/api/shelves/${r.id}`);
            ok.show("adm.shelf.removed", { device: r.device_id });
          } catch (e) {
            err.show(e);
          }
          await load();
        });
      }
      const stateText = r.removed_at ? h("span", {}, tNodes("adm.shelf.removed_by", { user: r.removed_by || "" }))
        : t(active ? "adm.shelf.active" : "adm.shelf.expired");
      return h("tr", {},
        td(data(r.device_id)), td(data(r.point || "")), td(r.kind ? kindLabel(r.kind) : h("span", { class: "muted", text: t("adm.shelf.all_kinds") })),
        td(data(r.reason)), td(data(r.created_by)),
        td(h("span", { class: "num", text: siteTime(r.expires_at, true) })), td(stateText), td(actions));
    }));
    empty.hidden = rows.length > 0;
  }

  return sec.view();
}

function createPlates() {
  let rows = [];
  const sec = adminSection({ id: "plates", titleKey: "adm.nav.plates",
    fetch: async () => (rows = (await api("GET", "/api/plates")) || []), draw: () => render() });
  const { section, err, ok } = sec;
  const load = () => sec.load();

  const newPart = part("adm.plate.new");
  const fPlate = input({ required: true, maxlength: 20, translate: "no" });
  const fList = select([["block", "adm.plate.block"], ["allow", "adm.plate.allow"]]);
  const fReason = input({ required: true, maxlength: 300 });
  const submit = h("button", { type: "submit", class: "btn primary", i18n: "adm.plate.submit" });
  const form = h("form", { class: "adm-form grid2", "aria-labelledby": newPart.headingId, novalidate: true },
    field("adm.plate.plate", fPlate), field("adm.plate.list", fList), field("adm.plate.reason", fReason),
    h("div", { class: "form-actions" }, submit));
  newPart.box.append(form);

  const parts = {};
  for (const name of ["block", "allow"]) {
    const p = part(`adm.plate.list_${name}`);
    const { table: tbl, tbody } = table(p.headingId,
      ["adm.plate.col.plate", "adm.plate.col.reason", "adm.plate.col.by", "adm.plate.col.at", "adm.plate.col.source", "adm.col.actions"]);
    const empty = h("p", { class: "empty", i18n: "adm.plate.empty", hidden: true });
    p.box.append(tbl, empty);
    parts[name] = { box: p.box, tbody, empty };
  }
  section.append(err.node, ok.node, newPart.box, h("div", { class: "two-col" }, parts.block.box, parts.allow.box));

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (isBusy(submit)) return;
    err.clear();
    ok.clear();
    const body = { plate: fPlate.value.trim(), list: fList.value, reason: fReason.value.trim() };
    if (!body.plate || !body.reason) return err.show({ key: "adm.plate.need" });
    await whileBusy(submit, async () => {
      try {
        const row = await api("POST", "/api/plates", { json: body });
        ok.show(body.list === "block" ? "adm.plate.blocked" : "adm.plate.allowed", { plate: row ? row.plate : body.plate });
        fPlate.value = "";
        fReason.value = "";
        await load();
      } catch (e) {
        err.show(e);
      }
    });
  });

  function render() {
    for (const name of ["block", "allow"]) {
      const mine = rows.filter((r) => r.list === name);
      parts[name].tbody.replaceChildren(...mine.map((r) => {
        let action = null;
        if (r.source === "console" && r.id != null) {
          action = h("button", { type: "button", class: "btn small", text: t("adm.plate.remove"),
            "aria-label": t("adm.plate.remove_of", { plate: r.plate }) });
          action.addEventListener("click", async () => {
            if (!(await confirmDialog("adm.plate.remove_title", "adm.plate.remove_text", { plate: r.plate }, "adm.plate.remove"))) return;
            err.clear();
            try {
              await api("DELETE", `/api/plates/${r.id}`);
              ok.show("adm.plate.removed", { plate: r.plate });
            } catch (e) {
              err.show(e);
            }
            await load();
          });
        }
        return h("tr", {}, td(data(r.plate, "span", "plate")), td(data(r.reason || "")), td(data(r.added_by || "")),
          td(h("span", { class: "num", text: r.added_at ? siteTime(r.added_at, true) : "—" })),
          td(t(r.source === "console" ? "adm.plate.src_console" : "adm.plate.src_file")), td(action));
      }));
      parts[name].empty.hidden = mine.length > 0;
    }
  }

  return sec.view();
}

export const shelves = { id: "shelves", titleKey: "adm.nav.shelves", roles: ["admin", "supervisor"], create: createShelves };
export const plates = { id: "plates", titleKey: "adm.nav.plates", roles: ["admin", "supervisor"], create: createPlates };
