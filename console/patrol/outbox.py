"""The event outbox: events the rounds conclude inside their own transaction (a missed point, a
scan, a defect) are written here with the change that caused them, handed to the alarm path (the
single writer) after the commit, and deleted once the event is stored. A crash in between loses
nothing; a draft handed over twice is stored once (its source id is fixed)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from console.contract import Draft
from console.events import validate_event
from console.store.tables import EventRow, OutboxRow


def emit(session: Session, draft: Draft, now: datetime) -> None:
    """Keep ``draft`` for the alarm path, in the caller's transaction."""
    # Checked here, with the change that makes it: a draft the alarm path would refuse must
    # fail this action, not sit in the outbox holding up the events behind it.
    validate_event(draft, "console", now)
    ts = draft.ts.isoformat() if isinstance(draft.ts, datetime) else draft.ts
    session.add(OutboxRow(site=draft.site, device_id=draft.device_id, source_id=draft.source_id,
                          draft={"kind": draft.kind, "site": draft.site, "device_id": draft.device_id,
                                 "source_id": draft.source_id, "ts": ts, "point": draft.point,
                                 "data": {k: v for k, v in draft.data.items() if v is not None}},
                          created_at=now))


def pending_drafts(session: Session, limit: int = 500) -> tuple[list[Draft], list[int]]:
    """The outbox: drafts still to hand to the alarm path, and the ids of rows whose event is
    already stored (to delete)."""
    drafts, stored = [], []
    for row in session.scalars(select(OutboxRow).order_by(OutboxRow.id).limit(limit)):
        exists = session.scalar(select(EventRow.id).where(EventRow.site == row.site,
                                                          EventRow.device_id == row.device_id,
                                                          EventRow.source_id == row.source_id))
        if exists is not None:
            stored.append(row.id)
        else:
            d = row.draft
            drafts.append(Draft(kind=d["kind"], site=d["site"], device_id=d["device_id"], source_id=d["source_id"],
                                ts=datetime.fromisoformat(d["ts"]), point=d.get("point", ""), data=d.get("data", {})))
    return drafts, stored


def flush_outbox(store_write: Callable[[], Any], observe: Callable[[list[Draft], datetime], None],
                 now: datetime) -> int:
    """Hand the outbox's drafts to the alarm path (received ``now``); drop the rows whose events
    are stored."""
    with store_write() as session, session.begin():
        drafts, stored = pending_drafts(session)
        if stored:
            session.execute(delete(OutboxRow).where(OutboxRow.id.in_(stored)))
    if drafts:
        observe(drafts, now)
    return len(drafts)
