"""GB/T 26875.3 analog values (type 3, 部件模拟量值): each object is one device.heartbeat at its
component's point carrying the value scaled by table 6, and that event becomes an ``mcc_device``
telemetry point tagged with its quantity and unit. It raises and clears no alarm."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from adapters.base import AdapterContext
from adapters.gb26875 import GB26875, build_frame, time_label
from console.alarms.rules import ALARM_KINDS, RAISES, clear_spec
from console.alarms.views import event_model_view
from console.contract import InboundMessage
from console.devices.registry import DeviceRegistry
from console.errors import PayloadError
from console.events import Event, validate_event
from console.sinks.points import telemetry_point

SOURCE = "060504030201"
NOW = datetime(2026, 11, 26, 2, 30, tzinfo=timezone.utc)
WHEN = datetime(2026, 11, 26, 10, 15, 28)  # local time (Asia/Shanghai) on the wire = 02:15:28 UTC


def body(analog_type: int, value: int, *, component_type: int = 91, address: int = 7,
         system: tuple[int, int] = (11, 1)) -> bytes:
    """A type-3 information body, by the standard's layout: system type, system address, component
    type, component address 4 (low first), analog type, value int16 (signed, low first)."""
    return (bytes([*system, component_type]) + address.to_bytes(4, "little") + bytes([analog_type])
            + value.to_bytes(2, "little", signed=True))


def frame(*bodies: bytes, timed: bool = True) -> bytes:
    data = bytes([3, len(bodies)]) + b"".join(b + (time_label(WHEN) if timed else b"") for b in bodies)
    return build_frame(5, SOURCE, "000000000000", 2, data, when=WHEN)


def events(raw: bytes) -> list[Event]:
    ctx = AdapterContext(site="demo", topic="gb26875/#", adapter="gb26875", timezone="Asia/Shanghai")
    message = InboundMessage(f"gb26875/{SOURCE}", raw, False, NOW)
    return [validate_event(draft, "gb26875", NOW) for draft in GB26875.handle(message, ctx)]


def data(event: Event) -> dict[str, Any]:
    return event.data.model_dump(mode="json", exclude_defaults=True)


@pytest.mark.parametrize(("analog_type", "raw", "quantity", "unit", "value"), [
    (1, 17, "event_count", "count", 17.0),
    (2, 1234, "height", "m", 12.34),
    (3, -55, "temperature", "°C", -5.5),
    (4, 4, "pressure", "MPa", 0.4),
    (4, 35, "pressure", "MPa", 3.5),
    (5, 3500, "pressure", "kPa", 350.0),
    (5, -12, "pressure", "kPa", -1.2),
    (6, 125, "gas", "%LEL", 12.5),
    (7, 90, "time", "s", 90.0),
    (8, 2205, "voltage", "V", 220.5),
    (9, 3, "current", "A", 0.3),
    (10, 57, "flow", "L/s", 5.7),
    (11, 1203, "air_volume", "m3/min", 120.3),
    (12, 7, "wind_speed", "m/s", 7.0),
    (3, -32768, "temperature", "°C", -3276.8),
    (3, 32767, "temperature", "°C", 3276.7),
])
def test_each_analog_type_scales_by_its_step(analog_type: int, raw: int, quantity: str, unit: str,
                                             value: float) -> None:
    [event] = events(frame(body(analog_type, raw)))
    assert (event.kind, event.device_id, event.point) == ("device.heartbeat", SOURCE, "11-1-7")
    assert event.ts == datetime(2026, 11, 26, 2, 15, 28, tzinfo=timezone.utc), "the object's own time"
    got = data(event)
    assert (got["quantity"], got["unit"], got["raw"], got["analog_type"], got["via"]) == (
        quantity, unit, raw, analog_type, "analog")
    assert got["value"] == value and isinstance(got["value"], float)
    assert repr(got["value"]) == repr(value), "no float noise (0.4, not 0.4000000000000001)"


def test_a_negative_temperature_is_signed_and_keeps_its_component() -> None:
    wire = body(3, -55, component_type=18, address=0x00010203, system=(1, 2))
    assert wire[-2:] == b"\xc9\xff", "int16 low byte first"
    [event] = events(frame(wire))
    assert event.point == "1-2-66051"
    assert data(event) == {
        "serial": 5, "checksum": "sum", "system_type": 1, "system_address": 2, "system": "fire alarm",
        "component_type": 18, "component_address": 66051, "component": "temperature electrical fire monitor",
        "via": "analog", "analog_type": 3, "quantity": "temperature", "unit": "°C", "raw": -55, "value": -5.5,
    }


@pytest.mark.parametrize("analog_type", [0, 13, 128, 255])
def test_an_analog_type_outside_table_6_is_kept_unscaled_without_a_unit(analog_type: int) -> None:
    [event] = events(frame(body(analog_type, -300, component_type=200)))
    got = data(event)
    assert event.kind == "device.heartbeat"
    assert (got["quantity"], got["raw"], got["value"], got["analog_type"]) == ("unknown", -300, -300.0, analog_type)
    assert "unit" not in got
    assert "component" not in got and got["component_type"] == 200, "a user-defined component type has no name"


def test_several_objects_are_one_event_each_with_its_own_source_id() -> None:
    found = events(frame(body(4, 4, address=7), body(4, 6, address=8), body(6, 125, component_type=74, address=8)))
    assert [(e.point, data(e)["value"], data(e)["unit"]) for e in found] == [
        ("11-1-7", 0.4, "MPa"), ("11-1-8", 0.6, "MPa"), ("11-1-8", 12.5, "%LEL")]
    assert len({e.source_id for e in found}) == 3
    assert found[2].source_id.endswith(":2:device.heartbeat")


@pytest.mark.parametrize(("raw", "needs"), [
    (bytes([3, 1]) + body(4, 35)[:9] + time_label(WHEN), "needs 16 bytes, 15 left"),  # value cut short
    (bytes([3, 1]) + body(4, 35), "needs 16 bytes, 10 left"),  # no time after the body
    (bytes([3, 2]) + body(4, 35) + time_label(WHEN), "truncated object 2 of 2"),
])
def test_a_truncated_analog_object_is_a_payload_error(raw: bytes, needs: str) -> None:
    with pytest.raises(PayloadError) as raised:
        events(build_frame(5, SOURCE, "000000000000", 2, raw, when=WHEN))
    assert "(type 3)" in raised.value.reason and needs in raised.value.reason, raised.value.reason


def test_the_heartbeat_raises_and_clears_no_alarm() -> None:
    assert "device.heartbeat" not in RAISES and "device.heartbeat" not in ALARM_KINDS
    assert clear_spec("device.heartbeat", None) is None
    assert "device.heartbeat" in GB26875.emits


def test_the_event_becomes_a_telemetry_point_tagged_with_quantity_and_unit() -> None:
    [pressure, temperature, unknown] = events(frame(body(4, 4), body(3, -55, address=9), body(77, 12, address=10)))
    registry = DeviceRegistry([], "demo")

    def point(event: Event) -> dict[str, Any] | None:
        return telemetry_point(event_model_view(event, 1, False, data(event), registry))

    assert point(pressure) == {
        "measurement": "mcc_device",
        "tags": {"site": "demo", "device_id": SOURCE, "kind": "device.heartbeat", "adapter": "gb26875",
                 "point": "11-1-7", "quantity": "pressure", "unit": "MPa"},
        "fields": {"value": 0.4},
        "time": int(datetime(2026, 11, 26, 2, 15, 28, tzinfo=timezone.utc).timestamp() * 1000),
    }
    temp = point(temperature)
    assert temp is not None and temp["fields"] == {"value": -5.5} and temp["tags"]["unit"] == "°C"
    other = point(unknown)
    assert other is not None and other["fields"] == {"value": 12.0}
    assert other["tags"]["quantity"] == "unknown" and "unit" not in other["tags"]
