"""Shelving (搁置) a nuisance source: a supervisor takes a flooding device (or one point or kind
of it) out of the queue for a while, with a reason. Its alarms are still stored and counted, open
no task and notify nobody until the shelf expires or is removed. Fire and life-safety (gas,
duress) alarms are never shelved.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from console.alarms.engine import never_shelved
from console.alarms.engine import shelve as apply_shelves
from console.alarms.views import alarm_view, iso
from console.api.deps import (
    AlarmActor,
    ReadSession,
    RowId,
    RuntimeDep,
    Supervisor,
    client_address,
    of_sites,
    seen_or_missing,
    site_for_new,
)
from console.errors import Refusal
from console.messages import HubMessage
from console.runtime import Runtime
from console.store import audit
from console.store.tables import AlarmRow, ShelfRow

router = APIRouter(prefix="/api/shelves", tags=["alarms"])


class ShelfBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    device_id: str = Field(min_length=1, max_length=128)
    point: str | None = Field(None, max_length=64, description="Empty: every point of the device.")
    kind: str | None = Field(None, max_length=48, description="Empty: every kind (fire kinds are never shelved).")
    reason: str = Field(min_length=2, max_length=500)
    minutes: int = Field(ge=1, le=7 * 24 * 60, description="How long; it expires by itself.")
    site: str | None = Field(None, max_length=64, description="The device's site. Default: the user's only site, "
                                                               "else the console's.")


def shelf_view(row: ShelfRow) -> dict[str, Any]:
    return {"id": row.id, "site": row.site, "device_id": row.device_id, "point": row.point, "kind": row.kind,
            "reason": row.reason, "created_by": row.created_by, "created_at": iso(row.created_at),
            "expires_at": iso(row.expires_at), "removed_by": row.removed_by, "removed_at": iso(row.removed_at)}


def _reshelve(session: Session, runtime: Runtime, row: ShelfRow) -> list[HubMessage]:
    """Apply the shelves as they are now to the open alarms of the shelf's device."""
    query = select(AlarmRow).where(AlarmRow.site == row.site, AlarmRow.device_id == row.device_id,
                                   AlarmRow.closed.is_(False))
    if row.point is not None:
        query = query.where(AlarmRow.point == row.point)
    messages = []
    now = runtime.now()
    for alarm in session.scalars(query):
        before = alarm.shelved_until
        apply_shelves(session, alarm, now)
        if before is not None and alarm.shelved_until is None:
            alarm.shelved_until = now  # unshelved: the deadline loop opens its task (open_unshelved)
        if alarm.shelved_until != before:
            alarm.revision += 1
            messages.append(HubMessage("alarm.updated", alarm_view(alarm, runtime.registry)))
    return messages


@router.post("")
def shelve(body: ShelfBody, request: Request, runtime: RuntimeDep, user: Supervisor) -> dict[str, Any]:
    if body.kind is not None and never_shelved(body.kind):
        raise Refusal("shelf.life_safety", "fire and life-safety alarms are never shelved")
    site = site_for_new(user, body.site, runtime.settings.site.id)
    now = runtime.now()
    with runtime.store.write() as session, session.begin():
        row = ShelfRow(site=site, device_id=body.device_id, point=body.point or None,
                       kind=body.kind or None, reason=body.reason, created_by=user.username, created_at=now,
                       expires_at=now + timedelta(minutes=body.minutes))
        session.add(row)
        session.flush()
        audit.record(session, user.username, "alarm.shelve", target=f"device:{body.device_id}",
                     detail={"shelf": row.id, "point": row.point, "kind": row.kind, "reason": row.reason,
                             "expires_at": row.expires_at.isoformat()}, client=client_address(request), at=now)
        messages = _reshelve(session, runtime, row)
        view = shelf_view(row)
    runtime.outlet.publish(messages)
    return view


@router.get("")
def list_shelves(session: ReadSession, runtime: RuntimeDep, user: AlarmActor,
                 active: Annotated[bool, Query()] = True) -> list[dict[str, Any]]:
    query = select(ShelfRow).where(of_sites(user, ShelfRow.site)).order_by(ShelfRow.created_at.desc()).limit(500)
    if active:
        query = query.where(ShelfRow.removed_at.is_(None), ShelfRow.expires_at > runtime.now())
    return [shelf_view(row) for row in session.scalars(query)]


@router.delete("/{shelf_id}")
def unshelve(shelf_id: RowId, request: Request, runtime: RuntimeDep, user: Supervisor) -> dict[str, Any]:
    now = runtime.now()
    with runtime.store.write() as session, session.begin():
        row = session.get(ShelfRow, shelf_id, with_for_update=True)
        missing = Refusal("shelf.not_found", f"no shelf {shelf_id}", status=404, shelf=shelf_id)
        if row is None:
            raise missing
        seen_or_missing(user, row.site, missing)
        if row.removed_at is None:
            row.removed_by, row.removed_at = user.username, now
            audit.record(session, user.username, "alarm.unshelve", target=f"device:{row.device_id}",
                         detail={"shelf": row.id}, client=client_address(request), at=now)
        messages = _reshelve(session, runtime, row)
        view = shelf_view(row)
    runtime.outlet.publish(messages)
    return view
