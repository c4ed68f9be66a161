"""Camera health against a real console and broker (SQLite): streams made by OpenCV and served as
MJPEG over local HTTP, probed every half second. A frozen stream and a black one are reported as
camera.tamper (reason frozen / dark) with their alarms; a stopped server is camera.offline with its
SOP task, and once restarted camera.online clears the alarm. Only changes are events."""

from __future__ import annotations

import time
from typing import Any

import cv2
import numpy as np
from sqlalchemy import select

from console.store.database import Store
from console.store.tables import AuditRow, QuarantineRow
from tests.conftest import ConsoleProcess, wait_until
from tests.support.cameras import HEALTH, Stream, alarms, events
from tests.support.scenes import corridor, jpeg, live, turned


def scene(n: int) -> bytes:
    """A lit, textured, sharp frame; ``n`` moves a box and changes its caption."""
    image = np.random.default_rng(7).integers(60, 200, (240, 320, 3), dtype=np.uint8)
    cv2.rectangle(image, (10 + 8 * (n % 30), 60), (70 + 8 * (n % 30), 120), (0, 0, 255), -1)
    cv2.putText(image, f"MCC {n:03d}", (20, 200), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (255, 255, 255), 2)
    ok, encoded = cv2.imencode(".jpg", image)
    assert ok
    return encoded.tobytes()


def black() -> bytes:
    ok, encoded = cv2.imencode(".jpg", np.zeros((240, 320, 3), np.uint8))
    assert ok
    return encoded.tobytes()


def moving() -> Any:
    count = iter(range(10**9))
    return lambda: scene(next(count))


def quarantined(console: ConsoleProcess) -> int:
    return console.rows(QuarantineRow.id)


def test_frozen_and_dark_streams_raise_tamper_alarms_and_a_live_one_stays_quiet(
    make_console: Any, sqlite_url: str, streams: list[Stream]
) -> None:
    frozen_frame = scene(5)
    streams.extend([Stream(moving()).start(), Stream(lambda: frozen_frame).start(), Stream(black).start()])
    good, frozen, dark = streams
    console: ConsoleProcess = make_console(sqlite_url, devices={"unknown": "quarantine"}, cameras={
        **HEALTH, "entries": [{"id": "cam-good", "url": good.url}, {"id": "cam-frozen", "url": frozen.url},
                              {"id": "cam-dark", "url": dark.url}]})
    console.add_user("op", "operator")
    console.login("op")

    frozen_alarm = wait_until(lambda: alarms(console, "cam-frozen"), timeout=15, message="frozen alarm")[0]
    dark_alarm = wait_until(lambda: alarms(console, "cam-dark"), timeout=15, message="dark alarm")[0]
    assert frozen_alarm["kind"] == dark_alarm["kind"] == "camera.tamper"
    assert frozen_alarm["site"] == "demo" and frozen_alarm["severity"] == "minor"

    # Several more probes: no event per probe, only the change.
    rounds = console.health()["cameras"]["health_rounds"]
    wait_until(lambda: console.health()["cameras"]["health_rounds"] >= rounds + 4, timeout=15, message="probes")
    assert [(k, d["reason"]) for k, d in events(console, "cam-frozen")] == [("camera.tamper", "frozen")]
    assert [(k, d["reason"]) for k, d in events(console, "cam-dark")] == [("camera.tamper", "dark")]
    assert events(console, "cam-good") == []
    assert events(console, "cam-dark")[0][1]["via"] == "probe"
    assert events(console, "cam-dark")[0][1]["brightness"] < 30
    assert quarantined(console) == 0  # unregistered cameras: console observations are not quarantined

    cameras = console.health()["cameras"]
    assert cameras["states"] == {"cam-good": "ok", "cam-frozen": "frozen", "cam-dark": "dark"}
    assert cameras["state_counts"] == {"ok": 1, "frozen": 1, "dark": 1}
    assert cameras["health_seconds"] == 0.5 and cameras["health_error"] is None

    # The frozen camera comes alive again: camera.restore clears its alarm.
    frozen.frame = moving()
    wait_until(lambda: console.health()["cameras"]["states"]["cam-frozen"] == "ok", timeout=10, message="ok")
    # the state changes as the probe is judged, its event is stored a moment later
    wait_until(lambda: [k for k, _ in events(console, "cam-frozen")] == ["camera.tamper", "camera.restore"],
               timeout=5, message="camera.restore stored")
    assert wait_until(lambda: console.api("GET", f"/api/alarms/{frozen_alarm['id']}", "op").json()["cleared"],
                      timeout=5, message="tamper alarm cleared")


def test_a_stopped_camera_is_offline_with_its_sop_task_and_back_online_when_restarted(
    make_console: Any, sqlite_url: str, streams: list[Stream]
) -> None:
    streams.append(Stream(moving()).start())
    stream = streams[0]
    console: ConsoleProcess = make_console(sqlite_url, cameras={**HEALTH, "entries": [
        {"id": "cam-gate", "name": "大门", "url": stream.url, "timeout_seconds": 2}]})
    console.add_user("op", "operator")
    console.login("op")
    wait_until(lambda: console.health()["cameras"]["states"]["cam-gate"] == "ok", timeout=15, message="first probe")

    stream.stop()
    stopped = time.monotonic()
    alarm = wait_until(lambda: alarms(console, "cam-gate"), timeout=10, message="offline alarm")[0]
    print(f"camera.offline alarm {time.monotonic() - stopped:.1f} s after the stream stopped")
    assert alarm["kind"] == "camera.offline" and alarm["device_id"] == "cam-gate" and alarm["site"] == "demo"
    task_id = wait_until(lambda: console.api("GET", f"/api/alarms/{alarm['id']}", "op").json()["task_id"],
                         timeout=5, message="task opened")
    task = console.api("GET", f"/api/tasks/{task_id}", "op").json()
    assert task["sop_id"] == "camera.offline" and task["state"] == "open"
    assert console.health()["cameras"]["states"] == {"cam-gate": "offline"}
    rounds = console.health()["cameras"]["health_rounds"]
    wait_until(lambda: console.health()["cameras"]["health_rounds"] >= rounds + 3, timeout=15, message="probes")
    [(kind, data)] = events(console, "cam-gate")  # one event however many probes failed
    assert kind == "camera.offline" and data["via"] == "probe" and data["error"] and data["failures"] == 2

    stream.start()
    wait_until(lambda: console.health()["cameras"]["states"]["cam-gate"] == "ok", timeout=15, message="back")
    wait_until(lambda: [k for k, _ in events(console, "cam-gate")] == ["camera.offline", "camera.online"],
               timeout=5, message="camera.online stored")
    cleared = wait_until(lambda: (lambda a: a if a["cleared"] else None)(
        console.api("GET", f"/api/alarms/{alarm['id']}", "op").json()), timeout=5, message="offline alarm cleared")
    assert cleared["kind"] == "camera.offline"
    assert console.health()["status"] == "ok"


def test_a_moved_camera_is_tamper_until_a_supervisor_takes_a_new_reference(
    make_console: Any, sqlite_url: str, streams: list[Stream]
) -> None:
    view = {"image": corridor()}
    count = iter(range(10**9))
    streams.append(Stream(lambda: jpeg(live(view["image"], next(count)))).start())
    console: ConsoleProcess = make_console(sqlite_url, cameras={**HEALTH, "entries": [
        {"id": "cam-b1", "name": "B1 走廊", "url": "http://viewer:s3cret@127.0.0.1:%d/stream.mjpg" % streams[0].port,
         "location": {"building": "A", "floor": "B1"}}]})
    for user, role in (("op", "operator"), ("sup", "supervisor"), ("guard1", "guard")):
        console.add_user(user, role)
        console.login(user)

    def camera() -> dict[str, Any]:
        [only] = console.api("GET", "/api/cameras", "op").json()
        return only  # type: ignore[no-any-return]

    first = wait_until(lambda: camera()["health"]["reference"], timeout=15, message="reference taken")
    assert first["taken_by"] == "system"
    listed = camera()
    assert listed["source"] == f"http://viewer:***@127.0.0.1:{streams[0].port}/stream.mjpg", "no password shown"
    assert listed["name"] == "B1 走廊" and listed["location"]["floor"] == "B1"
    reference = console.api("GET", "/api/cameras/cam-b1/reference", "op")
    assert reference.status_code == 200 and reference.headers["content-type"] == "image/jpeg"
    assert cv2.imdecode(np.frombuffer(reference.content, np.uint8), cv2.IMREAD_COLOR).shape == (360, 640, 3)
    assert console.api("GET", "/api/cameras", "guard1").status_code == 403

    # Someone turns the camera: after two probes unlike the reference, a tamper alarm (moved).
    wait_until(lambda: (camera()["health"]["figures"] or {}).get("similarity", 0) > 0.9, timeout=10,
               message="compared with its reference")
    view["image"] = turned(corridor(), dx=120)
    alarm = wait_until(lambda: alarms(console, "cam-b1"), timeout=15, message="moved alarm")[0]
    assert alarm["kind"] == "camera.tamper"
    [(kind, data)] = events(console, "cam-b1")
    assert kind == "camera.tamper" and data["reason"] == "moved" and data["similarity"] < 0.5
    assert camera()["health"]["state"] == "moved"
    task_id = wait_until(lambda: console.api("GET", f"/api/alarms/{alarm['id']}", "op").json()["task_id"],
                         timeout=5, message="task opened")
    assert console.api("GET", f"/api/tasks/{task_id}", "op").json()["sop_id"] == "camera.tamper"

    # It was re-aimed on purpose: an operator may not take the new reference, a supervisor may.
    assert console.api("POST", "/api/cameras/cam-b1/reference", "op").status_code == 403
    assert console.api("POST", "/api/cameras/cam-nope/reference", "sup").status_code == 404
    taken = console.api("POST", "/api/cameras/cam-b1/reference", "sup")
    assert taken.status_code == 200, taken.text
    assert taken.json()["taken_by"] == "sup" and taken.json()["sha256"] != first["sha256"]
    assert wait_until(lambda: console.api("GET", f"/api/alarms/{alarm['id']}", "op").json()["cleared"],
                      timeout=5, message="moved alarm cleared")
    assert [k for k, _ in events(console, "cam-b1")] == ["camera.tamper", "camera.restore"]
    assert events(console, "cam-b1")[1][1]["by"] == "sup"
    rounds = console.health()["cameras"]["health_rounds"]
    wait_until(lambda: console.health()["cameras"]["health_rounds"] >= rounds + 3, timeout=15, message="probes")
    assert camera()["health"]["state"] == "ok" and len(events(console, "cam-b1")) == 2
    store = Store(console.db_url)
    try:
        with store.read() as session:
            actors = session.scalars(select(AuditRow.actor).where(AuditRow.action == "camera.reference")
                                     .order_by(AuditRow.id)).all()
    finally:
        store.dispose()
    assert actors == ["system", "sup"]

    # A camera showing black cannot give a reference.
    view["image"] = np.zeros((360, 640, 3), np.uint8)
    refused = console.api("POST", "/api/cameras/cam-b1/reference", "sup")
    assert refused.status_code == 409 and "dark" in refused.json()["detail"]
