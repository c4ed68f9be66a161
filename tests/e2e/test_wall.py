"""The wall page in Debian's Chromium (Playwright): live alarms, language switch, recovery, the demo."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from console.broker import free_port
from tests.conftest import ConsoleProcess, Publisher, native_event
from tests.e2e.conftest import ARTIFACTS




@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def console(make_console: Any, sqlite_url: str) -> ConsoleProcess:
    console = make_console(sqlite_url)
    console.add_user("wall", "display")
    console.add_user("op", "operator")
    console.login("op")
    return console


def sign_in(page: Page, console: ConsoleProcess, user: str) -> None:
    page.goto(f"{console.base}/wall")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("用户名").fill(user)
    page.get_by_label("密码").fill("correct-horse-1")
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(re.compile(r"/wall$"))
    expect(page.get_by_role("status", name="连接状态")).to_have_text("已连接")


def test_published_fire_alarm_appears_on_the_wall_and_ack_updates_it(
    page: Page, console: ConsoleProcess, publisher: Publisher
) -> None:
    sign_in(page, console, "wall")
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


def test_language_switch_changes_the_labels(page: Page, console: ConsoleProcess) -> None:
    sign_in(page, console, "wall")
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
    page: Page, console: ConsoleProcess, publisher: Publisher
) -> None:
    sign_in(page, console, "wall")
    console.stop()
    expect(page.get_by_role("status", name="连接状态")).not_to_have_text("已连接", timeout=5000)
    publisher.publish(*native_event("door-1", "while-down", "access.door_forced"))
    console.start()
    expect(page.get_by_role("status", name="连接状态")).to_have_text("已连接", timeout=20000)
    expect(page.get_by_role("table", name="报警队列").get_by_role("row", name=re.compile("非法开门"))).to_be_visible()


def test_demo_wall_shows_simulator_alarms_within_seconds(page: Page, tmp_path: Path) -> None:
    port = free_port()
    log_path = tmp_path / "demo.log"
    with open(log_path, "w") as log:  # a file, not a pipe: a full pipe would stall the demo
        process = subprocess.Popen(
            [sys.executable, "-m", "console", "demo", "--data", str(tmp_path / "var"), "--port", str(port),
             "--rate", "8"],
            stdout=log, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
        )
    try:
        kiosk = None
        deadline = time.monotonic() + 60
        while kiosk is None and time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"mcc demo exited with {process.returncode}:\n{log_path.read_text()}")
            match = re.search(r"kiosk wall URL:\s+(\S+)", log_path.read_text())
            kiosk = match.group(1) if match else None
            time.sleep(0.1)
        assert kiosk is not None
        started = time.monotonic()
        page.goto(kiosk)
        expect(page.get_by_role("status", name="连接状态")).to_have_text("已连接", timeout=15000)
        rows = page.get_by_role("table", name="报警队列").locator("tbody tr[data-alarm-id]")
        expect(rows.first).to_be_visible(timeout=20000)
        waited = time.monotonic() - started
        expect(page.get_by_role("list", name="实时事件").get_by_role("listitem").first).to_be_visible()
        ARTIFACTS.mkdir(exist_ok=True)
        time.sleep(3)  # a few more seconds of traffic for a fuller picture
        page.screenshot(path=str(ARTIFACTS / "wall-demo-1920x1080.png"))
        assert waited < 20
    finally:
        process.terminate()
        process.wait(20)
