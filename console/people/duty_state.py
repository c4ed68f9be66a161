"""What the console knows of the fire-control equipment when a duty-log entry opens: the panel's
fire / fault / supervisory / isolated counts, linkage in auto or manual where the panel reports it
(GB/T 26875.3 system state, bit 11), main and backup power, and what is open. The people on duty
check it against the panel itself; this is only the pre-fill."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from console.alarms.views import iso
from console.devices.registry import DeviceRegistry
from console.devices.status import linkage_mode
from console.store.tables import AlarmRow, DeviceStatusRow, EventRow

COUNTED = {"fire.alarm": "fire", "fire.fault": "fault", "fire.supervisory": "supervisory", "fire.isolated": "isolated"}
# Open alarms that are equipment faults (written under "faults" with the fire panel's own).
FAULT_KINDS = frozenset({"fire.fault", "device.fault", "device.offline", "device.battery_low", "camera.offline",
                         "parking.barrier_fault", "elevator.fault", "power.failure"})
# Causes of a fire.fault that are the panel's own power (GB/T 26875.3 system bits 8 and 9).
MAINS, STANDBY = "mains", "standby_power"
CHECKS = ("fire", "fault", "supervisory", "isolated", "linkage", "main_power", "backup_power", "pumps_fans_auto")
"""The fields of an entry the people on duty confirm, in the order of the paper log."""


def panels(registry: DeviceRegistry, site: str) -> list[tuple[str, str]]:
    """The site's fire panels (registry role ``fire_panel``, or a GB/T 26875.3 transmission device):
    (device id, label)."""
    return [(device_id, registry.location(site, device_id).label or entry.name or device_id)
            for (entry_site, device_id), entry in registry
            if entry_site == site and (entry.role == "fire_panel" or entry.adapter == "gb26875")]


def _cause(session: Session, alarm: AlarmRow) -> str:
    if alarm.last_event_id is None:
        return ""
    data = session.scalar(select(EventRow.data).where(EventRow.id == alarm.last_event_id)) or {}
    return str(data.get("cause", "")) if isinstance(data, dict) else ""


def prefill(session: Session, registry: DeviceRegistry, site: str, now: datetime) -> dict[str, Any]:
    """The suggested checks (``suggested``, keyed as ``CHECKS``) and what they were made from."""
    alarms = session.scalars(select(AlarmRow).where(AlarmRow.site == site, AlarmRow.closed.is_(False),
                                                    AlarmRow.test.is_(False))
                             .order_by(AlarmRow.severity_rank, AlarmRow.raised_at)).all()
    counts = dict.fromkeys(COUNTED.values(), 0)
    main_fault = backup_fault = False
    faults: list[dict[str, Any]] = []
    isolated: list[dict[str, Any]] = []
    open_by_kind: dict[str, int] = {}
    for alarm in alarms:
        open_by_kind[alarm.kind] = open_by_kind.get(alarm.kind, 0) + 1
        place = registry.location(site, alarm.device_id, alarm.point).label or alarm.device_id
        if alarm.kind in COUNTED and not alarm.cleared:
            counts[COUNTED[alarm.kind]] += 1
        if alarm.kind == "fire.isolated" and not alarm.cleared:
            isolated.append({"device_id": alarm.device_id, "point": alarm.point, "label": place,
                             "since": iso(alarm.raised_at)})
        if alarm.kind in FAULT_KINDS and not alarm.cleared:
            cause = _cause(session, alarm)
            main_fault |= alarm.kind == "power.failure" or MAINS in cause.split("+")
            backup_fault |= STANDBY in cause.split("+")
            faults.append({"kind": alarm.kind, "device_id": alarm.device_id, "point": alarm.point, "label": place,
                           "cause": cause, "since": iso(alarm.raised_at)})
    statuses = {row.device_id: row.state for row in session.scalars(
        select(DeviceStatusRow).where(DeviceStatusRow.site == site))}
    panel_rows = []
    for device_id, label in panels(registry, site):
        own = [a for a in alarms if a.device_id == device_id and not a.cleared]
        panel_rows.append({
            "device_id": device_id, "label": label, "state": statuses.get(device_id, "unknown"),
            "mode": linkage_mode(session, site, device_id),
            **{name: sum(1 for a in own if a.kind == kind) for kind, name in COUNTED.items()},
        })
    modes = {p["mode"] for p in panel_rows}
    linkage = "manual" if "manual" in modes else "auto" if modes == {"auto"} else "unknown"
    return {
        "taken_at": iso(now),
        "suggested": {**counts, "linkage": linkage, "main_power": "fault" if main_fault else "normal",
                      "backup_power": "fault" if backup_fault else "normal", "pumps_fans_auto": "unknown"},
        "panels": panel_rows,
        "isolated_points": isolated,
        "faults": faults,
        "open_alarms": open_by_kind,
    }
