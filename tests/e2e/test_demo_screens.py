"""`mcc demo` as a control room sees it: the wall at 1920×1080 and the operator console with the
simulator's live data, saved as the screenshots the README shows (tests/artifacts/)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from console.demo.broker import free_port
from tests.conftest import wait_until
from tests.e2e.conftest import ARTIFACTS, FULL_HD, sign_in


@dataclass
class Demo:
    kiosk: str  # the wall PC's start page (/pair?name=…), as the demo prints it
    data: Path  # the demo's data folder

    @property
    def base(self) -> str:
        return self.kiosk.split("/pair", 1)[0]


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    port = free_port()
    log_path = tmp_path / "demo.log"
    with open(log_path, "w") as log:  # a file, not a pipe: a full pipe would stall the demo
        process = subprocess.Popen(
            [sys.executable, "-m", "console", "demo", "--data", str(tmp_path / "var"), "--port", str(port),
             "--rate", "8"],
            stdout=log, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
        )
    try:
        kiosk = None
        deadline = time.monotonic() + 60
        while kiosk is None and time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"mcc demo exited with {process.returncode}:\n{log_path.read_text()}")
            match = re.search(r"kiosk wall:\s+(\S+)", log_path.read_text())
            kiosk = match.group(1) if match else None
            time.sleep(0.1)
        assert kiosk is not None, log_path.read_text()
        yield Demo(kiosk, tmp_path / "var")
    finally:
        process.terminate()
        process.wait(20)


def test_demo_wall_and_console_with_live_data(browser: Browser, desk: Page, demo: Demo) -> None:
    """The wall shows the simulator's first alarm within 20 s of opening, then the console signs in."""
    ARTIFACTS.mkdir(exist_ok=True)

    wall_context = browser.new_context(viewport=FULL_HD, locale="zh-CN")
    try:
        wall: Page = wall_context.new_page()
        # The wall PC pairs as the demo's banner says: its code, approved by the demo's admin.
        wall.goto(demo.kiosk)
        expect(wall.locator("#pair-code")).to_have_text(re.compile(r"^\w{4}-\w{4}$"))
        logins = json.loads((demo.data / "demo-logins.json").read_text())
        admin = httpx.post(f"{demo.base}/api/auth/login",
                           json={"username": "admin", "password": logins["admin"]}).json()["access_token"]
        approved = httpx.post(f"{demo.base}/api/displays/pairings/approve", headers={"Authorization": f"Bearer {admin}"},
                              json={"code": wall.locator("#pair-code").inner_text(), "user": "wall"})
        assert approved.status_code == 200, approved.text
        started = time.monotonic()
        expect(wall.get_by_role("status", name="连接状态")).to_have_text("已连接", timeout=15000)
        expect(wall.locator("#conn-status")).to_have_attribute("data-state", "live")
        rows = wall.get_by_role("table", name="报警队列").locator("tbody tr[data-alarm-id]")
        expect(rows.first).to_be_visible(timeout=20000)
        waited = time.monotonic() - started
        expect(wall.get_by_role("list", name="实时事件").get_by_role("listitem").first).to_be_visible()
        # The demo's floor plans are drawn at its first start: the wall shows one with its markers.
        expect(wall.locator(".fp-mk").first).to_be_visible(timeout=15000)
        # For the README's picture: more of the simulator's incidents (up to 40 s more), then the shot.
        fuller = time.monotonic() + 40
        while rows.count() < 3 and time.monotonic() < fuller:
            time.sleep(1)
        time.sleep(2)
        wall.screenshot(path=str(ARTIFACTS / "wall-demo-1920x1080.png"))
        assert waited < 20
    finally:
        wall_context.close()

    logins = json.loads((demo.data / "demo-logins.json").read_text())
    sign_in(desk, demo, "/console", "operator", password=logins["operator"])
    desk.goto(f"{demo.base}/console#alarms")
    alarm_rows = desk.get_by_role("table", name=re.compile("报警")).locator("tbody tr")
    expect(alarm_rows.first).to_be_visible(timeout=15000)
    alarm_rows.first.click()
    expect(desk.locator(".fp-mk").first).to_be_visible(timeout=10000)
    time.sleep(1)
    desk.screenshot(path=str(ARTIFACTS / "console-alarms-1920x1080.png"))

    # The demo's own cameras (MJPEG drawn by OpenCV in the demo): probed, each with its reference
    # frame; the fire panel and the garage lanes name them, so their alarms get snapshots.
    token = httpx.post(f"{demo.base}/api/auth/login",
                       json={"username": "operator", "password": logins["operator"]}).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}

    def cameras() -> list[dict[str, Any]] | None:
        listed = httpx.get(f"{demo.base}/api/cameras", headers=auth).json()
        return listed if all(c["health"]["reference"] for c in listed) else None

    listed = wait_until(cameras, timeout=20, message="the demo cameras probed")
    assert {c["id"]: c["health"]["state"] for c in listed} == {"cam-1-lobby": "ok", "cam-garage-gate": "ok"}
    picture = httpx.get(f"{demo.base}{listed[0]['health']['reference']['url']}", headers=auth)
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/jpeg"
    # Probed cameras are online devices: the wall's video health counts them.
    for camera in ("cam-1-lobby", "cam-garage-gate"):
        page = httpx.get(f"{demo.base}/api/devices/{camera}", headers=auth).json()
        assert page["status"]["state"] == "online", page["status"]
