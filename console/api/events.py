"""The stored event log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from console.api.deps import ReadSession, RuntimeDep, SiteWatcher
from console.store.tables import EventRow
from console.views import event_row_view

router = APIRouter(prefix="/api/events", tags=["events"])


@router.get("")
def list_events(
    session: ReadSession, runtime: RuntimeDep, _user: SiteWatcher,
    device_id: str | None = None,
    kind: str | None = None,
    source_id: Annotated[str | None, Query(alias="id", description="The sender's message id")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 100,
) -> list[dict[str, Any]]:
    query = select(EventRow).order_by(EventRow.id.desc()).limit(limit)
    if device_id:
        query = query.where(EventRow.device_id == device_id)
    if kind:
        query = query.where(EventRow.kind == kind)
    if source_id:
        query = query.where(EventRow.source_id == source_id)
    return [event_row_view(row, runtime.registry) for row in session.scalars(query)]
