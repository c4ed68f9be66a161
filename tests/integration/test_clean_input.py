"""Control characters and non-finite numbers, over MQTT and over the API, against a real broker
and a real store: a message carrying them is quarantined with the reason, a request is refused
with 422, and what was clean still flows."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from console.store.tables import EventRow, PlateRow, QuarantineRow
from tests.conftest import Publisher, native_event, wait_until

RAW_FIRE = '{{"id": "{id}", "ts": "2026-11-26T10:00:00+08:00", "type": "fire.alarm", "point": "{point}"{data}}}'


def test_control_characters_and_non_finite_numbers_over_mqtt_are_quarantined_with_the_reason(
    make_console: Any, db_url: str, publisher: Publisher,
) -> None:
    console = make_console(db_url)
    topic = "mcc/v1/demo/fp-1/event"
    bad = {
        "nul-in-id": RAW_FIRE.format(id="f\\u0000-1", point="1-001", data=""),
        "esc-in-point": RAW_FIRE.format(id="f-2", point="1-0\\u001b[2J", data=""),
        "tab-in-point": RAW_FIRE.format(id="f-3", point="1-\\t01", data=""),
        "nan": RAW_FIRE.format(id="f-4", point="1-004", data=', "data": {"temp": NaN}'),
        "overflow": RAW_FIRE.format(id="f-5", point="1-005", data=', "data": {"temp": 1e999999}'),
        "c1-in-cause": RAW_FIRE.format(id="f-6", point="1-006", data=', "data": {"cause": "smoke\\u009b"}'),
    }
    for payload in bad.values():
        publisher.publish(topic, payload.encode())
    publisher.publish(*native_event("fp-1", "f-ok", "fire.alarm", point="1-007",
                                    data={"cause": "烟感\n二次确认", "temp": 61.5}))
    wait_until(lambda: console.rows(QuarantineRow.id) == len(bad), timeout=15, message="all bad ones quarantined")
    reasons = [row.reason for row in console.stored(select(QuarantineRow).order_by(QuarantineRow.id))]
    assert reasons == [
        "invalid field id: control character U+0000",
        "invalid field point: control character U+001B",
        "invalid field point: control character U+0009",
        "invalid field data.temp: not a finite number",
        "invalid field data.temp: not a finite number",
        "invalid field data.cause: control character U+009B",
    ], reasons
    (event,) = wait_until(lambda: console.stored(select(EventRow)), timeout=10)
    assert event.source_id == "f-ok", "a line feed in free text is fine"


def test_the_api_refuses_control_characters_and_non_finite_numbers_with_422(
    make_console: Any, sqlite_url: str,
) -> None:
    console = make_console(sqlite_url)
    console.staff({"root": "admin", "op": "operator"})
    for body in ({"plate": "粤B\u000012345", "list": "block", "reason": "欠费车辆"},
                 {"plate": "粤B12345", "list": "block", "reason": "欠费\u001b[31m"}):
        refused = console.api("POST", "/api/plates", "root", json=body)
        assert refused.status_code == 422 and refused.json()["code"] == "input.control_character", refused.text
    nan = console.api("POST", "/api/plates", "root", content=b'{"plate": "A1", "list": "block", "reason": NaN}',
                      headers={"Content-Type": "application/json"})
    assert nan.status_code == 422 and nan.json()["code"] == "input.not_finite"
    assert console.rows(PlateRow.id) == 0
    assert console.api("GET", "/api/events?device=fp%00-1", "op").json()["code"] == "input.control_character"
    assert console.api("GET", "/api/alarms/%1b", "op").status_code == 422
    upload = console.api("POST", "/api/floorplans", "root", data={"building": "1号楼", "floor": "3\x00F"},
                         files={"file": ("plan.png", b"\x89PNG\r\n\x1a\n", "image/png")})
    assert upload.status_code == 422 and upload.json()["code"] == "input.control_character", upload.text
    ok = console.api("POST", "/api/plates", "root", json={"plate": "粤B12345", "list": "block", "reason": "欠费\n两个月"})
    assert ok.status_code in (200, 201), ok.text
    assert httpx.get(f"{console.base}/api/health/live").status_code == 200
