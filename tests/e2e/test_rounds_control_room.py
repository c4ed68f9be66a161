"""The control room sees the rounds, in Debian's Chromium: the console's #rounds view lists the
shift's round with its guard, progress and the points that are late or missed, and where the guard
was last seen; the wall's figures count the round under way and the missed point; SOP 13 is open
on the console's task list. The late and missed points are made in real time: the guard's first
scan is one the phone took (and queued) five minutes ago, which starts the round back then."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect

from tests.conftest import wait_until
from tests.e2e.conftest import ARTIFACTS, ok, open_as, sign_in


def test_the_console_and_the_wall_show_a_round_with_a_late_and_a_missed_point(
        desk: Page, make_console: Any, sqlite_url: str) -> None:
    console = make_console(sqlite_url, patrol={"check_seconds": 1, "point_tolerance_minutes": 1}).staff(
        {"sup": "supervisor", "op": "operator", "g1": "guard", "wall": "display"}, login=("sup", "op", "g1"))
    ok(console.api("POST", "/api/guard/shift", "g1", json={"on": True}))
    ids = [ok(console.api("POST", "/api/patrol/checkpoints", "sup", json={
        "name": name, "building": "2号楼", "floor": floor, "zone": "楼梯间"}))["id"]
        for name, floor in (("一楼", "1F"), ("二楼", "2F"), ("三楼", "3F"))]
    route = ok(console.api("POST", "/api/patrol/routes", "sup", json={
        "name": "二号楼楼梯", "points": [{"checkpoint": i, "minutes": 1} for i in ids]}))
    start = datetime.now(ZoneInfo("Asia/Shanghai")) - timedelta(minutes=5)
    ok(console.api("POST", "/api/patrol/schedules", "sup", json={
        "route_id": route["id"], "times": [f"{start:%H:%M}"], "start_window_minutes": 30, "limit_minutes": 60}))
    wait_until(lambda: ok(console.api("GET", "/api/guard/rounds", "g1")), message="the round is made")
    codes = [console.api("GET", "/api/patrol/checkpoints/labels", "sup", params={"checkpoint": i}).text for i in ids]
    code = [text.split("<code>")[1].split("</code>")[0] for text in codes]
    taken = datetime.now(timezone.utc) - timedelta(minutes=5)
    ok(console.api("POST", "/api/guard/scan", "g1", json={"code": code[0], "scanned_at": taken.isoformat()}))
    # 一楼 at -5 min starts the round: 二楼 was due at -3 min, 三楼 at -2 min. 二楼 is scanned now (late);
    # 三楼 is not, and the clock finds it missed.
    ok(console.api("POST", "/api/guard/scan", "g1", json={"code": code[1]}))
    wait_until(lambda: [t for t in ok(console.api("GET", "/api/tasks", "op")) if t["sop_id"] == "patrol.checkpoint_missed"],
               message="SOP 13 opens for the missed point")

    page = desk
    sign_in(page, console, "/console", "op")
    page.get_by_role("link", name="巡更").click()
    table = page.get_by_role("table", name="本班巡更")
    row = table.get_by_role("row").filter(has_text="二号楼楼梯")
    expect(row).to_contain_text("g1")
    expect(row).to_contain_text("进行中")
    expect(row).to_contain_text("2/3")
    expect(row).to_contain_text("二楼 逾时")
    expect(row).to_contain_text("三楼 漏巡")
    expect(page.get_by_role("list", name="保安位置（最后打卡）")).to_contain_text("g1 · 2号楼 2F 楼梯间")
    page.screenshot(path=str(ARTIFACTS / "console-rounds.png"), full_page=True)

    # The guard finishes the point after all: the row follows without a reload.
    ok(console.api("POST", "/api/guard/scan", "g1", json={"code": code[2]}))
    expect(row).to_contain_text("逾时完成")
    expect(row).to_contain_text("3/3")

    open_as(page, console, "/wall", console.tokens["sup"])
    kpis = page.locator("#kpi-list")
    expect(kpis.locator('[data-kpi="rounds_active"] dd')).to_have_text("0")
    expect(kpis.locator('[data-kpi="patrol_completion"] dd')).to_have_text("100%")
    page.screenshot(path=str(ARTIFACTS / "wall-rounds-kpis.png"))
