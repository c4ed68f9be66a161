"""Device status in the store: last seen, online/offline state, and unregistered devices."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from console.registry import DeviceRegistry
from console.store.dialect import insert
from console.store.tables import DeviceStatusRow


@dataclass(frozen=True)
class Sighting:
    """The latest message from one device within a batch."""

    at: datetime
    adapter: str
    topic: str
    registered: bool


def record_sightings(session: Session, sightings: dict[tuple[str, str], Sighting]) -> None:
    """Upsert last-seen for the given devices with one statement run for all of them."""
    if not sightings:
        return
    stmt = insert(session, DeviceStatusRow)
    stmt = stmt.on_conflict_do_update(
        index_elements=["site", "device_id"],
        set_={
            "last_seen": stmt.excluded.last_seen, "last_adapter": stmt.excluded.last_adapter,
            "last_topic": stmt.excluded.last_topic, "registered": stmt.excluded.registered,
        },
    )
    session.execute(stmt, [
        {"site": site, "device_id": device_id, "registered": seen.registered, "state": "unknown",
         "first_seen": seen.at, "last_seen": seen.at, "last_adapter": seen.adapter,
         "last_topic": seen.topic[:256]}
        for (site, device_id), seen in sightings.items()
    ])


class SightingThrottle:
    """Writes a device's last-seen time at most once per ``interval``: a busy reader sends
    several events a second, and one row update per event would cost more than the events."""

    def __init__(self, interval: timedelta = timedelta(seconds=5)):
        self.interval = interval
        self._written: dict[tuple[str, str], datetime] = {}

    def due(self, sightings: dict[tuple[str, str], Sighting]) -> dict[tuple[str, str], Sighting]:
        return {
            key: seen for key, seen in sightings.items()
            if key not in self._written or seen.at - self._written[key] >= self.interval
        }

    def written(self, sightings: dict[tuple[str, str], Sighting]) -> None:
        """Call after the commit that stored ``sightings``."""
        for key, seen in sightings.items():
            self._written[key] = seen.at


def current_state(session: Session, site: str, device_id: str) -> str:
    state = session.scalar(
        select(DeviceStatusRow.state).where(DeviceStatusRow.site == site, DeviceStatusRow.device_id == device_id)
    )
    return state or "unknown"


def set_state(session: Session, site: str, device_id: str, state: str, at: datetime, registered: bool,
              seen: bool = True) -> None:
    """``seen``: the state came from the device (its last-seen time moves); False when the console
    decided it (silence past the heartbeat budget)."""
    stmt = insert(session, DeviceStatusRow).values(
        site=site, device_id=device_id, registered=registered, state=state, state_at=at,
        first_seen=at if seen else None, last_seen=at if seen else None,
    )
    changes = {"state": state, "state_at": at, **({"last_seen": at} if seen else {})}
    session.execute(stmt.on_conflict_do_update(index_elements=["site", "device_id"], set_=changes))


def device_counts(session: Session, registry: DeviceRegistry) -> dict[str, int]:
    """online / offline (by last reported state), unknown (seen but not registered), total."""
    rows = session.execute(
        select(DeviceStatusRow.state, DeviceStatusRow.registered, func.count())
        .group_by(DeviceStatusRow.state, DeviceStatusRow.registered)
    ).all()
    online = sum(n for state, _reg, n in rows if state == "online")
    offline = sum(n for state, _reg, n in rows if state == "offline")
    unregistered = sum(n for _state, reg, n in rows if not reg)
    return {"online": online, "offline": offline, "unknown": unregistered, "total": len(registry) + unregistered}
