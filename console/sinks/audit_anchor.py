"""The audit chain's head, kept outside the store. The chain proves that no row was edited, moved or
deleted from its middle, but deleting the newest rows leaves a shorter chain that is still valid.
So every ``health.audit_anchor_seconds`` (and once at start) the head's id, hash and time are
logged at INFO and, with a time series configured, written as ``mcc_audit_head``: fields ``id``
(int), ``hash`` (the hex string, kept by InfluxDB) and ``hash_prefix`` (its first 12 hex digits as
an int, what VictoriaMetrics keeps, as it drops string fields). The daily report prints the same
anchor. ``mcc audit verify --anchor ID:HASH`` then fails once row ID is gone or differs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from console.sinks.points import Point, epoch_ms
from console.store import audit
from console.store.database import Store
from console.workers import PeriodicWorker

log = logging.getLogger("mcc.audit")
MEASUREMENT = "mcc_audit_head"


def anchor_point(site: str, anchor: audit.Anchor, at: datetime) -> Point:
    return {"measurement": MEASUREMENT, "tags": {"site": site},
            "fields": {"id": anchor.row_id, "hash": anchor.hash,
                       "hash_prefix": int(anchor.hash[:audit.PREFIX_MIN], 16)},
            "time": epoch_ms(at)}


class AuditAnchorWatch(PeriodicWorker):
    """Logs the head and hands it to ``add`` (the time-series sink's buffer, or None)."""

    duty = "audit-anchor"
    """One instance of a cluster does this at a time."""

    first_at_once = True

    def __init__(self, store: Store, site: str, add: Callable[[list[Point]], None] | None,
                 now: Callable[[], datetime], interval: float) -> None:
        super().__init__("audit-anchor", interval)
        self.store = store
        self.site = site
        self.add = add
        self.now = now
        self.last: audit.Anchor | None = None

    def tick(self) -> None:
        with self.store.read() as session:
            anchor = audit.head(session)
        if anchor is None:
            return
        self.last = anchor
        log.info("audit anchor %s at %s", anchor.token, anchor.at.isoformat())
        if self.add is not None:
            self.add([anchor_point(self.site, anchor, self.now())])
