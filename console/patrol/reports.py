"""What the rounds show: one round as the screens and the guard's phone see it, and the figures
for a period (a shift, a day, a month) per guard and in total, with the completion rate the
supervisor's quality check uses (points walked / points planned) and the on-time rate.

Rounds count by their due time; a round still open (due or started) is listed but not counted,
and cancelled rounds (their compensating patrol ended) are neither.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from console.alarms.views import iso
from console.store.tables import RoundPointRow, RoundRow

ROUND_STATES = ("done", "late", "incomplete", "missed")
POINT_STATES = ("done", "late", "missed")


def point_view(point: RoundPointRow, for_guard: bool = False) -> dict[str, Any]:
    view = {"seq": point.seq, "checkpoint": point.checkpoint_id, "name": point.name, "state": point.state,
            "due_at": iso(point.due_at), "scanned_at": iso(point.scanned_at), "missed_at": iso(point.missed_at),
            "offset_minutes": point.offset_minutes}
    if not for_guard:
        view.update({"received_at": iso(point.received_at), "device_time": iso(point.device_time),
                     "scanned_by": point.scanned_by, "via": point.via, "checks": point.checks, "note": point.note,
                     "photo": point.photo})
    return view


def round_view(row: RoundRow, points: list[RoundPointRow], for_guard: bool = False) -> dict[str, Any]:
    counts = {state: sum(1 for p in points if p.state == state) for state in ("pending", *POINT_STATES)}
    return {"id": row.id, "site": row.site, "name": row.name, "guard": row.guard, "state": row.state,
            "ordered": row.ordered, "route_id": row.route_id, "schedule_id": row.schedule_id,
            "compensating_for": row.alarm_id, "due_at": iso(row.due_at), "start_by": iso(row.start_by),
            "started_at": iso(row.started_at), "limit_at": iso(row.limit_at), "ended_at": iso(row.ended_at),
            "counts": counts, "points": [point_view(p, for_guard) for p in points]}


def rounds_with_points(session: Session, rows: list[RoundRow]) -> list[tuple[RoundRow, list[RoundPointRow]]]:
    points: dict[int, list[RoundPointRow]] = defaultdict(list)
    if rows:
        for point in session.scalars(select(RoundPointRow).where(RoundPointRow.round_id.in_([r.id for r in rows]))
                                     .order_by(RoundPointRow.round_id, RoundPointRow.seq)):
            points[point.round_id].append(point)
    return [(row, points[row.id]) for row in rows]


def figures(session: Session, start: datetime, end: datetime, site: str | None = None,
            sites: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Rounds due in [start, end): totals, per guard, and each round (of ``site``, of ``sites``; None: all)."""
    query = select(RoundRow).where(RoundRow.due_at >= start, RoundRow.due_at < end).order_by(RoundRow.due_at)
    if site is not None:
        query = query.where(RoundRow.site == site)
    if sites is not None:
        query = query.where(RoundRow.site.in_(sites))
    rounds = rounds_with_points(session, list(session.scalars(query)))
    totals = _blank()
    by_guard: dict[str, dict[str, Any]] = defaultdict(_blank)
    for row, points in rounds:
        if row.state not in ROUND_STATES:
            continue
        for bucket in (totals, by_guard[row.guard or "-"]):
            _count(bucket, row, points)
    for bucket in (totals, *by_guard.values()):
        _rates(bucket)
    return {"totals": totals, "by_guard": dict(sorted(by_guard.items())),
            "rounds": [round_view(row, points) for row, points in rounds if row.state != "cancelled"]}


def _blank() -> dict[str, Any]:
    return {"rounds": 0, **{f"rounds_{s}": 0 for s in ROUND_STATES}, "points": 0,
            **{f"points_{s}": 0 for s in POINT_STATES}, "findings": 0, "defects": 0}


def _count(bucket: dict[str, Any], row: RoundRow, points: list[RoundPointRow]) -> None:
    bucket["rounds"] += 1
    bucket[f"rounds_{row.state}"] += 1
    for point in points:
        bucket["points"] += 1
        if point.state in POINT_STATES:
            bucket[f"points_{point.state}"] += 1
        failed = sum(1 for value in (point.checks or {}).values() if value == "failed")
        bucket["defects"] += failed
        bucket["findings"] += failed + (1 if (point.note or point.photo) and not failed else 0)


def _rates(bucket: dict[str, Any]) -> None:
    planned = bucket["points"]
    walked = bucket["points_done"] + bucket["points_late"]
    bucket["completion_rate"] = round(walked / planned, 4) if planned else None
    bucket["on_time_rate"] = round(bucket["points_done"] / planned, 4) if planned else None
