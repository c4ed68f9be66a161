// Admin section "users": list, create, change role, disable/enable, reset password (/api/users).
import { t } from "./i18n.js";
import { api, siteTime } from "./api.js";
import {
  h, data, field, input, select, table, td, adminSection, part, dialog, whileBusy, isBusy, keepFocus,
} from "./admin-common.js";

export const ROLES = ["admin", "supervisor", "operator", "guard", "display"];
const roleOptions = () => ROLES.map((r) => [r, "adm.urole." + r]);

function create(ctx) {
  let users = [];
  const sec = adminSection({ id: "users", titleKey: "adm.nav.users",
    fetch: async () => (users = (await api("GET", "/api/users")) || []), draw: () => render() });
  const { section, err, ok } = sec;
  const load = () => sec.load();

  // ---- list
  const listPart = part("adm.users.list");
  const { table: tbl, tbody } = table(listPart.headingId,
    ["adm.users.col.username", "adm.users.col.display_name", "adm.users.col.role", "adm.users.col.status",
      "adm.users.col.created", "adm.col.actions"]);
  const empty = h("p", { class: "empty", i18n: "adm.users.empty", hidden: true });
  listPart.box.append(tbl, empty);

  // ---- create
  const newPart = part("adm.users.new");
  const fUser = input({ name: "username", autocomplete: "off", required: true, maxlength: 64 });
  const fName = input({ name: "display_name", maxlength: 128 });
  const fRole = select(roleOptions(), { name: "role" });
  fRole.value = "operator";
  const fPass = input({ type: "password", autocomplete: "new-password", required: true });
  const fPass2 = input({ type: "password", autocomplete: "new-password", required: true });
  const createBtn = h("button", { type: "submit", class: "btn primary", i18n: "adm.users.create" });
  const form = h("form", { class: "adm-form grid2", "aria-labelledby": newPart.headingId, novalidate: true },
    field("adm.users.username", fUser), field("adm.users.display_name", fName), field("adm.users.role", fRole),
    h("div"), field("adm.users.password", fPass, { hint: "adm.users.password_hint" }),
    field("adm.users.password2", fPass2), h("div", { class: "form-actions" }, createBtn));
  newPart.box.append(form);

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (isBusy(createBtn)) return;
    err.clear();
    ok.clear();
    const username = fUser.value.trim();
    // a refusal found here: the focus goes to the field to fix
    if (!username) return err.show({ key: "adm.users.need" }), fUser.focus();
    if (!fPass.value) return err.show({ key: "adm.users.need" }), fPass.focus();
    if (fPass.value !== fPass2.value) return err.show({ key: "adm.users.mismatch" }), fPass2.focus();
    // the server's refusal (a taken name, a weak password): the focus stays on the button
    whileBusy(createBtn, async () => {
      try {
        await api("POST", "/api/users", {
          json: { username, password: fPass.value, role: fRole.value, display_name: fName.value.trim() || username },
        });
        ok.show("adm.users.created", { user: username });
        form.reset();
        fRole.value = "operator";
        await load();
      } catch (e) {
        err.show(e);
      }
    });
  });

  section.append(err.node, ok.node, listPart.box, newPart.box);

  async function patch(username, body, doneKey) {
    err.clear();
    ok.clear();
    try {
      await api("PATCH", `/api/users/${encodeURIComponent(username)}`, { json: body });
      ok.show(doneKey, { user: username });
    } catch (e) {
      err.show(e);
    }
    await load();
  }

  function resetPassword(u) {
    const p1 = input({ type: "password", autocomplete: "new-password" });
    const p2 = input({ type: "password", autocomplete: "new-password" });
    return dialog({
      titleKey: "adm.users.reset_title",
      titleParams: { user: u.username },
      okKey: "adm.users.reset_ok",
      build: (body) => body.append(field("adm.users.new_password", p1, { hint: "adm.users.password_hint" }),
        field("adm.users.password2", p2)),
      onOk: async (dlgErr) => {
        if (!p1.value) return dlgErr.show({ key: "adm.users.need_password" }), false;
        if (p1.value !== p2.value) return dlgErr.show({ key: "adm.users.mismatch" }), false;
        await api("PATCH", `/api/users/${encodeURIComponent(u.username)}`, { json: { password: p1.value } });
        return true;
      },
    }).then((done) => {
      if (done) ok.show("adm.users.password_set", { user: u.username });
    });
  }

  function render() {
    keepFocus(tbody, () => tbody.replaceChildren(...users.map(row)));
    empty.hidden = users.length > 0;
  }

  function row(u) {
    const roleSel = select(roleOptions(), {
      "aria-label": t("adm.users.role_of", { user: u.username }), data: { focusKey: `role:${u.username}` },
    });
    roleSel.value = u.role;
    roleSel.addEventListener("change", () => patch(u.username, { role: roleSel.value }, "adm.users.role_set"));
    const toggle = h("button", { type: "button", class: u.disabled ? "btn small" : "btn small danger",
      text: t(u.disabled ? "adm.users.enable" : "adm.users.disable"),
      "aria-label": t(u.disabled ? "adm.users.enable_of" : "adm.users.disable_of", { user: u.username }),
      data: { focusKey: `toggle:${u.username}` } });
    toggle.addEventListener("click", () =>
      patch(u.username, { disabled: !u.disabled }, u.disabled ? "adm.users.enabled_done" : "adm.users.disabled_done"));
    const reset = h("button", { type: "button", class: "btn small", text: t("adm.users.reset"),
      "aria-label": t("adm.users.reset_of", { user: u.username }), data: { focusKey: `reset:${u.username}` } });
    reset.addEventListener("click", () => resetPassword(u));
    const isMe = ctx.me && ctx.me.username === u.username;
    return h("tr", { class: u.disabled ? "is-disabled" : "" },
      td(data(u.username), isMe ? h("span", { class: "badge", text: t("adm.users.me") }) : null),
      td(data(u.display_name)),
      td(roleSel),
      td(h("span", { class: "badge " + (u.disabled ? "st-off" : "st-on"), text: t(u.disabled ? "adm.users.disabled" : "adm.users.active") })),
      td(h("span", { class: "num", text: siteTime(u.created_at, true) })),
      td(h("div", { class: "row-actions" }, toggle, reset)));
  }

  return sec.view();
}

export default { id: "users", titleKey: "adm.nav.users", roles: ["admin"], create };
