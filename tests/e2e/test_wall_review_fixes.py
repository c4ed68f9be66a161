"""The wall after its review in Chromium: only fire alarms and critical alarms loop their sound (a
fire fault beeps once), the queue's location and state are never cut off at 1920×1080 or 3840×2160 in
either language, the queue knows how many rows fit before it draws the first one, a marker's label
stays on the plan, the floor tabs are one row, "1 alarm" is singular, and every wall has its own name."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import DEVICES, ConsoleProcess, Publisher, native_event, wait_until
from tests.e2e.conftest import ARTIFACTS, open_as
from tests.support.images import floor_plan_png

LONG_LOCATION = "3号楼 12层 东侧走廊 消防电梯前室 感烟探测器"
MORE_DEVICES = [
    {"id": "fp-3", "name": "3号楼火灾报警控制器", "role": "fire_panel", "building": "3号楼", "floor": "B1",
     "zone": "消防控制室", "label": "3号楼 B1 消防控制室",
     "points": {"2-017": {"floor": "12F", "zone": "东侧走廊", "label": LONG_LOCATION}}},
    *({"id": f"door-{n}", "name": f"{n}号楼大堂门禁", "role": "door", "building": f"{n}号楼", "floor": "1F",
       "label": f"{n}号楼 1层 大堂门"} for n in range(2, 12)),
]


@pytest.fixture
def console(make_console: Any, sqlite_url: str) -> ConsoleProcess:
    return make_console(sqlite_url, devices={"entries": DEVICES + MORE_DEVICES}).staff(
        {"wall": "display", "op": "operator", "boss": "admin"})


def new_page(browser: Browser, width: int = 1920, height: int = 1080) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    try:
        yield context.new_page()
    finally:
        context.close()


def open_wall(page: Page, console: ConsoleProcess, query: str = "") -> None:
    open_as(page, console, f"/wall{query}", console.tokens["wall"])
    expect(page.get_by_role("status", name="连接状态")).to_have_text("已连接")


def active_alarms(console: ConsoleProcess) -> list[dict[str, Any]]:
    alarms: list[dict[str, Any]] = console.api("GET", "/api/alarms?active=true", "op").json()
    return alarms


def audio(page: Page, name: str) -> dict[str, Any]:
    state: dict[str, Any] = page.evaluate(
        "(id) => { const a = document.getElementById(id); return {paused: a.paused, ended: a.ended,"
        " loop: a.loop, t: a.currentTime, played: a.played.length}; }", f"sound-{name}")
    return state


def test_a_fire_fault_sounds_once_and_a_fire_alarm_loops(
    desk: Page, console: ConsoleProcess, publisher: Publisher
) -> None:
    page = desk
    open_wall(page, console)
    page.get_by_role("button", name="开启声音").click()
    expect(page.get_by_role("status", name="声音")).to_have_text("声音：开")

    publisher.publish(*native_event("fp-1", "ff-1", "fire.fault", point="1-003"))
    fault = page.locator('#alarm-rows tr[data-kind="fire.fault"]')
    expect(fault).to_be_visible(timeout=3000)
    started = wait_until(lambda: (s := audio(page, "major"))["played"] > 0 and s, timeout=3,
                         message="the fault's beep starts")
    assert started["loop"] is False, started  # a fault beeps once, it does not loop
    wait_until(lambda: audio(page, "major")["ended"], timeout=5, message="the beep ends by itself")
    assert audio(page, "major")["loop"] is False
    assert audio(page, "critical")["played"] == 0  # no siren for a fault
    # the same rule for the blink and the header beacon: a fault is neither
    expect(fault).not_to_have_class(re.compile(r"\bis-blinking\b"))
    expect(page.locator("body")).not_to_have_class(re.compile(r"\bhas-unacked-fire\b"))

    publisher.publish(*native_event("fp-1", "fa-1", "fire.alarm", point="1-003"))
    fire = page.locator('#alarm-rows tr[data-kind="fire.alarm"]')
    expect(fire).to_have_class(re.compile(r"\bis-blinking\b"), timeout=3000)
    expect(page.locator("body")).to_have_class(re.compile(r"\bhas-unacked-fire\b"))
    siren = wait_until(lambda: (s := audio(page, "critical"))["paused"] is False and s, timeout=3)
    assert siren["loop"] is True  # a fire alarm sounds until acknowledged
    assert audio(page, "major")["loop"] is False


# Every element of the location and state cells: a one-line element has all its text within its box,
# the location itself may take two lines and no more, and nothing is hidden by the line clamp.
CUT_OFF = """() => {
  const out = [];
  const lineHeight = (e) => parseFloat(getComputedStyle(e).lineHeight);
  for (const row of document.querySelectorAll('#alarm-rows tr[data-alarm-id]')) {
    for (const e of row.querySelectorAll('.col-loc, .col-loc *, .col-state, .col-state *')) {
      if (!e.checkVisibility() || !e.textContent.trim()) continue;
      const name = `${row.dataset.kind} ${e.className}: ${e.textContent}`;
      if (e.scrollWidth > e.clientWidth + 1) out.push(`too wide: ${name} (${e.scrollWidth} > ${e.clientWidth})`);
      if (e.scrollHeight > e.clientHeight + 1) out.push(`too tall: ${name} (${e.scrollHeight} > ${e.clientHeight})`);
      if (e.classList.contains('loc-main') && e.scrollHeight > 2.5 * lineHeight(e)) out.push(`over 2 lines: ${name}`);
    }
  }
  for (const th of document.querySelectorAll('#alarm-table th')) {
    if (th.scrollWidth > th.clientWidth + 1) out.push(`header cut: ${th.textContent}`);
  }
  return out;
}"""


def test_location_and_state_are_never_cut_off_at_full_hd_and_4k_in_both_languages(
    browser: Browser, console: ConsoleProcess, publisher: Publisher
) -> None:
    publisher.publish(*native_event("fp-3", "long-1", "fire.alarm", point="2-017"))
    publisher.publish(*native_event("door-2", "df-2", "access.door_forced"))
    publisher.publish(*native_event("door-3", "df-3", "access.door_forced"))
    publisher.publish(*native_event("fp-1", "ff-1", "fire.fault", point="1-003"))
    wait_until(lambda: len(active_alarms(console)) == 4, timeout=5)
    by_device = {a["device_id"]: a for a in active_alarms(console)}
    # one acknowledged (the state and who), one cleared before anyone acknowledged it (two words)
    console.api("POST", f"/api/alarms/{by_device['door-2']['id']}/ack", "op", json={"comment": "到场"})
    publisher.publish(*native_event("fp-1", "ff-1r", "fire.restore", point="1-003", data={"of": "fire.fault"}))
    wait_until(lambda: any(a["cleared"] for a in active_alarms(console)), timeout=5)
    ARTIFACTS.mkdir(exist_ok=True)
    for width, height in ((1920, 1080), (3840, 2160)):
        for page in new_page(browser, width, height):
            open_wall(page, console)
            rows = page.locator("#alarm-rows tr[data-alarm-id]")
            expect(rows).to_have_count(4)
            for lang, switch in (("zh", None), ("en", "English")):
                if switch:
                    page.get_by_role("button", name=switch).click()
                    expect(page.get_by_role("heading", name="Alarm queue")).to_be_visible()
                long_row = page.locator('#alarm-rows tr[data-kind="fire.alarm"]')
                expect(long_row.locator(".loc-main")).to_have_text(LONG_LOCATION)
                states = {"zh": ("已确认", "已恢复", "未确认"), "en": ("Acked", "Cleared", "Unacked")}[lang]
                for word in states:
                    expect(page.locator("#alarm-rows .col-state").filter(has_text=word).first).to_be_visible()
                page.evaluate("document.fonts.ready")
                cut = page.evaluate(CUT_OFF)
                assert not cut, (width, lang, cut)
                # the smallest text in the queue is at least 18 px at 1080p (36 px at 4K)
                smallest = page.evaluate("""() => Math.min(...[...document.querySelectorAll(
                    '#alarm-rows .loc-sub, #alarm-rows .step-text, #alarm-rows .state-text, .kpi-label')]
                    .filter((e) => e.checkVisibility()).map((e) => parseFloat(getComputedStyle(e).fontSize)))""")
                assert smallest >= 18 * height / 1080 - 0.5, (width, lang, smallest)
                page.screenshot(path=str(ARTIFACTS / f"wall-review-queue-{lang}-{width}x{height}.png"))


def test_queue_draws_only_the_rows_that_fit_from_the_first_frame(
    browser: Browser, console: ConsoleProcess, publisher: Publisher
) -> None:
    for n in range(2, 12):
        publisher.publish(*native_event(f"door-{n}", f"df-{n}", "access.door_forced"))
    wait_until(lambda: len(active_alarms(console)) == 10, timeout=5)
    for page in new_page(browser):
        # counts the rows every time the queue changes, from before the wall's own script runs
        page.add_init_script("""window.__rowCounts = [];
            new MutationObserver(() => { const b = document.getElementById('alarm-rows');
              if (b) window.__rowCounts.push(b.querySelectorAll('tr[data-alarm-id]').length); })
              .observe(document, {childList: true, subtree: true});""")
        open_wall(page, console)
        more = page.locator("#alarm-more")
        expect(more).to_be_visible()
        shown = page.locator("#alarm-rows tr[data-alarm-id]").count()
        assert 0 < shown < 10
        expect(more).to_have_text(f"另有 {10 - shown} 条报警未显示")
        counts = page.evaluate("window.__rowCounts")
        assert max(counts) == shown, counts  # never more rows than fit, not even for one frame
        fit = page.evaluate("""() => { const wrap = document.getElementById('alarm-wrap').getBoundingClientRect();
            const rows = [...document.querySelectorAll('#alarm-rows tr[data-alarm-id]')];
            const last = rows[rows.length - 1].getBoundingClientRect();
            const more = document.getElementById('alarm-more').getBoundingClientRect();
            return {left: wrap.bottom - more.bottom, row: last.height, lastBottom: last.bottom, wrapBottom: wrap.bottom,
                    moreBottom: more.bottom}; }""")
        assert fit["moreBottom"] <= fit["wrapBottom"] + 1, fit  # all of it on the screen
        assert fit["left"] < fit["row"], fit  # and no room left for one more row


def upload_plan(console: ConsoleProcess, building: str, floor: str) -> dict[str, Any]:
    response = console.api("POST", "/api/floorplans", "boss",
                           files={"file": (f"{floor}.png", floor_plan_png(1600, 1000, label=floor), "image/png")},
                           data={"building": building, "floor": floor})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_marker_label_on_the_right_edge_turns_left_and_floor_tabs_are_one_row(
    desk: Page, console: ConsoleProcess, publisher: Publisher
) -> None:
    page = desk
    plans = {floor: upload_plan(console, "1号楼", floor) for floor in ("B2", "B1", "1F", "2F", "3F", "4F", "5F", "6F",
                                                                        "7F", "8F", "9F", "10F", "RF")}
    response = console.api("PUT", f"/api/floorplans/{plans['3F']['id']}/markers", "boss",
                           json={"device_id": "fp-1", "point": "1-003", "x": 0.93, "y": 0.5})
    assert response.status_code == 200, response.text
    open_wall(page, console)
    floors = page.get_by_role("tablist", name="楼层")
    expect(floors.get_by_role("tab")).to_have_count(len(plans))

    publisher.publish(*native_event("fp-1", "fa-1", "fire.alarm", point="1-003"))
    third = floors.get_by_role("tab", name=re.compile("3F"))
    expect(third).to_have_attribute("aria-selected", "true", timeout=3000)
    expect(third.locator(".plan-tab-count")).to_have_text("1 条报警")
    marker = page.get_by_role("region", name="楼层平面图").get_by_role("button", name=re.compile("紧急报警：火警"))
    expect(marker).to_be_visible()
    page.wait_for_function("() => { const i = document.querySelector('.fp-img');"
                           " return i && i.complete && i.naturalWidth > 0; }")
    box = page.evaluate("""() => { const r = (e) => e.getBoundingClientRect().toJSON();
        const mk = document.querySelector('.fp-mk[class*="mk-alarm-"]');
        const label = mk.querySelector('.fp-mk-label');
        return {stage: r(document.querySelector('.fp-stage')), dot: r(mk.querySelector('.fp-dot')), label: r(label),
                text: label.textContent, title: mk.title, aria: mk.getAttribute('aria-label')}; }""")
    stage, dot, label = box["stage"], box["dot"], box["label"]
    assert label["right"] <= dot["left"] + 1, box  # the label is on the left of its marker
    assert stage["left"] - 1 <= label["left"] and label["right"] <= stage["right"] + 1, box  # and on the plan
    assert box["text"] and box["text"] in box["aria"] and box["text"] in box["title"], box
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "wall-review-plan-1920x1080.png"))

    # the 13 floor tabs are one row that scrolls sideways, with the shown floor in view
    tabs = page.evaluate("""() => { const box = document.getElementById('plan-floors');
        const b = box.getBoundingClientRect();
        const tabs = [...box.querySelectorAll('[role=tab]')].map((t) => t.getBoundingClientRect());
        const sel = box.querySelector('[aria-selected=true]').getBoundingClientRect();
        return {tops: [...new Set(tabs.map((t) => Math.round(t.top)))], height: b.height, tab: tabs[0].height,
                scrolls: box.scrollWidth > box.clientWidth, selLeft: sel.left, selRight: sel.right,
                left: b.left, right: b.right}; }""")
    assert len(tabs["tops"]) == 1, tabs
    assert tabs["height"] < 2 * tabs["tab"], tabs
    assert tabs["scrolls"], tabs
    assert tabs["left"] - 1 <= tabs["selLeft"] and tabs["selRight"] <= tabs["right"] + 1, tabs
    # the keyboard moves along the tabs
    third.focus()
    page.keyboard.press("ArrowRight")
    expect(floors.get_by_role("tab", name=re.compile("4F"))).to_have_attribute("aria-selected", "true")
    expect(floors.get_by_role("tab", name=re.compile("4F"))).to_be_focused()

    page.get_by_role("button", name="English").click()
    third = page.get_by_role("tablist", name="Floors").get_by_role("tab", name=re.compile("3F"))
    expect(third.locator(".plan-tab-count")).to_have_text("1 alarm")  # not "1 alarms"


def test_each_wall_has_its_own_default_name(desk: Page, console: ConsoleProcess) -> None:
    page = desk
    open_wall(page, console)
    display = page.evaluate("localStorage.getItem('mcc.wall.display')")
    assert display and display.startswith("wall-")

    def mine() -> dict[str, Any] | None:
        displays = console.api("GET", "/api/displays", "op").json()
        return next((d for d in displays if d["display"] == display), None)

    found = wait_until(mine, timeout=5, message="the wall's heartbeat in /api/displays")
    assert found["name"] == "wall-" + display.removeprefix("wall-")[:6]
