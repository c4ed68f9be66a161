"""The wall in Debian's Chromium says when the console itself cannot take alarms (a full disk, a
stalled intake, no broker): a ``console.health`` message raises a banner within 10 s, in Chinese
first and in English after the switch, and the next one takes it down. The broker is the fault here
because it can be pulled from under a browser test at no cost; tests/integration/test_disk_full.py
shows the same message arriving for a full disk."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from console.demo.broker import ManagedMosquitto
from tests.conftest import ConsoleProcess
from tests.e2e.test_wall_live import open_wall


@pytest.fixture
def console(make_console: Any, sqlite_url: str) -> ConsoleProcess:
    return make_console(sqlite_url).staff({"wall": "display"})


def test_the_wall_shows_a_console_fault_within_10_s_and_clears_it(
    desk: Page, console: ConsoleProcess, broker: ManagedMosquitto,
) -> None:
    page = desk
    open_wall(page, console)
    banner = page.locator("#fault-banner")
    expect(banner).to_be_hidden()

    broker.stop()
    expect(banner).to_be_visible(timeout=10000)
    expect(banner).to_contain_text("控制台故障")
    expect(banner).to_contain_text("未连接消息服务器")
    expect(banner).to_have_attribute("role", "alert")
    page.locator("#lang-switch").click()
    expect(banner).to_contain_text("not connected to the broker")

    broker.start()
    expect(banner).to_be_hidden(timeout=15000)
