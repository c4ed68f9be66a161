"""The JSON shapes of alarms, events and devices, shared by the HTTP API and the WebSocket hub."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from console.alarms.engine import flooding, is_flapping
from console.devices.registry import DeviceRegistry
from console.events import Event
from console.store.tables import AlarmRow, EventRow


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def alarm_view(alarm: AlarmRow, registry: DeviceRegistry) -> dict[str, Any]:
    return {
        "id": alarm.id,
        "kind": alarm.kind,
        "severity": alarm.severity,
        "severity_rank": alarm.severity_rank,
        "site": alarm.site,
        "device_id": alarm.device_id,
        "device_name": registry.name(alarm.site, alarm.device_id),
        "point": alarm.point,
        "location": registry.location(alarm.site, alarm.device_id, alarm.point).as_dict(),
        "raised_at": iso(alarm.raised_at),
        "last_at": iso(alarm.last_at),
        "count": alarm.count,
        "acknowledged": alarm.acknowledged,
        "acked_by": alarm.acked_by,
        "acked_at": iso(alarm.acked_at),
        "ack_comment": alarm.ack_comment,
        "cleared": alarm.cleared,
        "cleared_at": iso(alarm.cleared_at),
        "test": alarm.test,
        "task_id": alarm.task_id,
        "revision": alarm.revision,
        "flood": {"count_10min": alarm.window_count or 1, "flooding": flooding(alarm),
                  "flapping": is_flapping(alarm, alarm.last_at)},
        "shelved_until": iso(alarm.shelved_until),
        "snapshots": list(alarm.snapshots or []),
    }


def event_view(
    *, source_id: str, kind: str, site: str, device_id: str, point: str, ts: datetime,
    received_at: datetime, data: dict[str, Any], registered: bool, registry: DeviceRegistry,
    adapter: str, row_id: int | None = None,
) -> dict[str, Any]:
    return {
        "id": source_id,
        "event_id": row_id,
        "kind": kind,
        "site": site,
        "device_id": device_id,
        "device_name": registry.name(site, device_id),
        "point": point,
        "ts": iso(ts),
        "received_at": iso(received_at),
        "location": registry.location(site, device_id, point).as_dict(),
        "registered": registered,
        "adapter": adapter,
        "data": data,
    }


def event_row_view(row: EventRow, registry: DeviceRegistry) -> dict[str, Any]:
    return event_view(
        source_id=row.source_id, kind=row.kind, site=row.site, device_id=row.device_id,
        point=row.point, ts=row.ts, received_at=row.received_at, data=row.data,
        registered=row.registered, registry=registry, adapter=row.adapter, row_id=row.id,
    )


def event_model_view(
    event: Event, row_id: int, registered: bool, data: dict[str, Any], registry: DeviceRegistry
) -> dict[str, Any]:
    return event_view(
        source_id=event.source_id, kind=event.kind, site=event.site, device_id=event.device_id,
        point=event.point, ts=event.ts, received_at=event.received_at,
        data=data, registered=registered,
        registry=registry, adapter=event.adapter, row_id=row_id,
    )
