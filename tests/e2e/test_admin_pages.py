"""The administration page (/admin) in Debian's Chromium (Playwright): users and roles, device
import, floor-plan upload and marker placement, quarantine, SOPs, the supervisor's view and the
wall displays. A real console process, a real broker, a real database."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import numpy as np
import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from websockets.sync.client import connect

from tests.conftest import ConsoleProcess, Publisher, wait_until
from tests.e2e.conftest import ARTIFACTS, chinese_outside_site_data, ok, sign_in
from tests.support.cameras import Stream
from tests.support.images import floor_plan_png
from tests.support.scenes import corridor, jpeg, live, turned
from tests.support.websocket import receive_until


@pytest.fixture
def console(make_console: Any, sqlite_url: str) -> ConsoleProcess:
    return make_console(sqlite_url).staff({"boss": "admin", "sup": "supervisor"})


def open_admin(page: Page, console: ConsoleProcess, user: str, path: str = "/admin") -> None:
    sign_in(page, console, path, user)
    expect(page.get_by_role("navigation", name="管理功能")).to_be_visible()


def go(page: Page, section: str) -> Locator:
    """Open a section from the navigation; its region."""
    page.get_by_role("navigation", name=re.compile("管理功能|Administration sections")).get_by_role(
        "link", name=section).click()
    expect(page.get_by_role("heading", name=section, level=2)).to_be_visible()
    return page.get_by_role("region", name=section, exact=True)


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"admin-{name}.png"))


def test_admin_creates_an_operator_who_can_sign_in(desk: Page, browser: Browser, console: ConsoleProcess) -> None:
    page = desk
    open_admin(page, console, "boss")
    go(page, "用户与角色")
    users = page.get_by_role("table", name="用户列表")
    expect(users.get_by_role("row").filter(has_text="boss")).to_contain_text("管理员")

    page.get_by_label("用户名", exact=True).fill("zhang")
    page.get_by_label("显示名称", exact=True).fill("张值班")
    page.get_by_label("角色", exact=True).select_option("operator")
    page.get_by_label("密码", exact=True).fill("a-long-pass-phrase-7")
    page.get_by_label("确认密码", exact=True).fill("a-different-phrase-7")
    page.get_by_role("button", name="创建用户").click()
    alert = page.get_by_role("alert").filter(has_text="两次输入的密码不一致")
    expect(alert).to_be_visible()
    page.get_by_label("确认密码", exact=True).fill("a-long-pass-phrase-7")
    page.get_by_role("button", name="创建用户").click()
    expect(page.get_by_role("status").filter(has_text="已创建用户 zhang")).to_be_visible()
    row = users.get_by_role("row").filter(has_text="张值班")
    expect(row.get_by_role("combobox", name="zhang 的角色")).to_have_value("operator")
    shot(page, "users")

    # The new operator signs in with that password and lands on the console.
    other = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    try:
        op_page = other.new_page()
        op_page.goto(f"{console.base}/login")
        op_page.get_by_label("用户名").fill("zhang")
        op_page.get_by_label("密码").fill("a-long-pass-phrase-7")
        op_page.get_by_role("button", name="登录").click()
        expect(op_page).to_have_url(f"{console.base}/console")
    finally:
        other.close()

    # The server refuses to demote the last admin; the page shows its reason and keeps the role.
    page.get_by_role("combobox", name="boss 的角色").select_option("operator")
    expect(page.get_by_role("alert").filter(has_text=re.compile(r"\S"))).to_be_visible()
    expect(page.get_by_role("combobox", name="boss 的角色")).to_have_value("admin")
    assert {u["username"]: u["role"] for u in ok(console.api("GET", "/api/users", "boss"))}["boss"] == "admin"

    # Disable, then enable again; a disabled user cannot sign in.
    row.get_by_role("button", name="停用 zhang").click()
    expect(row).to_contain_text("已停用")
    refused = httpx.post(f"{console.base}/api/auth/login", json={"username": "zhang", "password": "a-long-pass-phrase-7"})
    assert refused.status_code == 401
    row.get_by_role("button", name="启用 zhang").click()
    expect(row.get_by_role("button", name="停用 zhang")).to_be_visible()

    # Reset the password in its dialog.
    row.get_by_role("button", name="重置 zhang 的密码").click()
    dialog = page.get_by_role("dialog", name="重置 zhang 的密码")
    dialog.get_by_label("新密码").fill("another-long-phrase-9")
    dialog.get_by_label("确认密码").fill("another-long-phrase-9")
    dialog.get_by_role("button", name="设置新密码").click()
    expect(dialog).to_have_count(0)
    assert httpx.post(f"{console.base}/api/auth/login",
                      json={"username": "zhang", "password": "another-long-phrase-9"}).status_code == 200


def test_supervisor_sees_only_their_sections(desk: Page, console: ConsoleProcess) -> None:
    page = desk
    open_admin(page, console, "sup")
    nav = page.get_by_role("navigation", name="管理功能")
    for name in ["处置流程", "隔离消息", "报警搁置", "车牌名单", "报警墙状态"]:
        expect(nav.get_by_role("link", name=name)).to_be_visible()
    for name in ["用户与角色", "设备导入", "楼层平面图"]:
        expect(nav.get_by_role("link", name=name)).to_have_count(0)
    page.goto(f"{console.base}/admin#users")
    expect(page.get_by_role("heading", name="处置流程", level=2)).to_be_visible()
    expect(page.get_by_role("heading", name="用户与角色")).to_have_count(0)
    assert console.api("GET", "/api/users", "sup").status_code == 403
    # The quarantine is the supervisor's to read too (what the site's devices send that cannot be used).
    assert console.api("GET", "/api/quarantine", "sup").status_code == 200
    region = go(page, "隔离消息")
    expect(region.get_by_role("alert")).to_have_count(0)

    # Shelving: fire is refused with the server's reason; a door is shelved and unshelved.
    region = go(page, "报警搁置")
    region.get_by_label("设备编号").fill("fp-1")
    region.get_by_label("报警类型（可选）").fill("fire.alarm")
    region.get_by_label("原因").fill("测试误报")
    region.get_by_role("button", name="搁置", exact=True).click()
    expect(region.get_by_role("alert")).to_contain_text("火警和生命安全报警不可搁置")  # the server's code, worded by the page
    region.get_by_label("设备编号").fill("door-1")
    region.get_by_label("报警类型（可选）").fill("")
    region.get_by_role("button", name="搁置", exact=True).click()
    shelves = region.get_by_role("table", name="搁置记录")
    expect(shelves.get_by_role("row").filter(has_text="door-1")).to_contain_text("生效中")
    shelves.get_by_role("button", name="取消 door-1 的搁置").click()
    page.get_by_role("dialog", name="取消搁置").get_by_role("button", name="取消搁置").click()
    expect(shelves.get_by_role("row").filter(has_text="door-1")).to_have_count(0)

    # Plate lists.
    region = go(page, "车牌名单")
    region.get_by_label("车牌号").fill("沪A12345")
    region.get_by_label("名单", exact=True).select_option("block")
    region.get_by_label("原因").fill("欠费")
    region.get_by_role("button", name="添加", exact=True).click()
    blocked = region.get_by_role("table", name="黑名单", exact=True)
    expect(blocked.get_by_role("row").filter(has_text="沪A12345")).to_contain_text("欠费")
    assert [p["plate"] for p in ok(console.api("GET", "/api/plates", "sup")) if p["list"] == "block"] == ["沪A12345"]


GOOD_CSV = """id,point,name,role,building,floor,zone,label
door-9,,9号门禁,door,2号楼,1F,大堂,2号楼 1层 大堂门
"""
BAD_CSV = """id,point,name,role,building,floor
door-9,,9号门禁,door,2号楼,1F
,,无编号,door,2号楼,1F
"""


def test_device_import_checks_then_applies(desk: Page, console: ConsoleProcess) -> None:
    page = desk
    open_admin(page, console, "boss")
    go(page, "设备导入")
    devices = page.get_by_role("table", name="当前设备")
    expect(devices.get_by_role("row").filter(has_text="fp-1")).to_be_visible()

    page.get_by_label("选择文件（CSV 或 YAML）").set_input_files(
        files=[{"name": "bad.csv", "mimeType": "text/csv", "buffer": BAD_CSV.encode()}])
    expect(page.get_by_label("文件内容")).to_have_value(BAD_CSV)
    page.get_by_role("button", name="检查").click()
    errors = page.get_by_role("table", name="错误")
    expect(errors.get_by_role("row").filter(has_text="第 3 行")).to_contain_text("id")
    shot(page, "import")
    page.get_by_role("button", name="导入", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="未导入任何设备")).to_be_visible()
    assert "door-9" not in {d["device_id"] for d in ok(console.api("GET", "/api/devices", "boss"))}

    page.get_by_label("文件内容").fill(GOOD_CSV)
    page.get_by_role("button", name="检查").click()
    expect(page.get_by_role("status").filter(has_text="检查通过")).to_contain_text("新增 1 台")
    expect(errors).to_be_hidden()
    assert "door-9" not in {d["device_id"] for d in ok(console.api("GET", "/api/devices", "boss"))}
    page.get_by_role("button", name="导入", exact=True).click()
    expect(devices.get_by_role("row").filter(has_text="door-9")).to_contain_text("9号门禁")
    assert "door-9" in {d["device_id"] for d in ok(console.api("GET", "/api/devices", "boss"))}

    # In English, the admin's own sections have no Chinese outside the site's data.
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="Device import", level=2)).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="Imported")).to_contain_text("1 added")
    for section in ["Device import", "Users and roles", "Floor plans"]:
        go(page, section)
        left = chinese_outside_site_data(page, attributes=False)
        assert not left, f"{section}: {left}"


def stored_marker(console: ConsoleProcess, device_id: str) -> dict[str, Any] | None:
    for plan in ok(console.api("GET", "/api/floorplans", "boss")):
        for marker in plan["markers"]:
            if marker["device_id"] == device_id:
                return marker  # type: ignore[no-any-return]
    return None


def test_floor_plan_upload_and_marker_placement(desk: Page, console: ConsoleProcess) -> None:
    page = desk
    open_admin(page, console, "boss")
    go(page, "楼层平面图")
    expect(page.get_by_text("尚未上传平面图")).to_be_visible()
    page.get_by_label("图片文件（PNG 或 JPEG，不超过 8 MB）").set_input_files(
        files=[{"name": "1f.png", "mimeType": "image/png", "buffer": floor_plan_png()}])
    expect(page.get_by_role("img", name="所选平面图预览")).to_be_visible()
    expect(page.get_by_text("800 × 500 像素")).to_be_visible()
    page.get_by_label("楼栋").fill("1号楼")
    page.get_by_label("楼层", exact=True).fill("1F")
    page.get_by_label("名称（可选）").fill("1号楼一层")
    page.get_by_role("button", name="上传", exact=True).click()
    plans = page.get_by_role("table", name="平面图列表")
    expect(plans.get_by_role("row").filter(has_text="1号楼一层")).to_contain_text("800×500")

    # The editor opens on the new plan: door-1 (1号楼 1F) has no position yet. Pick it, click the plan.
    expect(page.get_by_role("heading", name="标记放置：1号楼一层")).to_be_visible()
    page.get_by_label("点击放置的设备").select_option(label="1号楼大堂门禁")
    stage = page.locator(".plan-stage .fp-stage")
    box = stage.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.5)
    marker = page.get_by_role("button", name=re.compile(r"^1号楼大堂门禁 · "))
    expect(marker).to_be_visible()
    first = wait_until(lambda: stored_marker(console, "door-1"), message="door-1 placed")
    assert abs(first["x"] - 0.25) < 0.02 and abs(first["y"] - 0.5) < 0.02, first

    # Drag it to the right-hand room.
    expect(page.get_by_role("status").filter(has_text="已保存 1号楼大堂门禁 的位置")).to_be_visible()
    box = stage.bounding_box()
    assert box is not None
    mk = marker.bounding_box()
    assert mk is not None
    page.mouse.move(mk["x"] + mk["width"] / 2, mk["y"] + mk["height"] / 2)
    page.mouse.down()
    target = (box["x"] + box["width"] * 0.75, box["y"] + box["height"] * 0.3)
    page.mouse.move(target[0] - 40, target[1] + 20, steps=5)
    page.mouse.move(*target, steps=5)
    page.mouse.up()
    moved = wait_until(lambda: (m := stored_marker(console, "door-1")) and abs(m["x"] - 0.75) < 0.02 and m,
                       message="door-1 moved")
    assert abs(moved["y"] - 0.3) < 0.02, moved

    expect(page.get_by_role("group", name=re.compile("1号楼一层"))).to_be_visible()
    assert page.locator(".plan-stage img").evaluate("i => i.complete && i.naturalWidth") == 800  # no reload per move
    shot(page, "floorplan")
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="Markers: 1号楼一层")).to_be_visible()
    left = chinese_outside_site_data(page, attributes=False)
    assert not left, left
    page.get_by_role("button", name="中文").click()

    # Arrow keys nudge it by 1 %.
    marker.focus()
    page.keyboard.press("ArrowDown")
    wait_until(lambda: (m := stored_marker(console, "door-1")) and abs(m["y"] - 0.31) < 0.002, message="nudged")

    placed = page.get_by_role("table", name="已放置的标记")
    placed.get_by_role("button", name="移除 1号楼大堂门禁 的位置").click()
    expect(placed.get_by_role("row").filter(has_text="door-1")).to_have_count(0)
    assert stored_marker(console, "door-1") is None

    plans.get_by_role("button", name="删除平面图 1号楼一层").click()
    dialog = page.get_by_role("dialog", name="删除平面图")
    expect(dialog).to_contain_text("1号楼一层")
    dialog.get_by_role("button", name="删除").click()
    expect(page.get_by_text("尚未上传平面图")).to_be_visible()
    assert ok(console.api("GET", "/api/floorplans", "boss")) == []


def test_quarantine_shows_a_malformed_payload(desk: Page, console: ConsoleProcess, publisher: Publisher) -> None:
    publisher.publish("mcc/v1/demo/fp-1/event", b'{"id": "x1", "type": <b>broken</b>')
    wait_until(lambda: ok(console.api("GET", "/api/quarantine", "boss"))["total"] >= 1, message="quarantined")
    stored = ok(console.api("GET", "/api/quarantine", "boss"))["items"][0]
    page = desk
    open_admin(page, console, "boss")
    go(page, "隔离消息")
    items = page.get_by_role("table", name="隔离的消息（最新在前）")
    row = items.get_by_role("row").filter(has_text="mcc/v1/demo/fp-1/event")
    expect(row).to_contain_text(stored["reason"])
    expect(row).to_contain_text("<b>broken</b>")  # shown as text, not markup
    expect(row.locator("b")).to_have_count(0)
    shot(page, "quarantine")
    counts = page.get_by_role("table", name="按原因统计（所显示的消息）")
    family = re.split(r"[:(]", stored["reason"], maxsplit=1)[0].strip()
    expect(counts.get_by_role("row").filter(has_text=family)).to_contain_text("1")


def test_sop_detail_shows_the_steps_and_english_has_no_chinese(desk: Page, console: ConsoleProcess) -> None:
    page = desk
    open_admin(page, console, "sup")
    go(page, "处置流程")
    sops = page.get_by_role("table", name="流程列表")
    sops.get_by_role("button", name="火警处置").click()
    expect(page.get_by_role("heading", name="火警处置", level=3)).to_be_visible()
    detail = ok(console.api("GET", "/api/sops/fire.alarm", "sup"))
    steps = page.get_by_role("list", name="处置步骤")
    expect(steps.get_by_role("listitem").filter(has_text=re.compile(r"^\d+\."))).to_have_count(len(detail["steps"]))
    ack = steps.get_by_role("listitem").filter(has_text="确认报警并消音")
    expect(ack).to_contain_text("主值班员")
    expect(ack).to_contain_text("30秒")
    expect(ack).to_contain_text("确认报警时自动完成")
    shot(page, "sop")

    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="SOPs", level=2)).to_be_visible()
    expect(page.get_by_role("heading", name="Fire alarm", level=3)).to_be_visible()
    ack_en = page.get_by_role("list", name="Steps").get_by_role("listitem").filter(has_text="Acknowledge and silence")
    expect(ack_en).to_contain_text("Main operator")
    expect(ack_en).to_contain_text("30s")
    for section in ["Quarantine", "Shelved alarms", "Plate lists", "Wall displays", "SOPs"]:
        go(page, section)
        left = chinese_outside_site_data(page, attributes=False)
        assert not left, f"{section}: {left}"
    page.get_by_role("button", name="中文").click()
    expect(page.get_by_role("heading", name="处置流程", level=2)).to_be_visible()


def test_displays_show_a_wall_heartbeat_live(desk: Page, console: ConsoleProcess) -> None:
    page = desk
    open_admin(page, console, "sup")
    go(page, "报警墙状态")
    expect(page.get_by_text("还没有报警墙上报心跳")).to_be_visible()
    expect(page.get_by_role("status", name="连接状态")).to_have_text("已连接")
    # A wall's heartbeat over its own socket (the same message web/wall.js sends every 15 s), signed
    # in as a display: only a display login's heartbeats are recorded.
    console.add_user("wall", "display")
    wall_token = console.login("wall")
    displays = page.get_by_role("table", name="报警墙")
    row = displays.get_by_role("row").filter(has_text="大堂报警墙")
    with connect(f"ws://127.0.0.1:{console.port}/ws", additional_headers={"Authorization": f"Bearer {wall_token}"},
                 open_timeout=5) as wall:
        snapshot = receive_until(wall, lambda m: m["type"] == "snapshot")[-1]
        wall.send(json.dumps({"type": "display.heartbeat", "display": "wall-lobby", "name": "大堂报警墙",
                              "build": "b1", "sound": "blocked", "last_seq": snapshot["seq"], "lag_ms": 42,
                              "alarms": 3, "page": "wall"}))
        expect(row).to_contain_text("正常", timeout=10000)
        expect(row).to_contain_text("被浏览器阻止")
        expect(row).to_contain_text("42 毫秒")
        expect(row).to_contain_text("127.0.0.1")  # from GET /api/displays, refetched on the message
        shot(page, "displays")
    expect(row).to_contain_text("已断开", timeout=10000)


def test_a_supervisor_sees_a_moved_camera_and_takes_a_new_reference(
    desk: Page, make_console: Any, sqlite_url: str
) -> None:
    view = {"image": corridor()}
    count = iter(range(10**9))
    stream = Stream(lambda: jpeg(live(view["image"], next(count)))).start()
    try:
        console = make_console(sqlite_url, cameras={"health_seconds": 0.5, "entries": [
            {"id": "cam-b1", "name": "B1 走廊", "url": stream.url, "location": {"building": "1号楼", "floor": "B1"}}]})
        console.add_user("sup", "supervisor")
        console.login("sup")
        wait_until(lambda: ok(console.api("GET", "/api/cameras", "sup"))[0]["health"]["reference"], timeout=15,
                   message="the first good probe is the reference")
        page = desk
        open_admin(page, console, "sup")
        region = go(page, "摄像机")
        cameras = region.get_by_role("table", name="摄像机")
        row = cameras.get_by_role("row").filter(has_text="B1 走廊")
        reference = row.get_by_role("img", name="B1 走廊 的基准画面")
        expect(reference).to_be_visible()
        expect(row).to_contain_text("正常")
        expect(row).to_contain_text("system")
        expect(reference).to_have_js_property("naturalWidth", 640)  # the picture itself loaded

        view["image"] = turned(corridor(), dx=120)  # someone turns it
        expect(row).to_contain_text("画面移位", timeout=15000)
        expect(region.get_by_role("status").filter(has_text="异常 1")).to_be_visible()
        shot(page, "cameras")

        view["image"] = turned(corridor(), dx=120)  # it was re-aimed on purpose: the new view is right
        row.get_by_role("button", name="重取 B1 走廊 的基准画面").click()
        page.get_by_role("dialog", name="重取基准画面").get_by_role("button", name="重取基准画面").click()
        expect(region.get_by_role("status").filter(has_text="B1 走廊 的基准画面已更新")).to_be_visible()
        expect(row).to_contain_text("正常")
        expect(row).to_contain_text("sup")

        view["image"] = np.zeros((360, 640, 3), np.uint8)  # black: refused, with the server's reason
        expect(row).to_contain_text("画面过暗或遮挡", timeout=15000)
        row.get_by_role("button", name="重取 B1 走廊 的基准画面").click()
        page.get_by_role("dialog", name="重取基准画面").get_by_role("button", name="重取基准画面").click()
        expect(region.get_by_role("alert")).to_contain_text("dark")

        page.get_by_role("button", name="English").click()
        expect(page.get_by_role("heading", name="Cameras", level=2)).to_be_visible()
        expect(page.get_by_role("table", name="Cameras").get_by_role("row").filter(has_text="B1 走廊")).to_contain_text(
            "Dark or covered")
        assert chinese_outside_site_data(page, attributes=False) == []  # labels may name the camera
    finally:
        stream.stop()
