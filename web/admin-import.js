// Admin section "import": a device registry file (CSV or YAML, as `mcc devices export` writes it)
// checked first (dry run: what would be added / updated / unchanged, and every bad line), then
// imported; the devices as they are now below (GET /api/devices).
import { t, hasKey } from "./i18n.js";
import { api, siteTime, placeLabel } from "./api.js";
import {
  h, tNodes, data, field, select, table, td, adminSection, part, rawRequest, whileBusy, isBusy,
} from "./admin-common.js";

const TYPES = { csv: "text/csv", yaml: "application/yaml" };

function guessFormat(name, text) {
  if (/\.ya?ml$/i.test(name || "")) return "yaml";
  if (/\.csv$/i.test(name || "")) return "csv";
  const first = (text || "").replace(/^\ufeff/, "").split("\n", 1)[0];
  return /^\s*(-|[a-z_]+:)/.test(first) && !first.includes(",") ? "yaml" : "csv";
}

function create() {
  let fileName = "";
  let result = null; // {mode: "check"|"import", body}
  let devices = [];
  const sec = adminSection({ id: "import", titleKey: "adm.nav.import",
    fetch: async () => (devices = (await api("GET", "/api/devices")) || devices), draw: () => renderDevices() });
  const { section, err, ok } = sec;
  const loadDevices = () => sec.load();

  // ---- the file
  const filePart = part("adm.import.source");
  const fFile = h("input", { type: "file", accept: ".csv,.yaml,.yml,text/csv,application/yaml,text/yaml" });
  const fText = h("textarea", { rows: 8, spellcheck: "false", class: "mono", translate: "no" });
  const fFormat = select([["auto", "adm.import.fmt_auto"], ["csv", "adm.import.fmt_csv"], ["yaml", "adm.import.fmt_yaml"]]);
  const checkBtn = h("button", { type: "button", class: "btn", i18n: "adm.import.check" });
  const importBtn = h("button", { type: "button", class: "btn primary", i18n: "adm.import.apply" });
  filePart.box.append(
    field("adm.import.file", fFile, { hint: "adm.import.file_hint" }),
    field("adm.import.paste", fText),
    field("adm.import.format", fFormat),
    h("div", { class: "form-actions" }, checkBtn, importBtn));

  fFile.addEventListener("change", async () => {
    const file = fFile.files && fFile.files[0];
    if (!file) return;
    fileName = file.name;
    fText.value = await file.text();
    result = null;
    renderResult();
  });
  fText.addEventListener("input", () => {
    if (result) {
      result = null;
      renderResult();
    }
  });

  // ---- the result
  const resPart = part("adm.import.result");
  const summary = h("p", { class: "imp-summary", role: "status" });
  const lists = h("div", { class: "imp-lists" });
  const errHeading = "imp-err-heading";
  const errTitle = h("h4", { id: errHeading, i18n: "adm.import.errors" });
  const { table: errTbl, tbody: errBody } = table(errHeading, ["adm.import.col.line", "adm.import.col.message"]);
  const errBox = h("div", { class: "imp-errors", hidden: true }, errTitle, errTbl);
  resPart.box.append(summary, lists, errBox);
  resPart.box.hidden = true;

  // ---- the devices
  const devPart = part("adm.import.devices");
  const { table: devTbl, tbody: devBody } = table(devPart.headingId,
    ["adm.dev.col.id", "adm.dev.col.name", "adm.dev.col.role", "adm.dev.col.location", "adm.dev.col.state",
      "adm.dev.col.last_seen", "adm.dev.col.registered"]);
  const devCount = h("p", { class: "muted" });
  devPart.box.append(devCount, h("div", { class: "scroll" }, devTbl));

  section.append(err.node, ok.node, filePart.box, resPart.box, devPart.box);

  function send(dryRun) {
    if (isBusy(checkBtn) || isBusy(importBtn)) return undefined;
    err.clear();
    ok.clear();
    const text = fText.value;
    if (!text.trim()) return err.show({ key: "adm.import.need" }), fText.focus();
    const fmt = fFormat.value === "auto" ? guessFormat(fileName, text) : fFormat.value;
    return whileBusy([checkBtn, importBtn], async () => {
      try {
        const res = await rawRequest("POST", `/api/devices/import?dry_run=${dryRun}`, { body: text, contentType: TYPES[fmt] });
        const body = res.body && typeof res.body === "object" ? (res.body.detail && typeof res.body.detail === "object" && !Array.isArray(res.body.detail) ? res.body.detail : res.body) : null;
        if (body && Array.isArray(body.errors)) {
          result = { mode: dryRun ? "check" : "import", applied: res.ok && !dryRun && !body.errors.length, body };
          renderResult();
          if (result.applied) {
            ok.show("adm.import.done", { added: (body.added || []).length, updated: (body.updated || []).length });
            await loadDevices();
          }
        } else if (!res.ok) {
          const d = res.body && res.body.detail;
          err.show({ raw: typeof d === "string" ? d : Array.isArray(d) ? d.map((x) => x.msg).join("; ") : `HTTP ${res.status}` });
        }
      } catch (e) {
        err.show(e);
      }
    });
  }
  checkBtn.addEventListener("click", () => send(true));
  importBtn.addEventListener("click", () => send(false));

  function idList(key, ids) {
    if (!ids || !ids.length) return null;
    return h("div", { class: "imp-list" }, h("h4", { text: t(key, { n: ids.length }) }),
      h("ul", { class: "chips" }, ids.map((id) => h("li", {}, data(id)))));
  }

  function renderResult() {
    resPart.box.hidden = !result;
    if (!result) return;
    const b = result.body;
    const n = { added: (b.added || []).length, updated: (b.updated || []).length, unchanged: (b.unchanged || []).length, errors: (b.errors || []).length };
    let key;
    if (n.errors) key = result.mode === "check" ? "adm.import.check_bad" : "adm.import.refused";
    else key = result.mode === "check" ? "adm.import.check_ok" : "adm.import.applied";
    summary.textContent = t(key, n);
    summary.className = "imp-summary " + (n.errors ? "bad" : "good");
    lists.replaceChildren(...[idList("adm.import.added", b.added), idList("adm.import.updated", b.updated),
      idList("adm.import.unchanged", b.unchanged)].filter(Boolean));
    errBox.hidden = !n.errors;
    errBody.replaceChildren(...(b.errors || []).map((e) =>
      h("tr", {}, td(h("span", { class: "num", text: e.line == null ? "—" : t("adm.import.line", { n: e.line }) })),
        // A refusal the catalogue words (a taken address...) in the reader's language; a field's own
        // validation message as the server wrote it.
        td(e.code && hasKey(`err.${e.code}`) ? h("span", {}, tNodes(`err.${e.code}`, e.params || {})) : data(e.message)))));
  }

  function renderDevices() {
    devCount.textContent = t("adm.dev.count", { n: devices.length });
    devBody.replaceChildren(...devices.map((d) => h("tr", { data: { device: d.device_id } },
      td(data(d.device_id)),
      td(data(d.name || "")),
      td(data(d.role || "")),
      td(data(d.location ? placeLabel(d.location) : "")),
      td(h("span", { class: "badge st-" + d.state, text: t("adm.dev.state." + d.state) })),
      td(h("span", { class: "num", text: d.last_seen ? siteTime(d.last_seen, true) : "—" })),
      td(h("span", { text: t(d.registered ? "adm.yes" : "adm.no") })))));
  }

  return sec.view({
    lang() {
      err.render();
      ok.render();
      renderResult();
      renderDevices();
    },
  });
}

export default { id: "import", titleKey: "adm.nav.import", roles: ["admin"], create };
