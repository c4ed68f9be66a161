"""GET /api/kpis/today: the day's figures for the wall (site time zone; drills kept out)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from sqlalchemy import func, select

from console.api.deps import ReadSession, RuntimeDep, SiteWatcher, of_sites
from console.devices import subsystems
from console.people import reports
from console.store.tables import AlarmRow, RoundRow, TaskRow

router = APIRouter(tags=["kpis"])


@router.get("/api/kpis/today")
def kpis_today(session: ReadSession, runtime: RuntimeDep, user: SiteWatcher) -> dict[str, Any]:
    """``{day, alarms, alarms_by_subsystem, acknowledged, open_alarms, open_tasks, closed_tasks,
    median_ack_seconds, median_arrive_seconds, overdue_steps, false_alarms, drills, rounds_active,
    rounds_missed, patrol_completion}``: alarms raised and tasks opened today (the site's day), what is
    open now, drills on their own, and the patrol rounds (under way now; missed or left incomplete
    today; the share of today's checkpoints walked), of the sites the reader works for."""
    zone = ZoneInfo(runtime.settings.site.timezone)
    now = runtime.now()
    day = now.astimezone(zone).date()
    start = datetime.combine(day, time(0), zone)
    end = start + timedelta(days=1)
    report = reports.build(session, runtime.tasks.book, runtime.registry,
                           reports.Window(start, end, "today", sites=user.sites))
    alarms = session.scalars(select(AlarmRow).where(AlarmRow.raised_at >= start, AlarmRow.raised_at < end,
                                                    AlarmRow.test.is_(False), of_sites(user, AlarmRow.site))).all()
    by_subsystem = Counter(subsystems.of_event(a.kind, runtime.registry, a.site, a.device_id, a.point) for a in alarms)
    open_alarms = session.scalar(select(func.count()).select_from(AlarmRow).where(
        AlarmRow.closed.is_(False), AlarmRow.test.is_(False), of_sites(user, AlarmRow.site))) or 0
    open_tasks = session.scalar(select(func.count()).select_from(TaskRow).where(
        TaskRow.state == "open", TaskRow.drill.is_(False), of_sites(user, TaskRow.site))) or 0
    rounds_active = session.scalar(select(func.count()).select_from(RoundRow).where(
        RoundRow.state == "started", of_sites(user, RoundRow.site))) or 0
    patrol = report["patrol"]["totals"]
    closed_tasks = session.scalar(select(func.count()).select_from(TaskRow).where(
        TaskRow.state == "closed", TaskRow.drill.is_(False), TaskRow.closed_at >= start, TaskRow.closed_at < end,
        of_sites(user, TaskRow.site))) or 0
    return {
        "day": day.isoformat(),
        "alarms": len(alarms),
        "alarms_by_subsystem": {name: by_subsystem.get(name, 0) for name in subsystems.SUBSYSTEMS},
        "acknowledged": sum(1 for a in alarms if a.acknowledged),
        "open_alarms": open_alarms,
        "open_tasks": open_tasks,
        "closed_tasks": closed_tasks,
        "median_ack_seconds": report["times"]["to_acknowledge"]["median_s"],
        "median_arrive_seconds": report["times"]["to_arrive"]["median_s"],
        "overdue_steps": sum(row["count"] for row in report["deadline_breaches"]),
        "false_alarms": sum(row["false"] for row in report["false_alarms"]),
        "drills": len(report["drills"]),
        "rounds_active": rounds_active,
        "rounds_missed": patrol["rounds_missed"] + patrol["rounds_incomplete"],
        "patrol_completion": patrol["completion_rate"],
    }
