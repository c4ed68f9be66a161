"""What tasks leave behind for supervisors: shift and daily reports, and the shift handover."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from console.store.tables import AlarmRow, TaskRow
from console.tasks.machine import TaskError
from console.tasks.places import Place
from tests.support.desk import T0


def test_reports_count_real_tasks_and_keep_drills_apart(desk: Any) -> None:
    from console.alarms.engine import acknowledge
    from console.people import reports

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
    d.do("guard_step", dispatch.id, "g1", "arrive", d.at(40), code=d.code())
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
