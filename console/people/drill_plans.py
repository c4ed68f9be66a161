"""Drill plans (演练计划): a supervisor plans a drill (what, where, when), a person in the control
room starts it (a drill alarm published to the site's broker, drills.py), and its task is watched
and scored like any other, labelled 演练. Nothing starts by itself: a drill begins when the people
who run it are ready. Every plan, start and cancel is in the audit chain."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from console.alarms.views import iso
from console.errors import Refusal
from console.people.drills import drill_message
from console.settings import Settings
from console.store import audit
from console.store.tables import AlarmRow, DrillPlanRow, EventRow, TaskRow
from console.tasks.sop import SopBook
from console.tasks.views import drill_score


def plan(session: Session, settings: Settings, book: SopBook, *, title: str, planned_for: datetime | None,
         device_id: str, point: str, kind: str, note: str, user: str, now: datetime,
         client: str = "") -> DrillPlanRow:
    drill_message(settings, book, device_id, kind, point, note)  # the same checks as a start
    row = DrillPlanRow(site=settings.site.id, title=title, planned_for=planned_for, device_id=device_id,
                       point=point, kind=kind, note=note, created_by=user, created_at=now, state="planned")
    session.add(row)
    session.flush()
    audit.record(session, user, "drill.plan", target=f"drill:{row.id}",
                 detail={"title": title, "device": device_id, "point": point, "kind": kind,
                         "planned_for": iso(planned_for)}, client=client, at=now)
    return row


def _get(session: Session, plan_id: int) -> DrillPlanRow:
    row = session.get(DrillPlanRow, plan_id, with_for_update=True)
    if row is None:
        raise Refusal("drill.not_found", f"no drill plan {plan_id}", status=404, plan=plan_id)
    return row


def _get_planned(session: Session, plan_id: int) -> DrillPlanRow:
    row = _get(session, plan_id)
    if row.state in ("starting", "started"):
        raise Refusal("drill.started", f"drill plan {plan_id} has been started already", plan=plan_id)
    if row.state == "cancelled":
        raise Refusal("drill.cancelled", f"drill plan {plan_id} was cancelled", plan=plan_id)
    return row


def claim(session: Session, settings: Settings, book: SopBook, plan_id: int, user: str, now: datetime,
          client: str = "") -> tuple[str, bytes]:
    """Take a planned drill for starting (nobody else can start it now) and make its message: the
    caller publishes it outside the transaction, then says how that went (``started``)."""
    row = _get_planned(session, plan_id)
    note = " · ".join(x for x in (row.title, row.note) if x)
    topic, body = drill_message(settings, book, row.device_id, row.kind, row.point, note)
    row.state, row.started_by, row.message_id = "starting", user, str(body["id"])
    audit.record(session, user, "drill.start_requested", target=f"drill:{row.id}",
                 detail={"message_id": row.message_id, "device": row.device_id, "kind": row.kind}, client=client, at=now)
    return topic, json.dumps(body, ensure_ascii=False).encode()


def started(session: Session, plan_id: int, user: str, now: datetime, sent: bool, client: str = "") -> DrillPlanRow:
    """The broker took the drill message (``sent``): the drill runs; otherwise it is planned again."""
    row = _get(session, plan_id)
    if sent:
        row.state, row.started_at = "started", now
    else:
        row.state, row.started_by, row.message_id = "planned", None, None
    audit.record(session, user, "drill.start" if sent else "drill.start_failed", target=f"drill:{row.id}",
                 detail={"device": row.device_id, "kind": row.kind}, client=client, at=now)
    return row


def cancel(session: Session, plan_id: int, user: str, now: datetime, client: str = "") -> DrillPlanRow:
    row = _get_planned(session, plan_id)
    row.state = "cancelled"
    audit.record(session, user, "drill.cancel", target=f"drill:{row.id}", detail={"title": row.title},
                 client=client, at=now)
    return row


def task_of(session: Session, row: DrillPlanRow) -> TaskRow | None:
    """The task the plan's drill alarm opened (None until the alarm has come back in)."""
    if not row.message_id:
        return None
    event_id = session.scalar(select(EventRow.id).where(EventRow.device_id == row.device_id,
                                                        EventRow.source_id == row.message_id))
    if event_id is None:
        return None
    task_id = session.scalar(select(AlarmRow.task_id).where(
        or_(AlarmRow.first_event_id == event_id, AlarmRow.last_event_id == event_id)).limit(1))
    return session.get(TaskRow, task_id) if task_id else None


def task_view(task: TaskRow | None, book: SopBook) -> dict[str, Any] | None:
    if task is None:
        return None
    score = drill_score(task, book.sops.get(task.sop_id)) if task.state == "closed" else None
    return {"id": task.id, "state": task.state, "opened_at": iso(task.opened_at), "closed_at": iso(task.closed_at),
            "score": score}


def view(session: Session, row: DrillPlanRow, book: SopBook) -> dict[str, Any]:
    planned = row.planned_for.astimezone(timezone.utc) if row.planned_for else None
    return {"id": row.id, "site": row.site, "title": row.title, "planned_for": iso(planned),
            "device_id": row.device_id,
            "point": row.point, "kind": row.kind, "note": row.note, "created_by": row.created_by,
            "created_at": iso(row.created_at), "state": row.state, "started_by": row.started_by,
            "started_at": iso(row.started_at), "task": task_view(task_of(session, row), book)}


def history(session: Session, book: SopBook, limit: int = 50,
            sites: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    """Every drill task (of ``sites``; None: of every site), newest first, whether from a plan or the
    command line, with its score."""
    query = select(TaskRow).where(TaskRow.drill.is_(True))
    if sites is not None:
        query = query.where(TaskRow.site.in_(sites))
    tasks = session.scalars(query.order_by(TaskRow.opened_at.desc()).limit(limit)).all()
    out = []
    for task in tasks:
        sop = book.sops.get(task.sop_id)
        out.append({**(task_view(task, book) or {}), "sop": task.sop_id,
                    "title": {"zh": sop.title.zh, "en": sop.title.en} if sop else None,
                    "device_id": task.device_id, "point": task.point})
    return out
