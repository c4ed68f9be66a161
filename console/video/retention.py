"""How long camera snapshots are kept (site file ``cameras.snapshot_keep_days``, 90 by default).

The domain document's rule (F18, F25): video is kept at least 30 days, and an incident's video
until the case is closed. So a snapshot is deleted only when it is older than the limit **and**
its case is over: a plate event's picture (no alarm) once old; an alarm's picture once the alarm
is closed (acknowledged and cleared) and its task, if it has one, is closed too. A snapshot of a
task still open is never deleted, however old.

What stays: the audit chain's line of each snapshot (its SHA-256, camera and time), one audit
line per purge (how many, which ids, the cutoff), the alarm's list of its snapshots (each entry
marked ``purged_at``, its ``url`` emptied, so pages show that a picture was taken and is gone
rather than a broken image), and the copy kept as task evidence (the task's record, kept with it).

Deleted in batches of ``BATCH`` rows, one transaction each, so a first purge after a long time
does not hold the database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, or_, select

from console.store import audit
from console.store.database import Store
from console.store.tables import AlarmRow, SnapshotRow, TaskRow
from console.workers import PeriodicWorker

log = logging.getLogger("mcc.cameras")
PURGE_SECONDS = 3600.0
"""How often snapshots past their keeping are looked for."""

BATCH = 500


@dataclass
class Purged:
    snapshots: int = 0
    alarms: int = 0
    batches: int = 0


def purge_snapshots(store: Store, now: datetime, keep_days: int, batch: int = BATCH) -> Purged:
    """Delete the snapshots past their keeping (see the module's docstring); 0 days keeps all."""
    done = Purged()
    if keep_days <= 0:
        return done
    cutoff = now - timedelta(days=keep_days)
    task_open = exists().where(TaskRow.id == AlarmRow.task_id, TaskRow.state != "closed")
    case_open = exists().where(AlarmRow.id == SnapshotRow.alarm_id, or_(AlarmRow.closed.is_(False), task_open))
    while True:
        with store.write() as session, session.begin():
            rows = session.execute(select(SnapshotRow.id, SnapshotRow.alarm_id)
                                   .where(SnapshotRow.taken_at < cutoff, ~case_open)
                                   .order_by(SnapshotRow.id).limit(batch)).all()
            if not rows:
                return done
            ids = [row.id for row in rows]
            gone = set(ids)
            alarm_ids = sorted({row.alarm_id for row in rows if row.alarm_id is not None})
            for alarm_id in alarm_ids:  # lock order (console/tasks/service.py): alarms, then the audit chain
                alarm = session.get(AlarmRow, alarm_id, with_for_update=True)
                if alarm is not None and alarm.snapshots:
                    alarm.snapshots = [_purged(entry, now) if entry.get("id") in gone else entry
                                       for entry in alarm.snapshots]
            session.execute(delete(SnapshotRow).where(SnapshotRow.id.in_(ids)))
            audit.record(session, "system", "camera.snapshot.purge", target="snapshots",
                         detail={"count": len(ids), "first_id": ids[0], "last_id": ids[-1],
                                 "alarms": len(alarm_ids), "cutoff": cutoff.isoformat(), "keep_days": keep_days},
                         at=now)
        done.snapshots += len(ids)
        done.alarms += len(alarm_ids)
        done.batches += 1


def _purged(entry: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {**entry, "url": None, "purged_at": now.isoformat()}


class SnapshotRetention(PeriodicWorker):
    """Hourly (and once at start): delete the snapshots past their keeping whose case is over."""

    duty = "snapshot-retention"
    """One instance of a cluster does this at a time."""

    first_at_once = True

    def __init__(self, store: Store, keep_days: int, now: Callable[[], datetime], interval: float = PURGE_SECONDS):
        super().__init__("snapshot-retention", interval)
        self.store = store
        self.keep_days = keep_days
        self.now = now
        self.purged = 0
        self.last_purge_at: str | None = None

    def tick(self) -> None:
        done = purge_snapshots(self.store, self.now(), self.keep_days)
        self.purged += done.snapshots
        self.last_purge_at = self.now().isoformat()
        if done.snapshots:
            log.info("snapshots past their keeping deleted: %d (of %d alarms)", done.snapshots, done.alarms)

    def detail(self) -> dict[str, Any]:
        return {"purged": self.purged, "last_purge_at": self.last_purge_at, "keep_days": self.keep_days}
