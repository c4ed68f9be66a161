// MCC sign-in page: POST JSON credentials, the server sets an HttpOnly session cookie.
import { t, initI18n, initLangSwitch, onLangChange } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const form = $("login-form");
const user = $("username");
const pass = $("password");
const submit = $("login-submit");
const errorBox = $("login-error");

let error = null; // {key, params}: kept so a language switch re-renders it
let busy = false;

/** Only same-site absolute paths: "/x" yes, "//evil", "/\\evil", "https://…" no. */
// Where each role lands after login when no ?next= says otherwise.
const HOME = { guard: "/guard", operator: "/console", supervisor: "/console", admin: "/console" };

export function safeNext(search = window.location.search, fallback = "/wall") {
  const next = new URLSearchParams(search).get("next");
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.includes("\\")) return fallback;
  if (/[\u0000-\u001f]/.test(next)) return fallback;
  try {
    const u = new URL(next, window.location.origin);
    if (u.origin !== window.location.origin) return fallback;
    return u.pathname + u.search + u.hash;
  } catch {
    return fallback;
  }
}

function render() {
  errorBox.textContent = error ? t(error.key, error.params) : "";
  submit.textContent = t(busy ? "login.submitting" : "login.submit");
  submit.disabled = busy;
}

function showError(key, params, fields = []) {
  error = { key, params };
  for (const f of [user, pass]) f.setAttribute("aria-invalid", fields.includes(f) ? "true" : "false");
  render();
}

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  if (busy) return;
  const username = user.value.trim();
  const password = pass.value;
  if (!username || !password) {
    showError("login.required", null, [!username ? user : null, !password ? pass : null].filter(Boolean));
    (!username ? user : pass).focus();
    return;
  }
  busy = true;
  error = null;
  render();
  let res;
  try {
    res = await fetch("/api/auth/login", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      credentials: "same-origin",
      body: JSON.stringify({ username, password }),
    });
  } catch {
    busy = false;
    showError("login.network");
    return;
  }
  if (res.ok) {
    let role = "";
    try {
      role = (await res.json()).role || "";
    } catch {
      // no body: fall back to the default page
    }
    window.location.assign(safeNext(window.location.search, HOME[role] || "/wall"));
    return;
  }
  busy = false;
  if (res.status === 401) {
    showError("login.bad_credentials", null, [user, pass]);
    pass.value = "";
    pass.focus();
  } else if (res.status === 429) {
    // Locked out after failed logins: say how long, from Retry-After.
    const seconds = Number(res.headers.get("Retry-After")) || 0;
    showError(seconds > 1 ? "err.auth.locked" : "login.too_many", { seconds });
  } else {
    showError("login.failed", { status: res.status });
  }
});

initI18n();
initLangSwitch($("lang-switch"));
onLangChange(render);
render();
