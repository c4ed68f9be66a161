// Section "plans": floor plans by building and floor (GET /api/floorplans), upload with preview
// (POST multipart), and marker placement in the shared FloorPlanView in editable mode: drag a
// marker, drag an unplaced device onto the plan (or pick it and click the plan), arrow keys nudge;
// every move is saved with PUT /api/floorplans/{id}/markers. Remove a position; delete a plan.
import { t } from "./i18n.js";
import { api, coalesce } from "./api.js";
import { FloorPlanView, markerKey } from "./floorplan.js";
import {
  h, tNodes, data, field, input, table, td, adminSection, part, confirmDialog, nextId,
  whileBusy, isBusy,
} from "./admin-common.js";

const SAVE_DELAY_MS = 250;

/** The same image (same sha256) keeps its URL: a marker move bumps the plan's revision, and with it
 * the image URL; reloading the image would make the plan blink while markers are placed. */
function keepImage(plan, old) {
  return old && old.sha256 && old.sha256 === plan.sha256 ? { ...plan, image_url: old.image_url } : plan;
}

function create(ctx) {
  let plans = [];
  const sec = adminSection({ id: "plans", titleKey: "adm.nav.plans",
    fetch: async () => {
      const before = new Map(plans.map((p) => [p.id, p]));
      plans = ((await api("GET", "/api/floorplans")) || []).map((p) => keepImage(p, before.get(p.id)));
      return plans;
    },
    draw: () => {
      if (openId !== null && !plans.some((p) => p.id === openId)) openId = null;
      renderAll();
    },
    after: async () => {
      const devices = (await api("GET", "/api/devices")) || [];
      const b = new Set();
      const f = new Set();
      for (const d of devices) {
        if (d.location && d.location.building) b.add(d.location.building);
        if (d.location && d.location.floor) f.add(d.location.floor);
      }
      document.getElementById(bList).replaceChildren(...[...b].sort().map((v) => h("option", { value: v })));
      document.getElementById(fList).replaceChildren(...[...f].sort().map((v) => h("option", { value: v })));
    } });
  const { section, err, ok } = sec;
  const load = () => sec.load();
  let openId = null;
  let view = null;
  let armed = ""; // markerKey of the unplaced device to put where the plan is clicked

  // ---- the list
  const listPart = part("adm.plan.list");
  const { table: tbl, tbody } = table(listPart.headingId,
    ["adm.plan.col.building", "adm.plan.col.floor", "adm.plan.col.name", "adm.plan.col.size", "adm.plan.col.markers",
      "adm.plan.col.revision", "adm.col.actions"]);
  const empty = h("p", { class: "empty", i18n: "adm.plan.empty", hidden: true });
  listPart.box.append(h("div", { class: "scroll" }, tbl), empty);

  // ---- upload
  const upPart = part("adm.plan.upload");
  const bList = nextId("buildings");
  const fList = nextId("floors");
  const fFile = h("input", { type: "file", accept: "image/png,image/jpeg", required: true });
  const fBuilding = input({ list: bList, required: true, maxlength: 64, translate: "no" });
  const fFloor = input({ list: fList, required: true, maxlength: 32, translate: "no" });
  const fName = input({ maxlength: 128, translate: "no" });
  const preview = h("img", { class: "plan-preview", alt: "", hidden: true });
  const previewInfo = h("p", { class: "muted" });
  const upBtn = h("button", { type: "submit", class: "btn primary", i18n: "adm.plan.upload_btn" });
  const form = h("form", { class: "adm-form grid2", "aria-labelledby": upPart.headingId, novalidate: true },
    field("adm.plan.file", fFile, { hint: "adm.plan.file_hint" }), h("div", {}, preview, previewInfo),
    field("adm.plan.building", fBuilding), field("adm.plan.floor", fFloor), field("adm.plan.name", fName),
    h("div", { class: "form-actions" }, upBtn), h("datalist", { id: bList }), h("datalist", { id: fList }));
  upPart.box.append(form);
  let previewUrl = null;
  fFile.addEventListener("change", () => {
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = null;
    const file = fFile.files && fFile.files[0];
    preview.hidden = !file;
    previewInfo.textContent = "";
    if (!file) return;
    previewUrl = URL.createObjectURL(file);
    preview.src = previewUrl;
    preview.alt = t("adm.plan.preview_alt");
    preview.onload = () => {
      previewInfo.textContent = t("adm.plan.preview_info", { w: preview.naturalWidth, h: preview.naturalHeight });
    };
  });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (isBusy(upBtn)) return;
    err.clear();
    ok.clear();
    const file = fFile.files && fFile.files[0];
    if (!file || !fBuilding.value.trim() || !fFloor.value.trim()) return err.show({ key: "adm.plan.need" });
    const body = new FormData();
    body.append("file", file, file.name);
    body.append("building", fBuilding.value.trim());
    body.append("floor", fFloor.value.trim());
    if (fName.value.trim()) body.append("name", fName.value.trim());
    await whileBusy(upBtn, async () => {
      try {
        const plan = await api("POST", "/api/floorplans", { body });
        ok.show("adm.plan.uploaded", { name: plan.name || `${plan.building} ${plan.floor}` });
        form.reset();
        preview.hidden = true;
        previewInfo.textContent = "";
        await load();
        if (plan && plan.id != null) openPlan(plan.id);
      } catch (e) {
        err.show(e);
      }
    });
  });

  // ---- the editor
  const edHeading = "plan-editor-heading";
  const edTitle = h("h3", { id: edHeading });
  const edHint = h("p", { class: "hint", i18n: "adm.plan.edit_hint" });
  const fArm = h("select", {});
  const armBox = field("adm.plan.place_pick", fArm, { hint: "adm.plan.place_pick_hint", className: "fld inline" });
  const saveState = h("p", { class: "muted", role: "status" });
  const stageBox = h("div", { class: "plan-stage" });
  const mkHeading = "plan-markers-heading";
  const { table: mkTbl, tbody: mkBody } = table(mkHeading,
    ["adm.plan.mk.name", "adm.plan.mk.device", "adm.plan.mk.point", "adm.plan.mk.x", "adm.plan.mk.y", "adm.col.actions"]);
  const closeBtn = h("button", { type: "button", class: "btn", i18n: "adm.plan.close" });
  const editor = h("section", { class: "adm-part plan-editor", "aria-labelledby": edHeading, hidden: true },
    h("div", { class: "ed-head" }, edTitle, closeBtn), edHint, armBox, saveState, stageBox,
    h("h4", { id: mkHeading, i18n: "adm.plan.placed" }), h("div", { class: "scroll" }, mkTbl));
  closeBtn.addEventListener("click", () => {
    openId = null;
    renderAll();
  });

  section.append(err.node, ok.node, listPart.box, editor, upPart.box);

  const current = () => plans.find((p) => p.id === openId) || null;

  function ensureView() {
    if (view) return view;
    view = new FloorPlanView(stageBox, { editable: true, onMove: (marker, x, y) => queueSave(marker, x, y) });
    // Pick-and-click placement: with a device picked, a click on the plan puts it there.
    view.stage.addEventListener("click", (ev) => {
      if (!armed || ev.target.closest(".fp-mk")) return;
      const plan = current();
      const item = plan && (plan.unplaced || []).find((u) => markerKey(u) === armed);
      const p = view.pointToFraction(ev.clientX, ev.clientY);
      if (!item || !p) return;
      armed = "";
      queueSave(item, p.x, p.y, 0);
    });
    return view;
  }

  // Moves are saved one at a time per marker; a burst of arrow keys ends in one request.
  const timers = new Map();
  let saving = 0;
  function queueSave(marker, x, y, delay = SAVE_DELAY_MS) {
    const planId = openId;
    const key = markerKey(marker);
    clearTimeout(timers.get(key));
    renderSaveState("adm.plan.saving");
    timers.set(key, setTimeout(async () => {
      timers.delete(key);
      saving += 1;
      try {
        const plan = await api("PUT", `/api/floorplans/${planId}/markers`, {
          json: { device_id: marker.device_id, point: marker.point || "", x: Number(x.toFixed(4)), y: Number(y.toFixed(4)) },
        });
        updatePlan(plan);
        renderSaveState("adm.plan.saved", { name: marker.name || marker.device_id });
      } catch (e) {
        err.show(e);
        renderSaveState("");
        await load();
      } finally {
        saving -= 1;
      }
    }, delay));
  }

  let saveMsg = null;
  function renderSaveState(key, params) {
    if (key !== undefined) saveMsg = key ? { key, params } : null;
    saveState.replaceChildren(...(saveMsg ? tNodes(saveMsg.key, saveMsg.params) : []));
  }

  async function removePosition(plan, m) {
    err.clear();
    const q = new URLSearchParams({ device_id: m.device_id, point: m.point || "" });
    try {
      updatePlan(await api("DELETE", `/api/floorplans/${plan.id}/markers?${q}`));
      ok.show("adm.plan.unplaced_done", { name: m.name || m.device_id });
    } catch (e) {
      err.show(e);
    }
  }

  async function deletePlan(plan) {
    const name = plan.name || `${plan.building} ${plan.floor}`;
    if (!(await confirmDialog("adm.plan.delete_title", "adm.plan.delete_text", { name }, "adm.plan.delete"))) return;
    err.clear();
    try {
      await api("DELETE", `/api/floorplans/${plan.id}`);
      ok.show("adm.plan.deleted", { name });
      if (openId === plan.id) openId = null;
    } catch (e) {
      err.show(e);
    }
    await load();
  }

  function updatePlan(plan) {
    if (!plan || plan.id == null) return;
    const i = plans.findIndex((p) => p.id === plan.id);
    if (i >= 0) plans[i] = keepImage(plan, plans[i]);
    else plans.push(plan);
    renderAll();
  }

  function openPlan(id) {
    openId = id;
    armed = "";
    renderAll();
    editor.scrollIntoView({ block: "start" });
  }

  function renderList() {
    const sorted = [...plans].sort((a, b) =>
      String(a.building).localeCompare(String(b.building)) || String(a.floor).localeCompare(String(b.floor), undefined, { numeric: true }));
    tbody.replaceChildren(...sorted.map((p) => {
      const name = p.name || `${p.building} ${p.floor}`;
      const edit = h("button", { type: "button", class: "btn small", text: t("adm.plan.edit"), "aria-label": t("adm.plan.edit_of", { name }) });
      edit.addEventListener("click", () => openPlan(p.id));
      const del = h("button", { type: "button", class: "btn small danger", text: t("adm.plan.delete"), "aria-label": t("adm.plan.delete_of", { name }) });
      del.addEventListener("click", () => deletePlan(p));
      return h("tr", { class: p.id === openId ? "is-selected" : "" },
        td(data(p.building)), td(data(p.floor)), td(data(p.name || "")),
        td(h("span", { class: "num", text: `${p.width}×${p.height}` })),
        td(t("adm.plan.marker_counts", { placed: (p.markers || []).length, unplaced: (p.unplaced || []).length })),
        td(h("span", { class: "num", text: p.revision })),
        td(h("div", { class: "row-actions" }, edit, del)));
    }));
    empty.hidden = plans.length > 0;
  }

  function renderEditor() {
    const plan = current();
    editor.hidden = !plan;
    if (!plan) {
      if (view) view.setPlan(null);
      return;
    }
    edTitle.replaceChildren(...tNodes("adm.plan.editing", { name: plan.name || `${plan.building} ${plan.floor}` }));
    const v = ensureView();
    v.setPlan(plan);
    const unplaced = plan.unplaced || [];
    if (armed && !unplaced.some((u) => markerKey(u) === armed)) armed = "";
    fArm.replaceChildren(h("option", { value: "", text: t("adm.plan.place_none") }),
      ...unplaced.map((u) => h("option", { value: markerKey(u), translate: "no",
        text: (u.name || u.device_id) + (u.point ? ` · ${u.point}` : "") })));
    fArm.value = armed;
    fArm.disabled = unplaced.length === 0;
    stageBox.classList.toggle("is-armed", !!armed);
    mkBody.replaceChildren(...(plan.markers || []).map((m) => {
      const name = m.name || m.device_id;
      const rm = h("button", { type: "button", class: "btn small", text: t("adm.plan.unplace"), "aria-label": t("adm.plan.unplace_of", { name }) });
      rm.addEventListener("click", () => removePosition(plan, m));
      return h("tr", {}, td(data(name)), td(data(m.device_id)), td(data(m.point || "")),
        td(h("span", { class: "num", text: Number(m.x).toFixed(3) })), td(h("span", { class: "num", text: Number(m.y).toFixed(3) })), td(rm));
    }));
  }
  fArm.addEventListener("change", () => {
    armed = fArm.value;
    stageBox.classList.toggle("is-armed", !!armed);
  });

  function renderAll() {
    renderList();
    renderEditor();
  }

  // Another admin's change (or a device's state) reaches this page too; never mid-move.
  const refresh = coalesce(async () => {
    if (!section.hidden && !saving && !timers.size) await load();
  }, 500);
  ctx.live.on("floorplan.updated", refresh);
  ctx.live.on("snapshot", refresh);

  return sec.view({
    show() {
      if (!saving && !timers.size) load();
    },
    lang() {
      err.render();
      ok.render();
      renderSaveState();
      renderAll();
      if (view) view.setLang();
    },
  });
}

export default { id: "plans", titleKey: "adm.nav.plans", roles: ["admin"], create };
