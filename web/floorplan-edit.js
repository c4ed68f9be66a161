// Editing a floor plan (the admin page): markers dragged with the pointer or moved with the arrow
// keys, and the tray of devices that have no position yet. Each move ends in the view's onMove.
import { t } from "./i18n.js";
import { el } from "./api.js";

const DRAG_SLOP_PX = 4;

export const clamp01 = (v) => Math.min(1, Math.max(0, v));

/** Follow a pointer drag of marker `m` on `view` (a FloorPlanView in editable mode). */
export function dragMarker(view, e, m) {
  if (e.button !== 0) return;
  e.preventDefault();
  m.btn.focus();
  m.btn.setPointerCapture(e.pointerId);
  view.drag = { m, x0: e.clientX, y0: e.clientY, moved: false, x: m.data.x, y: m.data.y };
  const move = (ev) => {
    const d = view.drag;
    if (!d) return;
    if (!d.moved && Math.hypot(ev.clientX - d.x0, ev.clientY - d.y0) < DRAG_SLOP_PX) return;
    d.moved = true;
    m.btn.classList.add("is-dragging");
    const p = view.pointToFraction(ev.clientX, ev.clientY);
    if (!p) return;
    d.x = p.x;
    d.y = p.y;
    view.placeMarker(m, p.x, p.y);
  };
  const end = (ev) => {
    m.btn.removeEventListener("pointermove", move);
    m.btn.removeEventListener("pointerup", end);
    m.btn.removeEventListener("pointercancel", end);
    const d = view.drag;
    view.drag = null;
    m.btn.classList.remove("is-dragging");
    if (!d || !d.moved) return;
    m.justDragged = true;
    setTimeout(() => (m.justDragged = false), 0);
    if (ev.type === "pointercancel") {
      view.placeMarker(m, m.data.x, m.data.y);
      return;
    }
    m.data.x = d.x;
    m.data.y = d.y;
    if (view.onMove) view.onMove({ ...m.data }, d.x, d.y);
  };
  m.btn.addEventListener("pointermove", move);
  m.btn.addEventListener("pointerup", end);
  m.btn.addEventListener("pointercancel", end);
}

/** Arrow keys move marker `m` by 1 % of the plan (Shift: 5 %). */
export function keyMoveMarker(view, e, m) {
  const step = e.shiftKey ? 0.05 : 0.01;
  const delta = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] }[e.key];
  if (!delta) return;
  e.preventDefault();
  const x = Number(clamp01((Number(m.data.x) || 0) + delta[0]).toFixed(4));
  const y = Number(clamp01((Number(m.data.y) || 0) + delta[1]).toFixed(4));
  m.data.x = x;
  m.data.y = y;
  view.placeMarker(m, x, y);
  if (view.onMove) view.onMove({ ...m.data }, x, y);
}

/** One chip of the tray: press it to put the device in the middle, or drag it onto the plan. */
export function trayItem(view, item) {
  const li = el("li");
  const chip = el("button", "fp-chip");
  chip.type = "button";
  const name = el("span", "fp-chip-name", item.name || item.device_id);
  name.setAttribute("translate", "no");
  chip.append(el("span", "fp-dot mk-unknown"), name);
  if (item.point) {
    const pt = el("span", "fp-chip-point", item.point);
    pt.setAttribute("translate", "no");
    chip.append(pt);
  }
  if (item.kind) {
    const k = el("span", "fp-chip-kind", item.kind);
    k.setAttribute("translate", "no");
    chip.append(k);
  }
  chip.title = t("fp.unplaced_hint");
  let dragged = false;
  chip.addEventListener("click", () => {
    if (dragged) {
      dragged = false;
      return;
    }
    if (view.onMove) view.onMove({ ...item, x: 0.5, y: 0.5 }, 0.5, 0.5);
  });
  chip.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    chip.setPointerCapture(e.pointerId);
    const x0 = e.clientX;
    const y0 = e.clientY;
    let ghost = null;
    const move = (ev) => {
      if (!ghost && Math.hypot(ev.clientX - x0, ev.clientY - y0) < DRAG_SLOP_PX) return;
      if (!ghost) {
        ghost = el("span", "fp-ghost fp-dot mk-unknown");
        document.body.append(ghost);
      }
      ghost.style.left = `${ev.clientX}px`;
      ghost.style.top = `${ev.clientY}px`;
    };
    const end = (ev) => {
      chip.removeEventListener("pointermove", move);
      chip.removeEventListener("pointerup", end);
      chip.removeEventListener("pointercancel", end);
      if (!ghost) return;
      ghost.remove();
      dragged = true;
      setTimeout(() => (dragged = false), 0);
      if (ev.type === "pointercancel") return;
      const p = view.pointToFraction(ev.clientX, ev.clientY);
      if (p && p.inside && view.onMove) view.onMove({ ...item, x: p.x, y: p.y }, p.x, p.y);
    };
    chip.addEventListener("pointermove", move);
    chip.addEventListener("pointerup", end);
    chip.addEventListener("pointercancel", end);
  });
  li.append(chip);
  return li;
}
