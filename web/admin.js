// MCC administration (/admin): a left navigation and one section per task, routed by the URL's
// hash (#users, #import, #plans, #sops, #quarantine, #shelves, #plates, #displays, #cameras). Admins see
// every section; supervisors see SOPs, quarantine, shelves, plates, displays and cameras (the server
// enforces it too).
import { t, initI18n, initLangSwitch, onLangChange } from "./i18n.js";
import { $, api, setText, errorText } from "./api.js";
import { LiveSocket } from "./live.js";
import { h } from "./admin-common.js";
import users from "./admin-users.js";
import deviceImport from "./admin-import.js";
import plans from "./admin-plans.js";
import sops from "./admin-sops.js";
import quarantine from "./admin-quarantine.js";
import { shelves, plates } from "./admin-lists.js";
import displays from "./admin-displays.js";
import cameras from "./admin-cameras.js";

const SECTIONS = [users, deviceImport, plans, sops, quarantine, shelves, plates, displays, cameras];

const state = { me: null, conn: "connecting", current: null };
const mounted = new Map(); // id -> {section, show, lang}
const navLinks = new Map();
const liveHandlers = new Map(); // message type -> Set(fn)

const live = {
  on(type, fn) {
    if (!liveHandlers.has(type)) liveHandlers.set(type, new Set());
    liveHandlers.get(type).add(fn);
  },
};

function allowed() {
  const role = state.me ? state.me.role : "";
  return SECTIONS.filter((s) => s.roles.includes(role));
}

function renderConn() {
  $("conn-status").dataset.state = state.conn;
  setText($("conn-text"), t("conn." + state.conn));
}

function renderWho() {
  const who = $("whoami");
  who.replaceChildren();
  if (!state.me) return;
  who.append(h("span", { translate: "no", text: state.me.display_name || state.me.username }), " · ",
    h("span", { text: t("adm.urole." + state.me.role) }));
}

function buildNav() {
  const ul = $("nav-list");
  for (const s of allowed()) {
    const a = h("a", { href: `#${s.id}`, i18n: s.titleKey, class: "nav-link" });
    navLinks.set(s.id, a);
    ul.append(h("li", {}, a));
  }
}

function mount(s) {
  let m = mounted.get(s.id);
  if (!m) {
    m = s.create({ me: state.me, live });
    mounted.set(s.id, m);
    $("main").append(m.section);
  }
  return m;
}

function route(ev) {
  const focus = !!ev; // a hashchange: the user went somewhere, take focus there (not on first load)
  const list = allowed();
  if (!list.length) return;
  const want = window.location.hash.replace(/^#/, "");
  let s = list.find((x) => x.id === want);
  if (!s) {
    s = list[0];
    if (want) {
      // a section this role may not see (or a typo): go to the first allowed one
      history.replaceState(null, "", `#${s.id}`);
    }
  }
  for (const [id, m] of mounted) m.section.hidden = id !== s.id;
  for (const [id, a] of navLinks) {
    if (id === s.id) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const m = mount(s);
  m.section.hidden = false;
  const changed = state.current !== s.id;
  state.current = s.id;
  m.show();
  if (changed && focus) {
    const heading = m.section.querySelector("h2");
    heading.tabIndex = -1;
    heading.focus();
  }
  if (changed) document.title = `${t("adm.doc_title")} · ${t(s.titleKey)}`;
}

function onMessage(msg) {
  const fns = liveHandlers.get(msg.type);
  if (fns) for (const fn of fns) {
    try {
      fn(msg);
    } catch (err) {
      console.error(err);
    }
  }
}

async function start() {
  initI18n();
  initLangSwitch($("lang-switch"));
  renderConn();
  onLangChange(() => {
    renderConn();
    renderWho();
    for (const m of mounted.values()) if (m.lang) m.lang();
    const s = SECTIONS.find((x) => x.id === state.current);
    document.title = s ? `${t("adm.doc_title")} · ${t(s.titleKey)}` : t("adm.doc_title");
  });
  try {
    state.me = await api("GET", "/api/auth/me");
  } catch (err) {
    setText($("boot-error"), errorText(err));
    return;
  }
  renderWho();
  buildNav();
  window.addEventListener("hashchange", route);
  route();
  new LiveSocket({
    onState: (s) => {
      state.conn = s;
      renderConn();
    },
    onMessage,
  }).start();
}

start();
