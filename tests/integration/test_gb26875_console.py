"""The GB/T 26875.3 receiver inside the running console (its own process, site file enabling
`gb26875`): a fire frame is confirmed and becomes an alarm with its SOP task; a silent link
takes the device offline and back; a supervisor's duty check reaches the device and is confirmed by the
staff's answer."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from console.demo.broker import free_port
from tests.conftest import wait_until
from tests.integration.test_gb26875 import SOURCE, check_reply, component, read_frames, upload

pytestmark = pytest.mark.slow
GATEWAY = {"id": "fire-gw-1", "name": "1号楼用户信息传输装置", "role": "fire_panel", "adapter": "gb26875",
           "address": SOURCE, "building": "1号楼", "floor": "1F", "zone": "消防控制室",
           "label": "1号楼 消防控制室 用户信息传输装置"}


def test_a_fire_over_gb26875_is_confirmed_alarmed_and_supervised(make_console: Any, sqlite_url: str) -> None:
    port = free_port()
    console = make_console(
        sqlite_url,
        devices={"entries": [GATEWAY]},
        adapters=[{"type": "native"}, {"type": "gb26875", "listen": f"127.0.0.1:{port}", "supervise_seconds": 2}],
    )
    for name, role in [("sup", "supervisor"), ("op", "operator")]:
        console.add_user(name, role)
        console.login(name)
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.settimeout(10)
    try:
        sock.sendall(upload(7, 2, component(3001, 0b11)))  # running (bit0), fire alarm (bit1)
        check_reply(read_frames(sock, 1)[0], command=3, serial=7)
        alarm = wait_until(lambda: console.api("GET", "/api/alarms?active=true", "op").json(), message="alarm")[0]
        assert (alarm["kind"], alarm["device_id"]) == ("fire.alarm", "fire-gw-1")
        assert alarm["task_id"] is not None and alarm["location"]["label"].startswith("1号楼")

        reason = {"reason": "例行查岗"}
        assert console.api("POST", "/api/devices/fire-gw-1/duty-check", "op", json=reason).status_code == 403
        assert console.api("POST", "/api/devices/fire-gw-1/duty-check", "sup").status_code == 422, "a reason is needed"
        check = console.api("POST", "/api/devices/fire-gw-1/duty-check", "sup", json=reason).json()
        assert check["sent"] is True and check["state"] == "sent" and check["reason"] == "例行查岗"
        command = read_frames(sock, 1)[0]
        assert command[:2] == b"@@" and command[26] == 1, "a control command (查岗) from the centre"
        # The staff at the panel answer (type 24 bit 5, 查岗应答): the check is confirmed.
        sock.sendall(upload(9, 24, bytes([0x20, 2])))
        check_reply(read_frames(sock, 1)[0], command=3, serial=9)
        confirmed = wait_until(lambda: (c := console.api("GET", f"/api/commands/{check['command_id']}", "sup").json())
                               ["state"] == "confirmed" and c, message="the answer confirms the duty check")
        assert confirmed["event_id"] is not None and confirmed["settled_at"] is not None

        # Silence past the supervision time: the console takes the device offline, then back.
        time.sleep(3)
        events = lambda: [e["kind"] for e in console.api("GET", "/api/events?device_id=fire-gw-1", "op").json()]
        wait_until(lambda: "device.offline" in events(), timeout=10, message="a silent link goes offline")
        sock.sendall(upload(8, 2, component(3001, 0b01)))  # the detector is back to normal
        check_reply(read_frames(sock, 1)[0], command=3, serial=8)
        wait_until(lambda: "device.online" in events(), timeout=10, message="it speaks again: online")
    finally:
        sock.close()


def test_a_device_pinned_to_its_peer_cannot_be_spoken_for_from_elsewhere(make_console: Any, sqlite_url: str) -> None:
    port = free_port()
    console = make_console(sqlite_url, devices={"entries": [GATEWAY]}, adapters=[
        {"type": "native"},
        {"type": "gb26875", "listen": f"127.0.0.1:{port}", "peers": {SOURCE: ["10.20.30.40"]}}])
    console.add_user("root", "admin")
    console.login("root")
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.settimeout(10)
    try:
        sock.sendall(upload(9, 2, component(3001, 0b11)))  # a "fire" claimed from 127.0.0.1
        check_reply(read_frames(sock, 1)[0], command=6, serial=9)  # denied
        rows = wait_until(lambda: console.api("GET", "/api/quarantine", "root").json()["items"], message="kept")
        assert "not an allowed peer" in rows[0]["reason"]
        assert console.api("GET", "/api/alarms?active=true", "root").json() == []
    finally:
        sock.close()


def test_a_registered_device_that_never_connects_after_a_start_is_reported_offline(
    make_console: Any, sqlite_url: str,
) -> None:
    port = free_port()
    console = make_console(sqlite_url, devices={"entries": [GATEWAY]}, adapters=[
        {"type": "native"}, {"type": "gb26875", "listen": f"127.0.0.1:{port}", "supervise_seconds": 1}])
    console.add_user("op", "operator")
    console.login("op")
    events = wait_until(lambda: [e["kind"] for e in console.api("GET", "/api/events?device_id=fire-gw-1", "op").json()],
                        timeout=10, message="silent since the start: offline")
    assert events == ["device.offline"]
    assert [a["kind"] for a in console.api("GET", "/api/alarms?active=true", "op").json()] == ["device.offline"]
