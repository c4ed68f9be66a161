"""Told at once (notify.alarms): an alarm raised goes to the roles its severity and site name, and a
critical one left unacknowledged escalates to the supervisor, then the project manager.

On a controlled clock through the real ingest path and store (SQLite and PostgreSQL), and end to
end through a console, the broker and apprise to a local capture server (the stand-in for the group
bots, which cannot be reached from here)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from console.alarms.engine import acknowledge
from console.messages import HubMessage
from console.settings import Settings
from console.sinks.alarm_notices import AlarmNotices
from console.store.tables import AlarmRow
from console.tasks.outcome import Notice
from tests.conftest import DEVICES, Publisher, native_event, wait_until
from tests.integration.test_floorplans_api import ok
from tests.integration.test_hazard_procedures import HAZARD_DEVICES
from tests.support.capture import CaptureServer

ROOM = {"entries": DEVICES + HAZARD_DEVICES}
TARGETS = [{"url": "json://127.0.0.1:9/duty", "roles": ["operator_main"], "name": "值班群"},
           {"url": "json://127.0.0.1:9/sup", "roles": ["supervisor"], "name": "主管"},
           {"url": "json://127.0.0.1:9/pm", "roles": ["project_manager"], "name": "项目经理"}]
RULES = [{"severities": ["critical"], "roles": ["operator_main"]},
         {"severities": ["critical"], "roles": ["supervisor"], "unacknowledged_seconds": 120},
         {"severities": ["critical"], "roles": ["project_manager"], "unacknowledged_seconds": 300}]


@pytest.fixture
def capture() -> Iterator[CaptureServer]:
    server = CaptureServer()
    yield server
    server.close()


def watcher(d: Any, told: list[Notice]) -> AlarmNotices:
    return AlarmNotices(d.settings, d.store, d.duty_log.registry, d.tasks.book, told.extend, lambda: d.now)


def escalate(d: Any, notices: AlarmNotices, seconds: float) -> list[Notice]:
    with d.store.write() as session, session.begin():
        return notices.escalate(session, d.at(seconds))


def alarm_of(d: Any, device: str) -> AlarmRow:
    with d.store.read() as session:
        row = session.query(AlarmRow).filter(AlarmRow.device_id == device).one()
        session.expunge(row)
        return row


def test_a_critical_alarm_left_unacknowledged_goes_to_the_supervisor_then_the_project_manager(desk: Any) -> None:
    d = desk(devices=ROOM, notify={"targets": TARGETS, "alarms": RULES})
    told: list[Notice] = []
    notices = watcher(d, told)
    d.at(0)
    d.send("gas-1", "safety.gas", lel=35)
    d.send("leak-1", "safety.water_leak")  # major: no rule names it
    assert escalate(d, notices, 119) == []
    first = escalate(d, notices, 120)
    assert [(n.kind, n.roles) for n in first] == [("unacknowledged", ("supervisor",))]
    assert "燃气泄漏" in first[0].title and "2 分钟未确认" in first[0].title
    assert "1号楼 1层 员工食堂 燃气探测器" in first[0].body and first[0].task_id == alarm_of(d, "gas-1").task_id
    assert escalate(d, notices, 200) == [], "each escalation is told once"
    assert [n.roles for n in escalate(d, notices, 300)] == [("project_manager",)]
    assert escalate(d, notices, 3600) == []

    # Another console instance on the same store tells nothing twice; a restart forgets nothing.
    d.send("gas-1", "safety.restore", of="safety.gas")
    assert escalate(d, watcher(d, []), 4000) == []


def test_an_alarm_acknowledged_in_time_or_shelved_does_not_escalate(desk: Any) -> None:
    d = desk(devices=ROOM, notify={"targets": TARGETS, "alarms": RULES})
    notices = watcher(d, [])
    d.at(0)
    d.send("gas-1", "safety.gas")
    d.send("lift-1", "elevator.trapped")
    with d.store.write() as session, session.begin():
        gas = session.query(AlarmRow).filter(AlarmRow.device_id == "gas-1").one()
        acknowledge(gas, "op", "已派人", d.at(100))
    late = escalate(d, notices, 120)
    assert len(late) == 1 and "电梯困人" in late[0].title, "only the lift, still unacknowledged"
    with d.store.write() as session, session.begin():
        lift = session.query(AlarmRow).filter(AlarmRow.device_id == "lift-1").one()
        lift.shelved_until = d.at(10_000)  # as a supervisor's shelf would (never for a life-safety kind)
    assert escalate(d, notices, 300) == []


def test_a_raised_alarm_goes_at_once_to_the_roles_its_severity_and_site_name(desk: Any) -> None:
    rules = [{"severities": ["critical"], "roles": ["operator_main"]},
             {"severities": ["major"], "sites": ["north"], "roles": ["supervisor"]}]
    d = desk(devices=ROOM, notify={"targets": TARGETS, "alarms": rules})
    told: list[Notice] = []
    notices = watcher(d, told)
    d.at(0)
    view = {"id": 7, "kind": "safety.gas", "severity": "critical", "site": "demo", "device_id": "gas-1", "point": "",
            "raised_at": d.now.isoformat(), "task_id": 3, "test": False, "shelved_until": None}
    notices.offer([HubMessage("alarm.raised", view), HubMessage("alarm.updated", {**view, "id": 8}),
                   HubMessage("alarm.raised", {**view, "id": 9, "severity": "major", "kind": "safety.water_leak"}),
                   HubMessage("alarm.raised", {**view, "id": 10, "severity": "major", "site": "north"}),
                   HubMessage("alarm.raised", {**view, "id": 11, "test": True})])
    assert [(n.kind, n.roles, n.task_id, n.drill) for n in told] == [
        ("raised", ("operator_main",), 3, False), ("raised", ("supervisor",), 3, False),
        ("raised", ("operator_main",), 3, True)]
    assert told[0].title.startswith("[测试小区] 报警 / alarm raised：燃气泄漏") and "紧急" in told[0].title
    assert told[2].title.startswith("【演练】")


def test_alarm_rules_name_roles_that_a_target_serves() -> None:
    with pytest.raises(ValueError, match=r"alarms\[0\]\.roles: no notify target serves project_manager"):
        Settings(site={"id": "demo"}, notify={"targets": TARGETS[:1], "alarms": [{"roles": ["project_manager"]}]})
    with pytest.raises(ValueError, match="severities"):
        Settings(site={"id": "demo"}, notify={"targets": TARGETS, "alarms": [{"roles": ["supervisor"],
                                                                            "severities": ["urgent"]}]})


def test_raised_escalated_and_drills_held_back_end_to_end(make_console: Any, sqlite_url: str, publisher: Publisher,
                                                          capture: CaptureServer) -> None:
    targets = [{**t, "url": capture.url(t["url"].rsplit("/", 1)[1])} for t in TARGETS]
    rules = [RULES[0], {**RULES[1], "unacknowledged_seconds": 2}, {**RULES[2], "unacknowledged_seconds": 8}]
    console = make_console(sqlite_url, devices=ROOM, notify={"targets": targets, "alarms": rules})
    console.staff({"op": "operator"})

    publisher.publish(*native_event("fp-1", "fire-1", "fire.alarm", "1-003"))
    # The fire SOP's own notices (no free guard, deadlines) reach the supervisor too: look at the alarm's.
    def told(target: str, words: str) -> list[dict[str, Any]]:
        return [m for m in capture.messages(target) if words in m["title"]]

    duty = wait_until(lambda: told("duty", "报警 / alarm raised"), message="the duty group is told at once")
    assert "报警 / alarm raised：火警" in duty[0]["title"] and "1号楼 3层 东侧走廊" in duty[0]["message"]
    sup = wait_until(lambda: told("sup", "未确认"), timeout=15, message="the supervisor, after 2 s unacknowledged")
    assert "火警" in sup[0]["title"]
    alarm = next(a for a in ok(console.api("GET", "/api/alarms?active=true", "op")) if a["kind"] == "fire.alarm")
    ok(console.api("POST", f"/api/alarms/{alarm['id']}/ack", "op", json={"comment": "已派保安核实"}))

    publisher.publish(*native_event("gas-1", "gas-1", "safety.gas"))  # left unacknowledged
    publisher.publish(*native_event("lift-1", "drill-1", "elevator.trapped", data={"test": True}))  # a drill
    pm = wait_until(lambda: told("pm", "未确认"), timeout=30, message="the project manager, after 8 s")
    assert len(pm) == 1 and "燃气泄漏" in pm[0]["title"], "the fire alarm was acknowledged before its 8 s"
    assert not [m for m in capture.messages() if "电梯困人" in m["title"]], "a drill tells nobody"
    assert console.health()["notify"]["suppressed_drill"] >= 1
    task = ok(console.api("GET", f"/api/tasks/{alarm['task_id']}", "op"))
    told_kinds = [e["data"]["kind"] for e in task["log"] if e["action"] == "notified"]
    assert {"raised", "unacknowledged"} <= set(told_kinds), "the fire task's log says who was told of its alarm"
