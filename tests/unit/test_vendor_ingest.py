"""Vendor payloads through the ingest on a real SQLite file: what repeats is kept once, and a
sensor's routine "all clear" is not an event, but every message still counts as a sign of life."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select

from console.contract import InboundMessage
from console.devices.registry import DeviceRegistry
from console.settings import Settings
from console.store.database import Store
from console.store.tables import AlarmRow, DeviceStatusRow, EventRow
from console.wire.ingest import Ingest

T0 = datetime(2026, 11, 26, 2, 0, tzinfo=timezone.utc)
DEVICES = [
    {"id": "smoke-7", "adapter": "zigbee2mqtt", "address": "hall smoke", "kind": "smoke_detector",
     "building": "3号楼", "floor": "2F", "label": "3号楼 2层 走廊 烟感"},
    {"id": "cam-gate", "role": "camera", "adapter": "frigate", "address": "gate", "label": "大门 摄像机"},
]


def make(tmp_path: Path) -> tuple[Ingest, Store]:
    settings = Settings(site={"id": "demo"}, database={"url": f"sqlite:///{tmp_path / 'v.db'}"},
                        devices={"entries": DEVICES}, adapters=[{"type": "zigbee2mqtt"}, {"type": "frigate"}])
    store = Store(settings.database.url)
    store.migrate()
    return Ingest(settings, store, DeviceRegistry.from_settings(settings)), store


def kinds(store: Store, device: str) -> list[str]:
    with store.read() as session:
        return list(session.scalars(select(EventRow.kind).where(EventRow.device_id == device).order_by(EventRow.id)))


def test_routine_all_clear_is_no_event_but_a_real_clear_is(tmp_path: Path) -> None:
    ingest, store = make(tmp_path)
    try:
        def send(payload: bytes, seconds: int) -> None:
            ingest.process([InboundMessage("zigbee2mqtt/hall smoke", payload, False, T0 + timedelta(seconds=seconds))])

        send(b'{"smoke":false,"battery":90}', 0)
        send(b'{"smoke":false,"battery":90}', 300)
        assert kinds(store, "smoke-7") == [], "no smoke, twice: nothing happened"
        with store.read() as session:
            assert session.get(DeviceStatusRow, ("demo", "smoke-7")).last_seen is not None, "but it was heard"
        send(b'{"smoke":true,"battery":90}', 400)
        send(b'{"smoke":false,"battery":90}', 460)
        send(b'{"smoke":false,"battery":90}', 760)
        assert kinds(store, "smoke-7") == ["fire.alarm", "fire.restore"]
        with store.read() as session:
            assert session.scalars(select(AlarmRow)).one().cleared
    finally:
        store.dispose()


def test_a_camera_status_republished_is_stored_once(tmp_path: Path) -> None:
    ingest, store = make(tmp_path)
    try:
        for n, state in enumerate([b"online", b"online", b"offline", b"offline", b"online"]):
            ingest.process([InboundMessage("frigate/gate/status/detect", state, False, T0 + timedelta(seconds=n))])
        assert kinds(store, "cam-gate") == ["camera.online", "camera.offline", "camera.online"]
    finally:
        store.dispose()
