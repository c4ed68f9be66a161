"""Heartbeat budgets on a controllable clock: a device silent past its budget goes offline (its
alarm and SOP task follow), its next message brings it back, and a restart remembers who is silent."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import select

from console.contract import InboundMessage
from console.devices.registry import DeviceRegistry
from console.devices.silence import SilenceWatch
from console.messages import HubMessage
from console.settings import Settings
from console.sinks.hub import Hub
from console.sinks.outlet import Outlet
from console.store.database import Store
from console.store.tables import AlarmRow, DeviceStatusRow, EventRow, TaskRow
from console.tasks.service import TaskService
from console.tasks.sop import load_site_sops
from console.wire.ingest import Ingest
from console.wire.writer import Writer
from tests.conftest import DEVICES

T0 = datetime(2026, 11, 26, 2, 0, tzinfo=timezone.utc)
CAMERA = {"id": "cam-1", "role": "camera", "label": "1号楼 大堂 摄像机", "heartbeat_seconds": 30}


def build(tmp_path: Path) -> tuple[Ingest, Store]:
    settings = Settings(site={"id": "demo"}, database={"url": f"sqlite:///{tmp_path / 'h.db'}"},
                        devices={"entries": [*DEVICES, CAMERA]}, health={"heartbeat_seconds": {"fire_panel": 60}})
    store = Store(settings.database.url)
    store.migrate()
    registry = DeviceRegistry.from_settings(settings)
    tasks = TaskService(settings, load_site_sops(settings), registry, tmp_path / "evidence")
    return Ingest(settings, store, registry, tasks=tasks), store


def watching(ingest: Ingest, now: Any) -> tuple[SilenceWatch, Writer]:
    """The watch and the single writer it hands its observations to (its thread not started: each
    check writes what the watch observed at once, on the test's clock)."""
    writer = Writer(ingest, Outlet(Hub()))
    writer.prepare()
    return SilenceWatch(ingest.settings, ingest.store, ingest.registry, writer, now), writer


def check(watch: SilenceWatch, writer: Writer) -> list[HubMessage]:
    watch.tick()
    return writer.drain()


def beat(ingest: Ingest, device: str, at: datetime, n: int) -> None:
    body = {"id": f"hb-{n}", "ts": at.isoformat(), "type": "device.heartbeat"}
    ingest.process([InboundMessage(f"mcc/v1/demo/{device}/event", json.dumps(body).encode(), False, at)])


def test_silence_past_the_budget_takes_a_device_offline_until_it_speaks(tmp_path: Path) -> None:
    ingest, store = build(tmp_path)
    clock = {"now": T0}
    watch, writer = watching(ingest, lambda: clock["now"])
    assert set(watch.budgets) == {("demo", "fp-1"), ("demo", "cam-1")}, "door and lane roles are not supervised"
    try:
        beat(ingest, "fp-1", T0, 1)
        beat(ingest, "cam-1", T0, 2)
        clock["now"] = T0 + timedelta(seconds=29)
        assert check(watch, writer) == []
        clock["now"] = T0 + timedelta(seconds=45)
        kinds = [m.data.get("kind") for m in check(watch, writer) if m.type == "event"]
        assert kinds == ["camera.offline"], "the camera's 30 s budget is its own"
        clock["now"] = T0 + timedelta(seconds=61)
        messages = check(watch, writer)
        assert [m.data["kind"] for m in messages if m.type == "event"] == ["device.offline"]
        assert check(watch, writer) == [], "once offline, not again"
        with store.read() as session:
            status = session.get(DeviceStatusRow, ("demo", "fp-1"))
            assert status.state == "offline" and status.last_seen == T0, "last seen stays when it was heard"
            alarm = session.scalars(select(AlarmRow).where(AlarmRow.kind == "device.offline")).one()
            assert not alarm.cleared and alarm.task_id is not None
            assert session.get(TaskRow, alarm.task_id).sop_id == "device.offline"
            event = session.scalars(select(EventRow).where(EventRow.kind == "device.offline")).one()
            assert event.adapter == "console" and event.data["via"] == "silence" and event.data["budget_s"] == 60

        # A restart: a new watch knows both are still silent and raises nothing twice.
        ingest.silenced.clear()
        again, writer = watching(ingest, lambda: clock["now"])  # its writer loads who is silent
        assert ingest.silenced == {("demo", "fp-1"), ("demo", "cam-1")}
        assert check(again, writer) == []

        beat(ingest, "fp-1", T0 + timedelta(seconds=90), 3)
        with store.read() as session:
            kinds = list(session.scalars(select(EventRow.kind).where(EventRow.device_id == "fp-1")
                                         .order_by(EventRow.id)))
            alarm = session.scalars(select(AlarmRow).where(AlarmRow.kind == "device.offline")).one()
            assert session.get(DeviceStatusRow, ("demo", "fp-1")).state == "online"
        assert kinds == ["device.heartbeat", "device.offline", "device.online", "device.heartbeat"]
        assert alarm.cleared
        assert ingest.silenced == {("demo", "cam-1")}
        beat(ingest, "cam-1", T0 + timedelta(seconds=95), 4)
        with store.read() as session:
            cam = list(session.scalars(select(EventRow.kind).where(EventRow.device_id == "cam-1").order_by(EventRow.id)))
        assert cam == ["device.heartbeat", "camera.offline", "camera.online", "device.heartbeat"]
    finally:
        store.dispose()


def test_a_flapping_device_is_damped_not_silenced(tmp_path: Path) -> None:
    ingest, store = build(tmp_path)
    clock = {"now": T0}
    watch, writer = watching(ingest, lambda: clock["now"])

    def state(value: str, seconds: float) -> None:
        clock["now"] = T0 + timedelta(seconds=seconds)
        ingest.process([InboundMessage("mcc/v1/demo/door-1/state", value.encode(), False, clock["now"])])

    def alarm() -> AlarmRow:
        with store.read() as session:
            return session.scalars(select(AlarmRow).where(AlarmRow.kind == "device.offline")).one()

    try:
        state("offline", 0)
        state("online", 20)
        assert alarm().cleared, "once is no flapping: the alarm clears"
        state("offline", 40)
        state("online", 60)
        state("offline", 80)
        state("online", 100)
        flapping = alarm()
        assert (flapping.count, flapping.cleared) == (3, False), "damped: it stays raised and counts"
        clock["now"] = T0 + timedelta(seconds=100 + 300)
        check(watch, writer)
        assert not alarm().cleared, "not yet steady for ten minutes"
        clock["now"] = T0 + timedelta(seconds=100 + 601)
        messages = check(watch, writer)
        assert [m.type for m in messages] == ["alarm.cleared"] and alarm().cleared
    finally:
        store.dispose()


def test_a_point_going_offline_is_not_settled_with_its_device_and_a_retained_replay_is_no_sign_of_life(
    tmp_path: Path,
) -> None:
    ingest, store = build(tmp_path)
    clock = {"now": T0}
    watch, writer = watching(ingest, lambda: clock["now"])

    def send(topic: str, payload: bytes, seconds: float, retain: bool = False) -> None:
        clock["now"] = T0 + timedelta(seconds=seconds)
        ingest.process([InboundMessage(topic, payload, retain, clock["now"])])

    try:
        send("mcc/v1/demo/door-1/state", b"online", 0)
        body = b'{"id":"r2","ts":"2026-11-26T10:00:00+08:00","type":"device.offline","point":"reader-2"}'
        send("mcc/v1/demo/door-1/event", body, 5)  # one reader of the controller is dead
        clock["now"] = T0 + timedelta(hours=1)
        check(watch, writer)
        with store.read() as session:
            reader = session.scalars(select(AlarmRow).where(AlarmRow.point == "reader-2")).one()
        assert not reader.cleared, "the controller being online says nothing about its reader"

        beat(ingest, "fp-1", T0, 1)
        clock["now"] = T0 + timedelta(seconds=3700)
        check(watch, writer)  # fp-1 silent for an hour: offline
        assert ("demo", "fp-1") in ingest.silenced
        send("mcc/v1/demo/fp-1/state", b"online", 3710, retain=True)  # the broker's old retained copy
        assert ("demo", "fp-1") in ingest.silenced, "a retained replay does not bring it back"
        with store.read() as session:
            assert session.get(DeviceStatusRow, ("demo", "fp-1")).last_seen == T0
    finally:
        store.dispose()


def test_a_door_left_open_past_its_threshold_is_reported_held_open(tmp_path: Path) -> None:
    door = {"id": "door-7", "role": "door", "label": "7号楼 大堂门", "held_open_seconds": 120}
    settings = Settings(site={"id": "demo"}, database={"url": f"sqlite:///{tmp_path / 'd.db'}"},
                        devices={"entries": [*DEVICES, door]})
    store = Store(settings.database.url)
    store.migrate()
    registry = DeviceRegistry.from_settings(settings)
    ingest = Ingest(settings, store, registry,
                    tasks=TaskService(settings, load_site_sops(settings), registry, tmp_path / "evidence"))
    clock = {"now": T0}
    watch, writer = watching(ingest, lambda: clock["now"])

    def send(device: str, kind: str, seconds: float, n: int) -> None:
        clock["now"] = T0 + timedelta(seconds=seconds)
        body = {"id": f"e{n}", "ts": clock["now"].isoformat(), "type": kind}
        ingest.process([InboundMessage(f"mcc/v1/demo/{device}/event", json.dumps(body).encode(), False, clock["now"])])

    def held() -> list[AlarmRow]:
        with store.read() as session:
            return list(session.scalars(select(AlarmRow).where(AlarmRow.kind == "access.door_held_open")))

    try:
        send("door-7", "access.granted", 0, 1)
        send("door-7", "access.door_closed", 30, 2)
        clock["now"] = T0 + timedelta(seconds=300)
        check(watch, writer)
        assert held() == [], "closed in time"
        send("door-7", "access.granted", 400, 3)
        send("door-1", "access.granted", 400, 4)  # a door without a threshold is not timed
        clock["now"] = T0 + timedelta(seconds=400 + 119)
        check(watch, writer)
        assert held() == []
        clock["now"] = T0 + timedelta(seconds=400 + 121)
        check(watch, writer)
        check(watch, writer)  # once
        [alarm] = held()
        assert alarm.device_id == "door-7" and alarm.count == 1 and alarm.task_id is not None
        send("door-7", "access.door_closed", 600, 5)
        [alarm] = held()
        assert alarm.cleared
    finally:
        store.dispose()
