"""What the time-series sink writes: points (InfluxDB line-protocol records as dicts) from the
hub messages a committed batch produced, from car-park occupancy and from a closed task.

Measurements (VictoriaMetrics names a series ``<measurement>_<field>``):

- ``mcc_device`` — device telemetry carried in an event's ``data``; tags ``site``, ``device_id``,
  ``point``, ``kind``, ``adapter``; float fields among :data:`TELEMETRY` (battery, rssi,
  linkquality, signal, temperature, humidity, voltage, value...). Time: the event's ``ts``.
- ``mcc_events`` — events stored per bucket (``influx.count_seconds``, a minute by default);
  tags ``site``, ``kind``; int field ``count``. Time: the bucket's start.
- ``mcc_alarms`` — alarms raised per bucket; tags ``site``, ``kind``, ``severity``; int field ``raised``.
- ``mcc_parking`` — occupancy after an entry or exit; tags ``site``, ``car_park``; int fields
  ``occupied``, ``free``, ``capacity``.
- ``mcc_task`` — handling KPIs of a closed task (drills left out); tags ``site``, ``sop``,
  ``alarm_kind``; float fields ``to_acknowledge_s``, ``to_dispatch_s``, ``to_arrive_s``,
  ``to_close_s`` (those that happened). Time: the task's close.

Field types never change for one field (InfluxDB rejects a batch whose field changes type):
telemetry and KPIs are always floats, counts always ints.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from console.store.tables import AlarmRow, DispatchRow, TaskRow

Point = dict[str, Any]
"""``{"measurement", "tags", "fields", "time"}`` with ``time`` in epoch milliseconds."""

TELEMETRY = ("battery", "voltage", "rssi", "linkquality", "signal", "snr", "temperature", "humidity",
             "pressure", "level", "flow", "current", "value")
"""Numeric ``data`` keys that are telemetry. GB/T 26875.3 analog values (type 3) arrive as the
adapter's ``device.heartbeat`` events (``via: "analog"``) with ``value`` already scaled by the
standard's step and ``quantity``/``unit`` as tags (pressure/MPa, temperature/°C...; ``unknown`` and
no unit for a type outside the standard's table)."""
TELEMETRY_TAGS = ("quantity", "unit")
PARKING_KINDS = frozenset({"parking.entry", "parking.exit"})


def epoch_ms(value: datetime | str) -> int:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return int(value.timestamp() * 1000)


def telemetry_point(event: dict[str, Any]) -> Point | None:
    """The telemetry an event view (``HubMessage("event").data``) carries, or None."""
    data = event.get("data") or {}
    fields: dict[str, float] = {}
    for key in TELEMETRY:
        value = data.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            fields[key] = float(value)
    if not fields:
        return None
    tags = {"site": event["site"], "device_id": event["device_id"], "kind": event["kind"],
            "adapter": event.get("adapter") or ""}
    if event.get("point"):
        tags["point"] = event["point"]
    for key in TELEMETRY_TAGS:
        if isinstance(data.get(key), str) and data[key]:
            tags[key] = data[key]
    return {"measurement": "mcc_device", "tags": tags, "fields": fields, "time": epoch_ms(event["ts"])}


def count_point(measurement: str, field: str, tags: tuple[tuple[str, str], ...], start_ms: int, count: int) -> Point:
    return {"measurement": measurement, "tags": dict(tags), "fields": {field: int(count)}, "time": start_ms}


def parking_points(site: str, occupancy: list[dict[str, Any]], at: datetime) -> list[Point]:
    return [{"measurement": "mcc_parking", "tags": {"site": site, "car_park": park["car_park"]},
             "fields": {"occupied": int(park["occupied"]), "free": int(park["free"]),
                        "capacity": int(park["capacity"])},
             "time": epoch_ms(at)} for park in occupancy]


def task_kpis(session: Session, task_id: int) -> Point | None:
    """The handling times of a closed task, measured as the reports measure them
    (console/people/reports.py): from the task's opening to the alarm's acknowledgement, the first
    dispatch, the first guard on scene, and the close. None for drills and open tasks."""
    task = session.get(TaskRow, task_id)
    if task is None or task.state != "closed" or task.closed_at is None or task.drill:
        return None
    fields: dict[str, float] = {"to_close_s": (task.closed_at - task.opened_at).total_seconds()}
    if task.alarm_id is not None:
        alarm = session.get(AlarmRow, task.alarm_id)
        if alarm is not None and alarm.acked_at is not None and alarm.acked_at >= task.opened_at:
            fields["to_acknowledge_s"] = (alarm.acked_at - task.opened_at).total_seconds()
    sent = session.scalars(select(DispatchRow).where(DispatchRow.task_id == task_id)
                           .order_by(DispatchRow.assigned_at)).all()
    if sent:
        fields["to_dispatch_s"] = (sent[0].assigned_at - task.opened_at).total_seconds()
        arrived = [d.on_scene_at for d in sent if d.on_scene_at is not None]
        if arrived:
            fields["to_arrive_s"] = (min(arrived) - task.opened_at).total_seconds()
    tags = {"site": task.site, "sop": task.sop_id, "alarm_kind": task.alarm_kind or "-"}
    return {"measurement": "mcc_task", "tags": tags, "fields": {k: float(v) for k, v in fields.items()},
            "time": epoch_ms(task.closed_at)}
