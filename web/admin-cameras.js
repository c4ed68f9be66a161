// Section "cameras": every camera of the site file with its health (GET /api/cameras: ok, dark,
// blurred, frozen, moved, offline), its scene similarity to the reference frame and the reference
// itself; a supervisor takes a new reference after a deliberate re-aim (POST …/reference, which
// also clears a "moved" alarm). Refreshed on camera alarms and every 10 s while shown.
import { t } from "./i18n.js";
import { api, siteTime, placeLabel, coalesce } from "./api.js";
import {
  h, data, table, td, adminSection, part, whileBusy, confirmDialog, keepFocus,
} from "./admin-common.js";

const STATES = ["offline", "moved", "dark", "blurred", "frozen", "tampered", "unknown", "not probed", "ok"];
const stateKey = (state) => "adm.cam.state." + (STATES.includes(state) ? state.replace(" ", "_") : "unknown");

function create(ctx) {
  let cameras = [];
  const sec = adminSection({ id: "cameras", titleKey: "adm.nav.cameras",
    fetch: async () => (cameras = (await api("GET", "/api/cameras")) || []), draw: () => render() });
  const { section, err, ok } = sec;
  const load = () => sec.load();

  const summary = h("p", { class: "cam-summary", role: "status" });
  const listPart = part("adm.cam.list");
  const { table: tbl, tbody } = table(listPart.headingId,
    ["adm.cam.col.camera", "adm.cam.col.place", "adm.cam.col.state", "adm.cam.col.similarity",
      "adm.cam.col.reference", "adm.cam.col.probe", "adm.cam.col.action"]);
  const empty = h("p", { class: "empty", i18n: "adm.cam.empty", hidden: true });
  listPart.box.append(h("p", { class: "hint", i18n: "adm.cam.hint" }), h("div", { class: "scroll" }, tbl), empty);
  section.append(err.node, ok.node, summary, listPart.box);

  async function retake(camera, button) {
    const name = camera.name || camera.id;
    if (!(await confirmDialog("adm.cam.retake_title", "adm.cam.retake_text", { camera: name }, "adm.cam.retake", false))) {
      return;
    }
    await whileBusy(button, async () => {
      err.clear();
      ok.clear();
      try {
        await api("POST", `/api/cameras/${encodeURIComponent(camera.id)}/reference`);
        ok.show("adm.cam.retaken", { camera: name });
      } catch (e) {
        err.show(e);
      }
      await load();
    });
  }

  function referenceCell(c) {
    const ref = c.health && c.health.reference;
    if (!ref) return td(h("span", { class: "muted", text: t("adm.cam.no_reference") }));
    const label = t("adm.cam.reference_of", { camera: c.name || c.id });
    return td(
      h("a", { href: ref.url, target: "_blank", rel: "noopener", title: label },
        h("img", { class: "cam-ref", src: `${ref.url}?v=${ref.sha256.slice(0, 12)}`, alt: label, width: 160, loading: "lazy" })),
      h("div", { class: "muted num" }, data(ref.taken_by), " · ", siteTime(ref.taken_at, true)));
  }

  function render() {
    const counts = { ok: 0, bad: 0 };
    keepFocus(tbody, () => tbody.replaceChildren(...cameras.map((c) => {
      const health = c.health || {};
      const state = health.state || "unknown";
      counts[state === "ok" ? "ok" : "bad"] += 1;
      const figures = health.figures || {};
      const similarity = typeof figures.similarity === "number" ? figures.similarity.toFixed(2) : "—";
      const button = h("button", { type: "button", class: "btn small", text: t("adm.cam.retake"),
        "aria-label": t("adm.cam.retake_of", { camera: c.name || c.id }), data: { focusKey: "retake:" + c.id } });
      button.addEventListener("click", () => retake(c, button));
      return h("tr", { data: { camera: c.id, state } },
        td(data(c.name || c.id), c.name && c.name !== c.id ? h("div", {}, data(c.id, "span", "muted")) : null,
          h("div", {}, data(c.source, "span", "muted code"))),
        td(data(placeLabel(c.location) || "")),
        td(h("span", { class: "badge cs-" + state.replace(" ", "_"), text: t(stateKey(state)) }),
          health.last_error ? h("div", {}, data(health.last_error, "span", "muted")) : null),
        td(h("span", { class: "num", text: similarity })),
        referenceCell(c),
        td(h("span", { class: "num", text: health.last_probe_at ? siteTime(health.last_probe_at, true) : "—" })),
        td(button));
    })));
    summary.textContent = t("adm.cam.summary", counts);
    summary.dataset.bad = counts.bad ? "true" : "false";
    empty.hidden = cameras.length > 0;
  }

  const refetch = coalesce(load, 1000);
  for (const type of ["alarm.raised", "alarm.updated"]) {
    ctx.live.on(type, (msg) => {
      if (!section.hidden && String((msg.data || {}).kind || "").startsWith("camera.")) refetch();
    });
  }
  ctx.live.on("snapshot", () => {
    if (!section.hidden) load();
  });
  setInterval(() => {
    if (!section.hidden) load(); // the probe's figures and times, which no message carries
  }, 10000);

  return sec.view();
}

export default { id: "cameras", titleKey: "adm.nav.cameras", roles: ["admin", "supervisor"], create };
