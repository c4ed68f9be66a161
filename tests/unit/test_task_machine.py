"""The task state machine on a controllable clock, with the shipped fire SOP."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from console.tasks.machine import Effect, TaskError, TaskMachine
from console.tasks.sop import load_sops

T0 = datetime(2026, 11, 26, 2, 0, tzinfo=timezone.utc)
BOOK = load_sops()
FIRE = BOOK.sops["fire.alarm"]
CALL_119 = {"unit_address": "演示小区 1号楼", "fire_location": "3层东侧走廊", "burning_material": "杂物",
            "fire_size": "小", "caller_name_phone": "张三 13800000000"}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def fire_task(book=BOOK) -> TaskMachine:  # type: ignore[no-untyped-def]
    return TaskMachine(book.sops["fire.alarm"], book, opened_at=T0)


def test_false_alarm_walkthrough_closes_with_every_step_timed_and_no_deadline_fired() -> None:
    task = fire_task()
    task.answer("ack", True, "op", at(10))
    task.answer("dispatch", True, "op", at(20))
    assert task.steps["arrive"].due_at == at(80), "on scene within 60 s of the dispatch"
    task.answer("cctv", True, "op2", at(25))
    task.answer("arrive", True, "guard7", at(70))
    task.answer("confirm", "no", "guard7", at(100))
    assert task.steps["call_119"].status == "skipped" and task.steps["cause"].status == "open"
    assert task.steps["reset"].due_at == at(100 + 900)
    task.answer("cause", "dust", "guard7", at(120))
    task.answer("reset", True, "op", at(200))
    task.answer("repair_record", "探测器积尘，已清洁", "op", at(260))
    task.answer("sign", True, "sup", at(300))
    assert task.fire_due(at(300)) == []
    task.close("op", "operator", at(301))
    assert task.closed_at == at(301)
    assert [(s.id, s.actor, s.done_at) for s in task.steps.values() if s.status == "done"][:2] == [
        ("ack", "op", at(10)), ("dispatch", "op", at(20))]


def test_unconfirmed_fire_at_three_minutes_is_handled_as_confirmed() -> None:
    task = fire_task()
    task.answer("ack", True, "op", at(5))
    task.answer("dispatch", True, "op", at(10))
    assert task.fire_due(at(179)) == [Effect("redispatch", "arrive", ("supervisor",))]
    effects = task.fire_due(at(180))
    assert effects == [Effect("advanced", "confirm", ("supervisor", "project_manager"), "yes")]
    assert task.steps["confirm"].answer == "yes" and task.steps["confirm"].actor == "deadline"
    assert task.steps["call_119"].status == "open" and task.steps["cause"].status == "skipped"
    with pytest.raises(TaskError, match="records every one of"):
        task.answer("call_119", {"unit_address": "1号楼"}, "op", at(190))
    task.answer("call_119", CALL_119, "op", at(200))


def test_a_deadline_that_fell_due_while_the_console_was_down_fires_at_once_and_once_only() -> None:
    task = fire_task()
    assert task.next_due() == at(30), "the earliest stored due time: acknowledge within 30 s"
    # Nothing was done; the console comes back ten minutes later.
    effects = task.fire_due(at(600))
    assert [(e.kind, e.step) for e in effects] == [
        ("notify", "ack"), ("notify", "dispatch"), ("advanced", "confirm")]
    assert task.fire_due(at(601)) == []
    assert task.next_due() is None


def test_closing_with_a_required_step_open_is_refused_unless_a_supervisor_gives_a_reason() -> None:
    task = fire_task()
    task.answer("ack", True, "op", at(5))
    with pytest.raises(TaskError, match="required steps are still open: dispatch, arrive, confirm"):
        task.close("op", "operator", at(60))
    with pytest.raises(TaskError, match="needs a reason"):
        task.close("sup", "supervisor", at(60), reason="  ")
    task.close("sup", "supervisor", at(60), reason="演练误触发，现场已核实")
    assert task.close_reason == "演练误触发，现场已核实"
    with pytest.raises(TaskError, match="closed"):
        task.answer("dispatch", True, "op", at(61))


def test_answers_must_fit_the_step() -> None:
    task = fire_task()
    with pytest.raises(TaskError, match="'yes' or 'no'"):
        task.answer("confirm", True, "guard", at(1))
    with pytest.raises(TaskError, match="not open"):
        task.answer("cause", "dust", "guard", at(1))  # its branch is not decided yet
    task.answer("confirm", "no", "guard", at(2))
    with pytest.raises(TaskError, match="one of: dust"):
        task.answer("cause", "aliens", "guard", at(3))
    with pytest.raises(TaskError, match="no step"):
        task.answer("lunch", True, "guard", at(3))


def test_a_site_override_moves_the_deadline() -> None:
    book = load_sops(overrides={"fire.alarm": {"confirm": 120}})
    task = fire_task(book)
    assert task.steps["confirm"].due_at == at(120)
    assert any(e.kind == "advanced" for e in task.fire_due(at(120)))


def test_a_repeat_joins_or_resets_as_the_sop_says() -> None:
    task = fire_task()
    task.repeat(at(50))
    assert task.repeats == 1 and task.steps["confirm"].due_at == at(180)  # join: clocks keep running
    reset_sop = FIRE.model_copy(update={"repeat": "reset"})
    task = TaskMachine(reset_sop, BOOK, opened_at=T0)
    task.repeat(at(50))
    assert task.steps["confirm"].due_at == at(230)


def test_a_recurring_patrol_reopens_after_each_round_until_the_alarm_clears() -> None:
    task = TaskMachine(BOOK.sops["fire.isolated"], BOOK, opened_at=T0)
    assert task.steps["patrol"].due_at == at(7200), "the first compensating patrol is due 2 h after the isolation"
    task.answer("who_why", "消防维保更换探测器", "op", at(60))
    task.answer("linkage", "no", "op", at(70))
    task.answer("patrol", True, "guard7", at(6000))
    patrol = task.steps["patrol"]
    assert (patrol.status, patrol.rounds, patrol.due_at, patrol.actor) == ("open", 1, at(6000 + 7200), "guard7")
    # The next round is late: the supervisor is told once, and the step stays open for the late round.
    assert task.fire_due(at(6000 + 7200)) == [Effect("notify", "patrol", ("supervisor",))]
    assert task.fire_due(at(6000 + 7300)) == []
    task.answer("patrol", True, "guard8", at(6000 + 7500))
    assert (task.steps["patrol"].rounds, task.steps["patrol"].due_at) == (2, at(6000 + 7500 + 7200))
    with pytest.raises(TaskError, match="required steps are still open: ack, restored"):
        task.close("op", "operator", at(14000))
    # The panel reports the point restored: the restore step is done and the patrols end.
    assert task.complete_by("alarm_clear", "system", at(15000)) == ["patrol", "restored"]
    assert task.steps["patrol"].status == "done" and task.steps["patrol"].due_at is None
    assert task.fire_due(at(30000)) == []
    with pytest.raises(TaskError, match="not open"):
        task.answer("patrol", True, "guard7", at(15100))
    reloaded = TaskMachine.load(task.sop, BOOK, T0, task.dump_steps())
    assert reloaded.steps["patrol"].rounds == 2, "the count of rounds survives the store"


def test_a_step_done_by_the_clear_waits_for_the_device_not_for_a_person() -> None:
    task = TaskMachine(BOOK.sops["safety.gas"], BOOK, opened_at=T0)
    assert task.steps["normal"].status == "open"
    assert task.complete_by("alarm_ack", "op", at(10)) == ["ack"]
    assert task.complete_by("alarm_clear", "system", at(600)) == ["normal"]
    assert task.steps["normal"].done_at == at(600)
