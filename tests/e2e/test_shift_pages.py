"""The shift's routine in the console page (Debian's Chromium through Playwright): a handover started
from the page, its checklist answered and signed by the outgoing and the incoming operator at their
own logins, and the daily report opened, with its charts, and printed to PDF. In Chinese, then
in English."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Browser, Page, expect

from tests.conftest import Publisher, native_event, wait_until
from tests.e2e.conftest import ARTIFACTS, FULL_HD, ok, sign_in


def answer_checklist(page: Page, steps: Any, signer: str) -> None:
    """Answer every open step of the handover checklist that is not a signature."""
    for item in ("接班人员提前10分钟到岗", "交接未处理完的报警事件", "交接屏蔽设备清单", "交接设备故障",
                 "清点钥匙", "到岗后30分钟内测试各系统信号"):
        step = steps.get_by_role("listitem").filter(has_text=item)
        step.get_by_role("button", name="完成").click()
        expect(step).to_contain_text("已完成")
    for item, text in (("交接上级指示", "无"), ("交接需继续关注的事项", "1号楼3层烟感报警待复核")):
        step = steps.get_by_role("listitem").filter(has_text=item)
        step.get_by_role("textbox").fill(text)
        step.get_by_role("button", name="提交").click()
        expect(step).to_contain_text("已完成")


def test_a_handover_is_started_signed_by_both_and_the_daily_report_prints(
        desk: Page, browser: Browser, make_console: Any, sqlite_url: str, publisher: Publisher) -> None:
    console = make_console(sqlite_url).staff({"wang": "operator", "li": "operator"}, login=("wang",))
    publisher.publish(*native_event("fp-1", "fire-1", "fire.alarm", "1-003"))
    wait_until(lambda: ok(console.api("GET", "/api/tasks", "wang")), message="a fire task is open")

    page = desk
    sign_in(page, console, "/console", "wang")
    page.get_by_role("link", name="交接班与报表").click()
    page.get_by_label("交班说明").fill("1号楼3层烟感报警，保安已到场，待复核")
    page.get_by_role("button", name="开始交接班").click()
    expect(page.locator("#ho-started")).to_contain_text("未处理任务 1 项")
    page.get_by_role("link", name="打开交接清单").click()
    steps = page.get_by_role("list", name="处置步骤")
    answer_checklist(page, steps, "wang")
    sign_out = steps.get_by_role("listitem").filter(has_text="交班人员签字")
    sign_out.get_by_role("button", name="批准").click()
    expect(sign_out).to_contain_text("wang")

    # The incoming operator signs at their own login.
    other = browser.new_context(viewport=FULL_HD, locale="zh-CN")
    try:
        incoming = other.new_page()
        sign_in(incoming, console, "/console", "li")
        incoming.get_by_role("list", name="处置任务").get_by_role("button", name=re.compile("交接班")).click()
        sign_in_step = incoming.get_by_role("list", name="处置步骤").get_by_role("listitem").filter(
            has_text="接班人员核对交接内容后签字")
        sign_in_step.get_by_role("button", name="批准").click()
        expect(sign_in_step).to_contain_text("li")
        incoming.get_by_label("关闭原因").fill("交接完成")
        incoming.get_by_role("button", name="关闭任务").click()
    finally:
        other.close()

    page.get_by_role("link", name="交接班与报表").click()
    row = page.get_by_role("table", name="最近的交接班").get_by_role("row").nth(1)
    expect(row).to_contain_text("已完成")
    expect(row).to_contain_text("wang")
    expect(row).to_contain_text("li")

    page.get_by_label("报表类型").select_option(label="日报")
    with page.expect_popup() as popup:
        page.get_by_role("link", name="打开（可打印）").click()
    report = popup.value
    expect(report.get_by_role("heading", level=1)).to_contain_text("日报")
    expect(report.get_by_role("img", name="报警分类 / alarms by kind")).to_be_visible()
    expect(report.get_by_role("heading", name="值班记录 / Duty log")).to_be_visible()
    pdf = report.pdf(format="A4")
    assert pdf.startswith(b"%PDF") and len(pdf) > 5000
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "daily-report.pdf").write_bytes(pdf)
    report.screenshot(path=str(ARTIFACTS / "daily-report.png"))
    page.get_by_label("报表类型").select_option(label="月报")
    expect(page.get_by_role("link", name="导出 CSV")).to_have_attribute("href", re.compile(r"/api/reports/monthly\?format=csv&month=\d{4}-\d{2}"))

    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="Shift handover")).to_be_visible()
    expect(page.get_by_role("table", name="Recent handovers").get_by_role("row").nth(1)).to_contain_text("Complete")


def test_a_drill_is_planned_started_watched_and_scored_in_the_page(
        desk: Page, make_console: Any, sqlite_url: str) -> None:
    console = make_console(sqlite_url).staff({"boss": "supervisor"})
    page = desk
    sign_in(page, console, "/console", "boss")
    page.get_by_role("link", name="交接班与报表").click()
    page.get_by_label("演练名称").fill("第四季度消防演练")
    page.get_by_role("textbox", name="设备", exact=True).fill("fp-1")
    page.get_by_label("点位（可空）").fill("1-003")
    page.get_by_label("报警类型").select_option(value="fire.alarm")
    page.get_by_role("button", name="加入演练计划").click()
    plans = page.get_by_role("table", name="演练计划")
    row = plans.get_by_role("row").filter(has_text="第四季度消防演练")
    expect(row).to_contain_text("计划中")

    page.get_by_label("演练名称").fill("错误的演练")
    page.get_by_role("textbox", name="设备", exact=True).fill("nowhere")
    page.get_by_role("button", name="加入演练计划").click()
    expect(page.locator("#dr-error")).to_have_text("设备 nowhere 未登记：演练需要真实的位置")

    row.get_by_role("button", name="开始演练").click()
    expect(row).to_contain_text("进行中", timeout=10_000)
    row.get_by_role("link", name="查看任务").click()
    expect(page.locator("#panel-drill")).to_be_visible()
    page.get_by_label("关闭原因").fill("演练结束，讲评完毕")
    page.get_by_role("button", name="关闭任务").click()

    page.get_by_role("link", name="交接班与报表").click()
    expect(row).to_contain_text(re.compile(r"已结束 · 准时率 \d+%"))
    history = page.get_by_role("table", name="演练记录")
    expect(history.get_by_role("row").nth(1)).to_contain_text("火警处置")
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("table", name="Drill plans").get_by_role("row").nth(1)).to_contain_text(
        re.compile(r"Done · \d+% on time"))
