"""Car-park occupancy from the lanes' entries and exits (drills and test events excluded).

Occupied = the baseline counted by hand at ``counted_from`` + entries − exits since then. Plate
reads miss cars now and then (a missed exit keeps a car "inside"), so a site recounts and sets a
new baseline from time to time; the figure never goes below zero or is shown above capacity
without saying so.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from console.devices.registry import DeviceRegistry
from console.settings import Settings
from console.store.tables import EventRow


def lanes_of(settings: Settings, registry: DeviceRegistry, name: str) -> list[str]:
    park = settings.parking.car_parks[name]
    if park.lanes:
        return park.lanes
    return sorted(device_id for (site, device_id), device in registry
                  if device.role == "lane" and device.building == name and site == settings.site.id)


def occupancy(session: Session, settings: Settings, registry: DeviceRegistry, now: datetime) -> list[dict[str, Any]]:
    today = datetime.combine(now.astimezone(ZoneInfo(settings.site.timezone)).date(), time(0),
                             ZoneInfo(settings.site.timezone))
    out = []
    for name, park in settings.parking.car_parks.items():
        lanes = lanes_of(settings, registry, name)

        def count(kind: str, since: datetime | None) -> int:
            query = select(func.count()).select_from(EventRow).where(
                EventRow.site == settings.site.id, EventRow.device_id.in_(lanes), EventRow.kind == kind,
                EventRow.test.is_(False))
            if since is not None:
                query = query.where(EventRow.received_at >= since)
            return int(session.scalar(query) or 0)

        entries, exits = count("parking.entry", park.counted_from), count("parking.exit", park.counted_from)
        occupied = max(0, park.baseline + entries - exits)
        out.append({
            "car_park": name, "capacity": park.capacity, "lanes": lanes, "occupied": occupied,
            "free": max(0, park.capacity - occupied), "over_capacity": occupied > park.capacity,
            "entries_today": count("parking.entry", today), "exits_today": count("parking.exit", today),
            "counted_from": park.counted_from.isoformat() if park.counted_from else None,
        })
    return out
