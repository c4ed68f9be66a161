"""The issue-5 wall in Debian's Chromium: floor plans that follow the newest top alarm, the SOP step
and its countdown in the queue, subsystem health, sound under the autoplay rules, the display
heartbeat, the reload after a server upgrade, and the layout at 1920×1080 and 3840×2160."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from playwright.sync_api import Error as PlaywrightError

from tests.conftest import REPO, ConsoleProcess, Publisher, native_event, wait_until
from tests.e2e.conftest import ARTIFACTS, FULL_HD, chinese_outside_site_data, open_as
from tests.support.images import floor_plan_png


@pytest.fixture
def console(make_console: Any, sqlite_url: str) -> ConsoleProcess:
    return make_console(sqlite_url).staff({"wall": "display", "op": "operator", "boss": "admin"})


def new_page(browser: Browser, width: int = 1920, height: int = 1080) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    page = context.new_page()
    yield page
    context.close()


def open_wall(page: Page, console: ConsoleProcess, query: str = "") -> None:
    open_as(page, console, f"/wall{query}", console.tokens["wall"])
    expect(page.get_by_role("status", name="连接状态")).to_have_text("已连接")


def upload_plan(console: ConsoleProcess, building: str, floor: str) -> dict[str, Any]:
    response = console.api("POST", "/api/floorplans", "boss",
                           files={"file": (f"{floor}.png", floor_plan_png(1600, 1000, label=floor), "image/png")},
                           data={"building": building, "floor": floor})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def place(console: ConsoleProcess, plan: dict[str, Any], device: str, point: str, x: float, y: float) -> None:
    response = console.api("PUT", f"/api/floorplans/{plan['id']}/markers", "boss",
                           json={"device_id": device, "point": point, "x": x, "y": y})
    assert response.status_code == 200, response.text


def fire_alarm(publisher: Publisher, source: str = "fa-1") -> None:
    publisher.publish(*native_event("fp-1", source, "fire.alarm", point="1-003"))


def test_floor_plan_shows_markers_and_switches_to_the_floor_of_a_new_top_alarm(
    desk: Page, console: ConsoleProcess, publisher: Publisher
) -> None:
    page = desk
    lobby = upload_plan(console, "1号楼", "1F")
    third = upload_plan(console, "1号楼", "3F")
    place(console, lobby, "door-1", "", 0.3, 0.6)
    place(console, third, "fp-1", "1-003", 0.7, 0.4)
    open_wall(page, console)

    floors = page.get_by_role("tablist", name="楼层")
    expect(floors.get_by_role("tab")).to_have_count(2)
    plan = page.get_by_role("region", name="楼层平面图")
    door = plan.get_by_role("button", name=re.compile("1号楼大堂门禁"))
    expect(door).to_be_visible()  # the first floor is shown while nothing is in alarm
    expect(floors.get_by_role("tab", name=re.compile("1F"))).to_have_attribute("aria-selected", "true")

    fire_alarm(publisher)
    expect(floors.get_by_role("tab", name=re.compile("3F"))).to_have_attribute("aria-selected", "true", timeout=3000)
    expect(page.locator("#plan-title")).to_have_text("1号楼 · 3F")
    expect(floors.get_by_role("tab", name=re.compile("3F"))).to_contain_text("1 条报警")
    marker = plan.get_by_role("button", name=re.compile("紧急报警：火警"))
    expect(marker).to_be_visible()
    expect(marker).to_have_class(re.compile(r"\bmk-alarm-critical\b.*\bmk-blink\b|\bmk-blink\b.*\bmk-alarm-critical\b"))
    # the marker sits where the admin placed it: 70 % across, 40 % down the drawn image
    stage = page.locator(".fp-stage").bounding_box()
    dot = marker.locator(".fp-dot").bounding_box()
    assert stage and dot
    assert abs((dot["x"] + dot["width"] / 2 - stage["x"]) / stage["width"] - 0.7) < 0.02
    assert abs((dot["y"] + dot["height"] / 2 - stage["y"]) / stage["height"] - 0.4) < 0.02
    expect(door).to_be_hidden()

    # acknowledged: the marker stops blinking but keeps its alarm colour
    alarm = console.api("GET", "/api/alarms?active=true", "op").json()[0]
    console.api("POST", f"/api/alarms/{alarm['id']}/ack", "op", json={"comment": "到场"})
    acked = plan.get_by_role("button", name=re.compile("已确认"))
    expect(acked).to_be_visible(timeout=3000)
    expect(acked).not_to_have_class(re.compile(r"\bmk-blink\b"))
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "wall-floorplan-1920x1080.png"))


def test_queue_shows_the_sop_step_countdown_guard_and_subsystem_health(
    desk: Page, console: ConsoleProcess, publisher: Publisher
) -> None:
    page = desk
    open_wall(page, console)
    health = page.get_by_role("list", name="子系统状态")
    fire = health.get_by_role("listitem", name="消防")
    expect(fire).to_contain_text(re.compile(r"\d+/1"))  # one fire device registered (fp-1)
    expect(health.get_by_role("listitem", name="门禁")).to_contain_text(re.compile(r"\d+/1"))
    expect(health.get_by_role("listitem", name="视频")).to_contain_text("无设备")

    fire_alarm(publisher)
    row = page.get_by_role("table", name="报警队列").get_by_role("row", name=re.compile("火警"))
    expect(row).to_contain_text("确认报警并消音", timeout=3000)  # the fire SOP's first step
    countdown = row.locator("time.step-due")
    expect(countdown).to_have_text(re.compile(r"^(剩余|超时) "))
    first = countdown.inner_text()
    expect(countdown).not_to_have_text(first, timeout=3000)  # it ticks
    expect(row).to_contain_text("未派保安")  # nobody on shift to send

    alarm = console.api("GET", "/api/alarms?active=true", "op").json()[0]
    console.api("POST", f"/api/alarms/{alarm['id']}/ack", "op", json={"comment": "已核实"})
    expect(row).to_contain_text("op", timeout=3000)  # who acknowledged
    # the ack completes step 1: the next step (dispatch) is shown with its own countdown
    expect(row.locator(".step-text")).not_to_have_text(re.compile("确认报警并消音"), timeout=3000)
    expect(page.get_by_role("list", name="报警画面").get_by_role("listitem").first).to_contain_text("未关联摄像机")
    # Today's figures follow the alarm (within the wall's 10 s refetch), not only the minute timer.
    kpis = page.locator("#kpi-list")
    expect(kpis.locator("div", has=page.get_by_text("已确认", exact=True)).locator("dd")).to_have_text(
        "1", timeout=15000)
    expect(kpis.locator("div", has=page.get_by_text("报警", exact=True)).locator("dd")).to_have_text("1")


def audio_state(page: Page, name: str) -> dict[str, Any]:
    return page.evaluate("(id) => { const a = document.getElementById(id);"
                         " return {paused: a.paused, t: a.currentTime, loop: a.loop}; }", f"sound-{name}")


def test_sound_plays_after_the_enable_click_and_stops_on_acknowledge(
    desk: Page, console: ConsoleProcess, publisher: Publisher
) -> None:
    page = desk
    open_wall(page, console)
    status = page.get_by_role("status", name="声音")
    expect(status).to_have_text("声音：关")
    page.get_by_role("button", name="开启声音").click()
    expect(status).to_have_text("声音：开")

    fire_alarm(publisher)
    expect(page.get_by_role("table", name="报警队列").get_by_role("row", name=re.compile("火警"))).to_be_visible(
        timeout=3000)
    playing = wait_until(lambda: (s := audio_state(page, "critical"))["paused"] is False and s, timeout=3)
    assert playing["loop"] is True  # fire repeats until acknowledged
    t0 = playing["t"]
    wait_until(lambda: audio_state(page, "critical")["t"] > t0 + 0.2 or audio_state(page, "critical")["t"] < t0,
               timeout=3, message="the siren's currentTime advances")

    alarm = console.api("GET", "/api/alarms?active=true", "op").json()[0]
    console.api("POST", f"/api/alarms/{alarm['id']}/ack", "op", json={"comment": "消音"})
    wait_until(lambda: audio_state(page, "critical")["paused"] is True, timeout=3,
               message="the siren stops once the alarm is acknowledged")

    # a minor/major alarm sounds once: a door forced open is not fire, not critical
    publisher.publish(*native_event("door-1", "df-1", "access.door_forced"))
    expect(page.get_by_role("table", name="报警队列").get_by_role("row", name=re.compile("非法开门"))).to_be_visible(
        timeout=3000)
    door = page.evaluate("""() => [...document.querySelectorAll('#sound-major, #sound-minor')]
        .map(a => ({id: a.id, paused: a.paused, loop: a.loop, t: a.currentTime}))""")
    assert any(not a["paused"] or a["t"] > 0 for a in door), door
    assert not any(a["loop"] for a in door), door


def test_sound_choice_is_remembered_and_blocked_playback_is_shown_until_a_click(
    browser: Browser, console: ConsoleProcess, publisher: Publisher
) -> None:
    context = browser.new_context(viewport=FULL_HD, locale="zh-CN")
    try:
        first = context.new_page()
        open_wall(first, console)
        first.get_by_role("button", name="开启声音").click()
        expect(first.get_by_role("status", name="声音")).to_have_text("声音：开")
        first.close()

        # A fresh load (a power cut, a reload by the upgrade check) has had no user gesture:
        # the browser refuses to play, and the wall says so plainly.
        page = context.new_page()
        open_wall(page, console)
        status = page.get_by_role("status", name="声音")
        expect(status).to_have_text("声音被浏览器阻止")
        expect(page.get_by_role("alert")).to_have_text("声音被浏览器阻止 — 点击屏幕任意位置即可开启")
        fire_alarm(publisher)
        expect(page.get_by_role("table", name="报警队列").get_by_role("row", name=re.compile("火警"))).to_be_visible(
            timeout=3000)
        assert audio_state(page, "critical")["paused"] is True

        page.mouse.click(900, 700)  # anywhere
        expect(status).to_have_text("声音：开")
        expect(page.get_by_role("alert")).to_be_hidden()
        wait_until(lambda: audio_state(page, "critical")["paused"] is False, timeout=3)
    finally:
        context.close()


def test_heartbeat_reaches_the_displays_list(desk: Page, console: ConsoleProcess) -> None:
    page = desk
    open_wall(page, console, "?name=lobby-wall")

    def lobby() -> dict[str, Any] | None:
        displays = console.api("GET", "/api/displays", "op").json()
        return next((d for d in displays if d["name"] == "lobby-wall"), None)

    display = wait_until(lobby, timeout=5, message="the wall's heartbeat in /api/displays")
    assert display["state"] == "live"
    assert display["sound"] == "off"
    assert display["user"] == "wall"
    assert display["build"] == page.locator("body").get_attribute("data-build")
    assert isinstance(display["lag_ms"], int | float)
    stored = page.evaluate("localStorage.getItem('mcc.wall.display')")
    assert display["display"] == stored
    page.close()
    wait_until(lambda: (d := lobby()) and d["state"] == "disconnected", timeout=10,
               message="the closed wall shows as disconnected")


def test_wall_reloads_itself_after_a_server_upgrade(desk: Page, console: ConsoleProcess) -> None:
    """A real upgrade: the console is stopped and started again from a copy of the code whose web
    files differ (`python -m console` runs from the site folder, so the copy there is what runs)."""
    page = desk
    open_wall(page, console)
    build = page.locator("body").get_attribute("data-build")
    assert build
    page.evaluate("window.__beforeUpgrade = true")

    console.stop()
    folder = console.site_file.parent
    for name in ("console", "web", "sops", "deploy"):
        shutil.copytree(REPO / name, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
    with open(folder / "web" / "wall.css", "a", encoding="utf-8") as css:
        css.write("\n/* upgraded */\n")
    console.start()

    def reloaded() -> bool:
        try:
            return bool(page.evaluate("window.__beforeUpgrade === undefined"))
        except PlaywrightError:  # caught in the middle of the navigation
            return False

    wait_until(reloaded, timeout=20, message="the wall reloaded")
    expect(page.get_by_role("status", name="连接状态")).to_have_text("已连接", timeout=15000)
    new_build = page.locator("body").get_attribute("data-build")
    assert new_build and new_build != build


def test_wall_layout_fits_full_hd_and_4k_and_english_has_no_chinese_labels(
    browser: Browser, console: ConsoleProcess, publisher: Publisher
) -> None:
    third = upload_plan(console, "1号楼", "3F")
    place(console, third, "fp-1", "1-003", 0.5, 0.5)
    fire_alarm(publisher)
    publisher.publish(*native_event("door-1", "df-1", "access.door_forced"))
    wait_until(lambda: len(console.api("GET", "/api/alarms?active=true", "op").json()) == 2, timeout=5)
    sizes = {}
    ARTIFACTS.mkdir(exist_ok=True)
    for width, height in ((1920, 1080), (3840, 2160)):
        for page in new_page(browser, width, height):
            open_wall(page, console)
            expect(page.locator("tbody tr[data-alarm-id]")).to_have_count(2)
            page.wait_for_function("() => { const i = document.querySelector('.fp-img');"
                                   " return i && i.complete && i.naturalWidth > 0; }")
            layout = page.evaluate("""() => ({
                sw: document.documentElement.scrollWidth, sh: document.documentElement.scrollHeight,
                font: parseFloat(getComputedStyle(document.querySelector('.alarm-table')).fontSize),
                marker: document.querySelector('.fp-mk .fp-dot').getBoundingClientRect().width})""")
            assert layout["sw"] <= width and layout["sh"] <= height, layout
            sizes[width] = layout
            page.screenshot(path=str(ARTIFACTS / f"wall-{width}x{height}.png"))
            if width == 1920:
                page.get_by_role("button", name="English").click()
                expect(page.get_by_role("heading", name="Floor plan")).to_be_visible()
                expect(page.get_by_role("status", name="Sound")).to_have_text("Sound: off")
                left = chinese_outside_site_data(page, attributes=False)
                assert not left, left
                page.get_by_role("button", name="中文").click()
    # 4K is the same picture, twice the size
    assert sizes[3840]["font"] == pytest.approx(2 * sizes[1920]["font"], rel=0.05)
    assert sizes[3840]["marker"] == pytest.approx(2 * sizes[1920]["marker"], rel=0.15)
