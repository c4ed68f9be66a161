// A wall PC's start page (/pair): ask for a pairing, show its code big, and poll until an admin has
// approved it. The console then sets the wall's session as an HttpOnly cookie and the page opens the
// wall. No token ever passes through this script or a URL (console/api/displays.py).
import { t, initI18n, initLangSwitch, onLangChange } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const POLL_MS = 2000;
const PATH = "/api/displays/pairing";
let status = { key: "pair.asking", params: null };

function render() {
  $("pair-status").textContent = t(status.key, status.params);
}

function say(key, params = null) {
  status = { key, params };
  render();
}

function showCode(answer) {
  $("pair-code").textContent = answer.code;
  const until = new Date(answer.expires_at);
  say("pair.waiting", { time: until.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) });
}

function openWall(name) {
  const own = new URLSearchParams(window.location.search).get("name") || name || "";
  window.location.replace("/wall" + (own ? "?name=" + encodeURIComponent(own) : ""));
}

async function ask() {
  const res = await fetch(PATH, { method: "POST", credentials: "same-origin", headers: { Accept: "application/json" } });
  if (res.status === 429) {
    say("pair.too_many");
    return false;
  }
  if (!res.ok) throw new Error(String(res.status));
  showCode(await res.json());
  return true;
}

async function poll() {
  try {
    const res = await fetch(PATH, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (res.status === 404) {
      await ask(); // none yet, or it expired: a new code
    } else if (res.ok) {
      const answer = await res.json();
      if (answer.state === "paired") {
        say("pair.paired");
        openWall(answer.name);
        return;
      }
      showCode(answer);
    } else {
      say("pair.failed", { status: res.status });
    }
  } catch {
    say("pair.network");
  }
  setTimeout(poll, POLL_MS);
}

initI18n();
initLangSwitch($("lang-switch"));
onLangChange(render);
render();
poll();
