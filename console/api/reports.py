"""Shift handovers and the shift / daily / monthly reports, per site (JSON, CSV, printable HTML with charts)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from console.api.deps import (
    AlarmActor,
    ReadSession,
    RowId,
    RuntimeDep,
    client_address,
    of_sites,
    reachable_day,
    seen_or_missing,
    their_site,
)
from console.errors import Refusal
from console.people import auth, reports
from console.runtime import Runtime
from console.store.tables import HandoverRow, TaskRow
from console.tasks import handover

router = APIRouter(prefix="/api", tags=["reports"])
Format = Literal["json", "csv", "html"]
FORMATS: dict[int | str, dict[str, Any]] = {200: {"content": {"application/json": {}, "text/csv": {}, "text/html": {}}}}


class HandoverBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    notes: str = Field("", max_length=4000, description="What the outgoing operator wants the next shift to know.")


@router.post("/handovers")
def start_handover(body: HandoverBody, request: Request, runtime: RuntimeDep, user: AlarmActor) -> dict[str, Any]:
    """Start a handover: snapshot what is open and open the handover checklist (answer its steps,
    then both operators sign: sign_out by the outgoing, sign_in by the incoming operator). It is
    the console's site's handover: 403 for a user who does not work for that site."""
    their_site(user, runtime.settings.site.id)
    with runtime.store.write() as session, session.begin():
        row, outcome = handover.start(session, runtime.tasks, runtime.registry, user.username, body.notes,
                                      runtime.now(), client_address(request), user.sites)
        view = handover.view(row, session.get(TaskRow, row.task_id), user.sites)
    runtime.outlet.deliver(outcome)
    return view


@router.get("/handovers")
def list_handovers(session: ReadSession, user: AlarmActor,
                   limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[dict[str, Any]]:
    rows = session.scalars(select(HandoverRow).where(of_sites(user, HandoverRow.site))
                           .order_by(HandoverRow.created_at.desc()).limit(limit)).all()
    return [handover.view(row, session.get(TaskRow, row.task_id), user.sites) for row in rows]


@router.get("/handovers/{handover_id}")
def get_handover(handover_id: RowId, session: ReadSession, user: AlarmActor) -> dict[str, Any]:
    return handover.view(*_handover(session, user, handover_id), user.sites)


def _handover(session: Session, user: auth.User, handover_id: int) -> tuple[HandoverRow, TaskRow | None]:
    """A handover of the user's sites (another site's is a 404, as one that does not exist) and its task."""
    row = session.get(HandoverRow, handover_id)
    missing = Refusal("handover.not_found", f"no handover {handover_id}", status=404, handover=handover_id)
    if row is None:
        raise missing
    seen_or_missing(user, row.site, missing)
    return row, session.get(TaskRow, row.task_id)


def _render(runtime: Runtime, report: dict[str, Any], fmt: Format, filename: str) -> dict[str, Any] | Response:
    if fmt == "csv":
        return PlainTextResponse(reports.to_csv(report), media_type="text/csv; charset=utf-8",
                                 headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'})
    if fmt == "html":
        return HTMLResponse(reports.to_html(report, runtime.settings.site.name or runtime.settings.site.id,
                                            runtime.settings.site.timezone))
    return report


SiteQuery = Annotated[str | None, Query(description=(
    "Only this site (a device site id); default: all the reader works for (another site's report is empty)"))]


@router.get("/reports/daily", response_model=None, responses=FORMATS)
def daily_report(session: ReadSession, runtime: RuntimeDep, user: AlarmActor,
                 day: Annotated[date | None, Query(alias="date", description="YYYY-MM-DD, the site's day")] = None,
                 site: SiteQuery = None, format: Format = "json") -> dict[str, Any] | Response:
    zone = ZoneInfo(runtime.settings.site.timezone)
    day = reachable_day(day, "date") if day else runtime.now().astimezone(zone).date()
    start = datetime.combine(day, time(0), zone)
    window = reports.Window(start, start + timedelta(days=1), f"日报 {day.isoformat()} / daily report", site,
                            user.sites)
    report = reports.build(session, runtime.tasks.book, runtime.registry, window)
    return _render(runtime, report, format, f"mcc-daily-{day.isoformat()}")


@router.get("/reports/monthly", response_model=None, responses=FORMATS)
def monthly_report(session: ReadSession, runtime: RuntimeDep, user: AlarmActor,
                   month: Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
                                                      description="YYYY-MM, the site's month")] = None,
                   site: SiteQuery = None, format: Format = "json") -> dict[str, Any] | Response:
    zone = ZoneInfo(runtime.settings.site.timezone)
    if month:  # "0000-01" matches the pattern too: year 0 is no year, and is refused as year 1 is
        first = reachable_day(date(max(int(month[:4]), 1), int(month[5:]), 1), "month")
    else:
        first = runtime.now().astimezone(zone).date().replace(day=1)
    after = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    window = reports.Window(datetime.combine(first, time(0), zone), datetime.combine(after, time(0), zone),
                            f"月报 {first:%Y-%m} / monthly report", site, user.sites)
    report = reports.build(session, runtime.tasks.book, runtime.registry, window)
    return _render(runtime, report, format, f"mcc-monthly-{first:%Y-%m}")


@router.get("/reports/shift", response_model=None,
            responses={**FORMATS, 404: {"description": "No handover by that id."}})
def shift_report(session: ReadSession, runtime: RuntimeDep, user: AlarmActor,
                 handover_id: Annotated[int | None, Query(alias="handover", ge=1, le=2**63 - 1, description=(
                     "The shift that ended with this handover; default: the shift running now"))] = None,
                 site: SiteQuery = None, format: Format = "json") -> dict[str, Any] | Response:
    now = runtime.now()
    if handover_id is not None:
        end = _handover(session, user, handover_id)[0].created_at
    else:
        end = now
    previous = session.scalar(select(HandoverRow.created_at).where(HandoverRow.created_at < end,
                                                                   of_sites(user, HandoverRow.site))
                              .order_by(HandoverRow.created_at.desc()).limit(1))
    start = previous or end - timedelta(hours=12)
    window = reports.Window(start, end if handover_id is not None else end + timedelta(seconds=1),
                            "班报 / shift report", site, user.sites)
    report = reports.build(session, runtime.tasks.book, runtime.registry, window)
    return _render(runtime, report, format, f"mcc-shift-{end.date().isoformat()}")
