"""From an MQTT publish on a real Mosquitto to the store, the alarm list and a WebSocket client."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from sqlalchemy import select

from console.store.database import Store
from console.store.tables import AuditRow
from tests.conftest import ConsoleProcess, Publisher, native_event, wait_until
from tests.support.websocket import receive_until, ws_connect


@pytest.fixture
def console(make_console: Any, db_url: str) -> ConsoleProcess:
    return make_console(db_url).staff({"op": "operator", "wall": "display"})


def test_fire_alarm_is_stored_raised_and_pushed_to_websocket(console: ConsoleProcess, publisher: Publisher) -> None:
    with ws_connect(console, "wall") as ws:
        snapshot = json.loads(ws.recv(timeout=5))
        assert snapshot["type"] == "snapshot"
        assert snapshot["alarms"] == []
        publisher.publish(*native_event("fp-1", "fp-1-000042", "fire.alarm", point="1-003"))
        seen = receive_until(ws, lambda m: m["type"] == "alarm.raised")
        seen += receive_until(ws, lambda m: m["type"] == "event", timeout=2) if not any(
            m["type"] == "event" for m in seen) else []

    event = next(m for m in seen if m["type"] == "event")
    assert event["data"]["id"] == "fp-1-000042"
    assert event["data"]["kind"] == "fire.alarm"
    raised = next(m for m in seen if m["type"] == "alarm.raised")
    alarm = raised["data"]
    assert alarm["kind"] == "fire.alarm" and alarm["severity"] == "critical"
    assert alarm["location"]["label"] == "1号楼 3层 东侧走廊 感烟探测器"
    seqs = [m["seq"] for m in seen]
    assert seqs == list(range(snapshot["seq"] + 1, snapshot["seq"] + 1 + len(seen)))

    stored = console.api("GET", "/api/events?device_id=fp-1", "op").json()
    assert [e["id"] for e in stored] == ["fp-1-000042"]
    active = console.api("GET", "/api/alarms?active=true", "op").json()
    assert [(a["kind"], a["point"], a["count"], a["acknowledged"]) for a in active] == [
        ("fire.alarm", "1-003", 1, False)
    ]


def test_same_source_id_twice_is_stored_once(console: ConsoleProcess, publisher: Publisher) -> None:
    topic, body = native_event("door-1", "door-1-77", "access.door_forced")
    publisher.publish(topic, body)
    publisher.publish(topic, body)
    publisher.publish(*native_event("door-1", "door-1-78", "access.granted", data={"card": "A1"}))
    wait_until(lambda: len(console.api("GET", "/api/events?device_id=door-1", "op").json()) == 2)
    events = console.api("GET", "/api/events?device_id=door-1", "op").json()
    assert sorted(e["id"] for e in events) == ["door-1-77", "door-1-78"]
    wait_until(lambda: console.health()["ingest"]["duplicates"] == 1)
    alarms = console.api("GET", "/api/alarms?active=true", "op").json()
    assert [(a["kind"], a["count"]) for a in alarms] == [("access.door_forced", 1)]


def test_repeat_updates_the_alarm_and_restore_clears_it_independently_of_ack(
    console: ConsoleProcess, publisher: Publisher
) -> None:
    publisher.publish(*native_event("fp-1", "a", "fire.alarm", point="1-003"))
    publisher.publish(*native_event("fp-1", "b", "fire.alarm", point="1-003"))
    alarm = wait_until(lambda: [a for a in console.api("GET", "/api/alarms?active=true", "op").json()
                                if a["count"] == 2])[0]
    response = console.api("POST", f"/api/alarms/{alarm['id']}/ack", "op", json={"comment": "已派保安"})
    assert response.status_code == 200
    assert response.json()["acknowledged"] is True and response.json()["cleared"] is False
    assert response.json()["ack_comment"] == "已派保安"
    # Acknowledged but not cleared: still in the live queue.
    assert [a["id"] for a in console.api("GET", "/api/alarms?active=true", "op").json()] == [alarm["id"]]
    publisher.publish(*native_event("fp-1", "c", "fire.restore", point="1-003", data={"of": "fire.alarm"}))
    wait_until(lambda: console.api("GET", "/api/alarms?active=true", "op").json() == [])
    closed = console.api("GET", f"/api/alarms/{alarm['id']}", "op").json()
    assert closed["acknowledged"] and closed["cleared"] and closed["acked_by"] == "op"
    # A new occurrence after close opens a new alarm.
    publisher.publish(*native_event("fp-1", "d", "fire.alarm", point="1-003"))
    fresh = wait_until(lambda: console.api("GET", "/api/alarms?active=true", "op").json())
    assert fresh[0]["id"] != alarm["id"] and fresh[0]["count"] == 1


def test_retained_replay_never_raises_an_alarm_but_live_offline_state_does(
    make_console: Any, db_url: str, publisher: Publisher
) -> None:
    # Published before the console ever subscribed: it sees them only as retained replays.
    publisher.publish("mcc/v1/demo/door-1/state", "offline", retain=True)
    publisher.publish(*native_event("fp-1", "retained-fire", "fire.alarm", point="1-009"), retain=True)
    console = make_console(db_url)
    console.add_user("op", "operator")
    console.login("op")
    wait_until(lambda: any(e["id"] == "retained-fire" for e in console.api("GET", "/api/events", "op").json()))
    devices = {d["device_id"]: d for d in console.api("GET", "/api/devices", "op").json()}
    wait_until(lambda: {d["device_id"]: d for d in console.api("GET", "/api/devices", "op").json()}
               ["door-1"]["state"] == "offline")
    assert console.api("GET", "/api/alarms", "op").json() == []

    # A live "offline" raises the device-offline alarm ...
    publisher.publish("mcc/v1/demo/lane-in/state", "offline", retain=True)
    alarm = wait_until(lambda: console.api("GET", "/api/alarms?active=true", "op").json())[0]
    assert (alarm["kind"], alarm["device_id"]) == ("device.offline", "lane-in")
    # ... and its replay after a restart does not raise it again.
    console.stop()
    console.start()
    console.login("op")
    publisher.publish(*native_event("fp-1", "marker", "access.granted"))
    wait_until(lambda: any(e["id"] == "marker" for e in console.api("GET", "/api/events", "op").json()))
    alarms = console.api("GET", "/api/alarms", "op").json()
    assert [(a["id"], a["count"]) for a in alarms] == [(alarm["id"], 1)]
    # Back online clears it.
    publisher.publish("mcc/v1/demo/lane-in/state", "online", retain=True)
    wait_until(lambda: console.api("GET", f"/api/alarms/{alarm['id']}", "op").json()["cleared"])
    assert devices["door-1"]["registered"] is True


def test_websocket_resumes_with_since_and_gets_what_it_missed(console: ConsoleProcess, publisher: Publisher) -> None:
    with ws_connect(console, "wall") as ws:
        snapshot = json.loads(ws.recv(timeout=5))
        publisher.publish(*native_event("lane-in", "p1", "parking.entry", data={"plate": "粤B12345"}))
        first = receive_until(ws, lambda m: m["type"] == "event")
    last_seq = first[-1]["seq"]
    publisher.publish(*native_event("lane-in", "p2", "parking.entry", data={"plate": "粤B54321"}))
    publisher.publish(*native_event("lane-in", "p3", "parking.exit", data={"plate": "粤B12345"}))
    wait_until(lambda: len(console.api("GET", "/api/events?device_id=lane-in", "op").json()) == 3)
    with ws_connect(console, "wall", f"?since={last_seq}&stream={snapshot['stream']}") as ws:
        missed = receive_until(ws, lambda m: m["type"] == "event" and m["data"]["id"] == "p3")
    assert missed[0]["type"] != "snapshot"
    assert [m["seq"] for m in missed] == list(range(last_seq + 1, last_seq + 1 + len(missed)))
    assert [m["data"]["id"] for m in missed if m["type"] == "event"] == ["p2", "p3"]
    # A stream id from another server life gets a fresh snapshot instead.
    with ws_connect(console, "wall", f"?since={last_seq}&stream=someoneelse") as ws:
        fresh = json.loads(ws.recv(timeout=5))
    assert fresh["type"] == "snapshot"
    assert [e["id"] for e in fresh["events"]][:3] == ["p3", "p2", "p1"]


def test_a_client_that_asks_for_batches_gets_what_waits_together_in_one_frame_in_order(
    console: ConsoleProcess, publisher: Publisher
) -> None:
    """?batch=1: changes that wait for the client together come as one ``batch`` frame, each item
    numbered as it would come alone; a resume is batched too. Nothing missed, nothing twice."""
    def unpack(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [item for f in frames for item in (f["items"] if f["type"] == "batch" else [f])]

    with ws_connect(console, "wall", "?batch=1") as ws:
        snapshot = json.loads(ws.recv(timeout=5))
        for n in range(200):
            publisher.publish(*native_event("door-1", f"b{n}", "access.granted"))
        frames = receive_until(ws, lambda f: any(m["type"] == "event" and m["data"]["id"] == "b199"
                                                 for m in unpack([f])))
    items = unpack(frames)
    assert any(f["type"] == "batch" for f in frames), "200 changes arriving together: some share a frame"
    assert all(f["seq"] == f["items"][-1]["seq"] for f in frames if f["type"] == "batch")
    assert [m["seq"] for m in items] == list(range(snapshot["seq"] + 1, snapshot["seq"] + 1 + len(items)))
    assert [m["data"]["id"] for m in items if m["type"] == "event"] == [f"b{n}" for n in range(200)]
    with ws_connect(console, "wall", f"?batch=1&since={snapshot['seq']}&stream={snapshot['stream']}") as ws:
        resumed = json.loads(ws.recv(timeout=5))
    common = min(len(resumed["items"]), len(items))
    assert resumed["type"] == "batch" and common >= 200 and resumed["items"][:common] == items[:common]


@pytest.mark.parametrize(("compression", "deflate"), [("fast", True), ("small", True), ("off", False)])
def test_the_websocket_compresses_as_the_site_file_says(
    make_console: Any, sqlite_url: str, publisher: Publisher, compression: str, deflate: bool
) -> None:
    """http.ws_compression: permessage-deflate offered to a client that asks (fast, small) or not (off)."""
    console = make_console(sqlite_url, http={"ws_compression": compression})
    console.add_user("wall", "display")
    console.login("wall")
    with ws_connect(console, "wall") as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "snapshot"
        assert [e.name for e in ws.protocol.extensions] == (["permessage-deflate"] if deflate else [])
        publisher.publish(*native_event("door-1", "z1", "access.granted"))
        receive_until(ws, lambda m: m["type"] == "event" and m["data"]["id"] == "z1")


def test_an_operator_lifts_a_barrier_by_an_audited_mqtt_command(
    make_console: Any, sqlite_url: str, broker: Any,
) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    console = make_console(sqlite_url)
    for name, role in [("op", "operator"), ("g1", "guard")]:
        console.add_user(name, role)
        console.login(name)
    received: list[bytes] = []
    subscribed = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.on_message = lambda _c, _u, msg: received.append(msg.payload)
    client.on_connect = lambda c, _u, _f, _r, _p: c.subscribe("mcc/v1/demo/lane-in/command", qos=1)
    client.on_subscribe = lambda *_a: subscribed.set()
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        assert subscribed.wait(5)
        response = console.api("POST", "/api/devices/lane-in/open-barrier", "op", json={"reason": "访客登记后放行"})
        assert response.status_code == 200, response.text
        wait_until(lambda: received, message="the barrier gets the command")
        command = json.loads(received[0])
        assert command["cmd"] == "open_barrier" and command["by"] == "op" and command["id"] == response.json()["command_id"]
        assert console.api("POST", "/api/devices/door-1/open-barrier", "op", json={"reason": "测试"}).status_code == 409
        assert console.api("POST", "/api/devices/lane-in/open-barrier", "g1", json={"reason": "测试"}).status_code == 403
        verify = console.cli("audit", "verify")
        assert verify.returncode == 0
        store = Store(console.db_url)
        try:
            with store.read() as session:
                rows = session.scalars(select(AuditRow).where(AuditRow.action == "barrier.open")).all()
            assert [(r.actor, json.loads(r.detail)["reason"]) for r in rows] == [("op", "访客登记后放行")]
        finally:
            store.dispose()
    finally:
        client.disconnect()
        client.loop_stop()


def test_a_supervisor_shelves_a_nuisance_door_and_fire_cannot_be_shelved(
    make_console: Any, sqlite_url: str, publisher: Publisher,
) -> None:
    console = make_console(sqlite_url)
    for name, role in [("sup", "supervisor"), ("op", "operator")]:
        console.add_user(name, role)
        console.login(name)
    body = {"device_id": "door-1", "reason": "门磁故障反复报警，已报修", "minutes": 30}
    assert console.api("POST", "/api/shelves", "op", json=body).status_code == 403
    refused = console.api("POST", "/api/shelves", "sup", json={**body, "device_id": "fp-1", "kind": "fire.alarm"})
    assert refused.status_code == 409 and "never shelved" in refused.text
    shelf = console.api("POST", "/api/shelves", "sup", json=body).json()
    publisher.publish(*native_event("door-1", "f-1", "access.door_forced"))
    alarm = wait_until(lambda: console.api("GET", "/api/alarms?active=true", "op").json(), message="still stored")[0]
    assert alarm["shelved_until"] == shelf["expires_at"] and alarm["task_id"] is None
    assert [s["id"] for s in console.api("GET", "/api/shelves", "op").json()] == [shelf["id"]]
    removed = console.api("DELETE", f"/api/shelves/{shelf['id']}", "sup").json()
    assert removed["removed_by"] == "sup"
    after = wait_until(lambda: (lambda a: a if a["shelved_until"] is None and a["task_id"] else None)(
        console.api("GET", f"/api/alarms/{alarm['id']}", "op").json()), message="unshelved, with its task now")
    assert after["task_id"] is not None
    assert console.api("GET", "/api/shelves", "op").json() == []
    assert console.cli("audit", "verify").returncode == 0


def test_a_supervisor_blocks_a_plate_and_the_next_entry_raises_its_alarm(
    make_console: Any, sqlite_url: str, publisher: Publisher,
) -> None:
    console = make_console(sqlite_url, rules={"plates": {"allow": [{"plate": "粤B00001", "reason": "业主车辆"}]}})
    for name, role in [("sup", "supervisor"), ("op", "operator")]:
        console.add_user(name, role)
        console.login(name)
    body = {"plate": "粤b·66666", "list": "block", "reason": "欠费三个月"}
    assert console.api("POST", "/api/plates", "op", json=body).status_code == 403
    added = console.api("POST", "/api/plates", "sup", json=body).json()
    assert added["plate"] == "粤B66666"
    assert console.api("POST", "/api/plates", "sup", json=body).json()["id"] == added["id"], "adding twice is one entry"
    lists = console.api("GET", "/api/plates", "op").json()
    assert [(p["plate"], p["list"], p["source"]) for p in lists] == [
        ("粤B00001", "allow", "site file"), ("粤B66666", "block", "console")]
    publisher.publish(*native_event("lane-in", "in-1", "parking.entry", data={"plate": "粤B66666"}))
    alarm = wait_until(lambda: console.api("GET", "/api/alarms?active=true", "op").json(), message="blocked plate")[0]
    assert alarm["kind"] == "parking.plate_blocked" and alarm["task_id"] is not None
    console.api("DELETE", f"/api/plates/{added['id']}", "sup")
    publisher.publish(*native_event("lane-in", "in-2", "parking.entry", data={"plate": "粤B66666"}))
    wait_until(lambda: console.api("GET", "/api/events?id=in-2", "op").json(), message="the next entry stored")
    [again] = console.api("GET", "/api/alarms?active=true", "op").json()
    assert again["count"] == 1, "removed from the list: no new alarm"
    assert console.cli("audit", "verify").returncode == 0


def test_an_admin_registers_a_device_that_turned_up_and_it_stays_registered(
    make_console: Any, sqlite_url: str, publisher: Publisher,
) -> None:
    console = make_console(sqlite_url)
    for name, role in [("root", "admin"), ("op", "operator")]:
        console.add_user(name, role)
        console.login(name)
    publisher.publish(*native_event("door-9", "d9-1", "access.door_forced"))
    wait_until(lambda: [d for d in console.api("GET", "/api/devices", "op").json()
                        if d["device_id"] == "door-9" and not d["registered"]], message="listed as unknown")
    entry = {"id": "door-9", "name": "9号楼后门门禁", "role": "door", "building": "9号楼", "floor": "1F",
             "zone": "后门", "label": "9号楼 1层 后门"}
    assert console.api("POST", "/api/devices", "op", json=entry).status_code == 403
    assert console.api("POST", "/api/devices", "root", json={**entry, "id": "fp-1"}).status_code == 409
    assert console.api("POST", "/api/devices", "root", json={**entry, "colour": "red"}).status_code == 422
    hijack = console.api("POST", "/api/devices", "root", json={**entry, "address": "fp-1"})
    assert hijack.status_code == 409 and "is the id of device fp-1" in hijack.text, "no taking another's events"
    registered = console.api("POST", "/api/devices", "root", json=entry).json()
    assert registered["location"]["label"] == "9号楼 1层 后门"
    publisher.publish(*native_event("door-9", "d9-2", "access.door_forced"))
    alarm = wait_until(lambda: [a for a in console.api("GET", "/api/alarms?active=true", "op").json()
                                if a["count"] == 2], message="the repeat")[0]
    assert alarm["location"]["label"] == "9号楼 1层 后门"
    console.stop()
    console.start()
    console.login("op")
    device = next(d for d in console.api("GET", "/api/devices", "op").json() if d["device_id"] == "door-9")
    assert device["registered"] and device["name"] == "9号楼后门门禁", "kept across a restart"
    assert console.cli("audit", "verify").returncode == 0
