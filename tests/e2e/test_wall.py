"""The wall page in Debian's Chromium (Playwright): live alarms, language switch, recovery (the demo's
wall is in test_demo_screens.py)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import ConsoleProcess, Publisher, native_event
from tests.e2e.conftest import sign_in


@pytest.fixture
def console(make_console: Any, sqlite_url: str) -> ConsoleProcess:
    return make_console(sqlite_url).staff({"wall": "display", "op": "operator"}, login=("op",))


def open_wall(page: Page, console: ConsoleProcess, user: str = "wall") -> None:
    sign_in(page, console, "/wall", user)
    expect(page.get_by_role("status", name="连接状态")).to_have_text("已连接")


def test_published_fire_alarm_appears_on_the_wall_and_ack_updates_it(
    desk: Page, console: ConsoleProcess, publisher: Publisher
) -> None:
    page = desk
    open_wall(page, console)
    queue = page.get_by_role("table", name="报警队列")
    expect(page.get_by_text("当前无报警")).to_be_visible()

    publisher.publish(*native_event("fp-1", "wall-1", "fire.alarm", point="1-003"))
    row = queue.get_by_role("row", name=re.compile("火警.*1号楼 3层 东侧走廊"))
    expect(row).to_be_visible(timeout=3000)
    expect(row).to_contain_text("未确认")
    expect(page.get_by_role("list", name="实时事件").get_by_role("listitem").first).to_contain_text("火警")

    alarm = console.api("GET", "/api/alarms?active=true", "op").json()[0]
    console.api("POST", f"/api/alarms/{alarm['id']}/ack", "op", json={"comment": "保安已到场"})
    expect(row).to_contain_text("已确认", timeout=3000)
    publisher.publish(*native_event("fp-1", "wall-2", "fire.restore", point="1-003", data={"of": "fire.alarm"}))
    expect(row).to_have_count(0, timeout=3000)  # acknowledged and cleared: out of the queue


def test_language_switch_changes_the_labels(desk: Page, console: ConsoleProcess) -> None:
    page = desk
    open_wall(page, console)
    expect(page.get_by_role("heading", name="报警队列")).to_be_visible()
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="Alarm queue")).to_be_visible()
    expect(page.get_by_role("status", name="Connection")).to_have_text("Connected")
    expect(page.get_by_role("heading", name="Live events")).to_be_visible()
    body = page.locator("body").inner_text()
    # Only the switch back names its own language in Chinese.
    assert not re.search(r"[\u4e00-\u9fff]", body.replace("中文", "")), body
    page.reload()
    expect(page.get_by_role("heading", name="Alarm queue")).to_be_visible()  # the choice is remembered
    page.get_by_role("button", name="中文").click()
    expect(page.get_by_role("heading", name="报警队列")).to_be_visible()


def test_wall_recovers_by_itself_after_the_server_restarts(
    desk: Page, console: ConsoleProcess, publisher: Publisher
) -> None:
    page = desk
    open_wall(page, console)
    console.stop()
    expect(page.get_by_role("status", name="连接状态")).not_to_have_text("已连接", timeout=5000)
    publisher.publish(*native_event("door-1", "while-down", "access.door_forced"))
    console.start()
    expect(page.get_by_role("status", name="连接状态")).to_have_text("已连接", timeout=20000)
    expect(page.get_by_role("table", name="报警队列").get_by_role("row", name=re.compile("非法开门"))).to_be_visible()
