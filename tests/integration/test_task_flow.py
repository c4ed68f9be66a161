"""Handling tasks end to end: a real broker, the console as its own process, guards and operators
over the HTTP API and the WebSocket, notices to a local capture server (the group bots' stand-in),
and a kill -9 in the middle of a task."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from websockets.sync.client import connect

from tests.conftest import ConsoleProcess, Publisher, native_event, wait_until
from tests.support.capture import CaptureServer

pytestmark = pytest.mark.slow
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(500)


@pytest.fixture
def capture() -> Iterator[CaptureServer]:
    server = CaptureServer()
    yield server
    server.close()


def ok(response: Any) -> Any:
    assert response.status_code == 200, f"{response.status_code}: {response.text}"
    return response.json()


def sign_on(console: ConsoleProcess, guard: str, code: str | None) -> None:
    ok(console.api("POST", "/api/guard/shift", guard, json={"on": True}))
    if code:
        ok(console.api("POST", "/api/guard/scan", guard, json={"code": code}))


def ws_snapshot(console: ConsoleProcess, user: str) -> dict[str, Any]:
    with connect(f"ws://127.0.0.1:{console.port}/ws",
                 additional_headers={"Authorization": f"Bearer {console.tokens[user]}"}) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "hello"
        return json.loads(ws.recv(timeout=5))  # type: ignore[no-any-return]


def test_fire_alarm_to_closed_task_through_the_api(
    db_url: str, make_console: Any, publisher: Publisher, capture: CaptureServer,
) -> None:
    console = make_console(db_url, notify={"targets": [
        {"url": capture.url("sup"), "roles": ["supervisor"], "name": "主管群"},
        {"url": capture.url("g1"), "users": ["g1"], "name": "g1"}]})
    for name, role in [("op", "operator"), ("sup", "supervisor"), ("g1", "guard"), ("g2", "guard"),
                       ("wall", "display")]:
        console.add_user(name, role)
        console.login(name)
    sign_on(console, "g1", console.tag("1号楼", "3F", "西侧走廊"))
    sign_on(console, "g2", console.tag("1号楼", "8F", "西侧走廊"))

    publisher.publish(*native_event("fp-1", "fire-1", "fire.alarm", "1-003"))
    tasks = wait_until(lambda: ok(console.api("GET", "/api/tasks", "op")), message="a task opens")
    task_id = tasks[0]["id"]
    task = ok(console.api("GET", f"/api/tasks/{task_id}", "op"))
    assert task["title"]["zh"] == "火警处置" and task["assignee"] == "g1", "the nearest free guard is sent"
    assert task["location_code"] == console.tag("1号楼", "3F", "东侧走廊")
    alarm = ok(console.api("GET", "/api/alarms?active=true", "op"))[0]
    assert alarm["task_id"] == task_id
    wait_until(lambda: capture.messages("g1"), message="the guard's phone is told")
    assert "请立即前往现场" in capture.messages("g1")[0]["message"]

    # The wall sees the task; a guard's socket sees only their own.
    assert [t["id"] for t in ws_snapshot(console, "wall")["tasks"]] == [task_id]
    assert [t["id"] for t in ws_snapshot(console, "g1")["tasks"]] == [task_id]
    snapshot_g2 = ws_snapshot(console, "g2")
    assert snapshot_g2["tasks"] == [] and snapshot_g2["alarms"] == []
    assert console.api("GET", f"/api/tasks/{task_id}", "g2").status_code == 403
    assert [console.api("GET", path, "g1").status_code for path in ("/api/alarms", "/api/events", "/api/devices")] \
        == [403, 403, 403], "a guard sees their own tasks, not the whole site"
    assert console.api("POST", f"/api/tasks/{task_id}/steps/reset", "wall", json={}).status_code == 403
    # The wall shows the queue and the steps from its stream; what staff wrote and photographed is not for it.
    assert [console.api("GET", path, "wall").status_code for path in (f"/api/tasks/{task_id}", "/api/tasks")] \
        == [403, 403]

    locations = ok(console.api("GET", "/api/locations", "op"))
    assert task["location_code"] in [place["code"] for place in locations]
    labels = console.api("GET", "/api/locations/labels", "op")
    assert labels.status_code == 200 and labels.text.count('src="data:image/svg+xml') == len(locations)
    assert "1号楼 3F 东侧走廊" in labels.text
    assert console.api("GET", "/api/locations/labels", "g1").status_code == 403

    me = ok(console.api("GET", "/api/guard/me", "g1"))
    dispatch_id = me["dispatches"][0]["id"]
    ok(console.api("POST", f"/api/dispatches/{dispatch_id}/accept", "g1"))
    ok(console.api("POST", f"/api/dispatches/{dispatch_id}/accept", "g1"))  # a phone's retry: no change
    wrong = console.api("POST", f"/api/dispatches/{dispatch_id}/arrive", "g1",
                        json={"code": console.tag("1号楼", "3F", "西侧走廊")})
    assert wrong.status_code == 409 and "the alarm is at 1号楼 3F 东侧走廊" in wrong.json()["detail"]
    assert ok(console.api("GET", f"/api/tasks/{task_id}", "g1"))["location_code"] is None, \
        "the guard's phone cannot show the scene's code: scanning the label there is the proof of arrival"
    ok(console.api("POST", f"/api/dispatches/{dispatch_id}/arrive", "g1", json={"code": task["location_code"]}))
    ok(console.api("POST", f"/api/tasks/{task_id}/steps/confirm", "g1", json={"value": "no", "action_id": "a1"}))
    ok(console.api("POST", f"/api/tasks/{task_id}/steps/confirm", "g1", json={"value": "no", "action_id": "a1"}))
    photo = ok(console.api("POST", f"/api/tasks/{task_id}/photos?step=cause&action_id=p1", "g1",
                           content=JPEG, headers={"Content-Type": "image/jpeg"}))
    [evidence] = photo["evidence"]
    image = console.api("GET", evidence["url"], "op")
    assert image.content == JPEG and image.headers["x-content-sha256"] == evidence["sha256"]
    assert console.api("GET", evidence["url"], "wall").status_code == 403, "evidence photos are not for the wall"
    ok(console.api("POST", f"/api/tasks/{task_id}/steps/cause", "g1", json={"value": "dust"}))
    ok(console.api("POST", f"/api/dispatches/{dispatch_id}/report", "g1", json={"text": "探测器积尘，已清洁"}))

    ok(console.api("POST", f"/api/alarms/{alarm['id']}/ack", "op", json={"comment": "已派保安核实"}))
    publisher.publish(*native_event("fp-1", "reset-1", "fire.reset"))
    wait_until(lambda: not ok(console.api("GET", "/api/alarms?active=true", "op")), message="the alarm clears")
    early = console.api("POST", f"/api/tasks/{task_id}/close", "op", json={})
    assert early.status_code == 409 and "required steps are still open: reset, repair_record, sign" in early.text
    ok(console.api("POST", f"/api/tasks/{task_id}/steps/reset", "op", json={}))
    ok(console.api("POST", f"/api/tasks/{task_id}/steps/repair_record", "op", json={"value": "清洁后复位正常"}))
    assert console.api("POST", f"/api/tasks/{task_id}/steps/sign", "op", json={}).status_code == 403
    ok(console.api("POST", f"/api/tasks/{task_id}/steps/sign", "sup", json={}))
    closed = ok(console.api("POST", f"/api/tasks/{task_id}/close", "op", json={}))

    assert closed["state"] == "closed" and closed["closed_by"] == "op"
    steps = {s["id"]: s for s in closed["steps"]}
    assert [(k, steps[k]["actor"]) for k in ("ack", "dispatch", "arrive", "confirm", "cause", "reset", "sign")] == [
        ("ack", "op"), ("dispatch", "system"), ("arrive", "g1"), ("confirm", "g1"), ("cause", "g1"),
        ("reset", "op"), ("sign", "sup")]
    times = [datetime.fromisoformat(steps[k]["done_at"]) for k in ("dispatch", "arrive", "confirm", "cause")]
    assert times == sorted(times)
    assert [d["state"] for d in closed["dispatches"]] == ["reported"]
    assert sum(1 for e in closed["log"] if e["action"] == "answer" and e["step"] == "confirm") == 1
    assert closed["score"]["missed"] == 0
    verify = console.cli("audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert not capture.messages("sup"), "nothing was late: the supervisor was not disturbed"


def test_unconfirmed_fire_escalates_and_a_deadline_due_during_a_crash_fires_on_start(
    sqlite_url: str, make_console: Any, publisher: Publisher, capture: CaptureServer,
) -> None:
    console = make_console(
        sqlite_url,
        sops={"limits": {"fire.alarm": {"ack": 2, "confirm": 8}}},
        notify={"targets": [{"url": capture.url("sup"), "roles": ["supervisor", "project_manager"]}]},
    )
    console.add_user("sup", "supervisor")
    console.add_user("op", "operator")
    publisher.publish(*native_event("fp-1", "fire-2", "fire.alarm", "1-003"))
    overdue = wait_until(lambda: [m for m in capture.messages("sup") if "确认报警并消音" in m["message"]],
                         timeout=10, message="the unacknowledged alarm is reported at 2 s")
    assert "已超时" in overdue[0]["message"]
    assert any("没有空闲的在岗保安" in m["message"] for m in capture.messages("sup")), \
        "no guard on shift for the auto-dispatch: the supervisor hears so"

    console.kill()  # kill -9 while the 8-second confirm deadline is still ahead
    killed_at = time.monotonic()
    time.sleep(9)
    console.start()
    started = time.monotonic()
    advanced = wait_until(lambda: [m for m in capture.messages("sup") if "按“yes”处置" in m["message"]],
                          timeout=10, message="the deadline that passed while down fires on start")
    assert time.monotonic() - started < 5, "fired at once, not on some later sweep"
    assert "1号楼 3层 东侧走廊" in advanced[0]["message"]
    assert time.monotonic() - killed_at > 9

    console.login("op")
    console.login("sup")
    task = ok(console.api("GET", "/api/tasks", "op"))[0]
    detail = ok(console.api("GET", f"/api/tasks/{task['id']}", "op"))
    steps = {s["id"]: s for s in detail["steps"]}
    assert steps["confirm"]["answer"] == "yes" and steps["confirm"]["actor"] == "deadline"
    assert steps["call_119"]["status"] == "open" and steps["cause"]["status"] == "skipped"
    notified = [e for e in detail["log"] if e["action"] == "notified"]
    assert notified and all(e["data"]["delivered"] for e in notified)

    refused = console.api("POST", f"/api/tasks/{task['id']}/close", "op", json={"reason": "演示"})
    assert refused.status_code == 409 and "only a supervisor can close it now" in refused.json()["detail"]
    assert console.api("POST", f"/api/tasks/{task['id']}/close", "sup", json={}).status_code == 409
    closed = ok(console.api("POST", f"/api/tasks/{task['id']}/close", "sup",
                            json={"reason": "消防部门已到场接管，纸质记录另存"}))
    assert closed["state"] == "closed" and closed["close_reason"].startswith("消防部门")


def test_photo_upload_limits(sqlite_url: str, make_console: Any, publisher: Publisher) -> None:
    console = make_console(sqlite_url, evidence={"max_bytes": 2048})
    console.add_user("op", "operator")
    console.login("op")
    publisher.publish(*native_event("door-1", "forced-1", "access.door_forced"))
    task_id = wait_until(lambda: ok(console.api("GET", "/api/tasks", "op")))[0]["id"]
    big = console.api("POST", f"/api/tasks/{task_id}/photos", "op", content=JPEG + bytes(4096),
                      headers={"Content-Type": "image/jpeg"})
    assert big.status_code == 413
    wrong = console.api("POST", f"/api/tasks/{task_id}/photos", "op", content=b"GIF89a" + bytes(20),
                        headers={"Content-Type": "image/gif"})
    assert wrong.status_code == 409 and "JPEG, PNG or WebP" in wrong.json()["detail"]
    lying = console.api("POST", f"/api/tasks/{task_id}/photos", "op", content=b"hello",
                        headers={"Content-Type": "image/jpeg"})
    assert lying.status_code == 409 and "not a image/jpeg image" in lying.json()["detail"]


def test_a_drill_runs_its_sop_quietly_and_the_reports_keep_it_apart(
    sqlite_url: str, make_console: Any, capture: CaptureServer,
) -> None:
    console = make_console(sqlite_url, sops={"limits": {"fire.alarm": {"ack": 1}}},
                           notify={"targets": [{"url": capture.url("sup"), "roles": ["supervisor"]}]})
    console.add_user("op", "operator")
    console.login("op")
    unknown = console.cli("drill", "start", "--device", "fp-9")
    assert unknown.returncode == 1 and "not in the registry" in unknown.stderr
    started = console.cli("drill", "start", "--device", "fp-1", "--point", "1-003", "--note", "四季度消防演练")
    assert started.returncode == 0, started.stderr
    task = wait_until(lambda: ok(console.api("GET", "/api/tasks", "op")), message="the drill opens a task")[0]
    assert task["drill"] and task["title"]["zh"] == "火警处置"
    alarm = ok(console.api("GET", f"/api/alarms/{task['alarm_id']}", "op"))
    assert alarm["test"] is True
    wait_until(lambda: [e for e in ok(console.api("GET", f"/api/tasks/{task['id']}", "op"))["log"]
                        if e["action"] == "deadline"], message="the drill's deadlines fire for real")
    time.sleep(1.0)
    assert capture.messages() == [], "a drill notifies nobody unless notify.drills is set"

    handover = ok(console.api("POST", "/api/handovers", "op", json={"notes": "演练进行中"}))
    assert [t["id"] for t in handover["snapshot"]["open_tasks"]] == [task["id"]]
    daily = ok(console.api("GET", "/api/reports/daily", "op"))
    assert daily["alarms_total"] == 0 and [d["task_id"] for d in daily["drills"]] == [task["id"]]
    csv_response = console.api("GET", "/api/reports/daily?format=csv", "op")
    assert csv_response.headers["content-type"].startswith("text/csv")
    assert f"drills,task:{task['id']}" in csv_response.text
    html = console.api("GET", f"/api/reports/shift?handover={handover['id']}&format=html", "op")
    assert html.status_code == 200 and "班报" in html.text and "演练" in html.text
