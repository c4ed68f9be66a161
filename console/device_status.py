"""Device status in the store: last seen, online/offline state, and unregistered devices."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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
    """Upsert last-seen for every device in the batch (one statement per device)."""
    for (site, device_id), seen in sightings.items():
        stmt = insert(session, DeviceStatusRow).values(
            site=site, device_id=device_id, registered=seen.registered, state="unknown",
            first_seen=seen.at, last_seen=seen.at, last_adapter=seen.adapter, last_topic=seen.topic[:256],
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["site", "device_id"],
            set_={
                "last_seen": seen.at, "last_adapter": seen.adapter,
                "last_topic": seen.topic[:256], "registered": seen.registered,
            },
        )
        session.execute(stmt)


def current_state(session: Session, site: str, device_id: str) -> str:
    state = session.scalar(
        select(DeviceStatusRow.state).where(DeviceStatusRow.site == site, DeviceStatusRow.device_id == device_id)
    )
    return state or "unknown"


def set_state(session: Session, site: str, device_id: str, state: str, at: datetime, registered: bool) -> None:
    stmt = insert(session, DeviceStatusRow).values(
        site=site, device_id=device_id, registered=registered, state=state, state_at=at,
        first_seen=at, last_seen=at,
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["site", "device_id"], set_={"state": state, "state_at": at, "last_seen": at}
        )
    )


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
