"""Patrol over HTTP against a running console (a real Mosquitto, a SQLite file, the wall clock): the
supervisor sets up checkpoints, a route and a schedule and prints the labels; the patrol clock
makes the round; the guard's phone lists it and walks it (one scan queued offline, sent with its
own time); a forged or retired label is refused with its reason and written in the audit chain."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from console.store.tables import AuditRow, EventRow
from tests.conftest import ConsoleProcess, wait_until
from tests.integration.test_floorplans_api import ok
from tests.support.desk import JPEG


def audit(console: ConsoleProcess, action: str) -> list[AuditRow]:
    return console.stored(select(AuditRow).where(AuditRow.action == action).order_by(AuditRow.id))


def events(console: ConsoleProcess, kind: str) -> list[EventRow]:
    return console.stored(select(EventRow).where(EventRow.kind == kind).order_by(EventRow.id))


def test_a_round_set_up_printed_and_walked_over_http(make_console: Any, sqlite_url: str) -> None:
    console: ConsoleProcess = make_console(sqlite_url, patrol={"check_seconds": 1}).staff(
        {"sup": "supervisor", "op": "operator", "g1": "guard"})
    ok(console.api("POST", "/api/guard/shift", "g1", json={"on": True}))
    lobby = ok(console.api("POST", "/api/patrol/checkpoints", "sup", json={
        "name": "大堂", "building": "1号楼", "floor": "1F", "zone": "大堂"}))
    door = ok(console.api("POST", "/api/patrol/checkpoints", "sup", json={
        "name": "3F 防火门", "building": "1号楼", "floor": "3F", "zone": "东侧走廊",
        "checklist": [{"id": "door", "text": "防火门关闭"}]}))
    assert door["checklist"] == [{"id": "door", "text": "防火门关闭", "role": "engineering"}]
    assert console.api("POST", "/api/patrol/checkpoints", "op", json={"name": "x"}).status_code == 403
    assert console.api("POST", "/api/patrol/checkpoints", "g1", json={"name": "x"}).status_code == 403
    route = ok(console.api("POST", "/api/patrol/routes", "sup", json={
        "name": "大堂-三楼", "points": [{"checkpoint": lobby["id"]}, {"checkpoint": door["id"], "minutes": 5}]}))
    now_local = datetime.now(ZoneInfo("Asia/Shanghai"))
    schedule = ok(console.api("POST", "/api/patrol/schedules", "sup", json={
        "route_id": route["id"], "times": [f"{now_local:%H:%M}"], "start_window_minutes": 15, "limit_minutes": 30}))
    assert schedule["name"] == "大堂-三楼"
    assert console.api("POST", "/api/patrol/schedules", "sup", json={
        "route_id": route["id"], "times": ["08:00"], "every_minutes": 60}).json()["code"] == "patrol.schedule_when"

    labels = console.api("GET", "/api/patrol/checkpoints/labels", "op")
    codes = re.findall(r"<code>(mcc:cp:[^<]+)</code>", labels.text)
    assert len(codes) == 2 and labels.text.count('src="data:image/svg+xml') == 2
    assert console.api("GET", "/api/patrol/checkpoints/labels", "g1").status_code == 403, \
        "a guard's phone never sees a code: the printed label is the proof"
    lobby_code, door_code = codes

    mine = wait_until(lambda: ok(console.api("GET", "/api/guard/rounds", "g1")), message="the clock makes the round")
    assert [(r["name"], r["state"], r["guard"]) for r in mine] == [("大堂-三楼", "due", "g1")]
    assert "received_at" not in mine[0]["points"][0], "the guard's copy is names and states"
    assert [p["name"] for p in mine[0]["points"]] == ["大堂", "3F 防火门"]

    # A scan queued while offline is sent later with the time the phone took it.
    taken = datetime.now(timezone.utc) - timedelta(seconds=20)
    ok(console.api("POST", "/api/guard/scan", "g1", json={"code": lobby_code, "scanned_at": taken.isoformat()}))
    photo = ok(console.api("POST", "/api/guard/photos", "g1", content=JPEG, headers={"Content-Type": "image/jpeg"}))
    ok(console.api("POST", "/api/guard/scan", "g1", json={
        "code": door_code, "checks": {"door": "failed"}, "note": "门被卡住", "photo": photo["sha256"], "via": "nfc"}))
    ok(console.api("POST", "/api/guard/scan", "g1", json={"code": door_code}))  # the queue replayed: no change
    [walked] = ok(console.api("GET", "/api/patrol/rounds", "op"))
    assert walked["state"] == "done"
    first, second = walked["points"]
    assert first["scanned_at"] == taken.isoformat() and first["received_at"] > first["scanned_at"]
    assert (second["via"], second["checks"], second["note"], second["photo"]) == (
        "nfc", {"door": "failed"}, "门被卡住", photo["sha256"])
    wait_until(lambda: len(events(console, "patrol.checkpoint")) == 2, message="each scan is one event")
    defect = wait_until(lambda: ok(console.api("GET", "/api/tasks", "op")), message="the defect opens a work order")
    assert defect[0]["sop_id"] == "patrol.defect"
    task = wait_until(lambda: (t := ok(console.api("GET", f"/api/tasks/{defect[0]['id']}", "op")))["evidence"] and t,
                      message="the guard's photo becomes the work order's evidence")
    assert task["evidence"][0]["sha256"] == photo["sha256"]

    report = ok(console.api("GET", "/api/patrol/report", "op", params={
        "since": (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat(),
        "until": (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()}))
    assert (report["totals"]["rounds_done"], report["totals"]["points_done"], report["totals"]["defects"]) == (1, 2, 1)
    assert report["by_guard"]["g1"]["completion_rate"] == 1.0


def test_forged_retired_and_foreign_codes_are_refused_and_audited(make_console: Any, sqlite_url: str) -> None:
    console: ConsoleProcess = make_console(sqlite_url).staff({"sup": "supervisor", "op": "operator", "g1": "guard"})
    ok(console.api("POST", "/api/guard/shift", "g1", json={"on": True}))
    good = console.tag("1号楼", "3F", "东侧走廊")
    body, _, signature = good.rpartition(".")
    forged = body + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    other_site = good.replace("mcc:loc:demo/", "mcc:loc:another/")

    def refused(code: str) -> str:
        response = console.api("POST", "/api/guard/scan", "g1", json={"code": code})
        assert response.status_code == 422, response.text
        return str(response.json()["code"])

    assert refused(forged) == "tag.forged"
    assert refused("mcc:loc:demo/1号楼/3F/东侧走廊") == "tag.unsigned"
    assert refused(other_site) == "place.other_site"
    ok(console.api("POST", "/api/guard/scan", "g1", json={"code": good}))
    reprint = ok(console.api("POST", "/api/locations/reissue", "sup", json={
        "building": "1号楼", "floor": "3F", "zone": "东侧走廊"}))
    assert reprint["code"] != good and reprint["code"] == console.tag("1号楼", "3F", "东侧走廊")
    assert console.api("POST", "/api/locations/reissue", "op", json={"building": "1号楼"}).status_code == 403
    assert refused(good) == "tag.reissued"
    for _ in range(2):  # the phone got no answer and sends the same scan again: it changes nothing
        ok(console.api("POST", "/api/guard/scan", "g1", json={"code": reprint["code"], "action_id": "scan-7"}))
    assert [(a.actor, json.loads(a.detail)["reason"]) for a in audit(console, "tag.refused")] == [
        ("g1", "tag.forged"), ("g1", "tag.unsigned"), ("g1", "place.other_site"), ("g1", "tag.reissued")]
    assert [a.actor for a in audit(console, "tag.reissue")] == ["sup"]
    assert len(audit(console, "guard.scan")) == 2
    locations = ok(console.api("GET", "/api/locations", "op"))
    assert reprint["code"] in [p["code"] for p in locations], "the label sheet prints the new issue"
