"""The procedures behind every hazard, end to end: the alarm published over MQTT to a real broker,
the console as its own process, its task opened, a guard dispatched who accepts, proves arrival and
answers the on-scene steps, the operator and supervisor doing theirs over the HTTP API, the device's
restore published over MQTT completing the steps that wait for it, and the task closed."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.conftest import DEVICES, ConsoleProcess, Publisher, native_event, wait_until

pytestmark = pytest.mark.slow
HAZARD_DEVICES = [
    {"id": "gas-1", "name": "1号楼员工食堂燃气探测器", "role": "sensor", "kind": "gas", "building": "1号楼",
     "floor": "1F", "zone": "员工食堂", "label": "1号楼 1层 员工食堂 燃气探测器"},
    {"id": "leak-1", "name": "1号楼水泵房水浸传感器", "role": "sensor", "kind": "water_leak", "building": "1号楼",
     "floor": "B1", "zone": "水泵房", "label": "1号楼 地下一层 水泵房 水浸传感器"},
    {"id": "lift-1", "name": "1号楼1号客梯", "role": "sensor", "kind": "elevator", "building": "1号楼",
     "floor": "1F", "zone": "电梯厅", "label": "1号楼 1号客梯"},
    {"id": "power-1", "name": "1号楼配电房市电监测", "role": "sensor", "kind": "power_monitor",
     "building": "1号楼", "floor": "B1", "zone": "配电房", "label": "1号楼 地下一层 配电房"},
]
_photos = itertools.count(1)


@dataclass(frozen=True)
class Procedure:
    kind: str
    device: str
    sop_title: str
    point: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    answers: dict[str, str] = field(default_factory=dict)
    """yes/no answers (and choice codes) that walk the procedure's path; other choices take the first."""
    restore: dict[str, Any] | None = None
    """The device's own all-clear, published once the people's steps are done."""
    guard_steps: tuple[str, ...] = ()
    """Steps the dispatched guard answers from the scene (the rest are the control room's)."""


PROCEDURES = [
    Procedure("safety.gas", "gas-1", "燃气泄漏处置", answers={"real": "yes", "danger": "yes", "cause": "appliance"},
              restore={"type": "safety.restore", "data": {"of": "safety.gas"}},
              guard_steps=("arrive", "real", "cordon", "cause")),
    Procedure("safety.water_leak", "leak-1", "水浸跑水处置", answers={"real": "yes", "electrics": "yes"},
              restore={"type": "safety.restore", "data": {"of": "safety.water_leak"}},
              guard_steps=("arrive", "real", "source", "electrics")),
    Procedure("elevator.trapped", "lift-1", "电梯困人处置", data={"car": "1号客梯", "floor": "5F", "people": 2},
              answers={"trapped": "yes", "unwell": "no"},
              restore={"type": "elevator.restore", "data": {"of": "elevator.trapped"}},
              guard_steps=("arrive", "reassure", "aftercare")),
    Procedure("elevator.fault", "lift-1", "电梯故障处置", data={"code": "E30"},
              answers={"check_car": "no", "out_of_service": "yes"},
              restore={"type": "elevator.restore", "data": {"of": "elevator.fault"}}),
    Procedure("access.tamper", "door-1", "设备防拆报警处置", answers={"tampered": "yes", "who": "maintenance"},
              restore={"type": "access.restore", "data": {"of": "access.tamper"}},
              guard_steps=("arrive", "inspect", "tampered")),
    Procedure("fire.isolated", "fp-1", "消防点位屏蔽处置", point="1-003", answers={"linkage": "yes"},
              restore={"type": "fire.restore", "data": {"of": "fire.isolated"}}),
    Procedure("device.fault", "door-1", "设备故障处置（维修工单）", data={"code": "E7"},
              answers={"affects_safety": "yes"},
              restore={"type": "device.restore", "data": {"of": "device.fault"}}),
    Procedure("device.battery_low", "gas-1", "设备电池电量低处置（更换工单）", data={"battery": 9}),
    Procedure("power.failure", "power-1", "停电处置", data={"on_backup": True},
              restore={"type": "power.restore", "data": {"of": "power.failure"}}, guard_steps=("posts",)),
]
CALL = {"gas_company": "深圳燃气", "call_time": "10:02", "person_answered": "王工", "situation": "食堂燃气味",
        "unit_address": "演示小区1号楼", "location": "1层员工食堂", "injured": "无", "people": "2",
        "condition": "良好", "caller_name_phone": "张三 13800000000", "engineer_on_duty": "李工",
        "contractor": "某电梯公司", "event_time": "10:00"}


def ok(response: Any) -> Any:
    assert response.status_code == 200, f"{response.status_code}: {response.text}"
    return response.json()


def jpeg() -> bytes:
    return b"\xff\xd8\xff\xe0\x00\x10JFIF" + next(_photos).to_bytes(4, "big") + bytes(400)


@pytest.fixture
def room(make_console: Any, sqlite_url: str) -> ConsoleProcess:
    console: ConsoleProcess = make_console(sqlite_url, devices={"entries": DEVICES + HAZARD_DEVICES})
    for name, role in [("op", "operator"), ("sup", "supervisor"), ("g1", "guard")]:
        console.add_user(name, role)
        console.login(name)
    ok(console.api("POST", "/api/guard/shift", "g1", json={"on": True}))
    ok(console.api("POST", "/api/guard/scan", "g1", json={"code": console.tag("1号楼", "1F", "大堂")}))
    return console


def walk(console: ConsoleProcess, publisher: Publisher, task_id: int, alarm_id: int, case: Procedure) -> None:
    """Do every open step the way its role would, until nothing is left but the device's restore."""
    walked_recurring: set[str] = set()
    for _ in range(60):
        task = ok(console.api("GET", f"/api/tasks/{task_id}", "op"))
        todo = [s for s in task["steps"] if s["status"] == "open" and s["completed_by"] != "alarm_clear"
                and s["id"] not in walked_recurring]
        if not todo:
            return
        step = todo[0]
        path = f"/api/tasks/{task_id}/steps/{step['id']}"
        on_task = [d for d in task["dispatches"] if d["guard"] == "g1" and d["state"] != "declined"]
        actor = "g1" if step["role"] == "guard" and on_task else "op"
        if step["completed_by"] == "alarm_ack":
            ok(console.api("POST", f"/api/alarms/{alarm_id}/ack", "op", json={"comment": "已确认"}))
        elif step["type"] == "dispatch":
            ok(console.api("POST", f"/api/tasks/{task_id}/dispatch", "op", json={"guard": "g1"}))
        elif step["completed_by"] == "arrival":
            dispatch = on_task[0]["id"]
            ok(console.api("POST", f"/api/dispatches/{dispatch}/accept", "g1"))
            ok(console.api("POST", f"/api/dispatches/{dispatch}/arrive", "g1", json={"code": task["location_code"]}))
        elif step["type"] == "photo":
            ok(console.api("POST", f"/api/tasks/{task_id}/photos?step={step['id']}", actor, content=jpeg(),
                           headers={"Content-Type": "image/jpeg"}))
        else:
            if step["type"] == "approval" and step["role"] in ("supervisor", "project_manager"):
                actor = "sup"
            value: Any = {
                "yes_no": case.answers.get(step["id"], "yes"),
                "choice": case.answers.get(step["id"], step["choices"][0]["code"] if step["choices"] else None),
                "call_record": {name: CALL.get(name, "已记录") for name in step["fields"]},
                "text": f"{step['id']}：已处理并记录",
            }.get(step["type"])
            if step["role"] == "guard" and actor == "g1" and on_task[0]["state"] == "assigned":
                ok(console.api("POST", f"/api/dispatches/{on_task[0]['id']}/accept", "g1"))
            ok(console.api("POST", path, actor, json={"value": value}))
        if step.get("recurring"):
            walked_recurring.add(step["id"])
    raise AssertionError("the walk did not end")


@pytest.mark.parametrize("case", PROCEDURES, ids=[c.kind for c in PROCEDURES])
def test_an_alarm_over_mqtt_is_handled_by_its_procedure_from_task_to_close(
    room: ConsoleProcess, publisher: Publisher, case: Procedure,
) -> None:
    console = room
    publisher.publish(*native_event(case.device, f"{case.kind}-1", case.kind, case.point, data=case.data))
    [task] = wait_until(lambda: ok(console.api("GET", "/api/tasks", "op")), message="its task opens")
    [alarm] = ok(console.api("GET", "/api/alarms?active=true", "op"))
    assert alarm["kind"] == case.kind and alarm["task_id"] == task["id"]
    detail = ok(console.api("GET", f"/api/tasks/{task['id']}", "op"))
    assert (detail["sop_id"], detail["title"]["zh"]) == (case.kind, case.sop_title)

    walk(console, publisher, task["id"], alarm["id"], case)
    waiting = [s["id"] for s in ok(console.api("GET", f"/api/tasks/{task['id']}", "op"))["steps"]
               if s["status"] == "open" and s["completed_by"] == "alarm_clear"]
    if waiting:
        refused = console.api("POST", f"/api/tasks/{task['id']}/steps/{waiting[0]}", "op", json={})
        assert refused.status_code == 409 and "restore" in refused.text, "nobody ticks what the device must say"
    if case.restore is not None:
        topic, body = native_event(case.device, f"{case.kind}-restore", case.restore["type"], case.point,
                                   data=case.restore["data"])
        publisher.publish(topic, body)
        wait_until(lambda: all(s["status"] == "done" for s in ok(console.api(
            "GET", f"/api/tasks/{task['id']}", "op"))["steps"] if s["id"] in waiting)
            and not ok(console.api("GET", "/api/alarms?active=true", "op")),
            message="the device's restore clears the alarm and completes the steps waiting for it")
    else:
        assert waiting == []
    dispatches = ok(console.api("GET", f"/api/tasks/{task['id']}", "op"))["dispatches"]
    if dispatches and dispatches[0]["state"] == "on_scene":
        ok(console.api("POST", f"/api/dispatches/{dispatches[0]['id']}/report", "g1", json={"text": "现场已处置完毕"}))
    closed = ok(console.api("POST", f"/api/tasks/{task['id']}/close", "op", json={}))

    assert closed["state"] == "closed" and closed["closed_by"] == "op"
    steps = {s["id"]: s for s in closed["steps"]}
    assert not [s for s in steps.values() if s["status"] in ("open", "pending") and s["required"]]
    assert {s["actor"] for s in steps.values() if s["completed_by"] == "alarm_clear"} <= {"system"}
    assert [steps[s]["actor"] for s in case.guard_steps] == ["g1"] * len(case.guard_steps), \
        "the guard answered the on-scene steps from the phone"
    if "arrive" in case.guard_steps:
        assert [d["state"] for d in closed["dispatches"]] == ["reported"]


def test_a_gas_alarm_sends_the_nearest_guard_at_once_and_cannot_be_shelved(
    room: ConsoleProcess, publisher: Publisher
) -> None:
    console = room
    shelf = console.api("POST", "/api/shelves", "sup", json={
        "device_id": "gas-1", "kind": "safety.gas", "minutes": 60, "reason": "误报太多"})
    assert shelf.status_code == 409 and "never shelved" in shelf.text
    ok(console.api("POST", "/api/shelves", "sup", json={"device_id": "gas-1", "minutes": 60, "reason": "维修"}))
    publisher.publish(*native_event("gas-1", "gas-shelved", "safety.gas"))
    [task] = wait_until(lambda: ok(console.api("GET", "/api/tasks", "op")),
                        message="a shelf on the whole device does not hold a gas alarm back")
    detail = ok(console.api("GET", f"/api/tasks/{task['id']}", "op"))
    dispatch = {s["id"]: s for s in detail["steps"]}["dispatch"]
    assert (detail["assignee"], dispatch["status"], dispatch["actor"]) == ("g1", "done", "system")
    [alarm] = ok(console.api("GET", "/api/alarms?active=true", "op"))
    assert alarm["severity"] == "critical" and alarm["shelved_until"] is None
