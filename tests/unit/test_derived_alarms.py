"""Alarms derived from several events or from lists: a run of denials at one reader, a blocked
plate. Through the ingest path on a real SQLite file, with the SOP task each one opens."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from console.alarms.derived import normalise_plate
from console.contract import InboundMessage
from console.devices.registry import DeviceRegistry
from console.settings import Settings
from console.store.database import Store
from console.store.tables import AlarmRow, TaskRow
from console.tasks.service import TaskService
from console.tasks.sop import load_site_sops
from console.wire.ingest import Ingest
from tests.conftest import DEVICES


class Site:
    def __init__(self, tmp_path: Path, **sections: Any):
        self.settings = Settings(site={"id": "demo"}, database={"url": f"sqlite:///{tmp_path / 'd.db'}"},
                                 devices={"entries": DEVICES}, **sections)
        self.store = Store(self.settings.database.url)
        self.store.migrate()
        registry = DeviceRegistry.from_settings(self.settings)
        tasks = TaskService(self.settings, load_site_sops(self.settings), registry, tmp_path / "evidence")
        self.ingest = Ingest(self.settings, self.store, registry, tasks=tasks)
        self.clock = datetime(2026, 11, 26, 2, 0, tzinfo=timezone.utc)
        self.n = 0

    def send(self, device: str, kind: str, seconds: float = 1, **data: Any) -> None:
        self.n += 1
        self.clock += timedelta(seconds=seconds)
        body = {"id": f"e{self.n}", "ts": self.clock.isoformat(), "type": kind, "data": data}
        self.ingest.process([InboundMessage(f"mcc/v1/demo/{device}/event", json.dumps(body).encode(), False,
                                            self.clock)])

    def alarms(self, kind: str) -> list[AlarmRow]:
        with self.store.read() as session:
            return list(session.scalars(select(AlarmRow).where(AlarmRow.kind == kind)))

    def close(self) -> None:
        self.store.dispose()


@pytest.fixture
def site(tmp_path: Path) -> Any:
    made: list[Site] = []

    def make(**sections: Any) -> Site:
        made.append(Site(tmp_path / str(len(made)), **sections))
        return made[-1]

    yield make
    for s in made:
        s.close()


def test_five_denials_in_a_row_at_one_reader_raise_the_burst_alarm_and_its_task(site: Any) -> None:
    s = site()
    for _ in range(4):
        s.send("door-1", "access.denied", card="C-77")
    assert s.alarms("access.denied_burst") == []
    s.send("door-1", "access.denied", card="C-77")
    [alarm] = s.alarms("access.denied_burst")
    assert (alarm.device_id, alarm.severity, alarm.cleared, alarm.count) == ("door-1", "major", True, 1)
    s.send("door-1", "access.denied", card="C-77")  # the sixth counts on the same alarm
    [alarm] = s.alarms("access.denied_burst")
    assert alarm.count == 2
    with s.store.read() as session:
        task = session.scalars(select(TaskRow)).one()
    assert task.sop_id == "access.denied_burst" and task.alarm_id == alarm.id


def test_a_granted_card_breaks_the_run_and_slow_denials_are_no_burst(site: Any) -> None:
    s = site(rules={"denied_burst": {"count": 3, "window_seconds": 60}})
    s.send("door-1", "access.denied")
    s.send("door-1", "access.denied")
    s.send("door-1", "access.granted")
    s.send("door-1", "access.denied")
    s.send("door-1", "access.denied")
    assert s.alarms("access.denied_burst") == [], "the granted card reset the run"
    s.send("door-1", "access.denied", seconds=120)
    assert s.alarms("access.denied_burst") == [], "three in a row, but over more than 60 s"
    s.send("door-1", "access.denied", seconds=5)
    s.send("door-1", "access.denied", seconds=5)
    assert len(s.alarms("access.denied_burst")) == 1


def test_a_blocked_plate_raises_its_alarm_however_it_is_written(site: Any) -> None:
    s = site(rules={"plates": {"block": [{"plate": "粤B·12345", "reason": "欠费车辆"}]}})
    s.send("lane-in", "parking.entry", plate="粤A99999")
    assert s.alarms("parking.plate_blocked") == []
    s.send("lane-in", "parking.entry", plate="粤b 12345")
    [alarm] = s.alarms("parking.plate_blocked")
    assert alarm.device_id == "lane-in" and alarm.severity == "major"
    assert normalise_plate("粤B·12345") == normalise_plate("粤b-12345") == "粤B12345"


def test_a_flood_is_one_row_that_says_so(site: Any) -> None:
    from console.alarms.views import alarm_view

    s = site()
    for _ in range(9):
        s.send("door-1", "access.door_held_open", seconds=30)
    [alarm] = s.alarms("access.door_held_open")
    assert alarm.count == 9 and alarm_view(alarm, s.ingest.registry)["flood"] == {
        "count_10min": 9, "flooding": False, "flapping": False}
    s.send("door-1", "access.door_held_open", seconds=30)
    [alarm] = s.alarms("access.door_held_open")
    assert alarm_view(alarm, s.ingest.registry)["flood"] == {"count_10min": 10, "flooding": True, "flapping": False}
    s.send("door-1", "access.door_held_open", seconds=700)  # quiet for over ten minutes: a new window
    [alarm] = s.alarms("access.door_held_open")
    assert alarm.count == 11 and alarm_view(alarm, s.ingest.registry)["flood"]["count_10min"] == 1


def test_a_shelved_source_keeps_its_alarms_but_opens_no_task_and_fire_is_never_shelved(site: Any) -> None:
    from console.store.tables import ShelfRow

    s = site()
    with s.store.write() as session, session.begin():
        for device in ("door-1", "fp-1"):
            session.add(ShelfRow(site="demo", device_id=device, point=None, kind=None, reason="门磁故障待修",
                                 created_by="sup", created_at=s.clock, expires_at=s.clock + timedelta(hours=1)))
    s.send("door-1", "access.door_forced")
    s.send("fp-1", "fire.alarm")
    s.send("door-1", "access.duress")
    [forced] = s.alarms("access.door_forced")
    [fire] = s.alarms("fire.alarm")
    [duress] = s.alarms("access.duress")
    assert forced.shelved_until is not None and forced.task_id is None, "kept, counted, no task"
    assert fire.shelved_until is None and fire.task_id is not None, "a fire alarm is never shelved"
    assert duress.shelved_until is None and duress.task_id is not None, "nor any life-safety alarm"
    s.send("door-1", "access.door_forced", seconds=3700)  # after the shelf expired: back, with its task
    [forced] = s.alarms("access.door_forced")
    assert forced.shelved_until is None and forced.task_id is not None


def test_car_park_occupancy_from_entries_and_exits(site: Any) -> None:
    from console.devices.parking import occupancy

    s = site(parking={"car_parks": {"地下车库": {"capacity": 3, "baseline": 1}}})
    for plate in ("粤B11111", "粤B22222", "粤B33333"):
        s.send("lane-in", "parking.entry", plate=plate)
    s.send("lane-in", "parking.exit", plate="粤B11111")
    s.send("lane-in", "parking.entry", plate="粤B44444", test=True)  # a drill car does not count
    with s.store.read() as session:
        [park] = occupancy(session, s.settings, s.ingest.registry, s.clock)
    assert park["lanes"] == ["lane-in"], "lanes whose building is the car park"
    assert (park["occupied"], park["free"], park["over_capacity"]) == (3, 0, False)
    assert (park["entries_today"], park["exits_today"]) == (3, 1)
    s.send("lane-in", "parking.entry", plate="粤B55555")
    with s.store.read() as session:
        [park] = occupancy(session, s.settings, s.ingest.registry, s.clock)
    assert (park["occupied"], park["free"], park["over_capacity"]) == (4, 0, True)


def test_an_alarm_still_open_when_its_shelf_expires_gets_its_task(site: Any) -> None:
    from console.store.tables import ShelfRow

    s = site()
    with s.store.write() as session, session.begin():
        session.add(ShelfRow(site="demo", device_id="door-1", point=None, kind=None, reason="施工期间",
                             created_by="sup", created_at=s.clock, expires_at=s.clock + timedelta(minutes=30)))
    s.send("door-1", "access.door_forced")
    [forced] = s.alarms("access.door_forced")
    assert forced.task_id is None
    tasks = s.ingest.tasks
    with s.store.write() as session, session.begin():
        assert tasks.open_unshelved(session, s.clock + timedelta(minutes=10)).hub == [], "still shelved"
    with s.store.write() as session, session.begin():
        out = tasks.open_unshelved(session, s.clock + timedelta(minutes=31))
    assert {m.type for m in out.hub} == {"alarm.updated", "task.updated"}
    [forced] = s.alarms("access.door_forced")
    assert forced.shelved_until is None and forced.task_id is not None
