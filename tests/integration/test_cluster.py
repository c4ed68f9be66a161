"""Several console instances on one PostgreSQL and one broker (issue 16): a change made through one
reaches the WebSocket clients of every other, a client resumes on another instance without a gap or
a duplicate, and the work that must run once (deadlines, the silence watch, ...) runs on exactly
one instance and is taken over when that one is killed."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from console.demo.broker import ManagedMosquitto, free_port
from tests.conftest import DEVICES, ConsoleProcess, Publisher, _postgres_database, native_event, wait_until
from tests.integration.test_gb26875 import SOURCE, check_reply, component, read_frames, upload
from tests.support.stored import stored_count, stored_ids
from tests.support.websocket import receive_until, ws_connect

pytestmark = pytest.mark.slow
DUTIES = {"alarm-escalation", "audit-anchor", "command-watch", "deadlines", "duty-log-clock", "patrol-clock",
          "session-adoption", "silence-watch"}


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from _postgres_database()


def instances(make_console: Any, pg_url: str, names: list[str], **sections: Any) -> list[ConsoleProcess]:
    """Consoles that share ``pg_url`` and the broker, each named (its MQTT session keeps that name)."""
    consoles = [make_console(pg_url, start=False, cluster={"enabled": True, "instance": name, "election_seconds": 0.5},
                             **sections) for name in names]
    for console in consoles:
        console.start()
    return consoles


def duties_held(console: ConsoleProcess) -> set[str]:
    workers = console.health()["workers"]
    election = next(w for w in workers if w["name"] == "election")
    return set(election["detail"]["held"])


def test_every_duty_is_held_by_exactly_one_instance(make_console: Any, pg_url: str) -> None:
    a, b = instances(make_console, pg_url, ["a", "b"])
    held = wait_until(lambda: (h := (duties_held(a), duties_held(b))) and (h[0] | h[1]) == DUTIES and h,
                      timeout=10, message="all duties are taken")
    assert not held[0] & held[1], f"a duty held twice: {held}"
    # Each instance says in its health which of its workers is on duty: the same split.
    for console, mine in zip((a, b), held):
        on = {w["detail"]["duty"] for w in console.health()["workers"]
              if w.get("detail", {}).get("duty") and w["detail"]["on_duty"]}
        assert on == mine


def test_an_ack_through_one_instance_reaches_a_wall_on_another_within_a_second(
    make_console: Any, pg_url: str, publisher: Publisher
) -> None:
    a, b = instances(make_console, pg_url, ["a", "b"])
    a.staff({"op": "operator", "wall": "display"})
    b.login("wall")
    with ws_connect(b, "wall") as wall:
        assert json.loads(wall.recv(timeout=5))["type"] == "snapshot"
        publisher.publish(*native_event("fp-1", "fire-c1", "fire.alarm", point="1-003"))
        raised = receive_until(wall, lambda m: m["type"] == "alarm.raised")[-1]
        alarm_id = raised["data"]["id"]
        # Whichever instance took the message from the broker, the alarm is acked through a.
        acked_at = time.monotonic()
        response = a.api("POST", f"/api/alarms/{alarm_id}/ack", "op", json={"comment": "已派保安"})
        assert response.status_code == 200, response.text
        seen = receive_until(wall, lambda m: m["type"] == "alarm.acked" and m["data"]["id"] == alarm_id, timeout=5)
        assert time.monotonic() - acked_at < 1.0, "the ack reached the other instance's wall within 1 s"
        assert seen[-1]["data"]["ack_comment"] == "已派保安"
        assert seen[-1]["seq"] > raised["seq"]


def test_a_client_resumes_on_another_instance_without_a_gap_or_a_duplicate(
    make_console: Any, pg_url: str, publisher: Publisher
) -> None:
    a, b = instances(make_console, pg_url, ["a", "b"])
    a.staff({"wall": "display", "op": "operator"})
    b.login("wall")
    with ws_connect(a, "wall") as ws:
        stream = json.loads(ws.recv(timeout=5))["stream"]
        publisher.publish(*native_event("fp-1", "fire-r1", "fire.alarm", point="1-001"))
        last = receive_until(ws, lambda m: m["type"] == "alarm.raised")[-1]["seq"]
    # While the wall is away (its instance went): three more alarms, through whichever instance.
    for i in range(2, 5):
        publisher.publish(*native_event("fp-1", f"fire-r{i}", "fire.alarm", point=f"1-00{i}"))
    wait_until(lambda: len(a.api("GET", "/api/alarms?active=true", "op").json()) == 4, message="all four raised")
    # b was up all along (its own buffer has the changes); c starts only now (the store has them).
    c = make_console(pg_url, cluster={"enabled": True, "instance": "c"})
    c.login("wall")
    for console in (b, c):
        with ws_connect(console, "wall", f"?since={last}&stream={stream}") as ws:
            missed: list[dict[str, Any]] = []
            receive_until(ws, lambda m: missed.append(m) is None and {
                x["data"].get("point") for x in missed if x["type"] == "alarm.raised"} >= {"1-002", "1-003", "1-004"})
        assert all(m["type"] != "snapshot" for m in missed), "resumed, not a fresh snapshot"
        seqs = [m["seq"] for m in missed]
        assert seqs == sorted(set(seqs)) and seqs[0] == last + 1, "in order, none twice, none missed"
        # Two instances took the three messages side by side: the order of their commits is the order.
        raised = [m["data"]["point"] for m in missed if m["type"] == "alarm.raised"]
        assert sorted(raised) == ["1-002", "1-003", "1-004"]


def test_the_deadline_owner_is_killed_and_the_deadline_still_fires_once(
    make_console: Any, pg_url: str, publisher: Publisher
) -> None:
    a, b = instances(make_console, pg_url, ["a", "b"], sops={"limits": {"fire.alarm": {"ack": 600, "confirm": 6}}})
    a.staff({"op": "operator"})
    b.login("op")
    wait_until(lambda: "deadlines" in duties_held(a) | duties_held(b), timeout=10, message="someone fires deadlines")
    owner, other = (a, b) if "deadlines" in duties_held(a) else (b, a)
    publisher.publish(*native_event("fp-1", "fire-d1", "fire.alarm", point="1-003"))
    task = wait_until(lambda: other.api("GET", "/api/tasks", "op").json(), message="the task opens")[0]
    detail = other.api("GET", f"/api/tasks/{task['id']}", "op").json()
    due = datetime.fromisoformat(next(s for s in detail["steps"] if s["id"] == "confirm")["due_at"])
    owner.kill()  # kill -9, a few seconds before the confirm deadline
    wait_until(lambda: "deadlines" in duties_held(other), timeout=5, message="the other instance takes the duty")

    def fired() -> list[dict[str, Any]]:
        log = other.api("GET", f"/api/tasks/{task['id']}", "op").json()["log"]
        return [e for e in log if e["action"] == "deadline" and e["step"] == "confirm"]

    entries = wait_until(fired, timeout=20, message="the confirm deadline fires")
    late = (datetime.fromisoformat(entries[0]["at"]) - due).total_seconds()
    assert late < 10, f"fired {late:.1f} s after its time"
    owner.start()  # back: the duty is not taken twice, the deadline does not fire again
    time.sleep(3)
    assert len(fired()) == 1
    assert not duties_held(owner) & duties_held(other)


def paced_stream(port: int, count: int, prefix: str, per_second: float) -> threading.Thread:
    """Publish ``count`` QoS 1 events at ``per_second`` from a thread (paced in steps of 50), then
    wait for every PUBACK."""
    def run() -> None:
        publisher = Publisher(port, client_id=f"stream-{prefix}")
        started = time.monotonic()
        try:
            for i in range(count):
                topic, body = native_event("door-1", f"{prefix}-{i:06d}", "access.granted", data={"card": f"C{i}"})
                publisher.publish(topic, body, wait=False)
                if i % 50 == 49 and (ahead := started + (i + 1) / per_second - time.monotonic()) > 0:
                    time.sleep(ahead)
            deadline = time.monotonic() + 120
            while publisher.acked < count and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            publisher.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_three_instances_share_a_stream_and_store_it_exactly_once_through_a_kill_9(
    make_console: Any, pg_url: str, broker: ManagedMosquitto
) -> None:
    consoles = instances(make_console, pg_url, ["a", "b", "c"])
    rate, seconds = 2000, 30
    total = rate * seconds
    thread = paced_stream(broker.port, total, "s", rate)
    wait_until(lambda: stored_count(pg_url) >= total // 3, timeout=60, message="a third stored")
    victim = consoles[1]
    victim.kill()  # kill -9 mid-stream: what it had taken and not acked comes back to it on restart
    time.sleep(2)
    victim.start()
    thread.join(seconds + 150)
    wait_until(lambda: stored_count(pg_url) >= total, timeout=180, interval=0.5,
               message=f"all {total} stored after the kill")
    time.sleep(1.0)  # any stray redelivery lands before counting
    ids = stored_ids(pg_url)
    assert len(ids) == total and set(ids) == {f"s-{i:06d}" for i in range(total)}
    # Shared, not copied: every instance stored a part of the stream.
    for console in consoles:
        assert console.health()["ingest"]["stored"] > 0, console.log_tail()


def adopted(console: ConsoleProcess) -> list[str]:
    worker = next(w for w in console.health()["workers"] if w["name"] == "session-adoption")
    return list(worker["detail"]["adopted"])


def test_the_share_of_an_instance_that_stays_down_is_taken_up_by_another_and_given_back(
    make_console: Any, pg_url: str, broker: ManagedMosquitto
) -> None:
    a, b = instances(make_console, pg_url, ["a", "b"])
    wait_until(lambda: "session-adoption" in duties_held(a) | duties_held(b), timeout=10)
    a.kill()  # kill -9, and it stays down: the broker keeps queueing a's share for its session
    thread = paced_stream(broker.port, 2000, "d", 500)
    thread.join(60)
    # Every event is stored while a is still down: b took a's session up and stores its share.
    wait_until(lambda: stored_count(pg_url) >= 2000, timeout=30, interval=0.5,
               message=f"all stored with a down ({stored_count(pg_url)})")
    assert adopted(b) == ["a"]
    a.start()  # back under its name: b lets go of a's session before a connects
    wait_until(lambda: adopted(b) == [], timeout=10, message="b gives a's session back")
    thread = paced_stream(broker.port, 1000, "e", 500)
    thread.join(60)
    wait_until(lambda: stored_count(pg_url) >= 3000, timeout=30, interval=0.5, message="the rest stored")
    time.sleep(1.0)
    ids = stored_ids(pg_url)
    assert len(ids) == 3000 and set(ids) == {f"d-{i:06d}" for i in range(2000)} | {f"e-{i:06d}" for i in range(1000)}
    assert a.health()["ingest"]["stored"] > 0, "a takes its share again"
    assert a.health()["broker"]["connected"]


def test_a_second_instance_under_a_name_already_running_waits_and_says_why(make_console: Any, pg_url: str) -> None:
    (first,) = instances(make_console, pg_url, ["a"])
    twin = make_console(pg_url, start=False, cluster={"enabled": True, "instance": "a", "election_seconds": 0.5})
    twin.start(wait_connected=False)  # it answers, but never takes the broker session of the running a
    wait_until(lambda: "another instance named a is running" in twin.log_tail(200), timeout=30,
               message="the twin says why it waits")
    assert httpx.get(f"{twin.base}/api/health/ready", timeout=5).status_code == 503
    assert httpx.get(f"{first.base}/api/health/ready", timeout=5).status_code == 200


GB_GATEWAY = {"id": "fire-gw-1", "name": "1号楼用户信息传输装置", "role": "fire_panel", "adapter": "gb26875",
              "address": SOURCE, "building": "1号楼", "label": "1号楼 消防控制室 用户信息传输装置"}


def test_a_gb_link_is_supervised_across_the_instances_whichever_holds_it(
    make_console: Any, pg_url: str
) -> None:
    ports = {"a": free_port(), "b": free_port()}
    consoles = {name: make_console(pg_url, start=False, devices={"entries": [GB_GATEWAY]},
                                   cluster={"enabled": True, "instance": name, "election_seconds": 0.5},
                                   adapters=[{"type": "native"}, {"type": "gb26875", "listen": f"127.0.0.1:{port}",
                                                                   "supervise_seconds": 10}])
                for name, port in ports.items()}
    for console in consoles.values():
        console.start()
    a = consoles["a"]
    events = lambda: [e["kind"] for e in a.api("GET", "/api/events?device_id=fire-gw-1", "op").json()]  # noqa: E731
    serial = iter(range(10, 1000))

    def speak(port: int, seconds: float) -> None:
        """The device on a link to one instance, a frame a second (a running panel's status)."""
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.settimeout(10)
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                n = next(serial)
                sock.sendall(upload(n, 2, component(3001, 0b01)))
                check_reply(read_frames(sock, 1)[0], command=3, serial=n)
                time.sleep(1.0)

    # Each link lasts longer than supervise_seconds: the instance without it hears nothing of the
    # device for that long, and must not call it silent.
    speak(ports["a"], 13)  # its link on a (from the start)
    speak(ports["b"], 13)  # it reconnects, through the balancer, to b
    a.staff({"op": "operator"})
    assert "device.offline" not in events(), "never silent: each instance heard it in turn"
    # Now it stops: offline once (whoever supervises), and online when it speaks again (to a).
    wait_until(lambda: "device.offline" in events(), timeout=20, message="a silent link goes offline")
    time.sleep(2)
    assert events().count("device.offline") == 1
    speak(ports["a"], 1)
    wait_until(lambda: "device.online" in events(), timeout=10, message="it speaks again: online")


def test_a_duty_check_reaches_a_device_whose_link_is_on_another_instance(make_console: Any, pg_url: str) -> None:
    ports = {"a": free_port(), "b": free_port()}
    consoles = {name: make_console(pg_url, start=False, devices={"entries": [GB_GATEWAY]},
                                   cluster={"enabled": True, "instance": name, "election_seconds": 0.5},
                                   adapters=[{"type": "native"}, {"type": "gb26875", "listen": f"127.0.0.1:{port}"}])
                for name, port in ports.items()}
    for console in consoles.values():
        console.start()
    a = consoles["a"].staff({"sup": "supervisor"})
    with socket.create_connection(("127.0.0.1", ports["b"]), timeout=10) as sock:  # its link is on b
        sock.settimeout(10)
        sock.sendall(upload(7, 2, component(3001, 0b01)))
        check_reply(read_frames(sock, 1)[0], command=3, serial=7)
        # The supervisor's request lands on a, which has no link to the device: b sends it.
        check = a.api("POST", "/api/devices/fire-gw-1/duty-check", "sup", json={"reason": "例行查岗"})
        assert check.status_code == 200, check.text
        assert check.json()["sent"] is True
        command = read_frames(sock, 1)[0]
        assert command[:2] == b"@@" and command[26] == 1, "a control command (查岗) from the centre, through b"
    # No instance holds a link now: nobody sends it, and the answer says so.
    refused = a.api("POST", "/api/devices/fire-gw-1/duty-check", "sup", json={"reason": "例行查岗"})
    assert refused.status_code == 503 and refused.json()["code"] == "gb.no_link"


def test_the_camera_probes_are_split_by_site_and_taken_over_when_an_instance_dies(
    make_console: Any, pg_url: str
) -> None:
    """Two sites' cameras, two instances: each probes one site's, never both the same; when one is
    killed the other probes both. Both cameras refuse connections (offline at the second miss)."""
    north = {"id": "n-panel", "name": "北区3号楼火灾报警控制器", "role": "fire_panel", "site": "north"}
    cameras = {"entries": [{"id": "cam-demo", "url": f"http://127.0.0.1:{free_port()}/stream.mjpg"},
                           {"id": "cam-north", "site": "north", "url": f"http://127.0.0.1:{free_port()}/stream.mjpg"}],
               "health_seconds": 0.5, "health_offline_probes": 2}
    a, b = instances(make_console, pg_url, ["a", "b"], sites=[{"id": "north", "name": "北区"}],
                     devices={"entries": [*DEVICES, north]}, cameras=cameras)
    parts = {"camera-health:demo", "camera-health:north"}

    def camera_states(console: ConsoleProcess) -> dict[str, str]:
        return dict(console.health()["cameras"]["states"])

    def probed_at(console: ConsoleProcess) -> dict[str, str | None]:
        return {c["id"]: c["health"].get("last_probe_at") for c in console.api("GET", "/api/cameras", "op").json()}

    held = wait_until(lambda: (h := (duties_held(a) & parts, duties_held(b) & parts))
                      and len(h[0]) == len(h[1]) == 1 and h, timeout=15, message="one site's cameras each")
    assert held[0] != held[1]
    a.staff({"op": "operator"})
    b.login("op")
    by_site = {"camera-health:demo": "cam-demo", "camera-health:north": "cam-north"}
    before = [probed_at(console) for console in (a, b)]
    time.sleep(2)  # four rounds
    for console, (part,), then in zip((a, b), held, before):
        mine, theirs = by_site[part], next(c for p, c in by_site.items() if p != part)
        now = probed_at(console)
        assert now[mine] is not None and now[mine] != then[mine], f"{mine} probed by its instance"
        assert now[theirs] == then[theirs], f"{theirs} is the other instance's to probe"
    offline = wait_until(lambda: len(found := [x for x in a.api("GET", "/api/alarms", "op").json()
                                              if x["kind"] == "camera.offline"]) == 2 and found,
                         timeout=15, message="an offline alarm for each camera")
    assert {(x["device_id"], x["site"]) for x in offline} == {("cam-demo", "demo"), ("cam-north", "north")}
    a.kill()
    wait_until(lambda: duties_held(b) & parts == parts, timeout=15, message="b probes both sites' cameras")
    wait_until(lambda: set(camera_states(b).values()) == {"offline"}, timeout=15,
               message="b knows both cameras are offline (the open alarm, from the store)")
    time.sleep(2)
    offline_events = b.api("GET", "/api/events?kind=camera.offline", "op").json()
    assert sorted(e["device_id"] for e in offline_events) == ["cam-demo", "cam-north"], \
        "each camera went offline once: no instance announced it again"
