"""The control room across its pages, in Debian's Chromium: an alarm reaches the wall with its sound,
the console acknowledges it and the wall follows, and every visible label follows the language switch.
(The wall's own behaviour, sound and reload after an upgrade are in test_wall_live.py.)"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.conftest import ConsoleProcess, Publisher, native_event
from tests.e2e.conftest import FULL_HD, chinese_outside_site_data, sign_in, ui_text

HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def console(make_console: Any, sqlite_url: str) -> ConsoleProcess:
    console = make_console(sqlite_url)
    for name, role in (("wall", "display"), ("op", "operator"), ("boss", "admin")):
        console.add_user(name, role)
    console.login("op")
    return console


@pytest.fixture
def contexts(browser: Browser) -> Iterator[list[BrowserContext]]:
    made: list[BrowserContext] = []
    yield made
    for context in made:
        context.close()


def new_page(browser: Browser, contexts: list[BrowserContext]) -> Page:
    context = browser.new_context(viewport=FULL_HD, locale="zh-CN")
    contexts.append(context)
    return context.new_page()


def wall_live(page: Page) -> None:
    expect(page.locator("#conn-status")).to_have_attribute("data-state", "live", timeout=10000)


def wall_with_sound(browser: Browser, contexts: list[BrowserContext], console: ConsoleProcess) -> Page:
    """A wall signed in, live, with its sound turned on (the one interaction autoplay needs)."""
    wall = new_page(browser, contexts)
    sign_in(wall, console, "/wall", "wall")
    wall_live(wall)
    wall.get_by_role("button", name=re.compile("开启声音")).click()
    return wall


def sound_playing(page: Page, element_id: str) -> bool:
    return bool(page.evaluate("(id) => { const a = document.getElementById(id);"
                              " return !!a && !a.paused && a.currentTime > 0; }", element_id))


def test_alarm_reaches_the_wall_within_a_second_with_its_sound_playing(
    browser: Browser, contexts: list[BrowserContext], console: ConsoleProcess, publisher: Publisher
) -> None:
    wall = wall_with_sound(browser, contexts, console)

    published = time.monotonic()
    publisher.publish(*native_event("fp-1", "room-fire-1", "fire.alarm", point="1-003"))
    row = wall.get_by_role("table", name="报警队列").get_by_role("row", name=re.compile("火警"))
    expect(row).to_be_visible(timeout=1000)
    wall.wait_for_function("() => { const a = document.getElementById('sound-critical');"
                           " return a && !a.paused; }", timeout=1000)
    arrived = time.monotonic() - published
    assert arrived < 1.0, f"the alarm took {arrived:.2f} s to show with its sound"
    time.sleep(0.5)
    assert sound_playing(wall, "sound-critical"), "the fire sound is not playing"


def test_acknowledging_in_the_console_updates_the_wall_and_stops_its_sound(
    browser: Browser, contexts: list[BrowserContext], console: ConsoleProcess, publisher: Publisher
) -> None:
    wall = wall_with_sound(browser, contexts, console)
    desk = new_page(browser, contexts)
    sign_in(desk, console, "/console", "op")

    publisher.publish(*native_event("fp-1", "room-fire-2", "fire.alarm", point="1-003"))
    wall_row = wall.get_by_role("table", name="报警队列").get_by_role("row", name=re.compile("火警"))
    expect(wall_row).to_contain_text("未确认", timeout=3000)
    wall.wait_for_function("() => !document.getElementById('sound-critical').paused", timeout=3000)

    desk.goto(f"{console.base}/console#alarms")
    alarm = desk.get_by_role("table", name=re.compile("报警")).get_by_role("row", name=re.compile("火警"))
    alarm.first.click()
    desk.get_by_role("button", name=re.compile("^确认报警")).click()
    dialog = desk.get_by_role("dialog")
    dialog.get_by_label(re.compile("备注")).fill("消防主机复位，误报")
    dialog.get_by_role("button", name=re.compile("^确认")).click()

    expect(wall_row).to_contain_text("已确认", timeout=3000)
    wall.wait_for_function("() => document.getElementById('sound-critical').paused", timeout=3000)
    alarm_id = console.api("GET", "/api/alarms?active=true", "op").json()[0]["id"]
    stored = console.api("GET", f"/api/alarms/{alarm_id}", "op").json()
    assert stored["acked_by"] == "op" and stored["ack_comment"] == "消防主机复位，误报"


def _check_language(page: Page) -> None:
    """Chinese first; after the switch no visible label outside site data is Chinese, and back again."""
    before = ui_text(page)
    assert any(HAN.search(text) for text in before), before
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("button", name="中文")).to_be_visible()
    page.wait_for_timeout(300)
    chinese = chinese_outside_site_data(page)  # the switch back, "中文", is in Chinese on purpose
    assert not chinese, f"still Chinese after the switch to English: {chinese}"
    page.get_by_role("button", name="中文").click()
    expect(page.get_by_role("button", name="English")).to_be_visible()


def test_the_language_switch_changes_every_visible_label_on_every_page(
    browser: Browser, contexts: list[BrowserContext], console: ConsoleProcess, publisher: Publisher
) -> None:
    publisher.publish(*native_event("fp-1", "room-fire-3", "fire.alarm", point="1-003"))
    publisher.publish(*native_event("door-1", "room-forced-1", "access.door_forced"))
    wall = new_page(browser, contexts)
    sign_in(wall, console, "/wall", "wall")
    wall_live(wall)
    expect(wall.get_by_role("table", name="报警队列").get_by_role("row", name=re.compile("火警"))).to_be_visible()
    _check_language(wall)

    desk = new_page(browser, contexts)
    sign_in(desk, console, "/console", "boss")
    for view in ("#tasks", "#alarms", "#history"):
        desk.goto(f"{console.base}/console{view}")
        desk.wait_for_timeout(500)
        _check_language(desk)

    for section in ("#users", "#import", "#plans", "#sops", "#quarantine", "#shelves", "#plates", "#displays"):
        desk.goto(f"{console.base}/admin{section}")
        desk.wait_for_timeout(500)
        _check_language(desk)


def test_every_message_has_both_languages(browser: Browser, contexts: list[BrowserContext],
                                          console: ConsoleProcess) -> None:
    page = new_page(browser, contexts)
    page.goto(f"{console.base}/login")
    keys = page.evaluate("""async () => {
        const { messages } = await import('/static/i18n.js');
        return { zh: Object.keys(messages.zh), en: Object.keys(messages.en) };
    }""")
    assert len(keys["zh"]) > 300
    assert sorted(set(keys["zh"]) - set(keys["en"])) == []
    assert sorted(set(keys["en"]) - set(keys["zh"])) == []
