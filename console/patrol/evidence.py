"""A defect's photo, taken with the scan, becomes evidence of the work order its alarm opened.
The task opens in the alarm path, after the scan's own transaction, so the patrol clock links the
photo once the task exists."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from console.store.tables import AlarmRow, EventRow, EvidenceRow
from console.tasks.outcome import Outcome
from console.tasks.service import TaskService


def link_photos(session: Session, tasks: TaskService, now: datetime) -> Outcome:
    """A defect's photo, taken with the scan, becomes evidence of the work order its alarm
    opened (the task opens in the alarm path, after the scan's own transaction)."""
    out = Outcome()
    rows = session.execute(select(AlarmRow, EventRow).join(EventRow, EventRow.id == AlarmRow.last_event_id).where(
        AlarmRow.kind == "patrol.defect", AlarmRow.task_id.is_not(None), AlarmRow.closed.is_(False))).all()
    for alarm, event in rows:
        digest = (event.data or {}).get("photo")
        if not digest or alarm.task_id is None:
            continue
        if session.scalar(select(EvidenceRow.id).where(EvidenceRow.task_id == alarm.task_id,
                                                       EvidenceRow.sha256 == digest)) is not None:
            continue
        path = tasks.evidence_path(digest)
        if not path.exists():
            continue
        content = path.read_bytes()
        guard = str(event.data.get("guard") or "system")
        task = tasks.records.load(session, alarm.task_id, lock=True)
        evidence = EvidenceRow(task_id=alarm.task_id, step="ack", sha256=digest, content_type=photo_type(content),
                               size=len(content), uploaded_by=guard, uploaded_at=event.ts)
        session.add(evidence)
        session.flush()
        tasks.records.log(session, task.row, guard, "photo", now, step="ack",
                               data={"evidence_id": evidence.id, "sha256": digest, "by": "patrol"})
        tasks.records.save(task, out)
    tasks.records.finish(session, out)
    return out


def photo_type(content: bytes) -> str:
    if content.startswith(b"\x89PNG"):
        return "image/png"
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    return "image/jpeg"
