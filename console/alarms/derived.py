"""Alarms no single event carries: a run of denials at one reader, a plate on the block list.

The block list is the site file's ``rules.plates.block`` plus the plates supervisors add from
the console (``/api/plates``). They are evaluated in the ingest transaction right after the event's own alarm changes, so they
open their SOP's task the same way. Both are momentary (no event clears them): raised cleared,
they leave the queue once acknowledged; a repeat while open counts on the same alarm.
"""

from __future__ import annotations

import math
import re
import time

from sqlalchemy import select
from sqlalchemy.orm import Session

from console.alarms.engine import AlarmChange, raise_alarm
from console.alarms.rules import DERIVED
from console.events import Event
from console.settings import RulesSection
from console.store.tables import EventRow, PlateRow

_PLATE_NOISE = re.compile(r"[\s·•.\-]")


def normalise_plate(plate: str) -> str:
    """粤B·12345, 粤b 12345 and 粤B12345 are one plate."""
    return _PLATE_NOISE.sub("", plate).upper()


class DerivedAlarms:
    REFRESH = 10.0
    """Seconds between re-reads of the console's block list (another instance may have changed it)."""

    def __init__(self, rules: RulesSection):
        self.rules = rules
        self.blocked = {normalise_plate(p.plate): p.reason for p in rules.plates.block}
        self._console_blocked: frozenset[str] = frozenset()
        self._read_at = -math.inf

    def plates_changed(self) -> None:
        """The block list was changed from this console: read it again at the next plate."""
        self._read_at = -math.inf

    def _blocked_from_console(self, session: Session) -> frozenset[str]:
        # Every parking pass asks: one query per REFRESH, not one per car.
        if time.monotonic() - self._read_at > self.REFRESH:
            self._console_blocked = frozenset(session.scalars(select(PlateRow.plate).where(
                PlateRow.list_name == "block", PlateRow.removed_at.is_(None))))
            self._read_at = time.monotonic()
        return self._console_blocked

    def apply(self, session: Session, event: Event, event_id: int) -> list[AlarmChange]:
        if event.retained:
            return []
        if event.kind == "access.denied":
            return self._denied_burst(session, event, event_id)
        if event.kind in ("parking.entry", "parking.exit"):
            return self._blocked_plate(event, event_id, session)
        return []

    def _denied_burst(self, session: Session, event: Event, event_id: int) -> list[AlarmChange]:
        rule = self.rules.denied_burst
        recent = session.execute(
            select(EventRow.kind, EventRow.received_at).where(
                EventRow.site == event.site, EventRow.device_id == event.device_id, EventRow.point == event.point,
                EventRow.kind.in_(("access.denied", "access.granted")), EventRow.id <= event_id,
            ).order_by(EventRow.id.desc()).limit(rule.count)
        ).all()
        if len(recent) < rule.count or any(kind != "access.denied" for kind, _ in recent):
            return []
        if (recent[0].received_at - recent[-1].received_at).total_seconds() > rule.window_seconds:
            return []
        return [raise_alarm(session, site=event.site, device_id=event.device_id, point=event.point,
                            kind="access.denied_burst", severity=DERIVED["access.denied_burst"],
                            at=event.received_at, event_id=event_id, test=bool(event.data.test), momentary=True)]

    def _blocked_plate(self, event: Event, event_id: int, session: Session) -> list[AlarmChange]:
        plate = getattr(event.data, "plate", None)
        if not plate:
            return []
        normal = normalise_plate(plate)
        if normal not in self.blocked and normal not in self._blocked_from_console(session):
            return []
        return [raise_alarm(session, site=event.site, device_id=event.device_id, point=event.point,
                            kind="parking.plate_blocked", severity=DERIVED["parking.plate_blocked"],
                            at=event.received_at, event_id=event_id, test=bool(event.data.test), momentary=True)]
