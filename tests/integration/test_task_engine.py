"""Handling tasks on a controllable clock, through the real ingest path and a real store
(a SQLite file, and PostgreSQL): alarms open SOP tasks, deadlines fire (also late, as after a
restart), closing follows the rules, and every action is in the audit chain."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from console.store import audit
from console.store.tables import AlarmRow, TaskRow
from console.tasks.machine import TaskError
from console.tasks.outcome import Forbidden, Outcome
from console.tasks.places import Place, PlaceError
from tests.conftest import DEVICES
from tests.support.desk import JPEG, T0


def test_fire_alarm_false_alarm_from_panel_to_closed_task_with_every_step_audited(desk: Any) -> None:
    d = desk()
    d.guard_on("far", Place("2号楼", "1F", "大堂"))
    d.guard_on("near", Place("1号楼", "3F", "西侧走廊"))
    d.guard_on("other-floor", Place("1号楼", "8F", "西侧走廊"))
    d.at(0)
    d.send("fp-1", "fire.alarm", "1-003")
    task = d.task()
    assert (task.sop_id, task.alarm_kind, task.state, task.drill) == ("fire.alarm", "fire.alarm", "open", False)
    with d.store.read() as session:
        assert session.scalar(select(AlarmRow.task_id)) == task.id
    # The fire SOP auto-assigns the nearest free guard: same building and floor beats two floors away.
    [dispatch] = d.dispatches(task.id)
    assert (dispatch.guard, dispatch.state, dispatch.assigned_by) == ("near", "assigned", "system")
    assert d.step("dispatch")["status"] == "done"
    assert d.step("arrive")["due_at"] == (T0 + timedelta(seconds=60)).isoformat()

    d.do("guard_step", dispatch.id, "near", "accept", d.at(8))
    with pytest.raises(TaskError, match="the alarm is at 1号楼 3F 东侧走廊"):
        d.do("guard_step", dispatch.id, "near", "arrive", d.at(30),
             code=d.code(Place("1号楼", "3F", "西侧走廊")))
    with pytest.raises(PlaceError):
        d.do("guard_step", dispatch.id, "near", "arrive", d.at(30), code="hello")
    d.do("scan", "near", d.code(), d.at(40))  # a checkpoint scan at the scene is the arrival
    assert d.dispatches(task.id)[0].state == "on_scene"
    assert d.step("arrive")["status"] == "done" and d.step("arrive")["actor"] == "near"

    d.do("answer", task.id, "confirm", "no", "near", "guard", d.at(70))
    d.do("add_photo", task.id, "cause", JPEG, "image/jpeg", "near", "guard", d.at(80))
    d.do("answer", task.id, "cause", "dust", "near", "guard", d.at(85))
    d.do("guard_step", dispatch.id, "near", "report", d.at(90), text="感烟探测器积尘，已清洁")

    # The operator acknowledges the alarm on the wall: the SOP's ack step is done by it.
    with d.store.write() as session, session.begin():
        alarm = session.scalars(select(AlarmRow)).one()
        from console.alarms.engine import acknowledge
        acknowledge(alarm, "op", None, d.at(95))
        d.tasks.on_alarm_acked(session, alarm, "op", d.now)
    assert d.step("ack")["status"] == "done" and d.step("ack")["actor"] == "op"

    d.at(120)
    d.send("fp-1", "fire.reset")  # the panel is reset: the alarm clears
    d.do("answer", task.id, "reset", None, "op", "operator", d.at(125))
    d.do("answer", task.id, "repair_record", "探测器清洁后复位正常", "op", "operator", d.at(130))
    with pytest.raises(Forbidden, match="needs a supervisor's signature"):
        d.do("answer", task.id, "sign", None, "op", "operator", d.at(131))
    d.do("answer", task.id, "sign", None, "sup", "supervisor", d.at(140))
    d.do("close", task.id, "op", "operator", d.at(150))

    task = d.task(task.id)
    assert (task.state, task.closed_by, task.next_due_at) == ("closed", "op", None)
    with d.store.read() as session:
        alarm = session.scalars(select(AlarmRow)).one()
        assert alarm.closed and alarm.cleared and alarm.acknowledged
        checked, problems = audit.verify(session)
    assert problems == []
    trail = [(row.actor, row.action, json.loads(row.detail).get("step")) for row in d.audit_rows()
             if row.target == f"task:{task.id}"]
    assert ("near", "dispatch.accepted", None) in trail and ("near", "dispatch.on_scene", None) in trail
    assert [t for t in trail if t[1] == "task.answer"] == [
        ("near", "task.answer", "confirm"), ("near", "task.answer", "cause"), ("op", "task.answer", "reset"),
        ("op", "task.answer", "repair_record"), ("sup", "task.answer", "sign")]
    assert ("near", "task.photo", "cause") in trail and trail[-1] == ("op", "task.close", None)
    photo = next(json.loads(r.detail) for r in d.audit_rows() if r.action == "task.photo")
    import hashlib
    assert photo["sha256"] == hashlib.sha256(JPEG).hexdigest()
    # No deadline passed in this walkthrough: nothing escalated, and the score is clean.
    assert [n.kind for n in d.notices] == ["dispatch"]
    assert not [entry for entry in d.log(task.id) if entry.action == "deadline"]


def test_unconfirmed_fire_alarm_is_handled_as_confirmed_at_three_minutes(desk: Any) -> None:
    d = desk()
    d.guard_on("g1", Place("1号楼", "3F", "东侧走廊"))
    d.at(0)
    d.send("fp-1", "fire.alarm", "1-003")
    task = d.task()
    [dispatch] = d.dispatches(task.id)
    d.do("guard_step", dispatch.id, "g1", "accept", d.at(10))
    d.do("guard_step", dispatch.id, "g1", "arrive", d.at(50), code=d.code())
    early = d.fire_due(179).notices
    assert [(n.kind, n.roles) for n in early] == [("deadline", ("supervisor",))], "only the unacknowledged alarm"
    assert d.step("confirm")["status"] == "open", "nothing decides the fire before 3 minutes"
    outcome = d.fire_due(181)
    assert d.step("confirm")["answer"] == "yes" and d.step("confirm")["actor"] == "deadline"
    assert d.step("call_119")["status"] == "open" and d.step("cause")["status"] == "skipped"
    advanced = [n for n in outcome.notices if n.kind == "advanced"]
    assert advanced and set(advanced[0].roles) == {"supervisor", "project_manager"}
    assert "按“yes”处置" in advanced[0].body and "1号楼 3层 东侧走廊" in advanced[0].body
    assert [m.type for m in outcome.hub] == ["task.updated"]
    deadline = [e for e in d.log(task.id) if e.action == "deadline"]
    assert [(e.step, e.data["effect"], e.data["due_at"]) for e in deadline] == [
        ("ack", "notify", (T0 + timedelta(seconds=30)).isoformat()),
        ("confirm", "advanced", (T0 + timedelta(seconds=180)).isoformat())]


def test_a_deadline_that_passed_while_the_console_was_down_fires_at_once(desk: Any) -> None:
    d = desk()
    d.at(0)
    d.send("fp-1", "fire.alarm", "1-003")
    task_id = d.task().id
    d.close()
    # "Restart": a new engine on the same database, 10 minutes later.
    d2 = desk()
    outcome = d2.fire_due(600)
    fired = [(e.step, e.data["effect"]) for e in d2.log(task_id) if e.action == "deadline"]
    assert ("confirm", "advanced") in fired and ("ack", "notify") in fired
    assert d2.step("confirm", task_id)["answer"] == "yes"
    assert any(n.kind == "advanced" for n in outcome.notices)
    assert d2.fire_due(601).notices == [], "each deadline fires once"


def test_closing_with_a_required_step_open_needs_a_supervisor_and_a_reason(desk: Any) -> None:
    d = desk()
    d.at(0)
    d.send("door-1", "access.door_forced")
    task = d.task()
    assert task.sop_id == "access.door_forced"
    with pytest.raises(TaskError, match="required steps are still open: ack, dispatch"):
        d.do("close", task.id, "op", "operator", d.at(10))
    with pytest.raises(TaskError, match="needs a reason"):
        d.do("close", task.id, "sup", "supervisor", d.at(11), reason="  ")
    d.do("close", task.id, "sup", "supervisor", d.at(12), reason="门磁故障误报，已报修")
    task = d.task(task.id)
    assert (task.state, task.close_reason) == ("closed", "门磁故障误报，已报修")
    closing = [json.loads(r.detail) for r in d.audit_rows() if r.action == "task.close"]
    assert closing[0]["reason"] == "门磁故障误报，已报修" and "ack" in closing[0]["overridden"]


def test_retried_actions_are_applied_once(desk: Any) -> None:
    d = desk()
    d.at(0)
    d.send("door-1", "access.door_forced")
    task = d.task()
    first = d.do("comment", task.id, "门外有人徘徊", "op", "operator", d.at(3), key="k-1")
    again = d.do("comment", task.id, "门外有人徘徊", "op", "operator", d.at(4), key="k-1")
    assert not first.replayed and again.replayed
    assert [e.data["text"] for e in d.log(task.id) if e.action == "comment"] == ["门外有人徘徊"]
    d.do("add_photo", task.id, None, JPEG, "image/jpeg", "op", "operator", d.at(5), key="p-1")
    other = JPEG + b"another photo"
    assert d.do("add_photo", task.id, None, other, "image/jpeg", "op", "operator", d.at(6), key="p-1").replayed
    d.do("add_photo", task.id, None, JPEG, "image/jpeg", "op", "operator", d.at(7), key="p-2")
    assert sum(1 for r in d.audit_rows() if r.action == "task.photo") == 1, \
        "a retry (same key) is not applied, and the same photo under a new key is kept once"
    with pytest.raises(TaskError, match="not a image/png image"):
        d.do("add_photo", task.id, None, JPEG, "image/png", "op", "operator", d.at(8))


def test_repeats_join_the_open_task_and_a_closed_task_is_not_reopened(desk: Any) -> None:
    d = desk()
    d.at(0)
    d.send("fp-1", "fire.alarm", "1-003")
    d.at(5)
    d.send("fp-1", "fire.alarm", "1-003")
    first = d.task()
    assert first.repeats == 1
    assert [e.action for e in d.log(first.id)].count("repeat") == 1
    d.do("close", first.id, "sup", "supervisor", d.at(10), reason="测试")
    d.at(20)
    d.send("fp-1", "fire.alarm", "1-003")  # the alarm is still open (not acked), the task is closed
    second = d.task()
    assert second.id != first.id and second.state == "open"


def test_drill_alarm_runs_its_sop_labelled_as_a_drill_and_is_scored(desk: Any) -> None:
    d = desk()
    d.at(0)
    d.send("fp-1", "fire.alarm", "1-003", test=True)
    task = d.task()
    assert task.drill
    outcome = d.fire_due(200)
    assert outcome.notices and all(n.drill and n.title.startswith("【演练】") for n in outcome.notices)


def test_a_fault_in_the_task_engine_never_costs_the_alarm(desk: Any, monkeypatch: pytest.MonkeyPatch,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    d = desk()
    real = d.tasks.on_alarm_changes

    def half_done_then_broken(session: Any, changes: Any, now: datetime) -> Outcome:
        real(session, changes, now)  # writes the task, then fails before the commit
        raise RuntimeError("bug in the task engine")

    monkeypatch.setattr(d.tasks, "on_alarm_changes", half_done_then_broken)
    d.at(0)
    d.send("fp-1", "fire.alarm", "1-003")
    with d.store.read() as session:
        alarm = session.scalars(select(AlarmRow)).one()
        assert alarm.kind == "fire.alarm" and alarm.task_id is None
        assert session.scalars(select(TaskRow)).all() == [], "the half-written task was rolled back"
    assert d.ingest.counters.quarantined == 0 and d.ingest.counters.stored == 1
    assert "task engine failed on fire.alarm" in caplog.text


def test_a_second_detector_in_the_same_zone_joins_the_fire_and_confirms_it(desk: Any) -> None:
    panel = {**DEVICES[0], "points": {
        "1-003": {"floor": "3F", "zone": "东侧走廊", "label": "1号楼 3层 东侧走廊 感烟探测器"},
        "1-005": {"floor": "3F", "zone": "东侧走廊", "label": "1号楼 3层 东侧走廊 手动报警按钮"},
        "1-012": {"floor": "8F", "zone": "西侧走廊", "label": "1号楼 8层 西侧走廊 感烟探测器"}}}
    d = desk(devices={"entries": [panel, *DEVICES[1:]]})
    d.at(0)
    d.send("fp-1", "fire.alarm", "1-003")
    first = d.task()
    d.at(60)
    d.send("fp-1", "fire.alarm", "1-005")
    assert d.task().id == first.id, "one fire, one task"
    with d.store.read() as session:
        alarms = session.scalars(select(AlarmRow).order_by(AlarmRow.id)).all()
        assert [a.task_id for a in alarms] == [first.id, first.id]
    why = [e.data for e in d.log(first.id) if e.action == "correlated"]
    assert why == [{"alarm_id": alarms[1].id, "device_id": "fp-1", "point": "1-005", "reason": "same_zone",
                    "zone": "1号楼 3F 东侧走廊", "window_s": 600}]
    assert d.step("confirm", first.id)["answer"] == "yes" and d.step("confirm", first.id)["actor"] == "correlation"
    assert any(n.kind == "advanced" and "project_manager" in n.roles for n in d.notices)
    d.at(90)
    d.send("fp-1", "fire.alarm", "1-012")  # another floor: another fire, another task
    assert d.task().id != first.id
    d.at(700)
    d.send("fp-1", "fire.alarm", "1-005")  # the same detector again: a repeat on the task it joined
    with d.store.read() as session:
        assert len(session.scalars(select(TaskRow)).all()) == 2
    assert d.task(first.id).repeats == 2
