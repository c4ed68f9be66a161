"""Remote commands and their outcome: a barrier lift or a GB/T 26875.3 duty check (查岗) is "sent"
when the broker or the device's link takes it, "confirmed" when the device's own event says it was
done (the lane's ``parking.barrier_opened``; the staff's answer, a ``device.heartbeat`` via
``duty_check``), and "not confirmed" when that does not come within the site's limit. Each outcome
is in the audit chain (actor ``system``) and reaches the pages as ``command.updated``.

The watch reads the stored events, so an answer that came in while the console restarted still
confirms its command.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from console.messages import HubMessage
from console.settings import Settings
from console.store import audit
from console.store.database import Store
from console.store.tables import CommandRow, EventRow
from console.workers import PeriodicWorker

SYSTEM = "system"
BARRIER, DUTY_CHECK = "barrier.open", "gb.duty_check"
# command kind -> (the event kind that confirms it, the data.via it must carry, if any)
CONFIRMED_BY: dict[str, tuple[str, str | None]] = {
    BARRIER: ("parking.barrier_opened", None),
    DUTY_CHECK: ("device.heartbeat", "duty_check"),
}
CHECK_SECONDS = 0.5


def limit(settings: Settings, kind: str) -> timedelta:
    seconds = (settings.commands.barrier_confirm_seconds if kind == BARRIER
               else settings.commands.duty_check_answer_seconds)
    return timedelta(seconds=seconds)


def record_sent(session: Session, settings: Settings, *, command_id: str, kind: str, device_id: str, reason: str,
                user: str, sent_at: datetime, now: datetime, client: str = "", site: str | None = None) -> CommandRow:
    """The command left the console at ``sent_at`` (taken before it went: a quick device may
    answer before this is written): wait for the device (of ``site``, default the console's) to confirm it."""
    row = CommandRow(id=command_id, site=site or settings.site.id, device_id=device_id, kind=kind, reason=reason,
                     sent_by=user, sent_at=sent_at, due_at=sent_at + limit(settings, kind), state="sent")
    session.add(row)
    session.flush()
    audit.record(session, user, "command.sent", target=f"device:{device_id}",
                 detail={"command_id": command_id, "kind": kind, "reason": reason, "due_at": row.due_at.isoformat()},
                 client=client, at=now)
    return row


def settle(session: Session, now: datetime) -> list[HubMessage]:
    """Confirm the commands whose device has said so; give up on those past their limit."""
    changed = []
    pending = session.scalars(select(CommandRow).where(CommandRow.state == "sent")
                              .order_by(CommandRow.sent_at).with_for_update()).all()
    for row in pending:
        kind, via = CONFIRMED_BY[row.kind]
        query = select(EventRow.id).where(
            EventRow.site == row.site, EventRow.device_id == row.device_id, EventRow.kind == kind,
            EventRow.received_at >= row.sent_at,
            # one event confirms one command (two lifts in a row need the barrier to open twice)
            EventRow.id.not_in(select(CommandRow.event_id).where(CommandRow.event_id.is_not(None))))
        if via is not None:  # a GB device's heartbeats are mostly analog values, not the staff's answer
            query = query.where(EventRow.data["via"].as_string() == via)
        proof = session.scalar(query.order_by(EventRow.id).limit(1))
        if proof is not None:
            row.state, row.event_id = "confirmed", proof
        elif now >= row.due_at:
            row.state = "not_confirmed"
        else:
            continue
        row.settled_at = now
        audit.record(session, SYSTEM, f"command.{row.state}", target=f"device:{row.device_id}",
                     detail={"command_id": row.id, "kind": row.kind, "event_id": row.event_id,
                             "sent_by": row.sent_by}, at=now)
        session.flush()  # the next command sees this event as used
        changed.append(HubMessage("command.updated", view(row)))
    return changed


def view(row: CommandRow) -> dict[str, Any]:
    return {"id": row.id, "site": row.site, "device_id": row.device_id, "kind": row.kind, "reason": row.reason,
            "sent_by": row.sent_by, "sent_at": row.sent_at.isoformat(), "due_at": row.due_at.isoformat(),
            "state": row.state, "settled_at": row.settled_at.isoformat() if row.settled_at else None,
            "event_id": row.event_id}


class CommandWatch(PeriodicWorker):
    """Settles the commands waiting for their device (every ``CHECK_SECONDS``, while any wait)."""

    duty = "command-watch"
    """One instance of a cluster does this at a time."""

    def __init__(self, store: Store, publish: Callable[[list[HubMessage]], None], now: Callable[[], datetime],
                 interval: float = CHECK_SECONDS) -> None:
        super().__init__("commands", interval)
        self.store, self.publish, self.now = store, publish, now
        self.settled = 0

    def detail(self) -> dict[str, object]:
        return {"settled": self.settled}

    def tick(self) -> None:
        with self.store.read() as session:
            if session.scalar(select(CommandRow.id).where(CommandRow.state == "sent").limit(1)) is None:
                return
        with self.store.write() as session, session.begin():
            changed = settle(session, self.now())
        if changed:
            self.settled += len(changed)
            self.publish(changed)
