// The console's status strip: who is signed in (and a link to /admin for admins and supervisors),
// sign-out, and the walls' heartbeat (GET /api/displays + `display.updated`): a warning pill when a
// wall is frozen (stale) or its socket is gone.
import { t } from "./i18n.js";
import { $, el, setText, api, coalesce, siteTime } from "./api.js";
import { errorText } from "./console-util.js";

const RETRY_MS = 30000;

export function createStatusStrip() {
  const state = { me: null, displays: new Map(), available: false };
  const pill = $("walls-status");
  const text = $("walls-text");
  const meBox = $("me");
  const admin = $("admin-link");
  const signOut = $("sign-out");

  signOut.hidden = false;
  signOut.addEventListener("click", async () => {
    signOut.disabled = true;
    try {
      await api("POST", "/api/auth/logout");
    } catch (err) {
      console.warn("mcc: logout", errorText(err));
    }
    window.location.assign("/login?next=/console");
  });

  async function loadMe() {
    try {
      state.me = await api("GET", "/api/auth/me");
    } catch (err) {
      console.warn("mcc: /api/auth/me", errorText(err));
    }
    render();
  }

  const loadDisplays = coalesce(async () => {
    try {
      const list = (await api("GET", "/api/displays")) || [];
      state.displays = new Map(list.map((d) => [d.display, d]));
      state.available = true;
    } catch {
      state.available = false; // not there yet (or not allowed): no pill, try again later
    }
    render();
  });

  function render() {
    const me = state.me;
    if (me) {
      meBox.replaceChildren();
      const name = el("span", "c-user", me.display_name || me.username);
      name.setAttribute("translate", "no");
      meBox.append(name, " · ", t("con.role." + me.role));
      meBox.removeAttribute("translate");
      admin.hidden = !["admin", "supervisor"].includes(me.role);
    }
    const all = [...state.displays.values()];
    const bad = all.filter((d) => d.state === "stale" || d.state === "disconnected");
    pill.hidden = !state.available || all.length === 0;
    pill.dataset.state = bad.length ? "bad" : "ok";
    if (bad.length) setText(text, t(bad.length === 1 ? "con.walls.bad_one" : "con.walls.bad_many", { n: bad.length }));
    else setText(text, t("con.walls.ok", { n: all.length }));
    pill.title = all.map((d) => `${d.name || d.display}: ${t("con.walls.state." + (d.state || "live"))} · ${siteTime(d.last_at, true)}`).join("\n");
  }

  return {
    start() {
      loadMe();
      loadDisplays();
      setInterval(loadDisplays, RETRY_MS);
    },
    onMessage(msg) {
      if (msg.type === "display.updated" && msg.data && msg.data.display) {
        const old = state.displays.get(msg.data.display) || {};
        state.displays.set(msg.data.display, { ...old, ...msg.data });
        state.available = true;
        render();
      } else if (msg.type === "snapshot") {
        loadDisplays();
      }
    },
    rerender: render,
  };
}
