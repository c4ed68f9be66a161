"""The alarm engine through the ingest path on a real SQLite file (no broker needed here)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from console.alarms.engine import acknowledge
from console.alarms.rules import RAISES, SEVERITY_RANK
from console.contract import ALL_KINDS, InboundMessage
from console.devices.registry import DeviceRegistry
from console.messages import HubMessage
from console.settings import Settings
from console.store.database import Store
from console.store.tables import AlarmRow
from console.wire.ingest import Ingest
from tests.conftest import DEVICES


class Site:
    def __init__(self, tmp_path: Path):
        self.settings = Settings(site={"id": "demo"}, database={"url": f"sqlite:///{tmp_path / 'a.db'}"},
                                 devices={"entries": DEVICES})
        self.store = Store(self.settings.database.url)
        self.store.migrate()
        self.ingest = Ingest(self.settings, self.store, DeviceRegistry.from_settings(self.settings))
        self.clock = datetime(2026, 11, 26, 2, 0, tzinfo=timezone.utc)
        self.n = 0

    def send(self, device: str, kind: str, point: str = "", retain: bool = False, **data: Any) -> list[HubMessage]:
        self.n += 1
        self.clock += timedelta(seconds=1)
        body = {"id": f"e{self.n}", "ts": self.clock.isoformat(), "type": kind, "point": point, "data": data}
        message = InboundMessage(f"mcc/v1/demo/{device}/event", json.dumps(body).encode(), retain, self.clock)
        return self.ingest.process([message])

    def alarms(self) -> list[AlarmRow]:
        with self.store.read() as session:
            return list(session.scalars(select(AlarmRow).order_by(AlarmRow.id)))


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return Site(tmp_path)


def types(messages: list[HubMessage]) -> list[str]:
    return [m.type for m in messages if m.type != "event"]


def test_every_alarm_kind_is_canonical_and_fire_ranks_first() -> None:
    assert set(RAISES) <= ALL_KINDS
    assert RAISES["fire.alarm"] == "critical"
    assert min(SEVERITY_RANK[s] for s in RAISES.values()) == SEVERITY_RANK["critical"]


def test_repeat_on_the_same_point_counts_and_another_point_raises_its_own(site: Site) -> None:
    assert types(site.send("fp-1", "fire.alarm", "1-003")) == ["alarm.raised"]
    assert types(site.send("fp-1", "fire.alarm", "1-003")) == ["alarm.updated"]
    assert types(site.send("fp-1", "fire.alarm", "1-007")) == ["alarm.raised"]
    assert [(a.point, a.count) for a in site.alarms()] == [("1-003", 2), ("1-007", 1)]


def test_restore_with_of_clears_only_that_kind_at_that_point(site: Site) -> None:
    site.send("fp-1", "fire.alarm", "1-003")
    site.send("fp-1", "fire.fault", "1-003")
    site.send("fp-1", "fire.alarm", "1-007")
    assert types(site.send("fp-1", "fire.restore", "1-003", of="fire.fault")) == ["alarm.cleared"]
    assert [(a.kind, a.point, a.cleared) for a in site.alarms()] == [
        ("fire.alarm", "1-003", False), ("fire.fault", "1-003", True), ("fire.alarm", "1-007", False)]


def test_restore_without_of_clears_the_points_fire_signals_and_reset_clears_the_panel(site: Site) -> None:
    site.send("fp-1", "fire.alarm", "1-003")
    site.send("fp-1", "fire.supervisory", "1-003")
    site.send("fp-1", "fire.alarm", "1-007")
    assert types(site.send("fp-1", "fire.restore", "1-003")) == ["alarm.cleared", "alarm.cleared"]
    assert types(site.send("fp-1", "fire.reset")) == ["alarm.cleared"]
    assert all(a.cleared for a in site.alarms())


def test_door_closed_clears_held_open_and_forced(site: Site) -> None:
    site.send("door-1", "access.door_held_open", duration_s=65)
    site.send("door-1", "access.door_forced")
    assert types(site.send("door-1", "access.door_closed")) == ["alarm.cleared", "alarm.cleared"]


def test_ack_and_clear_are_independent_and_both_close_the_alarm(site: Site) -> None:
    site.send("door-1", "access.door_forced")
    site.send("door-1", "access.door_closed")
    (alarm,) = site.alarms()
    assert alarm.cleared and not alarm.acknowledged and not alarm.closed
    # It came back before anyone looked: uncleared again, same alarm, count 2.
    assert types(site.send("door-1", "access.door_forced")) == ["alarm.updated"]
    (alarm,) = site.alarms()
    assert not alarm.cleared and alarm.count == 2
    with site.store.write() as session, session.begin():
        row = session.get(AlarmRow, alarm.id)
        assert row is not None
        assert acknowledge(row, "op", "已派人", site.clock) is True
        assert acknowledge(row, "op2", None, site.clock) is False
        assert row.acked_by == "op" and not row.closed
    site.send("door-1", "access.door_closed")
    (alarm,) = site.alarms()
    assert alarm.closed
    assert types(site.send("door-1", "access.door_forced")) == ["alarm.raised"]


def test_retained_event_never_raises_but_may_clear(site: Site) -> None:
    assert types(site.send("fp-1", "fire.alarm", "1-003", retain=True)) == []
    site.send("door-1", "access.tamper")
    assert types(site.send("door-1", "access.restore", retain=True, of="access.tamper")) == ["alarm.cleared"]


def test_test_mode_events_raise_alarms_marked_as_tests(site: Site) -> None:
    site.send("fp-1", "fire.alarm", "1-003", test=True)
    (alarm,) = site.alarms()
    assert alarm.test is True


def test_state_topic_offline_raises_once_and_online_clears(site: Site) -> None:
    def state(value: str, retain: bool = False) -> list[HubMessage]:
        site.clock += timedelta(seconds=1)
        return site.ingest.process([InboundMessage("mcc/v1/demo/door-1/state", value.encode(), retain, site.clock)])

    assert types(state("offline")) == ["device.state", "alarm.raised"]
    assert types(state("offline")) == []  # a repeat of the current state is not news
    assert types(state("online")) == ["device.state", "alarm.cleared"]
    changed = [m for m in state("offline") if m.type == "device.state"][0]
    assert changed.data["devices"]["offline"] == 1 and changed.data["devices"]["total"] == len(DEVICES)


def test_every_change_bumps_the_revision_screens_use_to_drop_late_copies(site: Site) -> None:
    revisions = [m.data["revision"] for m in site.send("door-1", "access.door_forced") if m.type != "event"]
    revisions += [m.data["revision"] for m in site.send("door-1", "access.door_forced") if m.type != "event"]
    revisions += [m.data["revision"] for m in site.send("door-1", "access.door_closed") if m.type != "event"]
    with site.store.write() as session, session.begin():
        row = session.get(AlarmRow, site.alarms()[0].id)
        assert row is not None
        acknowledge(row, "op", None, site.clock)
        session.flush()
        revisions.append(row.revision)
    assert revisions == [1, 2, 3, 4]
