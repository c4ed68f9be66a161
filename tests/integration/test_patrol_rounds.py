"""Patrol rounds on a controlled clock, through the real ingest path and a real store (a SQLite
file, and PostgreSQL): a schedule makes rounds, a guard walks one on time, a point scanned late is
late, a point never scanned raises patrol.checkpoint_missed and opens SOP 13 with the guard's last
known point, a round never started raises patrol.round_missed, and all of it holds across a
console restart (a new console on the same store), because every due time is stored."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from console.contract import InboundMessage
from console.errors import Refusal
from console.patrol import reports
from console.people import reports as shift_reports
from console.store.database import Store
from console.store.tables import AlarmRow, EventRow, EvidenceRow, OutboxRow, RoundPointRow, RoundRow
from console.tasks.places import Place
from console.tasks.tags import TagBook
from tests.support.desk import JPEG, T0

MIN = 60
LOBBY, EAST, GARAGE = Place("1号楼", "1F", "大堂"), Place("1号楼", "3F", "东侧走廊"), Place("地下车库", "B1", "入口")
# T0 is 10:00 in Asia/Shanghai; the schedule's rounds fall due at 10:30 and 12:30.


def setup_route(d: Any, times: tuple[str, ...] = ("10:30", "12:30"), **schedule: Any) -> dict[str, int]:
    """Three checkpoints on an ordered route (5 minutes apart), walked at ``times``; g1 and g2 on shift."""
    d.guard_on("g1", LOBBY)
    d.guard_on("g2")
    ids = {
        "lobby": d.plan("add_checkpoint", "demo", {"name": "大堂", **_at(LOBBY)}, T0),
        "east": d.plan("add_checkpoint", "demo", {"name": "3F东侧消防门", **_at(EAST), "checklist": [
            {"id": "door", "text": "防火门关闭", "role": "engineering"},
            {"id": "extinguisher", "text": "灭火器在位", "role": "engineering"}]}, T0),
        "garage": d.plan("add_checkpoint", "demo", {"name": "车库入口", **_at(GARAGE)}, T0),
    }
    ids["route"] = d.plan("add_route", "demo", "夜间巡更一号线", True, [
        {"checkpoint": ids["lobby"], "minutes": 0}, {"checkpoint": ids["east"], "minutes": 5},
        {"checkpoint": ids["garage"], "minutes": 5}], T0)
    ids["schedule"] = d.plan("add_schedule", "demo", {"route_id": ids["route"], "times": list(times),
                                                      "start_window_minutes": 10, "limit_minutes": 30, **schedule},
                             "sup", T0)
    return ids


def _at(place: Place) -> dict[str, str]:
    return {"building": place.building, "floor": place.floor, "zone": place.zone}


def rounds(d: Any) -> list[RoundRow]:
    with d.store.read() as session:
        return list(session.scalars(select(RoundRow).order_by(RoundRow.due_at)))


def points(d: Any, round_id: int) -> list[RoundPointRow]:
    with d.store.read() as session:
        return list(session.scalars(select(RoundPointRow).where(RoundPointRow.round_id == round_id)
                                    .order_by(RoundPointRow.seq)))


def events(d: Any, kind: str) -> list[EventRow]:
    with d.store.read() as session:
        return list(session.scalars(select(EventRow).where(EventRow.kind == kind).order_by(EventRow.id)))


def cp(d: Any, checkpoint: int) -> str:
    with d.store.read() as session:
        return d.tags.code(session, "demo", checkpoint=checkpoint)  # type: ignore[no-any-return]


def scan(d: Any, guard: str, code: str, minutes: float, **kwargs: Any) -> Any:
    return d.patrol("scan", guard, code, d.at(minutes * MIN), **kwargs)


def test_a_schedule_makes_rounds_and_a_guard_walks_one_on_time(desk: Any) -> None:
    d = desk()
    ids = setup_route(d)
    d.patrol("due", d.at(0))
    [first] = rounds(d)
    assert (first.state, first.guard, first.due_at) == ("due", "g1", T0 + timedelta(minutes=30)), \
        "made an hour ahead and given to the guard on shift with the fewest rounds"
    assert first.start_by == T0 + timedelta(minutes=40)
    d.patrol("due", d.at(29 * MIN))
    assert [r.due_at for r in rounds(d)] == [T0 + timedelta(minutes=30)], "12:30 is more than an hour away"

    with pytest.raises(Refusal) as early:
        scan(d, "g1", cp(d, ids["lobby"]), 15)
        d.patrol("start", first.id, "g1", d.at(15 * MIN))
    # A scan outside any round's window only tells where the guard is; starting is refused.
    assert early.value.code == "patrol.round_early"

    scan(d, "g1", cp(d, ids["lobby"]), 25)
    scan(d, "g1", cp(d, ids["east"]), 30, checks={"door": "ok", "extinguisher": "ok"})
    scan(d, "g1", d.code(GARAGE), 36)  # the zone's own location label proves the checkpoint too
    [walked] = [r for r in rounds(d) if r.id == first.id]
    assert (walked.state, walked.started_at, walked.ended_at) == (
        "done", T0 + timedelta(minutes=25), T0 + timedelta(minutes=36))
    assert [(p.state, p.due_at) for p in points(d, first.id)] == [
        ("done", T0 + timedelta(minutes=35)), ("done", T0 + timedelta(minutes=40)), ("done", T0 + timedelta(minutes=45))]
    scans = events(d, "patrol.checkpoint")
    assert [(e.point, e.data["state"], e.data["guard"]) for e in scans] == [
        (f"cp-{ids['lobby']}", "done", "g1"), (f"cp-{ids['east']}", "done", "g1"), (f"cp-{ids['garage']}", "done", "g1")]
    # Scanning again (a phone replaying its queue) changes nothing: the first scan is the one that counts.
    scan(d, "g1", cp(d, ids["east"]), 37)
    assert points(d, first.id)[1].scanned_at == T0 + timedelta(minutes=30)
    assert len(events(d, "patrol.checkpoint")) == 3
    with d.store.read() as session:
        assert session.scalars(select(OutboxRow)).all() == [], "every outbox event reached the store"
        assert session.scalars(select(AlarmRow)).all() == [], "a round walked on time raises nothing"


def test_late_and_missed_points_and_a_missed_round_across_a_restart(desk: Any) -> None:
    d = desk()
    ids = setup_route(d, times=("10:30", "11:30"))
    d.patrol("due", d.at(0))
    d.patrol("due", d.at(31 * MIN))
    # 10:31 g1 starts: lobby due 10:41, east 10:46, garage 10:51 (5 minutes apart plus 10 of tolerance).
    scan(d, "g1", cp(d, ids["lobby"]), 31)
    # The phone was offline in the stairwell: the scan at 10:45 arrives at 10:49 with its own time.
    scan(d, "g1", cp(d, ids["east"]), 49, scanned_at=T0 + timedelta(minutes=45))
    d.close()

    d = desk()  # the console restarts: everything below comes from the stored due times
    d.patrol("due", d.at(50 * MIN))
    [late_round, next_round] = rounds(d)
    east = points(d, late_round.id)[1]
    assert (east.state, east.scanned_at, east.received_at, east.device_time) == (
        "done", T0 + timedelta(minutes=45), T0 + timedelta(minutes=49), T0 + timedelta(minutes=45)), \
        "the scan counts at the phone's time, and both clocks are kept"
    assert events(d, "patrol.checkpoint_missed") == []
    d.patrol("due", d.at(52 * MIN))
    garage = points(d, late_round.id)[2]
    assert (garage.state, garage.missed_at) == ("missed", T0 + timedelta(minutes=51))
    [missed] = events(d, "patrol.checkpoint_missed")
    assert (missed.point, missed.data["guard"], missed.data["name"]) == (f"cp-{ids['garage']}", "g1", "车库入口")
    assert missed.data["last_place"] == "1号楼 3F 东侧走廊", "SOP 13 starts from the guard's last known point"
    task = d.task()
    assert (task.sop_id, task.device_id, task.point, task.assignee) == (
        "patrol.checkpoint_missed", "patrol", f"cp-{ids['garage']}", None)
    assert d.tasks.records.scene_of(task) == GARAGE, "the alarm is at the missed checkpoint's place"
    assert d.step("scanned")["status"] == "open"

    # The guard scans the missed point in the grace window: late, and SOP 13's first question answers itself.
    scan(d, "g1", cp(d, ids["garage"]), 55)
    garage = points(d, late_round.id)[2]
    assert garage.state == "late"
    assert (d.step("scanned")["status"], d.step("scanned")["answer"], d.step("scanned")["actor"]) == ("done", "yes", "g1")
    assert [r.state for r in rounds(d) if r.id == late_round.id] == ["late"], \
        "every point walked, one after its time: the round is late"

    # The 11:30 round is never started: at 11:40 (its window's end) it is missed.
    d.patrol("due", d.at(99 * MIN))
    assert [r.state for r in rounds(d) if r.id == next_round.id] == ["due"]
    d.close()
    d = desk()
    d.patrol("due", d.at(101 * MIN))
    [never] = [r for r in rounds(d) if r.id == next_round.id]
    assert (never.state, never.ended_at) == ("missed", T0 + timedelta(minutes=100))
    [round_missed] = events(d, "patrol.round_missed")
    assert (round_missed.point, round_missed.data["round"], round_missed.ts) == (
        f"route-{ids['route']}", str(next_round.id), T0 + timedelta(minutes=100))
    assert d.task().sop_id == "patrol.checkpoint_missed" and d.task().alarm_kind == "patrol.round_missed"
    d.patrol("due", d.at(105 * MIN))
    assert len(events(d, "patrol.round_missed")) == 1, "told once, however often the clock ticks"


def test_a_round_the_guard_ends_early_misses_the_points_left(desk: Any) -> None:
    d = desk()
    ids = setup_route(d, times=("10:30",))
    d.patrol("due", d.at(0))
    scan(d, "g1", cp(d, ids["lobby"]), 28)
    d.patrol("finish", rounds(d)[0].id, "g1", d.at(33 * MIN))
    [ended] = rounds(d)
    assert ended.state == "incomplete"
    assert [p.state for p in points(d, ended.id)] == ["done", "missed", "missed"]
    assert len(events(d, "patrol.checkpoint_missed")) == 2


def test_a_failed_check_with_a_photo_becomes_a_work_order_for_engineering(desk: Any) -> None:
    d = desk()
    ids = setup_route(d, times=("10:30",))
    d.patrol("due", d.at(0))
    photo = d.tasks.keep_photo(JPEG, "image/jpeg")
    scan(d, "g1", cp(d, ids["lobby"]), 25, note="大堂灯全亮")
    scan(d, "g1", cp(d, ids["east"]), 30, checks={"door": "failed", "extinguisher": "ok"},
         note="防火门被楔子卡住开着", photo=photo)
    [finding] = events(d, "patrol.finding")
    assert (finding.point, finding.data["note"]) == (f"cp-{ids['lobby']}", "大堂灯全亮")
    [defect] = events(d, "patrol.defect")
    assert (defect.data["item"], defect.data["role"], defect.data["photo"], defect.data["note"]) == (
        "door", "engineering", photo, "防火门被楔子卡住开着")
    task = d.task()
    assert (task.sop_id, task.alarm_kind) == ("patrol.defect", "patrol.defect")
    with d.store.read() as session:
        sop = d.tasks.book.sops[task.sop_id]
        assert [s.role for s in sop.steps if s.id == "repaired"] == ["engineering"]
    d.patrol("link_photos", d.at(31 * MIN))
    with d.store.read() as session:
        [evidence] = session.scalars(select(EvidenceRow).where(EvidenceRow.task_id == task.id)).all()
    assert (evidence.sha256, evidence.uploaded_by) == (photo, "g1"), "the guard's photo is the work order's evidence"
    d.patrol("link_photos", d.at(32 * MIN))
    with d.store.read() as session:
        assert len(session.scalars(select(EvidenceRow)).all()) == 1
    with pytest.raises(Refusal) as unknown:
        scan(d, "g1", cp(d, ids["garage"]), 33, photo="0" * 64)
    assert unknown.value.code == "patrol.photo_unknown"


def test_an_isolated_fire_point_gets_a_compensating_round_every_two_hours_until_restored(desk: Any) -> None:
    d = desk()
    d.guard_on("g1", LOBBY)
    d.at(0)
    d.send("fp-1", "fire.isolated", "1-003")
    d.patrol("due", d.at(60))
    made = rounds(d)
    assert [(r.due_at, r.guard, r.name.startswith("屏蔽补偿巡查")) for r in made] == [(T0, "g1", True)]
    [spot] = points(d, made[0].id)
    assert spot.name == "屏蔽区 1号楼 3层 东侧走廊 感烟探测器"
    scan(d, "g1", d.code(EAST), 5)  # the zone's location label
    d.patrol("due", d.at(61 * MIN))
    assert [(r.due_at, r.state) for r in rounds(d)] == [(T0, "done"), (T0 + timedelta(hours=2), "due")]
    d.send("fp-1", "fire.restore", "1-003", of="fire.isolated")
    d.patrol("due", d.at(62 * MIN))
    assert [(r.due_at, r.state) for r in rounds(d)] == [(T0, "done"), (T0 + timedelta(hours=2), "cancelled")]
    d.patrol("due", d.at(4 * 60 * MIN))
    assert len(rounds(d)) == 2, "no round after the isolation is restored"


def test_the_report_counts_done_late_and_missed_against_the_stored_scans(desk: Any) -> None:
    d = desk()
    ids = setup_route(d, times=("10:30", "11:30", "12:30"))
    d.patrol("due", d.at(0))
    for minute, checkpoint in ((25, "lobby"), (30, "east"), (35, "garage")):  # on time
        scan(d, "g1", cp(d, ids[checkpoint]), minute)
    d.patrol("due", d.at(80 * MIN))
    d.patrol("due", d.at(85 * MIN))
    guard = next(r for r in rounds(d) if r.due_at == T0 + timedelta(minutes=90)).guard
    scan(d, guard, cp(d, ids["lobby"]), 85)
    scan(d, guard, cp(d, ids["east"]), 105, checks={"door": "failed"})  # late (due 11:40)
    d.patrol("due", d.at(121 * MIN))  # the garage missed at 11:50; the 12:30 round made
    d.patrol("due", d.at(161 * MIN))  # 12:30 never started → missed at 12:40
    with d.store.read() as session:
        figures = reports.figures(session, T0, T0 + timedelta(hours=4))
        stored = session.scalars(select(RoundPointRow)).all()
    totals = figures["totals"]
    assert (totals["rounds"], totals["rounds_done"], totals["rounds_incomplete"], totals["rounds_missed"]) == (3, 1, 1, 1)
    assert (totals["points"], totals["points_done"], totals["points_late"], totals["points_missed"]) == (9, 4, 1, 4)
    assert totals["points_done"] == sum(1 for p in stored if p.state == "done" and p.scanned_at is not None)
    assert totals["completion_rate"] == round(5 / 9, 4) and totals["on_time_rate"] == round(4 / 9, 4)
    assert totals["defects"] == 1
    assert sum(g["rounds"] for g in figures["by_guard"].values()) == 3
    assert [r["state"] for r in figures["rounds"]] == ["done", "incomplete", "missed"]
    assert figures["rounds"][1]["points"][1]["state"] == "late"
    # The shift report carries the same figures, in JSON, CSV and print.
    with d.store.read() as session:
        shift = shift_reports.build(session, d.tasks.book, d.tasks.registry,
                                    shift_reports.Window(T0, T0 + timedelta(hours=4), "班报"))
    assert shift["patrol"]["totals"] == totals
    assert "patrol,all,completion_rate,0.5556" in shift_reports.to_csv(shift).splitlines()
    html = shift_reports.to_html(shift, "测试小区", "Asia/Shanghai")
    assert "巡更 / Patrol rounds" in html and "56%" in html


def test_codes_that_are_forged_re_issued_unsigned_or_from_another_site_are_refused(desk: Any, tmp_path: Path) -> None:
    d = desk()
    ids = setup_route(d, times=("10:30",))
    good = cp(d, ids["east"])
    site, checkpoint, tail = good[len("mcc:cp:"):].split("/")
    issue, signature = tail.split(".")
    forged_signature = ("A" if signature[0] != "A" else "B") + signature[1:]

    def refused(code: str) -> str:
        with pytest.raises(Refusal) as caught:
            d.do("scan", "g1", code, d.at(60))
        return caught.value.code

    assert refused(f"mcc:cp:{site}/{checkpoint}/{issue}.{forged_signature}") == "tag.forged"
    assert refused(f"mcc:cp:{site}/{ids['lobby']}/{issue}.{signature}") == "tag.forged", \
        "a signature does not carry over to another checkpoint"
    assert refused("mcc:loc:demo/1号楼/3F/东侧走廊") == "tag.unsigned"
    assert refused(f"mcc:cp:elsewhere/{checkpoint}/{issue}.{signature}") == "place.other_site"
    # A label printed, validly, by another site's console (its own key, its own store).
    other = Store(f"sqlite:///{tmp_path / 'other-site.db'}")
    other.migrate()
    theirs = TagBook({"elsewhere"})
    theirs.ensure_keys(other, T0)
    with other.read() as session:
        foreign = theirs.code(session, "elsewhere", place=EAST)
    other.dispose()
    assert refused(foreign) == "place.other_site"
    with d.store.write() as session, session.begin():
        new = d.tags.reissue(session, "demo", "sup", d.at(70), checkpoint=ids["east"])
    assert new != good and new.startswith(f"mcc:cp:demo/{checkpoint}/2.")
    assert refused(good) == "tag.reissued"
    d.do("scan", "g1", new, d.at(80))  # the new label works



def test_a_patrol_wand_uploaded_later_walks_the_round_at_the_wand_s_times(desk: Any) -> None:
    d = desk(adapters=[{"type": "native"}, {"type": "patrol-wand"}])
    ids = setup_route(d, times=("10:30",))
    for name, serial in (("lobby", "00A1B2C3D4"), ("east", "00A1B2C3D5"), ("garage", "00A1B2C3D6")):
        d.plan("update_checkpoint", ids[name], {"wand_tag": serial})
    d.patrol("due", d.at(0))
    d.patrol("due", d.at(30 * MIN))
    d.patrol("due", d.at(41 * MIN))  # nothing heard of the round by 10:40: the clock marks it missed
    assert [r.state for r in rounds(d)] == ["missed"] and len(events(d, "patrol.round_missed")) == 1
    # The wand was carried round at 10:28, 10:33 and 10:38 (Asia/Shanghai) and docked at 10:50.
    upload = {"wand": "W-0017", "guard": "g1", "records": [
        {"seq": 7, "tag": "00a1b2c3d4", "time": "2026-11-26 10:28:00"},
        {"seq": 8, "tag": "00A1B2C3D5", "time": "2026-11-26 10:33:00"},
        {"seq": 9, "tag": "00A1B2C3D6", "time": "2026-11-26 10:38:00"}]}
    d.at(50 * MIN)
    body = json.dumps(upload).encode()
    d.ingest.process([InboundMessage("patrolwand/W-0017/upload", body, False, d.now)])
    d.ingest.process([InboundMessage("patrolwand/W-0017/upload", body, False, d.now)])  # sent twice
    assert len([e for e in events(d, "patrol.checkpoint") if e.device_id == "W-0017"]) == 3
    d.patrol("due", d.at(51 * MIN))
    [walked] = rounds(d)
    assert (walked.state, walked.started_at) == ("done", T0 + timedelta(minutes=28))
    assert [(p.state, p.via, p.scanned_by, p.scanned_at, p.received_at) for p in points(d, walked.id)] == [
        ("done", "wand", "g1", T0 + timedelta(minutes=m), T0 + timedelta(minutes=50)) for m in (28, 33, 38)]
    d.close()
    d = desk(adapters=[{"type": "native"}, {"type": "patrol-wand"}])  # a restart reads the last hours again
    d.patrol("due", d.at(52 * MIN))
    assert len(events(d, "patrol.checkpoint_missed")) == 0
    assert [p.scanned_at for p in points(d, walked.id)] == [T0 + timedelta(minutes=m) for m in (28, 33, 38)]
    # The round missed by the clock was walked after all: SOP 13's first question answered itself.
    task = d.task()
    assert (task.alarm_kind, d.step("scanned")["status"], d.step("scanned")["answer"]) == (
        "patrol.round_missed", "done", "yes")



def test_an_old_scan_does_not_walk_a_later_round_and_overlapping_rounds_each_get_their_scan(desk: Any) -> None:
    d = desk()
    ids = setup_route(d, times=("10:30", "11:00"), limit_minutes=60, guard="g1")
    d.patrol("due", d.at(0))
    # A scan the phone took at 09:10 and sends at 10:28 proves nothing about the 10:30 round.
    d.patrol("scan", "g1", cp(d, ids["lobby"]), d.at(28 * MIN), scanned_at=T0 - timedelta(minutes=50))
    assert [r.state for r in rounds(d)] == ["due"] and points(d, rounds(d)[0].id)[0].scanned_at is None
    for minute, name in ((28, "lobby"), (33, "east")):
        scan(d, "g1", cp(d, ids[name]), minute)
    d.patrol("due", d.at(58 * MIN))
    # 11:00: the 10:30 round is still open (its garage point is pending), yet the lobby scan belongs
    # to the 11:00 round, whose lobby point is still to walk.
    scan(d, "g1", cp(d, ids["lobby"]), 60)
    first, second = rounds(d)
    assert [p.state for p in points(d, second.id)][0] == "done" and second.state == "started"
    assert [p.scanned_at for p in points(d, first.id)][0] == T0 + timedelta(minutes=28)


def test_a_scan_taken_in_time_but_heard_of_after_the_clock_marked_it_missed_is_on_time(desk: Any) -> None:
    d = desk()
    ids = setup_route(d, times=("10:30",))
    d.patrol("due", d.at(0))
    scan(d, "g1", cp(d, ids["lobby"]), 28)  # lobby 10:38, east 10:43, garage 10:48 due
    d.patrol("due", d.at(44 * MIN))  # east missed at 10:43
    assert [p.state for p in points(d, rounds(d)[0].id)][1] == "missed"
    scan(d, "g1", cp(d, ids["east"]), 45, scanned_at=T0 + timedelta(minutes=42))  # taken 10:42, heard 10:45
    east = points(d, rounds(d)[0].id)[1]
    assert (east.state, east.missed_at) == ("done", None)
    assert d.step("scanned")["answer"] == "yes"


def test_a_round_s_photo_rule_never_holds_up_a_guard_s_arrival_at_an_alarm(desk: Any) -> None:
    d = desk()
    ids = setup_route(d, times=("10:30",))
    d.plan("update_checkpoint", ids["east"], {"photo_required": True})
    d.patrol("due", d.at(0))
    scan(d, "g1", cp(d, ids["lobby"]), 28)
    d.at(29 * MIN)
    d.send("fp-1", "fire.alarm", "1-003")  # 1号楼 3F 东侧走廊: g1 is sent
    [dispatch] = d.dispatches(d.task().id)
    assert dispatch.guard == "g1"
    scan(d, "g1", d.code(EAST), 31)  # the scene's label, no photo: the arrival counts, the point waits
    assert d.dispatches(d.task().id)[0].state == "on_scene"
    assert points(d, rounds(d)[0].id)[1].state == "pending"
    with pytest.raises(Refusal) as held:
        scan(d, "g1", cp(d, ids["east"]), 32)
    assert held.value.code == "patrol.photo_required", "a scan that is no arrival still meets the round's rules"
