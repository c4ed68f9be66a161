// Shared floor-plan drawing (wall, console, admin): the uploaded image scaled to fit its box, with
// one button per device marker placed by its x/y fractions (0..1 of the image, left/top).
//
//   const view = new FloorPlanView(container, { onMarkerClick, editable, onMove });
//   view.setPlan(plan);      // a plan from GET /api/floorplans (or null)
//   view.setAlarms(alarms);  // alarm views: markers of devices with alarms turn mk-alarm-<severity>
//   view.setLang();          // after a language switch
//
// Marker classes: mk-online | mk-offline | mk-unknown, mk-alarm-<severity>, mk-blink (an unacknowledged
// alarm). In editable mode (admin) markers are dragged with the pointer or moved with the arrow keys
// (Shift: bigger steps); each move ends in onMove(marker, x, y). Devices of the floor that have no
// position yet (plan.unplaced) are listed under the plan: drag one onto it, or press Enter to put it
// in the middle (floorplan-edit.js). Strings: `fp.*` in web/messages-wall.js.
//
// Labels (markers in alarm) sit right of their dot, or left of it past 60 % of the width, and are never
// wider than the room to the stage's edge (cut with an ellipsis; the full name is in aria-label/title).
// A label that would cover an earlier one moves to the other side when that side has the room.
import { t, kindLabel, severityLabel } from "./i18n.js";
import { el } from "./api.js";
import { clamp01, dragMarker, keyMoveMarker, trayItem } from "./floorplan-edit.js";

const RANK = { critical: 1, major: 2, minor: 3, warning: 4 };
const STATES = new Set(["online", "offline", "unknown"]);
const FLIP_AT = 0.6; // a marker past 60 % of the width has its label on its left


export function markerKey(m) {
  return `${m.device_id}|${m.point || ""}`;
}

function rankOf(a) {
  const r = Number(a.severity_rank);
  return Number.isFinite(r) && r > 0 ? r : RANK[a.severity] || 9;
}

/** The alarms (sorted: priority, unacknowledged first, newest first) that belong to a marker. */
export function alarmsOfMarker(marker, byDevice, site) {
  const list = byDevice.get(marker.device_id) || [];
  return list.filter((a) => (!marker.point || (a.point || "") === marker.point) && (!site || !a.site || a.site === site));
}

function compareForMarker(a, b) {
  return (
    rankOf(a) - rankOf(b) ||
    Number(!!a.acknowledged) - Number(!!b.acknowledged) ||
    (Date.parse(b.raised_at) || 0) - (Date.parse(a.raised_at) || 0)
  );
}

/** Pages that forget <link rel=stylesheet href=/static/floorplan.css> still get the markers drawn. */
function ensureStyles() {
  if (document.querySelector('link[href$="/floorplan.css"]')) return;
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = new URL("./floorplan.css", import.meta.url).pathname;
  document.head.append(link);
}

export class FloorPlanView {
  constructor(container, { onMarkerClick = null, editable = false, onMove = null } = {}) {
    ensureStyles();
    this.container = container;
    this.onMarkerClick = onMarkerClick;
    this.editable = !!editable;
    this.onMove = onMove;
    this.plan = null;
    this.alarms = [];
    this.byDevice = new Map();
    this.markers = new Map(); // key -> {btn, dot, label, data}
    this.drag = null;
    this.stageW = 0;
    this.labelKey = "";

    this.root = el("div", "fp" + (this.editable ? " fp-editable" : ""));
    this.box = el("div", "fp-box");
    this.stage = el("div", "fp-stage");
    this.stage.setAttribute("role", "group");
    this.img = el("img", "fp-img");
    this.img.alt = "";
    this.img.decoding = "async";
    this.img.draggable = false;
    this.img.addEventListener("load", () => this.fit());
    this.img.addEventListener("error", () => {
      if (this.img.getAttribute("src")) this.error.hidden = false;
    });
    this.layer = el("div", "fp-markers");
    this.error = el("p", "fp-error");
    this.error.setAttribute("role", "alert");
    this.error.hidden = true;
    this.empty = el("p", "fp-empty");
    this.stage.append(this.img, this.layer);
    this.box.append(this.stage, this.empty, this.error);
    this.root.append(this.box);

    if (this.editable) {
      this.tray = el("section", "fp-tray");
      this.trayHead = el("h3", "fp-tray-head");
      this.trayHead.id = `fp-tray-${Math.random().toString(36).slice(2, 8)}`;
      this.tray.setAttribute("aria-labelledby", this.trayHead.id);
      this.trayHint = el("p", "fp-tray-hint");
      this.trayList = el("ul", "fp-tray-list");
      this.tray.append(this.trayHead, this.trayHint, this.trayList);
      this.root.append(this.tray);
    }
    container.append(this.root);

    this.resizeObserver = new ResizeObserver(() => this.fit());
    this.resizeObserver.observe(this.box);
    this.setLang();
  }

  destroy() {
    this.resizeObserver.disconnect();
    this.root.remove();
  }

  /** A plan from GET /api/floorplans, or null. The image is only reloaded when its URL changes. */
  setPlan(plan) {
    this.plan = plan || null;
    this.error.hidden = true;
    if (!plan) {
      this.img.removeAttribute("src");
      this.stage.hidden = true;
      this.empty.hidden = false;
      this.syncMarkers([]);
      this.syncTray([]);
      return;
    }
    this.stage.hidden = false;
    this.empty.hidden = true;
    this.stage.dataset.planId = String(plan.id);
    if (this.img.getAttribute("src") !== plan.image_url) this.img.src = plan.image_url;
    this.stage.setAttribute("aria-label", t("fp.label", { name: this.planName() }));
    this.syncMarkers(Array.isArray(plan.markers) ? plan.markers : []);
    this.syncTray(Array.isArray(plan.unplaced) ? plan.unplaced : []);
    this.fit();
  }

  /** The alarms to show on the markers (the wall passes its whole live queue). */
  setAlarms(alarms) {
    this.alarms = Array.isArray(alarms) ? alarms : [];
    const byDevice = new Map();
    for (const a of this.alarms) {
      if (!a || !a.device_id) continue;
      let list = byDevice.get(a.device_id);
      if (!list) byDevice.set(a.device_id, (list = []));
      list.push(a);
    }
    this.byDevice = byDevice;
    for (const m of this.markers.values()) this.paintMarker(m);
    this.arrangeLabels();
  }

  setLang() {
    this.empty.textContent = t("fp.no_plan");
    this.error.textContent = t("fp.image_error");
    if (this.plan) this.stage.setAttribute("aria-label", t("fp.label", { name: this.planName() }));
    if (this.tray) {
      this.trayHead.textContent = t("fp.unplaced");
      this.trayHint.textContent = t("fp.unplaced_hint");
    }
    for (const m of this.markers.values()) this.paintMarker(m);
    this.arrangeLabels();
  }

  planName() {
    const p = this.plan || {};
    return p.name || [p.building, p.floor].filter(Boolean).join(" ");
  }

  /** Scale the stage to fit the box, keeping the image's aspect ratio. */
  fit() {
    if (!this.plan) return;
    const w = Number(this.plan.width) || this.img.naturalWidth || 4;
    const h = Number(this.plan.height) || this.img.naturalHeight || 3;
    const cw = this.box.clientWidth;
    const ch = this.box.clientHeight;
    if (!cw || !ch) return;
    const scale = Math.min(cw / w, ch / h);
    const sw = `${Math.floor(w * scale)}px`;
    const sh = `${Math.floor(h * scale)}px`;
    if (this.stage.style.width !== sw) this.stage.style.width = sw;
    if (this.stage.style.height !== sh) this.stage.style.height = sh;
    const stageW = Math.floor(w * scale);
    if (stageW !== this.stageW) {
      this.stageW = stageW;
      for (const m of this.markers.values()) this.placeLabel(m);
      this.arrangeLabels(true);
    }
  }

  // ------------------------------------------------------------ markers

  syncMarkers(list) {
    const keep = new Set();
    for (const data of list) {
      const key = markerKey(data);
      keep.add(key);
      let m = this.markers.get(key);
      if (!m) m = this.createMarker(key);
      m.data = { ...data };
      this.placeMarker(m, data.x, data.y);
      this.paintMarker(m);
    }
    for (const [key, m] of this.markers) {
      if (!keep.has(key)) {
        m.btn.remove();
        this.markers.delete(key);
      }
    }
    this.arrangeLabels();
  }

  createMarker(key) {
    const btn = el("button", "fp-mk");
    btn.type = "button";
    btn.dataset.key = key;
    const dot = el("span", "fp-dot");
    dot.setAttribute("aria-hidden", "true");
    const label = el("span", "fp-mk-label");
    label.setAttribute("translate", "no");
    label.setAttribute("aria-hidden", "true");
    btn.append(dot, label);
    const m = { btn, dot, label, data: null, key, x: 0, side: "", flipped: false, rank: 9 };
    btn.addEventListener("click", () => {
      if (m.justDragged) {
        m.justDragged = false;
        return;
      }
      if (this.onMarkerClick) this.onMarkerClick(m.data, this.markerAlarms(m));
    });
    if (this.editable) {
      btn.addEventListener("pointerdown", (e) => dragMarker(this, e, m));
      btn.addEventListener("keydown", (e) => keyMoveMarker(this, e, m));
    }
    this.layer.append(btn);
    this.markers.set(key, m);
    return m;
  }

  placeMarker(m, x, y) {
    const left = `${(clamp01(Number(x) || 0) * 100).toFixed(3)}%`;
    const top = `${(clamp01(Number(y) || 0) * 100).toFixed(3)}%`;
    if (m.btn.style.left !== left) m.btn.style.left = left;
    if (m.btn.style.top !== top) m.btn.style.top = top;
    const nx = clamp01(Number(x) || 0);
    if (nx !== m.x && m.label.style.maxWidth) m.label.style.maxWidth = ""; // arrangeLabels sets it again
    m.x = nx;
    this.placeLabel(m);
  }

  /** The label's side (left past FLIP_AT, or flipped away from a neighbour) and the room it has. */
  placeLabel(m) {
    let left = m.x > FLIP_AT;
    if (m.flipped) left = !left;
    const side = left ? "left" : "right";
    if (m.side !== side) {
      m.side = side;
      m.btn.classList.toggle("fp-mk-left", left);
    }
    // from the dot's centre to the stage's edge on the label's side, in px (the CSS takes off the dot)
    const room = this.stageW ? `${Math.max(0, Math.floor(this.stageW * (left ? m.x : 1 - m.x)))}px` : "";
    if (m.btn.style.getPropertyValue("--fp-room") !== room) m.btn.style.setProperty("--fp-room", room);
  }

  /**
   * Keep labels off each other and inside the stage. The labelled markers (in alarm) are taken by
   * priority; each label goes on its usual side if its whole text fits there before the stage's edge or
   * the next dot or label in its band, else on the other side if it fits there, else on the side with
   * more room, cut to that room (ellipsis). Reads the layout once, then writes; only runs when the
   * labelled markers or the stage size change.
   */
  arrangeLabels(force = false) {
    const labelled = [...this.markers.values()].filter((m) => !m.label.hidden && m.label.textContent);
    const key = labelled.map((m) => `${m.key}@${m.x}:${m.btn.style.top}:${m.rank}:${m.label.textContent}`).join("|");
    if (!force && key === this.labelKey) return;
    this.labelKey = key;
    for (const m of labelled) {
      m.flipped = false;
      this.placeLabel(m);
      if (m.label.style.maxWidth) m.label.style.maxWidth = "";
    }
    if (!labelled.length || this.stage.hidden) return;
    const stage = this.stage.getBoundingClientRect();
    if (!stage.width) return;
    const items = labelled.map((m) => {
      const b = m.btn.getBoundingClientRect(); // the dot's box (not its blinking transform)
      const l = m.label.getBoundingClientRect();
      return { m, b, top: l.top, bottom: l.bottom, w: m.label.scrollWidth,
        gap: Math.max(0, m.side === "left" ? b.left - l.right : l.left - b.right) };
    });
    items.sort((p, q) => p.m.rank - q.m.rank || p.m.x - q.m.x);
    const labels = [];
    for (const it of items) {
      const obstacles = labels.concat(items.filter((o) => o !== it).map((o) => o.b));
      const span = (side) => {
        const start = side === "right" ? it.b.right + it.gap : it.b.left - it.gap;
        let limit = side === "right" ? stage.right : stage.left;
        for (const o of obstacles) {
          if (o.bottom <= it.top || o.top >= it.bottom) continue; // not in this label's band
          if (side === "right" && o.right > start) limit = Math.min(limit, Math.max(start, o.left - 2));
          if (side === "left" && o.left < start) limit = Math.max(limit, Math.min(start, o.right + 2));
        }
        return { start, room: Math.max(0, Math.floor(side === "right" ? limit - start : start - limit)) };
      };
      const usual = it.m.x > FLIP_AT ? "left" : "right";
      const other = usual === "right" ? "left" : "right";
      const a = span(usual);
      const b = span(other);
      const flip = a.room < it.w && (b.room >= it.w || b.room > a.room);
      const side = flip ? other : usual;
      const { start, room } = flip ? b : a;
      if (flip) {
        it.m.flipped = true;
        this.placeLabel(it.m);
      }
      const width = Math.min(room, it.w);
      if (room < it.w) it.m.label.style.maxWidth = `${room}px`;
      labels.push({ left: side === "right" ? start : start - width, right: side === "right" ? start + width : start,
        top: it.top, bottom: it.bottom });
    }
  }

  markerAlarms(m) {
    return alarmsOfMarker(m.data, this.byDevice, this.plan && this.plan.site).sort(compareForMarker);
  }

  paintMarker(m) {
    if (!m.data) return;
    const d = m.data;
    const alarms = this.markerAlarms(m);
    const top = alarms[0];
    const state = STATES.has(d.state) ? d.state : "unknown";
    const sev = top ? (RANK[top.severity] ? top.severity : "warning") : "";
    m.rank = top ? rankOf(top) : 9;
    const cls = ["fp-mk", `mk-${state}`];
    if (top) cls.push(`mk-alarm-${sev}`);
    if (alarms.some((a) => !a.acknowledged)) cls.push("mk-blink");
    if (this.drag && this.drag.m === m) cls.push("is-dragging");
    if (m.side === "left") cls.push("fp-mk-left");
    const className = cls.join(" ");
    if (m.btn.className !== className) m.btn.className = className;
    const name = d.name || d.device_id + (d.point ? ` · ${d.point}` : "");
    let status = t(`fp.state.${state}`);
    if (top) {
      const params = { sev: severityLabel(top.severity), kind: kindLabel(top.kind) };
      status = t(top.acknowledged ? "fp.alarm_acked" : "fp.alarm", params);
      if (alarms.length > 1) status += ` · ${t("fp.more_alarms", { n: alarms.length - 1 })}`;
    }
    const aria = `${name} · ${status}`;
    if (m.btn.getAttribute("aria-label") !== aria) m.btn.setAttribute("aria-label", aria);
    const title = this.editable ? `${aria}\n${t("fp.move_hint")}` : aria;
    if (m.btn.title !== title) m.btn.title = title;
    // The wall labels the markers that are in alarm; the others are dots (their name is in the tooltip).
    const text = top ? name : "";
    if (m.label.textContent !== text) m.label.textContent = text;
    m.label.hidden = !text;
  }

  // ------------------------------------------------------------ editing

  pointToFraction(clientX, clientY) {
    const r = this.stage.getBoundingClientRect();
    if (!r.width || !r.height) return null;
    return {
      x: clamp01((clientX - r.left) / r.width),
      y: clamp01((clientY - r.top) / r.height),
      inside: clientX >= r.left && clientX <= r.right && clientY >= r.top && clientY <= r.bottom,
    };
  }

  syncTray(list) {
    if (!this.tray) return;
    this.tray.hidden = list.length === 0;
    this.trayList.replaceChildren(...list.map((item) => trayItem(this, item)));
  }
}
