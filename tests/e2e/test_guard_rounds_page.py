"""The guard's phone on a patrol round, in Debian's Chromium: the camera reads a checkpoint's QR
label (Chromium's fake camera plays a video of the printed label; the browser's BarcodeDetector is
taken away, so the pinned WebAssembly reader does the work), and with the console gone the page
queues three scans, survives a reload (its service worker serves it, IndexedDB keeps the queue),
and when the console is back each scan is recorded exactly once, at the time it was taken."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import segno
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from sqlalchemy import select

from console.store.tables import AuditRow, EventRow, RoundPointRow
from tests.conftest import ConsoleProcess, wait_until
from tests.e2e.conftest import ARTIFACTS, CHROMIUM_ARGS, ok, sign_in


def qr_video(path: Path, text: str, width: int = 640, height: int = 480) -> None:
    """A short Y4M video (what Chromium's fake camera plays, looping) of a printed QR label."""
    rows = [list(row) for row in segno.make(text, error="m").matrix_iter(scale=1, border=4)]
    scale = min(width, height) * 9 // 10 // len(rows)
    luma = np.full((height, width), 235, np.uint8)
    top, left = (height - len(rows) * scale) // 2, (width - len(rows) * scale) // 2
    for y, row in enumerate(rows):
        for x, dark in enumerate(row):
            if dark:
                luma[top + y * scale: top + (y + 1) * scale, left + x * scale: left + (x + 1) * scale] = 16
    chroma = np.full((height // 2, width // 2), 128, np.uint8).tobytes()
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(10):
            out.write(b"FRAME\n" + luma.tobytes() + chroma + chroma)


@pytest.fixture
def camera_file(tmp_path: Path) -> Path:
    return tmp_path / "label.y4m"


@pytest.fixture
def phone(camera_file: Path) -> Iterator[BrowserContext]:
    """A phone-sized Chromium whose camera films ``camera_file``."""
    args = [*CHROMIUM_ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={camera_file}"]
    with sync_playwright() as playwright:
        browser: Browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=args)
        context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", has_touch=True)
        context.grant_permissions(["camera"])
        # Where a phone's browser has no BarcodeDetector: the page must read QR codes by itself.
        context.add_init_script("delete window.BarcodeDetector;")
        yield context
        browser.close()


def set_up_round(console: ConsoleProcess, names: list[str]) -> list[str]:
    """Checkpoints in any order, walked from now on; their printed codes, in order."""
    ids = [ok(console.api("POST", "/api/patrol/checkpoints", "sup", json={
        "name": name, "building": "1号楼", "floor": f"{i + 1}F", "zone": "楼梯间"}))["id"] for i, name in enumerate(names)]
    route = ok(console.api("POST", "/api/patrol/routes", "sup", json={
        "name": "楼梯间巡查", "ordered": False, "points": [{"checkpoint": i} for i in ids]}))
    now_local = datetime.now(ZoneInfo("Asia/Shanghai"))
    ok(console.api("POST", "/api/patrol/schedules", "sup", json={
        "route_id": route["id"], "times": [f"{now_local:%H:%M}"], "start_window_minutes": 20, "limit_minutes": 60}))
    sheet = console.api("GET", "/api/patrol/checkpoints/labels", "sup").text
    codes = dict(zip(re.findall(r"<strong>([^<·]+) ·", sheet), re.findall(r"<code>(mcc:cp:[^<]+)</code>", sheet)))
    return [codes[name.strip()] for name in names]


def points(console: ConsoleProcess) -> list[RoundPointRow]:
    return console.stored(select(RoundPointRow).order_by(RoundPointRow.seq))


def scan_events(console: ConsoleProcess) -> list[EventRow]:
    return console.stored(select(EventRow).where(EventRow.kind == "patrol.checkpoint"))


def scan_audits(console: ConsoleProcess) -> list[AuditRow]:
    return console.stored(select(AuditRow).where(AuditRow.action == "guard.scan"))


def open_guard_page(page: Page, console: ConsoleProcess) -> None:
    sign_in(page, console, "/guard", "g1")
    expect(page.get_by_role("status", name="连接状态")).to_have_text("已连接")


def test_the_camera_reads_a_checkpoint_label_without_barcode_detector(
        make_console: Any, sqlite_url: str, phone: BrowserContext, camera_file: Path) -> None:
    console = make_console(sqlite_url, patrol={"check_seconds": 1}).staff({"sup": "supervisor", "g1": "guard"})
    [code] = set_up_round(console, ["一楼楼梯间"])
    qr_video(camera_file, code)
    page = phone.new_page()
    open_guard_page(page, console)
    rounds = page.get_by_role("list", name="我的巡更")
    expect(rounds).to_contain_text("楼梯间巡查", timeout=10_000)
    expect(rounds).to_contain_text("待开始")
    assert page.evaluate("'BarcodeDetector' in window") is False
    page.get_by_role("button", name="扫码", exact=True).click()
    expect(rounds).to_contain_text("已完成", timeout=15_000)
    expect(rounds.locator("li.r-point").filter(has_text="一楼楼梯间")).to_contain_text("已巡")
    [point] = points(console)
    assert (point.state, point.via, point.scanned_by) == ("done", "qr", "g1")
    page.screenshot(path=str(ARTIFACTS / "guard-round-camera.png"))


def test_scans_taken_with_the_console_gone_survive_a_reload_and_are_recorded_once(
        make_console: Any, sqlite_url: str, phone: BrowserContext) -> None:
    console = make_console(sqlite_url, patrol={"check_seconds": 1}).staff({"sup": "supervisor", "g1": "guard"})
    codes = set_up_round(console, ["一楼楼梯间", "二楼楼梯间", "三楼楼梯间"])
    page = phone.new_page()
    open_guard_page(page, console)
    expect(page.get_by_role("list", name="我的巡更")).to_contain_text("待开始", timeout=10_000)
    wait_until(lambda: page.evaluate("navigator.serviceWorker.controller !== null"), timeout=15,
               message="the service worker controls the page (and has kept its files)")

    console.stop()  # the phone is in the basement: nothing answers
    expect(page.get_by_role("status", name="连接状态")).not_to_have_text("已连接", timeout=10_000)
    taken: list[datetime] = []
    for code in codes:
        taken.append(datetime.now(timezone.utc))
        page.get_by_label("位置码").fill(code)
        page.get_by_role("button", name="扫描/提交").click()
        page.wait_for_timeout(300)
    waiting = page.get_by_role("list", name="待发送（联网后自动发送）")
    expect(waiting.get_by_role("listitem")).to_have_count(3)
    expect(waiting).to_contain_text("巡更打卡")

    page.reload()  # the page itself comes from the service worker; the queue from IndexedDB
    expect(page.get_by_role("heading", name="我的巡更")).to_be_visible()
    expect(waiting.get_by_role("listitem")).to_have_count(3)
    page.screenshot(path=str(ARTIFACTS / "guard-offline-queue.png"))

    console.start()
    expect(waiting.get_by_role("listitem")).to_have_count(0, timeout=30_000)
    scanned = wait_until(lambda: [p for p in points(console) if p.state == "done"] if len(
        [p for p in points(console) if p.state == "done"]) == 3 else None, timeout=10, message="three points walked")
    for point, at in zip(sorted(scanned, key=lambda p: p.scanned_at or at), taken):
        assert point.scanned_at is not None and point.received_at is not None
        assert abs(point.scanned_at - at) < timedelta(seconds=2), "each scan counts at the time it was taken"
        assert point.received_at - point.scanned_at > timedelta(seconds=1), "and arrived later"
    wait_until(lambda: len(scan_events(console)) == 3, message="one event per scan")
    page.wait_for_timeout(1500)
    # Exactly once: each scan applied once (a scan sent again with its action id leaves no second trace).
    assert len(scan_audits(console)) == 3 and len(scan_events(console)) == 3
    expect(page.get_by_role("list", name="我的巡更")).to_contain_text("已完成")
