"""Remote commands in the console page (Debian's Chromium through Playwright): a barrier lift with its
reason shows "sent", then "confirmed" when the lane reports the barrier open, and a lift the
barrier never answers shows "not confirmed" after the site's limit; both outcomes are in the audit
chain. In Chinese, then in English. The barrier is a test MQTT client on the real broker."""

from __future__ import annotations

import json
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from playwright.sync_api import Page, expect

from tests.conftest import ManagedMosquitto, Publisher, native_event
from tests.e2e.conftest import sign_in
from tests.integration.test_floorplans_api import audit_actions


class Barrier:
    """Listens on the lane's command topic; when ``answer`` is set, reports the barrier opened."""

    def __init__(self, broker: ManagedMosquitto, publisher: Publisher) -> None:
        self.answer = True
        self.commands: list[dict[str, Any]] = []
        subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.client.on_connect = lambda c, *_a: c.subscribe("mcc/v1/demo/lane-in/command", qos=1)
        self.client.on_subscribe = lambda *_a: subscribed.set()

        def on_message(_c: Any, _u: Any, msg: Any) -> None:
            command = json.loads(msg.payload)
            self.commands.append(command)
            if self.answer:
                publisher.publish(*native_event("lane-in", f"opened-{command['id']}", "parking.barrier_opened",
                                                data={"command_id": command["id"]}))

        self.client.on_message = on_message
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        assert subscribed.wait(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def test_a_barrier_lift_is_confirmed_by_the_lane_or_shown_not_confirmed(
        desk: Page, make_console: Any, sqlite_url: str, broker: ManagedMosquitto, publisher: Publisher) -> None:
    console = make_console(sqlite_url, commands={"barrier_confirm_seconds": 3}).staff({"op": "operator"})
    barrier = Barrier(broker, publisher)
    try:
        page = desk
        sign_in(page, console, "/console", "op")
        page.evaluate("location.hash = '#device/demo/lane-in'")
        box = page.locator("#cmd-box")
        expect(box.get_by_role("heading", name="远程抬杆")).to_be_visible()

        box.get_by_label("原因（记入审计）").fill("访客登记后放行")
        box.get_by_role("button", name="抬杆").click()
        rows = box.get_by_role("table", name="远程抬杆").get_by_role("row")
        expect(rows.nth(1)).to_contain_text("访客登记后放行")
        expect(rows.nth(1)).to_contain_text("已确认")

        barrier.answer = False  # the barrier is stuck: the lane never says it opened
        box.get_by_label("原因（记入审计）").fill("收费争议，先放行")
        box.get_by_role("button", name="抬杆").click()
        expect(rows.nth(1)).to_contain_text("已发送，等待设备确认")
        expect(rows.nth(1)).to_contain_text("未确认：设备在时限内没有回报", timeout=10_000)
        assert len(barrier.commands) == 2

        expect(box.get_by_role("button", name="抬杆")).to_be_disabled()  # no reason, no lift

        page.get_by_role("button", name="English").click()
        table = box.get_by_role("table", name="Lift the barrier remotely")
        expect(table.get_by_role("row").nth(1)).to_contain_text("Not confirmed")
        expect(table.get_by_role("row").nth(2)).to_contain_text("Confirmed")
        actions = audit_actions(console)
        assert actions.count("command.sent") == 2
        assert "command.confirmed" in actions and "command.not_confirmed" in actions
    finally:
        barrier.close()
