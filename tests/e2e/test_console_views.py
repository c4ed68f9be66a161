"""The operator console's shift views in Debian's Chromium (Playwright): the live alarm queue with
filters and acknowledging with a comment (by mouse and by keyboard), event history search with paging,
the device page, the shortcut list and the walls' heartbeat in the status strip."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from websockets.sync.client import connect

from tests.conftest import ConsoleProcess, Publisher, native_event, wait_until
from tests.e2e.conftest import ARTIFACTS, chinese_outside_site_data, ok, sign_in
from tests.support.cameras import MjpegServer, make_frames
from tests.support.images import floor_plan_png

FIRE = re.compile("火警.*1号楼火灾报警控制器")


@pytest.fixture
def console(make_console: Any, sqlite_url: str) -> ConsoleProcess:
    return make_console(sqlite_url).staff({"op": "operator", "boss": "supervisor", "wall": "display"},
                                          login=("op",))


def open_console(page: Page, console: ConsoleProcess, user: str = "op") -> None:
    sign_in(page, console, "/console", user)
    expect(page.get_by_role("status", name="连接状态")).to_have_text("已连接")


def raise_two_alarms(console: ConsoleProcess, publisher: Publisher) -> dict[str, dict[str, Any]]:
    publisher.publish(*native_event("fp-1", "fire-1", "fire.alarm", "1-003"))
    publisher.publish(*native_event("door-1", "forced-1", "access.door_forced"))
    alarms = wait_until(lambda: (lambda a: a if len(a) == 2 else None)(ok(console.api("GET", "/api/alarms?active=true", "op"))),
                        message="two alarms are raised")
    return {a["kind"]: a for a in alarms}


def assert_english_only(page: Page) -> None:
    leftovers = chinese_outside_site_data(page)
    assert leftovers == [], f"Chinese text outside site data in English: {leftovers}"


def test_alarm_queue_filters_and_acknowledges_with_a_comment(
    desk: Page, console: ConsoleProcess, publisher: Publisher
) -> None:
    page = desk
    open_console(page, console)
    page.get_by_role("link", name=re.compile("报警队列")).click()
    expect(page).to_have_url(re.compile(r"#alarms$"))
    queue = page.get_by_role("table", name="报警队列")
    expect(page.get_by_text("当前无报警")).to_be_visible()

    alarms = raise_two_alarms(console, publisher)
    fire = queue.get_by_role("row", name=FIRE)
    door = queue.get_by_role("row", name=re.compile("1号楼大堂门禁"))
    expect(fire).to_be_visible(timeout=5000)
    expect(door).to_be_visible()
    expect(queue.get_by_role("row", name=re.compile("号"))).to_have_count(2)
    expect(queue.get_by_role("row").nth(1)).to_contain_text("火警")  # fire first: priority, then age
    expect(fire).to_contain_text("未确认")
    first_age = fire.get_by_role("time").text_content()
    expect(fire.get_by_role("time")).not_to_have_text(first_age or "", timeout=3000)  # ages tick

    filters = page.get_by_role("search", name="报警筛选")
    filters.get_by_label("子系统").select_option(label="门禁")
    expect(queue.get_by_role("row", name=re.compile("号"))).to_have_count(1)
    expect(door).to_be_visible()
    filters.get_by_label("子系统").select_option(label="全部子系统")
    filters.get_by_label("级别").select_option(label="紧急")
    expect(queue.get_by_role("row", name=re.compile("号"))).to_have_count(1)
    expect(fire).to_be_visible()
    filters.get_by_label("级别").select_option(label="全部级别")
    filters.get_by_label("搜索").fill("东侧走廊")
    expect(queue.get_by_role("row", name=re.compile("号"))).to_have_count(1)
    filters.get_by_label("搜索").fill("没有这种设备")
    expect(queue.get_by_role("row", name=re.compile("号"))).to_have_count(0)
    expect(page.get_by_text("没有符合筛选条件的报警")).to_be_visible()
    filters.get_by_label("搜索").fill("")
    expect(queue.get_by_role("row", name=re.compile("号"))).to_have_count(2)

    fire.click()
    detail = page.get_by_role("heading", name="火警 · 1号楼火灾报警控制器")
    expect(detail).to_be_visible()
    expect(page.get_by_text("未关联摄像机")).to_be_visible()
    expect(page.get_by_role("link", name="1号楼火灾报警控制器")).to_have_attribute("href", "#device/demo/fp-1")
    fire_alarm = alarms["fire.alarm"]
    if fire_alarm["task_id"] is not None:
        expect(page.get_by_role("link", name=f"打开处置任务（任务 {fire_alarm['task_id']} 号）")).to_be_visible()

    page.get_by_role("button", name="确认报警").click()
    dialog = page.get_by_role("dialog", name="确认报警")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("确认备注")).to_be_focused()
    dialog.get_by_label("确认备注").fill("现场保安已核实，探测器误报")
    dialog.get_by_role("button", name="确认", exact=True).click()
    expect(dialog).to_be_hidden()
    expect(fire).to_contain_text("已确认 · op")
    expect(page.get_by_role("button", name="确认报警")).to_be_disabled()
    expect(page.get_by_text("现场保安已核实，探测器误报")).to_be_visible()
    acked = ok(console.api("GET", f"/api/alarms/{fire_alarm['id']}", "op"))
    assert acked["acknowledged"] and acked["acked_by"] == "op"
    assert acked["ack_comment"] == "现场保安已核实，探测器误报"

    # the state filter: unacknowledged leaves only the door, acknowledged only the fire
    filters.get_by_label("状态").select_option(label="未确认")
    expect(queue.get_by_role("row", name=re.compile("号"))).to_have_count(1)
    expect(door).to_be_visible()
    filters.get_by_label("状态").select_option(label="已确认")
    expect(queue.get_by_role("row", name=re.compile("号"))).to_have_count(1)
    expect(fire).to_be_visible()
    filters.get_by_label("状态").select_option(label="全部未结束")

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console-alarms.png"))

    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="Alarm queue")).to_be_visible()
    expect(page.get_by_role("table", name="Alarm queue").get_by_role("row", name=re.compile("Fire alarm"))).to_contain_text(
        "Acknowledged by op")
    assert_english_only(page)
    page.get_by_role("button", name="中文").click()
    expect(page.get_by_role("heading", name="报警队列")).to_be_visible()


def test_keyboard_selects_and_acknowledges(desk: Page, console: ConsoleProcess, publisher: Publisher) -> None:
    page = desk
    open_console(page, console)
    alarms = raise_two_alarms(console, publisher)
    expect(page.get_by_role("link", name=re.compile("报警队列"))).to_contain_text("2")  # the unacknowledged count

    page.keyboard.press("2")
    expect(page).to_have_url(re.compile(r"#alarms$"))
    queue = page.get_by_role("table", name="报警队列")
    expect(queue.get_by_role("row", name=re.compile("号"))).to_have_count(2, timeout=5000)
    page.keyboard.press("j")
    fire = queue.get_by_role("row", name=FIRE)
    expect(fire.get_by_role("button")).to_be_focused()
    expect(page.get_by_role("heading", name="火警 · 1号楼火灾报警控制器")).to_be_visible()
    page.keyboard.press("j")
    door = queue.get_by_role("row", name=re.compile("1号楼大堂门禁"))
    expect(door.get_by_role("button")).to_be_focused()

    # A opens the form; Esc cancels, nothing is acknowledged
    page.keyboard.press("a")
    dialog = page.get_by_role("dialog", name="确认报警")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("确认备注")).to_be_focused()
    expect(dialog.get_by_label("确认备注")).to_have_value("")  # the "a" was not typed into it
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert not ok(console.api("GET", f"/api/alarms/{alarms['access.door_forced']['id']}", "op"))["acknowledged"]

    # K back to the fire alarm, A, type, Enter
    page.keyboard.press("k")
    expect(fire.get_by_role("button")).to_be_focused()
    page.keyboard.press("a")
    expect(dialog).to_be_visible()
    page.keyboard.type("键盘确认 ok")
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(fire).to_contain_text("已确认 · op")
    fire_alarm = ok(console.api("GET", f"/api/alarms/{alarms['fire.alarm']['id']}", "op"))
    assert fire_alarm["acknowledged"] and fire_alarm["ack_comment"] == "键盘确认 ok"

    # shortcuts never fire while typing: "1" in the search box stays there
    page.keyboard.press("/")
    search = page.get_by_role("search", name="报警筛选").get_by_label("搜索")
    expect(search).to_be_focused()
    page.keyboard.type("1号楼")
    expect(search).to_have_value("1号楼")
    expect(page).to_have_url(re.compile(r"#alarms$"))
    page.keyboard.press("Escape")
    search.blur()
    page.keyboard.press("1")
    expect(page).to_have_url(re.compile(r"#tasks$"))
    expect(page.get_by_role("heading", name="处置任务")).to_be_visible()


def test_shortcut_list_opens_with_question_mark(desk: Page, console: ConsoleProcess) -> None:
    page = desk
    open_console(page, console)
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="快捷键")
    expect(dialog).to_be_visible()
    table = dialog.get_by_role("table", name="快捷键")
    expect(table.get_by_role("row").filter(has_text="确认所选报警")).to_contain_text("A")
    expect(table.get_by_role("row").filter(has_text="切换视图")).to_contain_text("1 – 7")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    page.get_by_role("button", name="快捷键").click()
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="关闭").click()
    expect(dialog).to_be_hidden()


def test_history_search_pages_and_leads_to_the_device_page(
    desk: Page, console: ConsoleProcess, publisher: Publisher
) -> None:
    for i in range(25):
        publisher.publish(*native_event("door-1", f"grant-{i}", "access.granted", data={"card": f"C{i:03d}"},
                                        ts=f"2026-11-26T09:{i:02d}:00+08:00"))
    publisher.publish(*native_event("lane-in", "entry-1", "parking.entry", data={"plate": "沪A12345"}))
    wait_until(lambda: len(ok(console.api("GET", "/api/events?limit=100", "op"))) >= 26, message="26 events stored")

    page = desk
    open_console(page, console)
    page.keyboard.press("3")
    expect(page).to_have_url(re.compile(r"#history$"))
    form = page.get_by_role("search", name="事件查询条件")
    results = page.get_by_role("table", name="查询结果")
    expect(results.get_by_role("row")).to_have_count(27)  # the header and all 26, newest first
    expect(results.get_by_role("row").nth(1)).to_contain_text("沪A12345")

    page.keyboard.press("/")
    expect(form.get_by_label("关键字")).to_be_focused()
    form.get_by_label("关键字").fill("大堂门禁")  # the device's name
    form.get_by_label("每页条数").select_option("20")
    form.get_by_role("button", name="查询").click()
    status = page.get_by_role("status").filter(has_text="第")
    expect(status).to_have_text("第 1 页 · 20 条")
    expect(results.get_by_role("row")).to_have_count(21)
    expect(results).not_to_contain_text("入口车道")
    expect(results.get_by_role("row").nth(1)).to_contain_text("卡号：C024")
    expect(results.get_by_role("row").nth(1)).to_contain_text("刷卡通行")
    expect(page.get_by_role("button", name="较新一页")).to_be_disabled()

    page.get_by_role("button", name="更早一页").click()
    expect(status).to_have_text("第 2 页 · 5 条")
    expect(results.get_by_role("row")).to_have_count(6)
    expect(results.get_by_role("row").nth(5)).to_contain_text("卡号：C000")
    expect(page.get_by_role("button", name="更早一页")).to_be_disabled()
    page.get_by_role("button", name="较新一页").click()
    expect(status).to_have_text("第 1 页 · 20 条")

    form.get_by_label("子系统").select_option(label="停车")
    form.get_by_label("关键字").fill("")
    form.get_by_role("button", name="查询").click()
    expect(results.get_by_role("row")).to_have_count(2)
    expect(results).to_contain_text("入口车道")

    # the device page: what it is, its state and last seen, its events
    form.get_by_label("子系统").select_option(label="全部子系统")
    form.get_by_label("关键字").fill("door-1")
    form.get_by_role("button", name="查询").click()
    expect(status).to_have_text("第 1 页 · 20 条")
    results.get_by_role("link", name="1号楼大堂门禁").first.click()
    expect(page).to_have_url(re.compile(r"#device/demo/door-1$"))
    expect(page.get_by_role("heading", name="1号楼大堂门禁")).to_be_visible()
    expect(page.get_by_role("link", name="设备", exact=True)).to_have_attribute("aria-current", "page")
    facts = page.locator("dl")
    expect(facts.filter(has_text="最后在线")).to_contain_text(re.compile(r"\d\d-\d\d \d\d:\d\d:\d\d"))
    expect(facts.filter(has_text="设备编号")).to_contain_text("door-1")
    events = page.get_by_role("table", name="最近事件")
    expect(events.get_by_role("row")).to_have_count(26)
    expect(events.get_by_role("row").nth(1)).to_contain_text("卡号：C024")
    page.screenshot(path=str(ARTIFACTS / "console-device.png"))

    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="Recent events")).to_be_visible()
    assert_english_only(page)


def test_a_plate_event_shows_its_lane_snapshot_in_the_history(
    desk: Page, make_console: Any, sqlite_url: str, publisher: Publisher
) -> None:
    with MjpegServer(make_frames()) as camera:
        console = make_console(sqlite_url, cameras={"entries": [
            {"id": "cam-lane-in", "name": "车库入口车道", "url": camera.url, "devices": ["lane-in"]}]})
        console.add_user("op", "operator")
        console.login("op")
        publisher.publish(*native_event("lane-in", "entry-1", "parking.entry", data={"plate": "沪A12345"}))
        wait_until(lambda: [e for e in ok(console.api("GET", "/api/events?kind=parking.entry", "op"))
                            if e["snapshots"]], timeout=8, message="the lane snapshot")

    page = desk
    open_console(page, console)
    page.keyboard.press("3")
    results = page.get_by_role("table", name="查询结果")
    picture = results.get_by_role("img", name=re.compile("车库入口车道 车道抓拍"))
    expect(picture).to_be_visible()
    expect(results.get_by_role("row").nth(1)).to_contain_text("沪A12345")
    assert picture.evaluate("img => img.complete && img.naturalWidth") == 320, "the JPEG itself loaded"
    link = results.get_by_role("link", name=re.compile("车库入口车道 车道抓拍"))
    assert re.fullmatch(r"/api/snapshots/\d+", link.get_attribute("href") or "")
    # the lane's device page lists it too
    results.get_by_role("link", name="入口车道").first.click()
    expect(page.get_by_role("table", name="最近事件").get_by_role("img", name=re.compile("车道抓拍"))).to_be_visible()


def test_status_strip_warns_of_a_wall_not_responding(desk: Page, console: ConsoleProcess) -> None:
    page = desk
    open_console(page, console)
    expect(page.get_by_role("link", name="系统管理")).to_have_count(0)  # an operator has no admin page
    expect(page.get_by_role("button", name="退出登录")).to_be_visible()

    token = console.login("wall")
    url = console.base.replace("http://", "ws://") + "/ws"
    with connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        ws.send(json.dumps({"type": "display.heartbeat", "display": "wall-lobby", "name": "大堂大屏", "build": "x",
                            "sound": "on", "last_seq": 0, "lag_ms": 5, "alarms": 0, "page": "wall"}))
        walls = page.get_by_role("status", name="大屏状态")
        expect(walls).to_have_text("大屏正常（1）", timeout=15000)
    expect(walls).to_have_text("1 个大屏无响应", timeout=15000)
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("status", name="Walls")).to_have_text("1 wall not responding")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login"))


def test_supervisor_sees_the_admin_link(desk: Page, console: ConsoleProcess) -> None:
    open_console(desk, console, "boss")
    expect(desk.get_by_role("link", name="系统管理")).to_have_attribute("href", "/admin")


def test_selected_alarm_shows_its_floor_plan_with_the_device_highlighted(
    desk: Page, console: ConsoleProcess, publisher: Publisher
) -> None:
    console.add_user("adm", "admin")
    console.login("adm")
    plan = ok(console.api("POST", "/api/floorplans", "adm", data={"building": "1号楼", "floor": "3F", "name": "1号楼 三层"},
                          files={"file": ("3f.png", floor_plan_png(), "image/png")}))
    ok(console.api("PUT", f"/api/floorplans/{plan['id']}/markers", "adm",
                   json={"device_id": "fp-1", "point": "1-003", "x": 0.5, "y": 0.4}))
    publisher.publish(*native_event("fp-1", "fire-plan", "fire.alarm", "1-003"))
    alarm = wait_until(lambda: ok(console.api("GET", "/api/alarms?active=true", "op")), message="the alarm is raised")[0]

    page = desk
    open_console(page, console)
    page.evaluate(f"() => {{ window.location.hash = '#alarms/{alarm['id']}'; }}")
    expect(page.get_by_role("heading", name="火警 · 1号楼火灾报警控制器")).to_be_visible()
    expect(page.get_by_text("1号楼 三层")).to_be_visible()
    marker = page.get_by_role("group", name=re.compile("平面图")).get_by_role("button", name=re.compile("紧急报警：火警"))
    expect(marker).to_be_visible()
    expect(marker).to_have_class(re.compile(r"mk-alarm-critical"))
    expect(marker).to_have_class(re.compile(r"mk-blink"))
    page.screenshot(path=str(ARTIFACTS / "console-alarm-plan.png"))
    marker.click()
    expect(page).to_have_url(re.compile(r"#device/demo/fp-1$"))
    expect(page.get_by_role("heading", name="1号楼火灾报警控制器")).to_be_visible()
    expect(page.get_by_role("list", name="未结束的报警").get_by_role("listitem")).to_have_count(1)
