"""Device status in the store: last seen, online/offline state, and unregistered devices."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from console.devices import subsystems
from console.devices.registry import DeviceRegistry
from console.store.dialect import insert
from console.store.tables import DeviceStatusRow, EventRow


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
        # In key order: two console instances upserting overlapping devices then lock their rows in
        # the same order, and cannot deadlock on each other.
        for (site, device_id), seen in sorted(sightings.items())
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


def device_counts(session: Session, registry: DeviceRegistry, sites: tuple[str, ...] | None = None) -> dict[str, Any]:
    """online / offline (by last reported state), unknown (seen but not registered), total, and
    ``by_subsystem`` (fire, access, parking, video, other: online, offline, total); devices seen
    but not registered count under ``other``. ``sites``: only theirs (None: every site)."""
    query = select(DeviceStatusRow.site, DeviceStatusRow.device_id, DeviceStatusRow.state, DeviceStatusRow.registered)
    if sites is not None:
        query = query.where(DeviceStatusRow.site.in_(sites))
    rows = session.execute(query).all()
    online = sum(1 for *_key, state, _reg in rows if state == "online")
    offline = sum(1 for *_key, state, _reg in rows if state == "offline")
    states = {(site, device_id): state for site, device_id, state, _reg in rows}
    unregistered_keys = {(site, device_id) for site, device_id, _state, reg in rows if not reg}
    by_subsystem = subsystems.empty_counts()
    registered = 0
    for (site, device_id), _device in registry:
        if sites is not None and site not in sites:
            continue
        registered += 1
        counts = by_subsystem[subsystems.of_device(registry, site, device_id)]
        counts["total"] += 1
        state = states.pop((site, device_id), "unknown")
        if state in ("online", "offline"):
            counts[state] += 1
    unregistered = 0
    for key, state in states.items():
        if key not in unregistered_keys:
            continue  # a vendor address row of a registered device: counted under its id
        unregistered += 1
        counts = by_subsystem["other"]
        counts["total"] += 1
        if state in ("online", "offline"):
            counts[state] += 1
    return {"online": online, "offline": offline, "unknown": unregistered, "total": registered + unregistered,
            "by_subsystem": by_subsystem}


MODES = ("auto", "manual")


def linkage_mode(session: Session, site: str, device_id: str) -> str | None:
    """A fire panel's linkage control, "auto" or "manual", from its latest system state that says it
    (GB/T 26875.3 system status bit 11, ``data.mode``); None if none does."""
    mode = session.scalar(select(EventRow.data["mode"].as_string()).where(
        EventRow.site == site, EventRow.device_id == device_id, EventRow.kind.like("fire.%"),
        EventRow.data["mode"].as_string().in_(MODES)).order_by(EventRow.id.desc()).limit(1))
    return str(mode) if mode else None
