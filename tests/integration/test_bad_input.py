"""Bad input over a real broker: quarantined with its reason and counted; valid traffic flows on."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import ConsoleProcess, Publisher, native_event, wait_until

GOOD = {"id": "x", "ts": "2026-11-26T10:00:00+08:00", "type": "fire.alarm"}


def body(**changes: Any) -> bytes:
    value = {**GOOD, **changes}
    return json.dumps({k: v for k, v in value.items() if v is not ...}).encode()


def nested(depth: int) -> bytes:
    return b'{"id":"deep","ts":"2026-11-26T10:00:00Z","type":"fire.alarm","data":{"a":' + b"[" * depth + b"]" * depth + b"}}"


EVENT = "mcc/v1/demo/fp-1/event"
# (name, topic, payload, words expected in the quarantine reason)
BAD_INPUTS: list[tuple[str, str, bytes, str]] = [
    ("invalid JSON", EVENT, b'{"id": "x", "type": ', "invalid JSON"),
    ("not an object", EVENT, b"[1, 2, 3]", "not an object"),
    ("a bare string", EVENT, b'"fire!"', "not an object"),
    ("missing type", EVENT, body(type=...), "missing field 'type'"),
    ("unknown type", EVENT, body(type="fire.smoke"), "unknown event type"),
    ("missing id", EVENT, body(id=...), "missing field 'id'"),
    ("id of the wrong type", EVENT, body(id=12345), "field id must be a string"),
    ("point of the wrong type", EVENT, body(point=7), "field point must be a string"),
    ("plate of the wrong type", "mcc/v1/demo/lane-in/event",
     body(type="parking.entry", data={"plate": 12345}), "data.plate"),
    ("data not an object", EVENT, body(data="smoke"), "field data must be an object"),
    ("payload over the size limit", EVENT, body(data={"pad": "x" * 1_048_576}), "exceeds the limit"),
    ("invalid UTF-8", EVENT, b'{"id":"u","ts":"2026-11-26T10:00:00Z","type":"fire.alarm","point":"\xff\xfe"}',
     "not valid UTF-8"),
    ("deep nesting", EVENT, nested(5000), "nested deeper"),
    ("moderate nesting past the limit", EVENT, nested(40), "nested deeper"),
    ("unparseable timestamp", EVENT, body(ts="yesterday at noon"), "not an ISO-8601 time"),
    ("timestamp without offset", EVENT, body(ts="2026-11-26T10:00:00"), "no UTC offset"),
    ("far-future timestamp", EVENT, body(ts="2099-01-01T00:00:00+08:00"), "ahead of the console clock"),
    ("unknown device", "mcc/v1/demo/ghost-99/event", body(), "unknown device 'ghost-99'"),
    ("topic of the wrong shape", "mcc/v1/demo/fp-1/loop/1/event", body(), "is not mcc/v1/<site>/<device_id>"),
    ("unknown channel", "mcc/v1/demo/fp-1/events", body(), "is not mcc/v1/<site>/<device_id>"),
    ("empty event payload", EVENT, b"", "payload is empty"),
    ("state that is neither online nor offline", "mcc/v1/demo/fp-1/state", b"maybe", "state must be"),
    ("restore of an unknown kind", EVENT, body(type="fire.restore", data={"of": "fire.smoke"}), "unknown kind"),
    ("restore across families", EVENT, body(type="fire.restore", data={"of": "access.tamper"}), "cannot clear"),
]


@pytest.fixture
def console(make_console: Any, db_url: str) -> ConsoleProcess:
    console = make_console(db_url, devices={"unknown": "quarantine"})
    console.add_user("root", "admin")
    console.login("root")
    return console


def test_bad_input_is_quarantined_with_reasons_and_valid_traffic_still_flows(
    console: ConsoleProcess, publisher: Publisher
) -> None:
    for index, (_name, topic, payload, _reason) in enumerate(BAD_INPUTS):
        publisher.publish(*native_event("door-1", f"ok-{index}", "access.granted"), wait=False)
        publisher.publish(topic, payload, wait=False)
    publisher.publish(*native_event("door-1", "ok-last", "access.granted"))

    wait_until(lambda: console.health()["ingest"]["quarantine_total"] == len(BAD_INPUTS), timeout=20,
               message=f"{len(BAD_INPUTS)} quarantined")
    health = console.health()
    assert health["ingest"]["quarantined"] == len(BAD_INPUTS)
    assert health["status"] == "ok"

    quarantine = console.api("GET", "/api/quarantine?limit=1000", "root").json()
    assert quarantine["total"] == len(BAD_INPUTS)
    items = list(reversed(quarantine["items"]))  # oldest first, in publish order
    for (name, topic, payload, reason), item in zip(BAD_INPUTS, items, strict=True):
        assert item["topic"] == topic, name
        assert reason in item["reason"], f"{name}: {item['reason']}"
        assert item["size"] == len(payload), name
        assert item["adapter"] == "native", name

    stored = {e["id"] for e in console.api("GET", "/api/events?device_id=door-1&limit=1000", "root").json()}
    assert stored == {f"ok-{i}" for i in range(len(BAD_INPUTS))} | {"ok-last"}
    assert console.api("GET", "/api/alarms", "root").json() == []


def test_quarantined_payload_keeps_the_exact_bytes(console: ConsoleProcess, publisher: Publisher) -> None:
    import base64

    raw = b'\x00\x01{"id": broken \xff'
    publisher.publish(EVENT, raw)
    wait_until(lambda: console.health()["ingest"]["quarantine_total"] == 1)
    item = console.api("GET", "/api/quarantine", "root").json()["items"][0]
    assert base64.b64decode(item["payload_base64"]) == raw


def test_unknown_device_is_accepted_and_flagged_by_default(make_console: Any, sqlite_url: str,
                                                          publisher: Publisher) -> None:
    console = make_console(sqlite_url)
    console.add_user("root", "admin")
    console.login("root")
    publisher.publish(*native_event("ghost-7", "g-1", "fire.alarm", point="9-001"))
    alarms = wait_until(lambda: console.api("GET", "/api/alarms", "root").json())
    assert alarms[0]["device_id"] == "ghost-7"  # a fire from an unregistered detector is still a fire
    devices = {d["device_id"]: d for d in console.api("GET", "/api/devices", "root").json()}
    assert devices["ghost-7"]["registered"] is False
    assert devices["ghost-7"]["last_topic"] == "mcc/v1/demo/ghost-7/event"
    assert console.health()["ingest"]["unregistered_devices"] == 1
    event = console.api("GET", "/api/events?device_id=ghost-7", "root").json()[0]
    assert event["registered"] is False
