"""A wall PC pairs in a real Chromium: /pair shows a code, an admin approves it on the admin page,
and the wall opens signed in, with its session in an HttpOnly cookie and no token in any URL.
Someone who only read the code off the screen gets nothing."""

from __future__ import annotations

import re
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from console.store.tables import AuditRow
from tests.conftest import ConsoleProcess
from tests.e2e.conftest import FULL_HD
from tests.e2e.test_admin_pages import go, open_admin

CODE = re.compile(r"^[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}$")


def test_a_wall_pairs_by_a_code_an_admin_approves_and_opens_signed_in_without_a_token_in_its_url(
    browser: Browser, desk: Page, make_console: Any, sqlite_url: str,
) -> None:
    console: ConsoleProcess = make_console(sqlite_url).staff({"root": "admin", "wall": "display"}, login=("root",))
    wall_context = browser.new_context(viewport=FULL_HD, locale="zh-CN")
    wall = wall_context.new_page()
    wall.goto(f"{console.base}/pair?name=大堂左屏")
    code_box = wall.locator("#pair-code")
    expect(code_box).to_have_text(CODE)
    code = code_box.inner_text()
    expect(wall.get_by_role("status")).to_contain_text("等待管理员批准")
    (secret,) = [c for c in wall_context.cookies() if c["name"] == "mcc_pairing"]
    assert secret["httpOnly"] and secret["path"] == "/api/displays/pairing"

    # The code alone is nothing: another client that read it off the screen has no request of its own.
    stranger = httpx.get(f"{console.base}/api/displays/pairing")
    assert stranger.status_code == 404 and "mcc_session" not in stranger.cookies
    # Only a display login can be given to a wall, and only for a code a wall shows.
    wrong = console.api("POST", "/api/displays/pairings/approve", "root", json={"code": code, "user": "root"})
    assert wrong.status_code == 422 and wrong.json()["code"] == "pairing.not_display"
    unknown = console.api("POST", "/api/displays/pairings/approve", "root", json={"code": "AAAA-2222", "user": "wall"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "pairing.unknown_code"

    open_admin(desk, console, "root")
    region = go(desk, "报警墙状态")
    region.get_by_role("button", name=code).click()  # a waiting wall's code fills the form
    expect(region.get_by_label("配对码")).to_have_value(code)
    region.get_by_label("大屏名称").fill("大堂左屏")
    region.get_by_role("button", name="批准配对").click()
    expect(region.get_by_role("status").filter(has_text="已批准")).to_contain_text(code)

    expect(wall).to_have_url(f"{console.base}/wall?name=%E5%A4%A7%E5%A0%82%E5%B7%A6%E5%B1%8F", timeout=10000)
    expect(wall.get_by_role("status", name="连接状态")).to_have_text("已连接")
    (session,) = [c for c in wall_context.cookies() if c["name"] == "mcc_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict" and session["expires"] > 0
    assert not [c for c in wall_context.cookies() if c["name"] == "mcc_pairing"], "the request is used up"
    # Reopening /pair (the kiosk's start page after a power cut) goes straight to the wall.
    wall.goto(f"{console.base}/pair?name=大堂左屏")
    expect(wall.get_by_role("status", name="连接状态")).to_have_text("已连接")
    assert "token" not in wall.url
    approved = console.stored(select(AuditRow).where(AuditRow.action == "display.pairing_approved"))
    assert [(row.actor, row.target) for row in approved] == [("root", "user:wall")]
    logins = console.stored(select(AuditRow).where(AuditRow.action == "login", AuditRow.actor == "wall"))
    assert len(logins) == 1 and '"via": "pairing"' in logins[0].detail.replace('":"', '": "')
    wall_context.close()


def test_mcc_display_approve_pairs_a_wall_from_the_command_line(make_console: Any, sqlite_url: str) -> None:
    console: ConsoleProcess = make_console(sqlite_url).staff({"wall": "display"}, login=())
    with httpx.Client(base_url=console.base) as kiosk:
        code = kiosk.post("/api/displays/pairing").json()["code"]
        assert kiosk.get("/api/displays/pairing").json()["state"] == "pending"
        approved = console.cli("display", "approve", code.lower().replace("-", ""), "--user", "wall",
                               "--name", "值班室")
        assert approved.returncode == 0, approved.stderr
        paired = kiosk.get("/api/displays/pairing")
        assert paired.json() == {"state": "paired", "name": "值班室", "user": "wall"}
        assert kiosk.get("/api/auth/me").json()["role"] == "display"
        assert kiosk.get("/api/displays/pairing").status_code == 404, "used once"
