"""The duty log in the console page (Debian's Chromium through Playwright): the entry due now,
pre-filled; the operator corrects it and signs, the other person on duty countersigns at the same
screen with their password; a signed entry is corrected by a new one; the day prints to PDF as the
paper log; a supervisor reviews a finding. In Chinese, then in English."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect

from tests.conftest import wait_until
from tests.e2e.conftest import ARTIFACTS, PASSWORD, chinese_outside_site_data, ok, sign_in


def test_two_people_on_duty_fill_in_sign_correct_and_print_the_duty_log(
        desk: Page, make_console: Any, sqlite_url: str) -> None:
    console = make_console(sqlite_url).staff({"wang": "operator", "li": "operator"}, login=("wang",))
    wait_until(lambda: ok(console.api("GET", "/api/duty-log/current", "wang"))["entry"],
               message="the console opens the entry due now")
    page = desk
    sign_in(page, console, "/console", "wang")
    page.get_by_role("link", name="值班记录").click()
    expect(page.get_by_role("heading", name="消防控制室值班记录")).to_be_visible()
    expect(page.locator("#duty-slot")).to_contain_text("须在")
    pumps = page.get_by_label("消防泵、风机处于自动")
    expect(pumps).to_have_value("unknown")
    expect(page.get_by_label("主电")).to_have_value("normal")
    expect(page.locator("#duty-f-fire-hint")).to_have_text("预填：0")

    pumps.select_option(label="是")
    page.get_by_label("异常情况及处理 / 备注").fill("控制器运行正常")
    page.get_by_role("button", name="本人签名").click()
    expect(page.locator("#duty-entry-state")).to_contain_text("待第二人签名")
    expect(pumps).to_be_disabled()

    # 李 signs at 王's screen; a wrong password is refused in Chinese.
    page.get_by_label("用户名", exact=True).fill("li")
    page.get_by_label("密码", exact=True).fill("wrong-password")
    page.locator("#duty-countersign").click()
    expect(page.locator("#duty-error")).to_have_text("第二签名人的用户名或密码错误")
    page.get_by_label("用户名", exact=True).fill("li")
    page.get_by_label("密码", exact=True).fill(PASSWORD)
    page.locator("#duty-countersign").click()
    # "已签名", or "已签名 · 逾时" when the test runs more than 30 minutes into the real clock's slot
    expect(page.locator("#duty-entry-state")).to_contain_text(re.compile("^已签名"))
    row = page.get_by_role("table", name="当日记录").get_by_role("row").nth(1)
    expect(row).to_contain_text("wang")
    expect(row).to_contain_text("li")

    # A mistake found after signing: a correction, which names the entry it corrects.
    page.get_by_label("异常情况及处理 / 备注").fill("补记：2号泵控制柜故障灯亮")
    page.get_by_label("更正原因").fill("漏看故障灯")
    page.get_by_role("button", name="写更正记录").click()
    expect(page.locator("#duty-entry-state")).to_contain_text("待填写 · 更正 #")
    expect(page.get_by_role("table", name="当日记录").get_by_role("row")).to_have_count(3)

    with page.expect_popup() as popup:
        page.get_by_role("link", name="打印").click()
    printed = popup.value
    expect(printed.get_by_role("heading", level=1)).to_contain_text("消防控制室值班记录")
    expect(printed.locator("table")).to_contain_text("是*")
    pdf = printed.pdf(format="A4", landscape=True)
    assert pdf.startswith(b"%PDF") and len(pdf) > 5000
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "duty-log.pdf").write_bytes(pdf)
    page.screenshot(path=str(ARTIFACTS / "console-duty-log.png"))
    printed.screenshot(path=str(ARTIFACTS / "duty-log-print.png"))

    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="Fire-control room duty log")).to_be_visible()
    expect(page.get_by_label("Fire pumps and fans in auto")).to_be_visible()
    expect(page.get_by_role("table", name="Today's entries")).to_contain_text("Signed")
    leftovers = [text for text in chinese_outside_site_data(page) if not re.search(r"补记|控制器运行正常", text)]
    assert leftovers == [], leftovers
