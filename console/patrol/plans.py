"""Checkpoints, routes and schedules, as the control room sets them up (the API audits each change).

A checkpoint is a place (building, floor, zone) with an optional checklist and a photo rule; its
own printed label is signed (console/tasks/tags.py), and the zone's location label proves the
place too. A route lists checkpoints in order (or in any order) with the expected minutes from
the previous one. A schedule says when the route is walked: at fixed times of day, or every N
minutes between two times, with a start window and a time limit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from console.alarms.views import iso
from console.errors import Refusal
from console.patrol.timing import day_minutes
from console.store.tables import CheckpointRow, RoundRow, RouteRow, ScheduleRow, UserRow

CHECK_ROLES = ("engineering", "supervisor")
"""Who fixes a failed checklist item: engineering (a door, a light, an extinguisher), or the
security supervisor (a blocked escape route, an unlocked gate)."""


class PatrolError(Refusal):
    """A patrol plan or a round action the console refuses (409 unless said otherwise)."""


def add_checkpoint(session: Session, site: str, fields: dict[str, Any], now: datetime) -> CheckpointRow:
    row = CheckpointRow(site=site, created_at=now, active=True)
    _apply_checkpoint(row, fields)
    session.add(row)
    session.flush()
    return row


def update_checkpoint(session: Session, checkpoint_id: int, fields: dict[str, Any]) -> CheckpointRow:
    row = checkpoint(session, checkpoint_id)
    _apply_checkpoint(row, fields)
    return row


def _apply_checkpoint(row: CheckpointRow, fields: dict[str, Any]) -> None:
    for name in ("name", "building", "floor", "zone", "photo_required", "wand_tag", "active"):
        if name in fields:
            setattr(row, name, fields[name])
    if "checklist" in fields:
        items = fields["checklist"] or []
        ids = [item["id"] for item in items]
        if len(set(ids)) != len(ids):
            raise PatrolError("patrol.checklist_duplicate", "two checklist items have the same id", status=422)
        for item in items:
            if item.get("role", "engineering") not in CHECK_ROLES:
                raise PatrolError("patrol.checklist_role", f"a failed item goes to one of {', '.join(CHECK_ROLES)}",
                                  status=422, roles=", ".join(CHECK_ROLES))
        row.checklist = [{"id": i["id"], "text": i["text"], "role": i.get("role", "engineering")} for i in items]


def checkpoint(session: Session, checkpoint_id: int) -> CheckpointRow:
    row = session.get(CheckpointRow, checkpoint_id)
    if row is None:
        raise PatrolError("patrol.checkpoint_not_found", f"no checkpoint {checkpoint_id}", status=404,
                          checkpoint=checkpoint_id)
    return row


def add_route(session: Session, site: str, name: str, ordered: bool, points: list[dict[str, int]],
              now: datetime) -> RouteRow:
    _check_points(session, site, points)
    row = RouteRow(site=site, name=name, ordered=ordered, points=[
        {"checkpoint": p["checkpoint"], "minutes": p.get("minutes", 0)} for p in points], active=True, created_at=now)
    session.add(row)
    session.flush()
    return row


def _check_points(session: Session, site: str, points: list[dict[str, int]]) -> None:
    if not points:
        raise PatrolError("patrol.route_empty", "a route has at least one checkpoint", status=422)
    seen: set[int] = set()
    for point in points:
        row = checkpoint(session, point["checkpoint"])
        if row.site != site or not row.active:
            raise PatrolError("patrol.checkpoint_not_found", f"no active checkpoint {row.id} at this site",
                              status=404, checkpoint=row.id)
        if row.id in seen:
            raise PatrolError("patrol.route_repeats", "a route passes each checkpoint once", status=422)
        seen.add(row.id)


def route(session: Session, route_id: int) -> RouteRow:
    row = session.get(RouteRow, route_id)
    if row is None:
        raise PatrolError("patrol.route_not_found", f"no route {route_id}", status=404, route=route_id)
    return row


def add_schedule(session: Session, site: str, fields: dict[str, Any], user: str, now: datetime) -> ScheduleRow:
    walked = route(session, fields["route_id"])
    if walked.site != site or not walked.active:
        raise PatrolError("patrol.route_not_found", f"no active route {walked.id} at this site", status=404,
                          route=walked.id)
    times, every = fields.get("times") or [], fields.get("every_minutes")
    if bool(times) == bool(every):
        raise PatrolError("patrol.schedule_when", "a schedule has fixed times or an interval (one of the two)",
                          status=422)
    try:
        minutes = day_minutes(times, every, fields.get("from_time", "00:00"), fields.get("until_time", "24:00"))
    except ValueError as exc:
        raise PatrolError("patrol.bad_time", str(exc), status=422) from exc
    window, limit = fields.get("start_window_minutes", 10), fields.get("limit_minutes", 60)
    if every is not None and every < window * 2:
        raise PatrolError("patrol.schedule_overlap", "rounds must not fall due inside the previous one's start window",
                          status=422)
    if not minutes:
        raise PatrolError("patrol.schedule_when", "a schedule has fixed times or an interval (one of the two)",
                          status=422)
    guard = fields.get("guard")
    if guard is not None and session.scalar(select(UserRow.id).where(UserRow.username == guard,
                                                                     UserRow.role == "guard")) is None:
        raise PatrolError("patrol.not_a_guard", f"{guard!r} is not a guard", status=422, guard=guard)
    row = ScheduleRow(site=site, route_id=walked.id, name=fields.get("name") or walked.name, times=list(times),
                      every_minutes=every, from_time=fields.get("from_time", "00:00"),
                      until_time=fields.get("until_time", "24:00"), start_window_minutes=window,
                      limit_minutes=limit, guard=guard, alarm_id=fields.get("alarm_id"),
                      starts_at=fields.get("starts_at") or now, active=True, created_by=user, created_at=now)
    session.add(row)
    session.flush()
    return row


def end_schedule(session: Session, schedule_id: int, now: datetime) -> ScheduleRow:
    """No more rounds from this schedule; its rounds not yet started are cancelled."""
    row = session.get(ScheduleRow, schedule_id, with_for_update=True)
    if row is None:
        raise PatrolError("patrol.schedule_not_found", f"no schedule {schedule_id}", status=404, schedule=schedule_id)
    row.active, row.ends_at = False, row.ends_at or now
    for due in session.scalars(select(RoundRow).where(RoundRow.schedule_id == row.id, RoundRow.state == "due")):
        due.state, due.ended_at = "cancelled", now
    return row


# -- views -------------------------------------------------------------------------------------


def checkpoint_view(row: CheckpointRow) -> dict[str, Any]:
    return {"id": row.id, "site": row.site, "name": row.name, "building": row.building, "floor": row.floor,
            "zone": row.zone, "checklist": row.checklist, "photo_required": row.photo_required,
            "wand_tag": row.wand_tag, "active": row.active}


def route_view(row: RouteRow) -> dict[str, Any]:
    return {"id": row.id, "site": row.site, "name": row.name, "ordered": row.ordered, "points": row.points,
            "active": row.active}


def schedule_view(row: ScheduleRow) -> dict[str, Any]:
    return {"id": row.id, "site": row.site, "route_id": row.route_id, "name": row.name, "times": row.times,
            "every_minutes": row.every_minutes, "from_time": row.from_time, "until_time": row.until_time,
            "start_window_minutes": row.start_window_minutes, "limit_minutes": row.limit_minutes,
            "guard": row.guard, "alarm_id": row.alarm_id, "starts_at": iso(row.starts_at),
            "ends_at": iso(row.ends_at), "active": row.active, "created_by": row.created_by}
