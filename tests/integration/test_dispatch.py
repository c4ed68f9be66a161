"""Guards dispatched to tasks, on a controllable clock with a real store: acceptance deadlines,
re-dispatch and backups, what a guard may do, and two dispatches at once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from console.store.tables import DispatchRow
from console.tasks.machine import TaskError
from console.tasks.outcome import Forbidden
from console.tasks.places import Place
from tests.support.desk import T0


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
    d.do("guard_step", slow.id, "slow", "arrive", d.at(70), code=d.code())
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
