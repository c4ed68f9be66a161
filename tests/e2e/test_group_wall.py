"""A central center's group wall in Chromium: one queue for every site it shows, each alarm named
with its site; the wall of one community shows its own alarms only, without the site name."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect

from tests.conftest import DEVICES, ConsoleProcess, Publisher, native_event
from tests.e2e.conftest import open_as

NORTH = {"id": "n-panel", "name": "北区3号楼火灾报警控制器", "role": "fire_panel", "site": "north",
         "building": "北区3号楼", "label": "北区3号楼 消防控制室"}


def test_a_group_wall_names_each_alarm_s_site_and_a_site_wall_shows_its_own(
    desk: Page, make_console: Any, sqlite_url: str, publisher: Publisher
) -> None:
    console: ConsoleProcess = make_console(sqlite_url, site={"name": "南区"},
                                           sites=[{"id": "north", "name": "北区"}],
                                           devices={"entries": [*DEVICES, NORTH]})
    console.add_user("group-wall", "display")
    console.login("group-wall")
    result = console.cli("user", "add", "north-wall", "--role", "display", "--sites", "north", "--password-stdin",
                         stdin="correct-horse-1\n")
    assert result.returncode == 0, result.stderr
    console.login("north-wall")
    publisher.publish(*native_event("fp-1", "g-1", "fire.alarm", point="1-003"))
    publisher.publish(*native_event("n-panel", "g-2", "fire.alarm", point="2-001", site="north"))

    open_as(desk, console, "/wall", console.tokens["group-wall"])
    queue = desk.get_by_role("table", name="报警队列")
    expect(queue.get_by_role("row", name=re.compile("北区 · 北区3号楼"))).to_be_visible(timeout=10000)
    expect(queue.get_by_role("row", name=re.compile("南区 · 1号楼 3层 东侧走廊"))).to_be_visible()

    open_as(desk, console, "/wall", console.tokens["north-wall"])
    queue = desk.get_by_role("table", name="报警队列")
    expect(queue.get_by_role("row", name=re.compile("北区3号楼 消防控制室"))).to_be_visible(timeout=10000)
    expect(queue.get_by_role("row", name=re.compile("东侧走廊"))).to_have_count(0)
    expect(queue.get_by_role("row", name=re.compile("北区 · "))).to_have_count(0)
