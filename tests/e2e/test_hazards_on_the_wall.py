"""A lift entrapment made by the simulator, published to a real broker, on the wall in Chromium: its
row in both languages, the siren that loops until someone acknowledges, and its task opened."""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta
from typing import Any

import yaml
from playwright.sync_api import Page, expect

from console.demo.simulator import DEFAULT_DEVICES, SITE_TZ, Message, Traffic, load_devices
from tests.conftest import DEVICES, ConsoleProcess, Publisher, wait_until
from tests.e2e.conftest import ok, open_as

LIFTS = [d for d in yaml.safe_load(DEFAULT_DEVICES.read_text(encoding="utf-8")) if d.get("kind") == "elevator"]


def first_entrapment(seed: int = 7) -> Message:
    """The simulator's first lift entrapment, with its clock set so that it happens now."""
    def stream(start: datetime) -> Message:
        traffic = Traffic(load_devices(), "demo", 5.0, random.Random(seed), start)
        return next(m for m in traffic if m.kind == "elevator.trapped")

    at = stream(datetime.now(SITE_TZ)).at
    return stream(datetime.now(SITE_TZ) - timedelta(seconds=at))


def siren(page: Page) -> dict[str, Any]:
    state: dict[str, Any] = page.evaluate(
        "() => { const a = document.getElementById('sound-critical'); return {paused: a.paused, loop: a.loop}; }")
    return state


def test_a_simulated_lift_entrapment_reaches_the_wall_with_its_siren_and_opens_its_task(
    desk: Page, make_console: Any, sqlite_url: str, publisher: Publisher
) -> None:
    console: ConsoleProcess = make_console(sqlite_url, devices={"entries": DEVICES + LIFTS})
    for name, role in [("wall", "display"), ("op", "operator"), ("g1", "guard")]:
        console.add_user(name, role)
        console.login(name)
    ok(console.api("POST", "/api/guard/shift", "g1", json={"on": True}))
    page = desk
    open_as(page, console, "/wall", console.tokens["wall"])
    expect(page.get_by_role("status", name="连接状态")).to_have_text("已连接")
    page.get_by_role("button", name="开启声音").click()

    message = first_entrapment()
    lift = message.topic.split("/")[3]
    assert lift in {d["id"] for d in LIFTS}
    publisher.publish(message.topic, message.payload)

    row = page.get_by_role("table", name="报警队列").get_by_role("row", name=re.compile("电梯困人"))
    expect(row).to_be_visible(timeout=5000)
    expect(row).to_contain_text(next(d["label"] for d in LIFTS if d["id"] == lift))
    playing = wait_until(lambda: (s := siren(page))["paused"] is False and s, timeout=3,
                         message="the siren sounds for people trapped in a lift")
    assert playing["loop"] is True, "a life-safety alarm sounds until it is acknowledged"

    [task] = wait_until(lambda: ok(console.api("GET", "/api/tasks", "op")), message="its task opens")
    detail = ok(console.api("GET", f"/api/tasks/{task['id']}", "op"))
    assert detail["title"]["zh"] == "电梯困人处置" and detail["assignee"] == "g1", "the guard on shift is sent"
    expect(row).to_contain_text("接听电梯对讲")  # the SOP's current step, in the queue

    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("table", name="Alarm queue").get_by_role(
        "row", name=re.compile("People trapped in a lift"))).to_be_visible()

    [alarm] = ok(console.api("GET", "/api/alarms?active=true", "op"))
    ok(console.api("POST", f"/api/alarms/{alarm['id']}/ack", "op", json={"comment": "已接听对讲"}))
    wait_until(lambda: siren(page)["paused"] is True, timeout=3, message="the siren stops once acknowledged")
