// The wall's event ticker: the newest events first, routine ones muted; the events that came since
// the last frame are prepended in one go.
import { t, kindLabel } from "./i18n.js";
import { parseTime, siteTime } from "./api.js";
import { TICKER_MAX, $, el, noTranslate, state, invalidate, locationLabel } from "./wall-state.js";

const pendingEvents = [];

const ticker = $("event-list");

function eventKey(e) {
  return `${e.site || ""}|${e.device_id || ""}|${e.id}`;
}

const ROUTINE = /^(access\.granted|access\.door_closed|parking\.(entry|exit|barrier_opened)|device\.(online|heartbeat)|camera\.online|patrol\.checkpoint)$/;

function eventTone(kind) {
  const k = String(kind || "");
  if (k.endsWith(".restore") || k === "fire.reset" || k === "device.online" || k === "camera.online") return "ok";
  if (k === "fire.alarm" || k === "access.duress") return "critical";
  if (ROUTINE.test(k)) return "routine";
  return "alert";
}

function eventDetail(e) {
  const d = e.data && typeof e.data === "object" ? e.data : {};
  const out = [];
  if (d.plate) out.push(t("ev.plate", { v: d.plate }));
  if (d.card) out.push(t("ev.card", { v: d.card }));
  const person = d.person || d.name;
  if (person && typeof person === "string") out.push(t("ev.person", { v: person }));
  if (d.direction) {
    const dir = String(d.direction).toLowerCase();
    const key = dir === "entry" ? "in" : dir === "exit" ? "out" : dir;
    out.push(key === "in" || key === "out" ? t("dir." + key) : String(d.direction));
  }
  if (d.of) out.push(t("ev.of", { v: kindLabel(d.of) }));
  if (e.registered === false) out.push(t("ev.unregistered"));
  return out.join(" · ");
}

function eventItem(e) {
  const li = el("li");
  const ts = parseTime(e.ts) ?? parseTime(e.received_at);
  const time = el("time", "ev-time", ts == null ? "--:--:--" : siteTime(ts));
  if (e.ts) time.dateTime = e.ts;
  li.className = `ev ev-${eventTone(e.kind)}`;
  li.dataset.kind = e.kind || "";
  li.dataset.eventId = String(e.id ?? "");
  li.append(time, el("span", "ev-kind", kindLabel(e.kind)), noTranslate(el("span", "ev-loc", locationLabel(e))));
  const detail = eventDetail(e);
  if (detail) li.append(noTranslate(el("span", "ev-data", detail)));
  return li;
}

export function renderTicker() {
  pendingEvents.length = 0;
  ticker.replaceChildren(...state.events.map(eventItem));
  $("event-empty").hidden = state.events.length > 0;
}

export function addEvent(e) {
  if (!e || typeof e !== "object") return;
  const key = eventKey(e);
  if (state.events.some((x) => eventKey(x) === key)) return;
  state.events.unshift(e);
  if (state.events.length > TICKER_MAX) state.events.length = TICKER_MAX;
  pendingEvents.push(e);
  if (pendingEvents.length > TICKER_MAX) pendingEvents.splice(0, pendingEvents.length - TICKER_MAX);
  invalidate("ticker");
}

/** The events that came since the last frame, prepended in one go. */
export function flushTicker() {
  if (!pendingEvents.length) return;
  const frag = document.createDocumentFragment();
  for (let i = pendingEvents.length - 1; i >= 0; i -= 1) {
    const li = eventItem(pendingEvents[i]);
    li.classList.add("is-new");
    frag.append(li);
  }
  pendingEvents.length = 0;
  ticker.prepend(frag);
  while (ticker.children.length > TICKER_MAX) ticker.lastElementChild.remove();
  $("event-empty").hidden = true;
}

