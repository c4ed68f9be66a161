"""The declarative side of AdapterDef (routes, device id from the topic), which vendor adapters use."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.base import AdapterContext, AdapterDef, Route, TopicLevel, json_object
from console.contract import InboundMessage
from console.errors import PayloadError

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=timezone.utc)
SMOKE = AdapterDef(
    name="test.smoke",
    topic="sensors/+",
    device_id=TopicLevel(1),
    decode=json_object,
    routes=(
        Route(when={"smoke": True}, emit="fire.alarm"),          # {"smoke": true, "battery": 90}
        Route(when={"smoke": False}, emit="fire.restore"),       # {"smoke": false}
        Route(when={"battery_low": True}, emit="device.battery_low"),
    ),
    emits=frozenset({"fire.alarm", "fire.restore", "device.battery_low"}),
)
CTX = AdapterContext(site="demo", topic="sensors/+")


def handle(payload: bytes, topic: str = "sensors/kitchen-smoke", retain: bool = False) -> list[tuple[str, str]]:
    drafts = SMOKE.handle(InboundMessage(topic, payload, retain, NOW), CTX)
    return [(d.kind, d.device_id) for d in drafts]


def test_every_matching_route_emits_and_the_device_comes_from_the_topic() -> None:
    assert handle(b'{"smoke": true, "battery_low": true}') == [
        ("fire.alarm", "kitchen-smoke"), ("device.battery_low", "kitchen-smoke")]
    assert handle(b'{"smoke": false}') == [("fire.restore", "kitchen-smoke")]


def test_a_missing_key_means_unchanged_not_false() -> None:
    assert handle(b'{"battery": 80, "linkquality": 120}') == []
    assert handle(b'{"smoke": null}') == []


def test_drafts_carry_a_stable_derived_id_and_the_retained_flag() -> None:
    first = SMOKE.handle(InboundMessage("sensors/a", b'{"smoke": true}', True, NOW), CTX)[0]
    again = SMOKE.handle(InboundMessage("sensors/a", b'{"smoke": true}', True, NOW), CTX)[0]
    assert first.source_id == again.source_id and first.retained


def test_bad_payloads_raise_payload_errors() -> None:
    for payload in (b"[1]", b"{broken", b"\xff"):
        with pytest.raises(PayloadError):
            handle(payload)


def test_routes_without_a_device_id_are_refused_at_declaration() -> None:
    with pytest.raises(ValueError, match="routes need a device_id"):
        AdapterDef(name="bad", topic="x/+", decode=json_object, routes=(Route({"a": 1}, "fire.alarm"),))
    with pytest.raises(ValueError):
        AdapterDef(name="bad", topic="x/#/y", decode=json_object, device_id=TopicLevel(1),
                   routes=(Route({"a": 1}, "fire.alarm"),))


def test_a_vendor_address_is_stored_under_the_registered_id(tmp_path: Path) -> None:
    from console.devices.registry import DeviceRegistry
    from console.settings import Settings
    from console.store.database import Store
    from console.store.tables import EventRow
    from console.wire.ingest import Ingest

    devices = [
        {"id": "door-9", "adapter": "native", "address": "0x00158d0001a2b3c4", "kind": "door_contact",
         "building": "1号楼", "label": "1号楼 后门"},
        {"id": "gas-1", "address": "kitchen-gas", "kind": "gas", "points": {"p2": {"kind": "co"}}},
    ]
    settings = Settings(site={"id": "demo"}, database={"url": f"sqlite:///{tmp_path / 'a.db'}"},
                        devices={"entries": devices})
    registry = DeviceRegistry.from_settings(settings)
    assert registry.resolve("demo", "native", "0x00158d0001a2b3c4") == "door-9"
    assert registry.resolve("demo", "zigbee2mqtt", "kitchen-gas") == "gas-1", "no adapter named: any adapter"
    assert registry.resolve("demo", "native", "stranger") == "stranger"
    assert registry.kind_of("demo", "gas-1") == "gas" and registry.kind_of("demo", "gas-1", "p2") == "co"
    store = Store(settings.database.url)
    store.migrate()
    try:
        ingest = Ingest(settings, store, registry)
        body = b'{"id":"a1","ts":"2026-11-26T10:00:00+08:00","type":"access.door_forced"}'
        ingest.process([InboundMessage("mcc/v1/demo/0x00158d0001a2b3c4/event", body, False,
                                       datetime(2026, 11, 26, 2, 0, tzinfo=timezone.utc))])
        with store.read() as session:
            row = session.scalars(select(EventRow)).one()
        assert (row.device_id, row.registered) == ("door-9", True)
    finally:
        store.dispose()


def test_two_devices_cannot_share_an_address() -> None:
    from pydantic import ValidationError

    from console.settings import DevicesSection

    with pytest.raises(ValidationError, match="share the address"):
        DevicesSection(entries=[{"id": "a", "address": "x"}, {"id": "b", "address": "x"}])


def test_registrations_made_on_another_instance_arrive(tmp_path: Path) -> None:
    from console.devices import admin as device_admin
    from console.devices.registry import DeviceRegistry
    from console.settings import DeviceEntry, Settings
    from console.store.database import Store

    settings = Settings(site={"id": "demo"}, database={"url": f"sqlite:///{tmp_path / 'r.db'}"},
                        devices={"entries": [{"id": "fp-1", "role": "fire_panel"}]})
    store = Store(settings.database.url)
    store.migrate()
    here, there = DeviceRegistry.from_settings(settings), DeviceRegistry.from_settings(settings)
    try:
        entry = DeviceEntry(id="door-9", role="door", label="9号楼 后门")
        with store.write() as session, session.begin():
            device_admin.register(session, there, entry, "root", datetime.now(timezone.utc))
        there.add(entry)
        assert not here.is_registered("demo", "door-9")
        assert device_admin.load_registered_devices(store, here) is True
        assert here.is_registered("demo", "door-9") and here.is_registered("demo", "fp-1")
        assert device_admin.load_registered_devices(store, here) is False, "nothing new"
        with store.write() as session, session.begin():
            device_admin.unregister(session, there, "demo", "door-9", "root", datetime.now(timezone.utc))
        device_admin.load_registered_devices(store, here)
        assert not here.is_registered("demo", "door-9") and here.is_registered("demo", "fp-1")
    finally:
        store.dispose()
