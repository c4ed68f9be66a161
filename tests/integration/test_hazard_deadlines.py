"""The hazard procedures' time limits on a controlled clock, through the real ingest path and a real
store (a SQLite file, and PostgreSQL): a lift contractor late at 30 minutes, people trapped for two
hours, an isolated fire point patrolled every two hours until it is restored."""

from __future__ import annotations

from typing import Any

from tests.conftest import DEVICES
from tests.integration.test_hazard_procedures import HAZARD_DEVICES

ROOM = {"entries": DEVICES + HAZARD_DEVICES}


def test_a_lift_contractor_not_on_site_in_thirty_minutes_escalates_to_the_supervisor(desk: Any) -> None:
    d = desk(devices=ROOM)
    d.at(0)
    d.send("lift-1", "elevator.trapped", car="1号客梯", floor="5F", people=2)
    task = d.task()
    assert (task.sop_id, task.severity_rank) == ("elevator.trapped", 1)
    d.do("answer", task.id, "trapped", "yes", "op", "operator", d.at(20))
    d.do("answer", task.id, "call_contractor", {"engineer_on_duty": "李工", "contractor": "某电梯公司",
                                                "person_answered": "值班员小王", "call_time": "10:01"},
         "op", "operator", d.at(60))
    assert d.step("contractor_on_site")["due_at"] == d.at(1800).isoformat()

    assert [n for n in d.fire_due(1799).notices if "维保单位技术人员到场" in n.body] == []
    late = [n for n in d.fire_due(1800).notices if "维保单位技术人员到场" in n.body]
    assert len(late) == 1 and late[0].roles == ("supervisor",), late
    assert "电梯困人处置" in late[0].title and "1号楼 1号客梯" in late[0].body
    assert d.fire_due(1900).notices == [], "each deadline is told once"

    # Nobody out after two hours: an accident, the supervisor and the project manager are told.
    accident = [n for n in d.fire_due(7200).notices if "被困超过2小时" in n.body]
    assert len(accident) == 1 and accident[0].roles == ("supervisor", "project_manager")


def test_the_contractor_limit_is_one_hour_where_the_site_says_so(desk: Any) -> None:
    d = desk(devices=ROOM, sops={"limits": {"elevator.trapped": {"contractor_on_site": 3600}}})
    d.at(0)
    d.send("lift-1", "elevator.trapped")
    task = d.task()
    d.do("answer", task.id, "trapped", "yes", "op", "operator", d.at(20))
    assert d.step("contractor_on_site")["due_at"] == d.at(3600).isoformat()
    assert not [n for n in d.fire_due(1800).notices if "维保单位技术人员到场" in n.body]


def test_an_isolated_point_asks_for_a_patrol_every_two_hours_until_the_panel_restores_it(desk: Any) -> None:
    d = desk(devices=ROOM)
    d.at(0)
    d.send("fp-1", "fire.isolated", "1-003")
    task = d.task()
    assert d.step("patrol")["due_at"] == d.at(7200).isoformat()
    d.do("answer", task.id, "patrol", None, "op", "operator", d.at(5000))
    assert (d.step("patrol")["rounds"], d.step("patrol")["due_at"]) == (1, d.at(12200).isoformat())
    late = [n for n in d.fire_due(12200).notices if "补偿巡查" in n.body]
    assert len(late) == 1 and late[0].roles == ("supervisor",)
    d.do("answer", task.id, "patrol", None, "op", "operator", d.at(12500))
    assert d.step("patrol")["rounds"] == 2

    d.at(13000)
    d.send("fp-1", "fire.restore", "1-003", of="fire.isolated")
    assert d.step("restored")["status"] == "done" and d.step("restored")["actor"] == "system"
    assert d.step("patrol")["status"] == "done" and d.step("patrol")["due_at"] is None
    assert d.fire_due(40000).notices == [], "no patrol is asked for once the point is restored"
    log = [(row.action, row.step) for row in d.log(task.id)]
    assert ("answer", "restored") in log and ("alarm_cleared", None) in log
