"""The WebSocket hello (build id), wall heartbeats and the displays list; device counts per subsystem."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from console.people.displays import DisplayBook
from tests.conftest import Publisher, wait_until
from tests.support.websocket import receive_until, ws_connect


def heartbeat(display: str, **fields: Any) -> str:
    return json.dumps({"type": "display.heartbeat", "display": display, "name": "监控中心大屏1", "build": "x",
                       "sound": "blocked", "last_seq": 3, "lag_ms": 120, "alarms": 2, "page": "wall", **fields})


def test_hello_comes_first_then_the_snapshot_with_counts_per_subsystem(
        db_url: str, make_console: Any, publisher: Publisher) -> None:
    console = make_console(db_url)
    console.add_user("wall", "display")
    console.login("wall")
    publisher.publish("mcc/v1/demo/door-1/state", "online", retain=True)
    wait_until(lambda: console.api("GET", "/api/devices/summary", "wall").json()["online"] == 1)
    build = console.health()["build"]
    with ws_connect(console, "wall", hello=False) as ws:
        hello = json.loads(ws.recv(timeout=5))
        snapshot = json.loads(ws.recv(timeout=5))
    assert hello["type"] == "hello" and hello["build"] == build and len(build) == 12
    assert "seq" not in hello and hello["server_time"].endswith("+00:00")
    assert snapshot["type"] == "snapshot"
    devices = snapshot["devices"]
    assert devices["total"] == 3 and devices["online"] == 1
    assert devices["by_subsystem"]["access"] == {"online": 1, "offline": 0, "total": 1}
    assert devices["by_subsystem"]["fire"] == {"online": 0, "offline": 0, "total": 1}
    assert devices["by_subsystem"]["parking"]["total"] == 1
    assert set(devices["by_subsystem"]) == {"fire", "access", "parking", "video", "other"}
    assert console.api("GET", "/api/devices/summary", "wall").json() == devices
    # A resume (?since=) also starts with the hello, then the replay.
    with ws_connect(console, "wall", f"?since={snapshot['seq']}&stream={snapshot['stream']}", hello=False) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "hello"


def test_a_heartbeat_makes_a_display_live_and_a_closed_socket_disconnected(
        db_url: str, make_console: Any) -> None:
    console = make_console(db_url)
    for name, role in [("wall", "display"), ("op", "operator"), ("g1", "guard")]:
        console.add_user(name, role)
        console.login(name)
    assert console.api("GET", "/api/displays", "op").json() == []
    assert console.health()["displays"] == {"live": 0, "stale": 0, "disconnected": 0}
    with ws_connect(console, "op", hello=False) as watcher:
        receive_until(watcher, lambda m: m["type"] == "snapshot")
        with ws_connect(console, "wall", hello=False) as wall:
            receive_until(wall, lambda m: m["type"] == "snapshot")
            wall.send(heartbeat("wall-1"))
            update = receive_until(watcher, lambda m: m["type"] == "display.updated")[-1]["data"]
            assert update["display"] == "wall-1" and update["state"] == "live"
            assert update["user"] == "wall" and update["sound"] == "blocked" and update["lag_ms"] == 120
            displays = console.api("GET", "/api/displays", "op").json()
            assert [(d["display"], d["name"], d["state"], d["alarms"], d["last_seq"], d["address"])
                    for d in displays] == [("wall-1", "监控中心大屏1", "live", 2, 3, "127.0.0.1")]
            assert console.health()["displays"] == {"live": 1, "stale": 0, "disconnected": 0}
            # A guard's phone is not a display: its heartbeat is ignored.
            with ws_connect(console, "g1", hello=False) as phone:
                receive_until(phone, lambda m: m["type"] == "snapshot")
                phone.send(heartbeat("phone-1"))
            # Garbage from a client is ignored; the socket stays up.
            wall.send("not json")
            wall.send(json.dumps({"type": "display.heartbeat"}))
            time.sleep(2.1)  # one heartbeat per 2 s per socket is recorded; a wall sends one per 15 s
            wall.send(heartbeat("wall-1", sound="on"))
        gone = receive_until(watcher, lambda m: m["type"] == "display.updated")[-1]["data"]
        assert gone["display"] == "wall-1" and gone["state"] == "disconnected"
    displays = console.api("GET", "/api/displays", "op").json()
    assert [(d["display"], d["state"], d["sound"]) for d in displays] == [("wall-1", "disconnected", "on")]
    assert console.health()["displays"] == {"live": 0, "stale": 0, "disconnected": 1}
    assert console.api("GET", "/api/displays", "wall").status_code == 403
    assert console.api("GET", "/api/displays", "g1").status_code == 403


def test_a_display_that_stops_beating_goes_stale_then_back_live() -> None:
    book = DisplayBook()
    t0 = datetime(2026, 11, 27, 8, 0, tzinfo=timezone.utc)
    first = book.heartbeat({"display": "w1", "name": "Wall"}, "wall", "10.0.0.5", 7, t0)
    assert [m.data["state"] for m in first] == ["live"]
    assert book.heartbeat({"display": "w1"}, "wall", "10.0.0.5", 7, t0 + timedelta(seconds=15)) == []
    assert book.check(t0 + timedelta(seconds=59)) == []
    stale = book.check(t0 + timedelta(seconds=61))
    assert [(m.type, m.data["display"], m.data["state"]) for m in stale] == [("display.updated", "w1", "stale")]
    assert book.counts(t0 + timedelta(seconds=61)) == {"live": 0, "stale": 1, "disconnected": 0}
    back = book.heartbeat({"display": "w1"}, "wall", "10.0.0.5", 7, t0 + timedelta(seconds=70))
    assert [m.data["state"] for m in back] == ["live"]
    assert [m.data["state"] for m in book.closed(7, t0 + timedelta(seconds=71))] == ["disconnected"]
    assert book.closed(7, t0 + timedelta(seconds=72)) == []
