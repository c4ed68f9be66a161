"""The duty log (值班记录, GB 25201): every two hours (``duty_log.interval_minutes``) an entry falls
due, pre-filled from what the console knows (duty_state.py). The people on duty check it against
the panel, correct it and add remarks; then two different people sign it.

- The first signature freezes the entry: its content is hashed, and the hash goes into the audit
  chain with every signature. A later change is a correction: a new entry that names the one it
  corrects and is signed again by two people.
- An entry not signed by both within ``grace_minutes`` is ``late``; one still unsigned when the
  next falls due is ``missed``, and the supervisors are told. Both are findings that a supervisor
  reviews. Slots passed while the console was down are entered as missed, with nothing pre-filled.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from console.alarms.views import iso
from console.devices.registry import DeviceRegistry
from console.errors import Refusal
from console.messages import HubMessage
from console.people import duty_state
from console.settings import Settings
from console.store import audit
from console.store.database import Store
from console.store.tables import DutyLogRow
from console.tasks.outcome import SYSTEM, Notice, Outcome
from console.workers import PeriodicWorker

CATCH_UP = timedelta(days=1)
"""How far back slots missed while the console was down are entered (older gaps show as gaps)."""
CHECK_SECONDS = 15.0


class DutyLog:
    """The site's duty log: its schedule, and every action on an entry (each in the caller's transaction)."""

    def __init__(self, settings: Settings, registry: DeviceRegistry) -> None:
        self.settings = settings
        self.section = settings.duty_log
        self.site = settings.site.id
        self.zone = ZoneInfo(settings.site.timezone)
        self.registry = registry
        self.interval = timedelta(minutes=self.section.interval_minutes)
        self.grace = timedelta(minutes=self.section.grace_minutes)

    # -- the schedule ------------------------------------------------------------------------

    def slot_of(self, when: datetime) -> datetime:
        """The slot ``when`` falls in: its start, counted in site time from midnight."""
        local = when.astimezone(self.zone)
        midnight = datetime.combine(local.date(), time(0), self.zone)
        steps = (local - midnight) // self.interval
        return (midnight + steps * self.interval).astimezone(when.tzinfo)

    def slots(self, day: date) -> Iterator[datetime]:
        """The slots of one site day."""
        start = datetime.combine(day, time(0), self.zone)
        return (start + n * self.interval for n in range(int(timedelta(days=1) / self.interval)))

    def due(self, session: Session, now: datetime) -> Outcome:
        """Open the entry of the slot ``now`` is in, enter the slots missed while the console was
        down, and raise the findings that have come due. Safe to call at any time, any number of times."""
        outcome = Outcome()
        if not self.section.enabled:
            return outcome
        current = self.slot_of(now)
        last = session.scalar(select(func.max(DutyLogRow.slot_at)).where(DutyLogRow.site == self.site,
                                                                         DutyLogRow.sequence == 0))
        if last is None or last < current:
            try:
                with session.begin_nested():
                    self._open_slots(session, last, current, now, outcome)
            except IntegrityError:  # another console instance opened this slot first
                outcome = Outcome()
        # Only the rows whose finding changes now, locked: a signature landing at the same moment
        # (or another console instance) is seen, and nothing is told twice.
        changing = session.scalars(select(DutyLogRow).where(
            DutyLogRow.site == self.site, DutyLogRow.sequence == 0, DutyLogRow.second_at.is_(None),
            or_(and_(DutyLogRow.finding.is_(None), DutyLogRow.slot_at <= now - self.grace),
                and_(or_(DutyLogRow.finding.is_(None), DutyLogRow.finding != "missed"),
                     DutyLogRow.slot_at <= now - self.interval)))
            .order_by(DutyLogRow.slot_at).with_for_update()).all()
        for row in changing:
            if row.second_at is not None:
                continue
            if row.slot_at + self.interval <= now and row.finding != "missed":
                self._finding(session, row, "missed", now, outcome)
            elif row.finding is None:
                self._finding(session, row, "late", now, outcome)
        return outcome

    def _open_slots(self, session: Session, last: datetime | None, current: datetime, now: datetime,
                    outcome: Outcome) -> None:
        """Enter the slots missed since ``last`` (while the console was down) and open ``current``."""
        gap = last + self.interval if last is not None else current
        for slot in _steps(max(gap, current - CATCH_UP), current, self.interval):
            row = DutyLogRow(site=self.site, slot_at=slot, sequence=0, opened_at=now, observed={},
                             prefill={"unavailable": "console_down"}, remarks="")
            session.add(row)
            session.flush()
            self._finding(session, row, "missed", now, outcome)
        row = self._open(session, current, now, 0, None)
        audit.record(session, SYSTEM, "duty_log.due", target=f"duty_log:{row.id}", detail={"slot": iso(current)},
                     at=now)
        outcome.hub.append(HubMessage("duty_log.updated", self.view(session, row)))

    def next_check(self, now: datetime) -> datetime:
        """When ``due`` next has something to do at the latest: the next slot or grace time."""
        current = self.slot_of(now)
        return min(t for t in (current + self.grace, current + self.interval) if t > now)

    def _open(self, session: Session, slot: datetime, now: datetime, sequence: int,
              corrects: DutyLogRow | None) -> DutyLogRow:
        prefill = corrects.prefill if corrects else duty_state.prefill(session, self.registry, self.site, now)
        observed = dict(corrects.observed if corrects else prefill.get("suggested", {}))
        row = DutyLogRow(site=self.site, slot_at=slot, sequence=sequence, opened_at=now, prefill=prefill,
                         observed=observed, remarks=corrects.remarks if corrects else "",
                         corrects_id=corrects.id if corrects else None)
        session.add(row)
        session.flush()
        return row

    def _finding(self, session: Session, row: DutyLogRow, finding: str, now: datetime, outcome: Outcome) -> None:
        row.finding = finding
        row.reviewed_by, row.reviewed_at, row.review_comment = None, None, ""  # a late one now missed: look again
        local = row.slot_at.astimezone(self.zone).strftime("%m-%d %H:%M")
        audit.record(session, SYSTEM, f"duty_log.{finding}", target=f"duty_log:{row.id}",
                     detail={"slot": iso(row.slot_at)}, at=now)
        outcome.hub.append(HubMessage("duty_log.updated", self.view(session, row)))
        if finding == "missed":
            outcome.notices.append(Notice(
                task_id=0, kind="duty_log", roles=("supervisor",),
                title=f"值班记录漏记 / duty log entry missed: {local}",
                body=f"{self.settings.site.name or self.site} {local} 的值班记录未经两名值班人员签名 / "
                     f"the {local} duty-log entry was not signed by the two people on duty."))

    # -- actions of the people on duty -------------------------------------------------------

    def edit(self, session: Session, entry_id: int, observed: dict[str, Any], remarks: str, user: str,
             now: datetime, client: str = "") -> Outcome:
        row = self.get(session, entry_id)
        if row.first_at is not None:
            raise Refusal("duty_log.signed", f"duty-log entry {entry_id} is signed: correct it with a new entry",
                          status=409, entry=entry_id)
        changed = {k: v for k, v in observed.items() if row.observed.get(k) != v}
        row.observed = {**row.observed, **observed}
        row.remarks = remarks
        row.edited_by = user
        audit.record(session, user, "duty_log.edit", target=f"duty_log:{row.id}",
                     detail={"changed": changed, "remarks": remarks}, client=client, at=now)
        return Outcome(hub=[HubMessage("duty_log.updated", self.view(session, row))])

    def sign(self, session: Session, entry_id: int, user: str, now: datetime, client: str = "",
             screen_of: str | None = None, seen_sha256: str | None = None) -> Outcome:
        """Sign as ``user``; ``screen_of``: the logged-in user at whose screen ``user`` countersigned;
        ``seen_sha256``: the content the signer was shown (refused if the entry has changed since)."""
        row = self.get(session, entry_id)
        if seen_sha256 is not None and seen_sha256 != (row.content_hash or content_hash(row)):
            raise Refusal("duty_log.changed", f"duty-log entry {entry_id} changed since it was shown: read it again",
                          status=409, entry=entry_id)
        if row.prefill.get("unavailable") and row.first_at is None and not row.observed:
            raise Refusal("duty_log.not_written", f"duty-log entry {entry_id} has nothing written: fill it in first",
                          status=409, entry=entry_id)
        if row.second_at is not None:
            raise Refusal("duty_log.complete", f"duty-log entry {entry_id} already has both signatures",
                          status=409, entry=entry_id)
        if row.first_by == user:
            raise Refusal("duty_log.same_person", "the second signature must be another person on duty",
                          status=409, entry=entry_id)
        if row.first_at is None:
            row.first_by, row.first_at, row.content_hash = user, now, content_hash(row)
            which = "first"
        else:
            row.second_by, row.second_at = user, now
            which = "second"
        audit.record(session, user, "duty_log.sign", target=f"duty_log:{row.id}",
                     detail={"signature": which, "content_sha256": row.content_hash, "slot": iso(row.slot_at),
                             **({"at_screen_of": screen_of} if screen_of and screen_of != user else {})},
                     client=client, at=now)
        return Outcome(hub=[HubMessage("duty_log.updated", self.view(session, row))])

    def correct(self, session: Session, entry_id: int, observed: dict[str, Any], remarks: str, reason: str,
                user: str, now: datetime, client: str = "") -> tuple[DutyLogRow, Outcome]:
        """A correction of a signed entry: a new entry, pre-filled with the one it corrects."""
        original = self.get(session, entry_id)
        if original.first_at is None:
            raise Refusal("duty_log.not_signed", f"duty-log entry {entry_id} is not signed yet: edit it instead",
                          status=409, entry=entry_id)
        sequence = session.scalar(select(func.max(DutyLogRow.sequence)).where(
            DutyLogRow.site == self.site, DutyLogRow.slot_at == original.slot_at)) or 0
        row = self._open(session, original.slot_at, now, sequence + 1, original)
        row.observed = {**row.observed, **observed}
        row.remarks = remarks
        row.edited_by = user
        audit.record(session, user, "duty_log.correct", target=f"duty_log:{row.id}",
                     detail={"corrects": original.id, "reason": reason, "remarks": remarks}, client=client, at=now)
        return row, Outcome(hub=[HubMessage("duty_log.updated", self.view(session, row)),
                                 HubMessage("duty_log.updated", self.view(session, original))])

    def review(self, session: Session, entry_id: int, comment: str, user: str, now: datetime,
               client: str = "") -> Outcome:
        """A supervisor has looked at a late or missed entry (what happened, what was done)."""
        row = self.get(session, entry_id)
        if row.finding is None:
            raise Refusal("duty_log.no_finding", f"duty-log entry {entry_id} has no finding to review",
                          status=409, entry=entry_id)
        if row.reviewed_at is not None:
            raise Refusal("duty_log.reviewed", f"duty-log entry {entry_id} was reviewed already",
                          status=409, entry=entry_id)
        row.reviewed_by, row.reviewed_at, row.review_comment = user, now, comment
        audit.record(session, user, "duty_log.review", target=f"duty_log:{row.id}",
                     detail={"finding": row.finding, "comment": comment}, client=client, at=now)
        return Outcome(hub=[HubMessage("duty_log.updated", self.view(session, row))])

    # -- reading -----------------------------------------------------------------------------

    def get(self, session: Session, entry_id: int, lock: bool = True) -> DutyLogRow:
        row = session.get(DutyLogRow, entry_id, with_for_update=lock)
        if row is None or row.site != self.site:
            raise Refusal("duty_log.not_found", f"no duty-log entry {entry_id}", status=404, entry=entry_id)
        return row

    def day(self, session: Session, day: date) -> list[DutyLogRow]:
        start = datetime.combine(day, time(0), self.zone)
        return list(session.scalars(select(DutyLogRow).where(
            DutyLogRow.site == self.site, DutyLogRow.slot_at >= start, DutyLogRow.slot_at < start + timedelta(days=1))
            .order_by(DutyLogRow.slot_at, DutyLogRow.sequence)))

    def findings(self, session: Session, open_only: bool = True) -> list[DutyLogRow]:
        query = select(DutyLogRow).where(DutyLogRow.site == self.site, DutyLogRow.finding.is_not(None))
        if open_only:
            query = query.where(DutyLogRow.reviewed_at.is_(None))
        return list(session.scalars(query.order_by(DutyLogRow.slot_at.desc()).limit(500)))

    def view(self, session: Session, row: DutyLogRow) -> dict[str, Any]:
        corrections = session.scalars(select(DutyLogRow.id).where(DutyLogRow.corrects_id == row.id)
                                      .order_by(DutyLogRow.id)).all()
        suggested = row.prefill.get("suggested", {})
        state = "signed" if row.second_at else "signing" if row.first_at else "open"
        return {
            "id": row.id, "site": row.site, "slot_at": iso(row.slot_at), "sequence": row.sequence,
            "corrects": row.corrects_id, "corrected_by": list(corrections), "opened_at": iso(row.opened_at),
            "state": state, "due_by": iso(row.slot_at + self.grace), "prefill": row.prefill,
            "observed": row.observed, "remarks": row.remarks, "edited_by": row.edited_by,
            "changed": sorted(k for k, v in row.observed.items() if k in suggested and suggested[k] != v),
            "first": {"by": row.first_by, "at": iso(row.first_at)} if row.first_at else None,
            "second": {"by": row.second_by, "at": iso(row.second_at)} if row.second_at else None,
            "content_sha256": row.content_hash,
            "current_sha256": content_hash(row),
            "intact": row.content_hash is None or row.content_hash == content_hash(row),
            "finding": row.finding,
            "review": ({"by": row.reviewed_by, "at": iso(row.reviewed_at), "comment": row.review_comment}
                       if row.reviewed_at else None),
        }


def content_hash(row: DutyLogRow) -> str:
    """SHA-256 of what the signatures vouch for: the slot, what was observed, the remarks, and
    the entry corrected."""
    body = {"site": row.site, "slot": iso(row.slot_at), "sequence": row.sequence, "corrects": row.corrects_id,
            "observed": row.observed, "remarks": row.remarks}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
                          .encode()).hexdigest()


def _steps(start: datetime, end: datetime, step: timedelta) -> Iterator[datetime]:
    """start, start + step, … before end."""
    at = start
    while at < end:
        yield at
        at += step


class DutyLogClock(PeriodicWorker):
    """Opens each entry when it falls due and raises the findings (every ``CHECK_SECONDS``)."""

    duty = "duty-log-clock"
    """One instance of a cluster does this at a time."""

    def __init__(self, log: DutyLog, store: Store, deliver: Callable[[Outcome], None],
                 now: Callable[[], datetime], interval: float = CHECK_SECONDS):
        super().__init__("duty_log", interval)
        self.first_at_once = True
        self._next: datetime | None = None
        """When the log next has something to do (the write transaction is skipped until then)."""
        self.log, self.store, self.deliver, self.now = log, store, deliver, now

    def tick(self) -> None:
        now = self.now()
        if self._next is not None and now < self._next:
            return  # nothing falls due between a slot's start, its grace time and the next slot
        with self.store.write() as session, session.begin():
            outcome = self.log.due(session, now)
        self._next = self.log.next_check(now)
        if outcome.hub or outcome.notices:
            self.deliver(outcome)
