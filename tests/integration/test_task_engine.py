"""Handling tasks on a controllable clock, through the real ingest path and a real store
(a SQLite file, and PostgreSQL): alarms open SOP tasks, guards are dispatched and arrive by QR
code, deadlines fire (also late, as after a restart), and every action is in the audit chain."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from adapters.base import InboundMessage
from console import audit, auth
from console.ingest import Ingest
from console.registry import DeviceRegistry
from console.settings import Settings
from console.store.database import Store
from console.store.tables import AlarmRow, AuditRow, DispatchRow, TaskLogRow, TaskRow
from console.tasks.machine import TaskError
from console.tasks.places import Place, PlaceError, location_code
from console.tasks.service import Forbidden, Notice, Outcome, TaskService
from console.tasks.sop import load_site_sops
from tests.conftest import DEVICES

T0 = datetime(2026, 11, 26, 2, 0, tzinfo=timezone.utc)
SCENE = location_code("demo", Place("1号楼", "3F", "东侧走廊"))  # fp-1 point 1-003
JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + bytes(200)


class Desk:
    """A console without the network: ingest, the task engine and the store, on a clock we move."""

    def __init__(self, db_url: str, tmp_path: Path, **sections: Any):
        devices = sections.pop("devices", {"entries": DEVICES})
        self.settings = Settings(site={"id": "demo", "name": "测试小区"}, database={"url": db_url},
                                 devices=devices, **sections)
        self.store = Store(db_url)
        self.store.migrate()
        registry = DeviceRegistry.from_settings(self.settings)
        self.tasks = TaskService(self.settings, load_site_sops(self.settings), registry, tmp_path / "evidence")
        self.notices: list[Notice] = []
        self.ingest = Ingest(self.settings, self.store, registry, tasks=self.tasks, on_notices=self.notices.extend)
        self.now = T0
        self.n = 0

    def at(self, seconds: float) -> datetime:
        self.now = T0 + timedelta(seconds=seconds)
        return self.now

    def send(self, device: str, kind: str, point: str = "", **data: Any) -> None:
        self.n += 1
        body = {"id": f"e{self.n}", "ts": self.now.isoformat(), "type": kind, "point": point, "data": data}
        self.ingest.process([InboundMessage(f"mcc/v1/demo/{device}/event", json.dumps(body).encode(), False,
                                            self.now)])

    def do(self, method: str, *args: Any, **kwargs: Any) -> Outcome:
        with self.store.write() as session, session.begin():
            outcome: Outcome = getattr(self.tasks, method)(session, *args, **kwargs)
        self.notices.extend(outcome.notices)
        return outcome

    def guard_on(self, name: str, place: Place | None = None) -> None:
        with self.store.write() as session, session.begin():
            auth.add_user(session, name, "correct-horse-1", "guard")
        self.do("shift", name, True, self.now)
        if place is not None:
            self.do("scan", name, location_code("demo", place), self.now)

    def task(self, task_id: int | None = None) -> TaskRow:
        with self.store.read() as session:
            query = select(TaskRow).order_by(TaskRow.id.desc())
            row = session.get(TaskRow, task_id) if task_id else session.scalars(query).first()
            assert row is not None
            return row

    def step(self, step_id: str, task_id: int | None = None) -> dict[str, Any]:
        return next(s for s in self.task(task_id).steps if s["id"] == step_id)

    def dispatches(self, task_id: int) -> list[DispatchRow]:
        with self.store.read() as session:
            return list(session.scalars(select(DispatchRow).where(DispatchRow.task_id == task_id)
                                        .order_by(DispatchRow.id)))

    def log(self, task_id: int) -> list[TaskLogRow]:
        with self.store.read() as session:
            return list(session.scalars(select(TaskLogRow).where(TaskLogRow.task_id == task_id)
                                        .order_by(TaskLogRow.id)))

    def audit_rows(self) -> list[AuditRow]:
        with self.store.read() as session:
            return list(session.scalars(select(AuditRow).order_by(AuditRow.id)))

    def fire_due(self, seconds: float) -> Outcome:
        return self.do("fire_due", self.at(seconds))

    def close(self) -> None:
        self.store.dispose()


@pytest.fixture
def desk(db_url: str, tmp_path: Path) -> Any:
    made: list[Desk] = []

    def make(**sections: Any) -> Desk:
        made.append(Desk(db_url, tmp_path, **sections))
        return made[-1]

    yield make
    for d in made:
        d.close()


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
             code=location_code("demo", Place("1号楼", "3F", "西侧走廊")))
    with pytest.raises(PlaceError):
        d.do("guard_step", dispatch.id, "near", "arrive", d.at(30), code="hello")
    d.do("scan", "near", SCENE, d.at(40))  # a checkpoint scan at the scene is the arrival
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
    d.do("guard_step", dispatch.id, "g1", "arrive", d.at(50), code=SCENE)
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


def test_dispatch_not_accepted_in_time_goes_to_the_next_guard_and_tells_the_supervisor(desk: Any) -> None:
    d = desk(dispatch={"accept_seconds": 20})
    d.guard_on("a", Place("1号楼", "3F", "西侧走廊"))
    d.guard_on("b", Place("1号楼", "5F", "电梯前室"))
    d.at(0)
    d.send("fp-1", "fire.alarm", "1-003")
    task = d.task()
    assert d.task().next_due_at == T0 + timedelta(seconds=20), "the acceptance deadline is the next due time"
    outcome = d.fire_due(21)
    first, second = d.dispatches(task.id)
    assert (first.guard, first.state) == ("a", "expired")
    assert (second.guard, second.state) == ("b", "assigned")
    assert any(n.kind == "escalation" and "supervisor" in n.roles for n in outcome.notices)
    assert any(n.kind == "dispatch" and n.users == ("b",) for n in outcome.notices)
    # b does not accept either, and nobody else is free: the supervisor hears so.
    outcome = d.fire_due(42)
    assert [x.state for x in d.dispatches(task.id)] == ["expired", "expired"]
    assert any(n.kind == "no_guard" for n in outcome.notices)
    # a guard declining sends the next one at once
    d.guard_on("c", Place("2号楼", "1F", "大堂"))
    d.do("dispatch", task.id, None, "op", d.at(50))
    third = d.dispatches(task.id)[-1]
    assert third.guard == "c"
    declined = d.do("guard_step", third.id, "c", "decline", d.at(51), text="正在处理另一起纠纷")
    assert d.dispatches(task.id)[-1].state == "declined"
    assert any(n.kind == "no_guard" for n in declined.notices), "a and b were just tried: nobody is left"
    # Ten minutes on, the guards who let it expire are asked again rather than nobody.
    d.do("dispatch", task.id, None, "op", d.at(51 + 601))
    assert d.dispatches(task.id)[-1].guard in ("a", "b")


def test_guard_not_on_scene_in_time_is_redispatched_with_a_fresh_deadline(desk: Any) -> None:
    d = desk()
    d.guard_on("slow", Place("1号楼", "3F", "西侧走廊"))
    d.guard_on("spare", Place("1号楼", "1F", "大堂"))
    d.at(0)
    d.send("fp-1", "fire.alarm", "1-003")
    task = d.task()
    slow = d.dispatches(task.id)[0]
    d.do("guard_step", slow.id, "slow", "accept", d.at(5))
    d.fire_due(61)  # arrive was due at 60 s after the dispatch
    dispatches = d.dispatches(task.id)
    # The guard on the way keeps going; a second guard is sent, and the deadline starts again.
    assert [(x.guard, x.state) for x in dispatches] == [("slow", "accepted"), ("spare", "assigned")]
    assert d.step("arrive")["due_at"] == (T0 + timedelta(seconds=61 + 60)).isoformat()
    d.do("guard_step", slow.id, "slow", "arrive", d.at(70), code=SCENE)
    d.do("answer", task.id, "confirm", "no", "slow", "guard", d.at(75))
    assert d.step("confirm")["actor"] == "slow"


def test_with_nobody_free_the_overdue_arrival_escalates_again_and_again(desk: Any) -> None:
    d = desk()
    d.guard_on("only", Place("1号楼", "3F", "西侧走廊"))
    d.at(0)
    d.send("fp-1", "fire.alarm", "1-003")
    task = d.task()
    d.do("guard_step", d.dispatches(task.id)[0].id, "only", "accept", d.at(5))
    first = d.fire_due(61)
    second = d.fire_due(122)
    for outcome in (first, second):
        assert {n.kind for n in outcome.notices} >= {"escalation", "no_guard"}
    assert d.dispatches(task.id)[0].state == "accepted", "the one guard on the way is never taken off"


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


def test_guard_may_act_only_on_their_own_accepted_task_and_only_on_guard_steps(desk: Any) -> None:
    d = desk()
    d.guard_on("g1", Place("1号楼", "3F", "东侧走廊"))
    d.guard_on("g2", Place("2号楼", "1F", "大堂"))
    d.at(0)
    d.send("fp-1", "fire.alarm", "1-003")
    task = d.task()
    dispatch = d.dispatches(task.id)[0]
    with pytest.raises(Forbidden, match="who accepted it"):
        d.do("answer", task.id, "confirm", "no", "g1", "guard", d.at(2))
    d.do("guard_step", dispatch.id, "g1", "accept", d.at(3))
    assert d.do("guard_step", dispatch.id, "g1", "accept", d.at(4)).replayed  # a retry changes nothing
    assert [e.action for e in d.log(task.id)].count("accepted") == 1
    with pytest.raises(TaskError, match="scans the location's QR code"):
        d.do("answer", task.id, "arrive", None, "g1", "guard", d.at(4))
    with pytest.raises(Forbidden, match="only the guard's steps"):
        d.do("answer", task.id, "reset", None, "g1", "guard", d.at(5))
    with pytest.raises(Forbidden):
        d.do("answer", task.id, "confirm", "no", "g2", "guard", d.at(5))
    with pytest.raises(TaskError, match="report from the scene"):
        d.do("guard_step", dispatch.id, "g1", "report", d.at(6))
    with pytest.raises(TaskError, match="before signing off"):
        d.do("shift", "g1", False, d.at(7))


def test_reports_count_real_tasks_and_keep_drills_apart(desk: Any) -> None:
    from console import reports
    from console.alarms.engine import acknowledge

    d = desk()
    d.guard_on("g1", Place("1号楼", "3F", "西侧走廊"))
    d.at(0)
    d.send("fp-1", "fire.alarm", "1-003")  # A: a false alarm, handled in time
    a = d.task()
    with d.store.write() as session, session.begin():
        alarm = session.get(AlarmRow, a.alarm_id)
        acknowledge(alarm, "op", None, d.at(20))
        d.tasks.on_alarm_acked(session, alarm, "op", d.now)
    dispatch = d.dispatches(a.id)[0]
    d.do("guard_step", dispatch.id, "g1", "accept", d.at(30))
    d.do("guard_step", dispatch.id, "g1", "arrive", d.at(40), code=SCENE)
    d.do("answer", a.id, "confirm", "no", "g1", "guard", d.at(60))
    d.do("close", a.id, "sup", "supervisor", d.at(300), reason="误报，已复位")
    d.at(1000)
    d.send("fp-1", "fire.alarm")  # B: nobody answers; at 3 minutes it is handled as a real fire
    b = d.task()
    d.fire_due(1200)
    d.at(2000)
    d.send("door-1", "access.door_forced", test=True)  # C: a drill
    c = d.task()
    d.do("close", c.id, "sup", "supervisor", d.at(2100), reason="演练结束")

    window = reports.Window(T0, T0 + timedelta(days=1), "日报")
    with d.store.read() as session:
        report = reports.build(session, d.tasks.book, d.tasks.registry, window)
    assert report["alarms_by_kind"] == {"fire.alarm": 2} and report["tasks_opened"] == 2
    assert report["times"]["to_acknowledge"] == {"count": 1, "median_s": 20.0, "p90_s": 20.0, "max_s": 20.0}
    assert report["times"]["to_dispatch"]["count"] == 2 and report["times"]["to_dispatch"]["max_s"] == 0.0
    assert report["times"]["to_arrive"] == {"count": 1, "median_s": 40.0, "p90_s": 40.0, "max_s": 40.0}
    assert report["times"]["to_close"]["count"] == 1 and report["times"]["to_close"]["median_s"] == 300.0
    assert {(r["step"], r["count"]) for r in report["deadline_breaches"]} == {("ack", 1), ("arrive", 1), ("confirm", 1)}
    # B's "real fire" came from the deadline, not from a person: it is not a finding either way.
    assert report["false_alarms"] == [{"site": "demo", "device_id": "fp-1", "device_name": "1号楼火灾报警控制器",
                                       "decided": 1, "false": 1, "ratio": 1.0}]
    assert [(r["task_id"], r["state"]) for r in report["drills"]] == [(c.id, "closed")]
    assert b.id not in [r["task_id"] for r in report["drills"]]
    csv_text = reports.to_csv(report)
    assert "false_alarms,fp-1,ratio,1.0" in csv_text and "times,to_arrive,median_s,40.0" in csv_text
    html = reports.to_html(report, "测试小区", "Asia/Shanghai")
    assert "误报率" in html and "100%" in html and "2026-11-26 10:00" in html


def test_shift_handover_snapshots_what_is_open_and_needs_two_different_signatures(desk: Any) -> None:
    from console.tasks import handover

    d = desk()
    d.at(0)
    d.send("door-1", "access.door_forced")
    with d.store.write() as session, session.begin():
        row, _ = handover.start(session, d.tasks, d.tasks.registry, "op1", "1号楼大堂门磁待修", d.at(60))
        handover_id, task_id = row.id, row.task_id
    snapshot = d.task(task_id)
    assert snapshot.sop_id == "shift.handover" and snapshot.alarm_id is None
    for step_id in ("arrive", "open_events", "isolation", "faults", "keys_radios", "signal_test"):
        d.do("answer", task_id, step_id, None, "op2" if step_id in ("arrive", "keys_radios", "signal_test") else "op1",
             "operator", d.at(120))
    d.do("answer", task_id, "orders", "无", "op1", "operator", d.at(130))
    d.do("answer", task_id, "watch", "大堂门磁待修，注意巡查", "op1", "operator", d.at(131))
    d.do("answer", task_id, "sign_out", None, "op1", "operator", d.at(140))
    with pytest.raises(TaskError, match="must be someone else's"):
        d.do("answer", task_id, "sign_in", None, "op1", "operator", d.at(141))
    d.do("answer", task_id, "sign_in", None, "op2", "operator", d.at(150))
    d.do("close", task_id, "op2", "operator", d.at(151))
    with d.store.read() as session:
        from console.store.tables import HandoverRow
        row = session.get(HandoverRow, handover_id)
        view = handover.view(row, session.get(TaskRow, task_id))
    assert view["complete"] and view["outgoing"]["by"] == "op1" and view["incoming"]["by"] == "op2"
    assert [t["sop_id"] for t in view["snapshot"]["open_tasks"]] == ["access.door_forced"]
    assert view["snapshot"]["open_alarms"] == 1 and view["notes"] == "1号楼大堂门磁待修"


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


def test_two_dispatches_at_once_never_send_the_same_guard_twice(desk: Any) -> None:
    import threading

    d = desk()
    d.guard_on("g1", Place("1号楼", "1F", "大堂"))
    d.at(0)
    d.send("door-1", "access.door_forced")
    first = d.task().id
    d.send("lane-in", "access.door_forced")
    second = d.task().id
    barrier = threading.Barrier(2)
    results: dict[int, str] = {}

    def dispatch(task_id: int) -> None:
        barrier.wait()
        try:
            d.do("dispatch", task_id, None, "op", d.at(5))
            results[task_id] = "sent"
        except TaskError as exc:
            results[task_id] = str(exc)

    threads = [threading.Thread(target=dispatch, args=(t,)) for t in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    outcomes = list(results.values())
    assert outcomes.count("sent") == 1 and any("no free guard" in o for o in outcomes), outcomes
    with d.store.read() as session:
        active = session.scalars(select(DispatchRow).where(DispatchRow.state == "assigned")).all()
    assert [x.guard for x in active] == ["g1"]


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
