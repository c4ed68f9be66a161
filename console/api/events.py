"""The stored event log, and its search (time range, text, site, subsystem; paged backwards)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import and_, false, func, not_, or_, select, true
from sqlalchemy.orm import Session

from console.alarms.views import event_row_view
from console.api.deps import ReadSession, RuntimeDep, SiteWatcher, of_sites
from console.devices import subsystems
from console.errors import Refusal
from console.runtime import Runtime
from console.store.tables import EventRow
from console.video.linker import event_snapshots

router = APIRouter(prefix="/api/events", tags=["events"])


MAX_ID = 2**63 - 1  # event ids are BIGINT


def event_views(session: Session, rows: list[EventRow], runtime: Runtime) -> list[dict[str, Any]]:
    """Events as the API lists them, each with its ``snapshots`` (the lane camera's pictures of a
    plate event; console/video/linker.py), empty for the rest."""
    views = [event_row_view(row, runtime.registry) for row in rows]
    shots = event_snapshots(session, [row.id for row in rows if row.kind.startswith("parking.")],
                            runtime.settings.cameras.entries)
    for view in views:
        view["snapshots"] = shots.get(view["event_id"], [])
    return views


def _aware(value: datetime | None, name: str) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise Refusal("time.no_offset", f"{name} needs a time zone offset (e.g. 2026-11-27T08:00:00+08:00)",
                      status=422, field=name)
    try:  # 0001-01-01T00:00:00+01:00 is before the first UTC time there is
        return value.astimezone(timezone.utc)
    except (OverflowError, ValueError) as exc:
        raise Refusal("time.out_of_range", f"{name} is out of range once taken to UTC (years 1 to 9999)",
                      status=422, field=name) from exc


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@router.get("")
def list_events(
    session: ReadSession, runtime: RuntimeDep, user: SiteWatcher,
    device_id: str | None = None,
    kind: str | None = None,
    source_id: Annotated[str | None, Query(alias="id", description="The sender's message id")] = None,
    since: Annotated[datetime | None, Query(description="Received at or after (ISO time with offset)")] = None,
    until: Annotated[datetime | None, Query(description="Received before (ISO time with offset)")] = None,
    q: Annotated[str | None, Query(max_length=100, description="Part of a device id, device name, kind or point")] = None,
    site: Annotated[str | None, Query(max_length=64)] = None,
    subsystem: Annotated[str | None, Query(pattern="^(fire|access|parking|video|other)$")] = None,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID,
                                        description="An event_id: the events older than it (next page)")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 100,
) -> list[dict[str, Any]]:
    """Newest first. With any of the search parameters (since, until, q, site, subsystem, before),
    at most 500 per page; page backwards with ``before`` = the last ``event_id`` of a page.

    With ``since`` or ``until`` the events are ordered by (received_at, id), newest first, so the
    index on received_at serves both the range and the order. ``q`` (and ``subsystem``) match
    text and cannot use an index: without a time range they go through the whole log until a
    page is full, which on a large log and a rare word is slow — give a range (the console's
    history view asks for the last 24 hours by default)."""
    searching = any(v is not None for v in (since, until, q, site, subsystem, before))
    if searching:
        limit = min(limit, 500)
    start, end = _aware(since, "since"), _aware(until, "until")
    order: tuple[Any, ...] = ((EventRow.received_at.desc(), EventRow.id.desc())
                              if start is not None or end is not None else (EventRow.id.desc(),))
    query = select(EventRow).where(of_sites(user, EventRow.site)).order_by(*order).limit(limit)
    if device_id:
        query = query.where(EventRow.device_id == device_id)
    if kind:
        query = query.where(EventRow.kind == kind)
    if source_id:
        query = query.where(EventRow.source_id == source_id)
    if start is not None:
        query = query.where(EventRow.received_at >= start)
    if end is not None:
        query = query.where(EventRow.received_at < end)
    if before is not None:
        query = query.where(EventRow.id < before)
    if site:
        query = query.where(EventRow.site == site)
    registry = runtime.registry
    if q and q.strip():
        text = q.strip()
        needle = text.lower()
        named = sorted(device for (_s, device), entry in registry
                       if needle in " ".join((entry.name, entry.name_en, entry.label)).lower())
        pattern = _like(text)
        query = query.where(or_(
            func.lower(EventRow.device_id).like(pattern, escape="\\"),
            func.lower(EventRow.kind).like(pattern, escape="\\"),
            func.lower(EventRow.point).like(pattern, escape="\\"),
            EventRow.device_id.in_(named) if named else false(),
        ))
    if subsystem:
        own = [EventRow.kind.like(f"{family}.%") for family in subsystems.families(subsystem)]
        unmapped = not_(or_(*[EventRow.kind.like(f"{family}.%") for family in subsystems.mapped_families()]))
        if subsystem == "other":
            others = set().union(*(subsystems.device_ids(registry, name) for name in subsystems.SUBSYSTEMS
                                   if name != "other"))
            by_device: Any = EventRow.device_id.not_in(sorted(others)) if others else true()
        else:
            ids = sorted(subsystems.device_ids(registry, subsystem))
            by_device = EventRow.device_id.in_(ids) if ids else false()
        query = query.where(or_(*own, and_(unmapped, by_device)))
    return event_views(session, list(session.scalars(query)), runtime)
