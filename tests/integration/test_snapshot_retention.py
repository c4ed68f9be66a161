"""Snapshot retention against a real console's store (SQLite and PostgreSQL): real alarms, a real
plate event and real snapshots from an OpenCV-made MJPEG camera, then the purge run as if 100 days
had passed. What is old and over goes; what belongs to a task still open stays; the alarm keeps a
trace of each picture, the audit chain a line of the purge, and still verifies."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select

from console.store.database import Store
from console.store.tables import AuditRow, SnapshotRow
from console.video.retention import purge_snapshots
from tests.conftest import ConsoleProcess, Publisher, native_event, wait_until
from tests.support.cameras import MjpegServer, make_frames


def test_old_snapshots_of_closed_cases_are_deleted_and_open_cases_keep_theirs(
    make_console: Any, db_url: str, publisher: Publisher
) -> None:
    with MjpegServer(make_frames()) as camera:
        check_retention(make_console, db_url, publisher, camera.url)


def check_retention(make_console: Any, db_url: str, publisher: Publisher, camera_url: str) -> None:
    console: ConsoleProcess = make_console(db_url, cameras={"entries": [
        {"id": "cam-door", "name": "大堂门口", "url": camera_url, "devices": ["door-1"], "snapshot_offsets": [0]},
        {"id": "cam-lane", "name": "入口车道", "url": camera_url, "devices": ["lane-in"]},
    ]})
    console.add_user("op", "operator")
    console.login("op")

    def alarm(kind: str) -> dict[str, Any]:
        return wait_until(lambda: [a for a in console.api("GET", "/api/alarms", "op").json()
                                   if a["kind"] == kind and a["snapshots"]], timeout=8, message=kind)[0]

    publisher.publish(*native_event("door-1", "forced-1", "access.door_forced"))  # its task stays open
    publisher.publish(*native_event("door-1", "battery-1", "device.battery_low", data={"battery": 8}))
    publisher.publish(*native_event("lane-in", "entry-1", "parking.entry", data={"plate": "沪A12345"}))
    forced, battery = alarm("access.door_forced"), alarm("device.battery_low")
    assert forced["task_id"] is not None and battery["task_id"] is not None  # every alarm has its procedure
    # The battery alarm is over: acknowledged, the battery replaced, and its work order closed.
    acked = console.api("POST", f"/api/alarms/{battery['id']}/ack", "op", json={"comment": "换电池"})
    assert acked.status_code == 200
    publisher.publish(*native_event("door-1", "battery-ok", "device.restore", data={"of": "device.battery_low"}))
    wait_until(lambda: (lambda a: a["acknowledged"] and a["cleared"])(
        console.api("GET", f"/api/alarms/{battery['id']}", "op").json()), timeout=5, message="battery alarm over")
    task = battery["task_id"]
    for step, value in (("work_order", "WO-2026-118 更换电池"), ("replaced", None)):
        answered = console.api("POST", f"/api/tasks/{task}/steps/{step}", "op", json={"value": value})
        assert answered.status_code == 200, answered.text
    assert console.api("POST", f"/api/tasks/{task}/close", "op", json={}).json()["state"] == "closed"
    wait_until(lambda: [e for e in console.api("GET", "/api/events?kind=parking.entry", "op").json()
                        if e["snapshots"]], timeout=8, message="plate snapshot")
    assert console.health()["cameras"]["keep_days"] == 90
    assert console.health()["cameras"]["last_purge_at"] is not None, "the linker looked at start"
    assert console.health()["cameras"]["purged"] == 0

    store = Store(console.db_url)
    try:
        def kept() -> set[int | None]:
            with store.read() as session:
                return {row.alarm_id or -1 for row in session.execute(select(SnapshotRow.alarm_id))}

        now = datetime.now(timezone.utc)
        assert purge_snapshots(store, now + timedelta(days=80), 90).snapshots == 0, "not old enough yet"
        assert kept() == {forced["id"], battery["id"], -1}
        done = purge_snapshots(store, now + timedelta(days=100), 90, batch=1)  # one row per transaction
        assert (done.snapshots, done.alarms, done.batches) == (2, 1, 2)
        assert kept() == {forced["id"]}, "the open task's pictures stay, however old"
        with store.read() as session:
            purges = session.scalars(select(AuditRow).where(AuditRow.action == "camera.snapshot.purge")).all()
        assert [json.loads(p.detail)["count"] for p in purges] == [1, 1]
        assert all(p.actor == "system" and json.loads(p.detail)["keep_days"] == 90 for p in purges)
    finally:
        store.dispose()

    gone = console.api("GET", f"/api/alarms/{battery['id']}", "op").json()["snapshots"]
    assert len(gone) == 1 and gone[0]["url"] is None and gone[0]["purged_at"] and gone[0]["sha256"]
    assert console.api("GET", f"/api/snapshots/{gone[0]['id']}", "op").status_code == 404
    [plate] = [e for e in console.api("GET", "/api/events?kind=parking.entry", "op").json()]
    assert plate["snapshots"] == []
    still = console.api("GET", f"/api/alarms/{forced['id']}", "op").json()["snapshots"][0]
    assert console.api("GET", still["url"], "op").status_code == 200
    verify = console.cli("audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
