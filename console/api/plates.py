"""The plate lists (block / allow) kept from the console: supervisors add and remove plates with a
reason, operators read them; every change is in the audit chain. A blocked plate at a lane raises
``parking.plate_blocked`` (console/alarms/derived.py)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from console.alarms.derived import normalise_plate
from console.alarms.views import iso
from console.api.deps import AlarmActor, ReadSession, RowId, RuntimeDep, Supervisor, client_address
from console.errors import Refusal
from console.people import auth
from console.runtime import Runtime
from console.store import audit
from console.store.tables import PlateRow

router = APIRouter(prefix="/api/plates", tags=["parking"])


class PlateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plate: str = Field(min_length=2, max_length=20)
    list: Literal["block", "allow"]
    reason: str = Field(min_length=2, max_length=300, description="欠费、黑名单车辆、业主车辆…")


def plate_view(row: PlateRow) -> dict[str, Any]:
    return {"id": row.id, "plate": row.plate, "list": row.list_name, "reason": row.reason, "added_by": row.added_by,
            "added_at": iso(row.added_at), "removed_by": row.removed_by, "removed_at": iso(row.removed_at),
            "source": "console"}


@router.get("")
def list_plates(session: ReadSession, runtime: RuntimeDep, _user: AlarmActor) -> list[dict[str, Any]]:
    """Both lists as they apply now: the site file's entries and the console's."""
    rows = session.scalars(select(PlateRow).where(PlateRow.removed_at.is_(None)).order_by(PlateRow.plate)).all()
    from_file = [{"plate": normalise_plate(p.plate), "list": name, "reason": p.reason, "source": "site file"}
                 for name, entries in (("block", runtime.settings.rules.plates.block),
                                       ("allow", runtime.settings.rules.plates.allow)) for p in entries]
    return from_file + [plate_view(row) for row in rows]


def every_site(runtime: Runtime, user: auth.User) -> None:
    """The plate lists serve every site's lanes: only a user of every site changes them."""
    if not all(user.sees(site) for site in runtime.settings.site_ids):
        raise Refusal("plates.every_site", "the plate lists serve every site; a user of every site changes them",
                      status=403)


@router.post("")
def add_plate(body: PlateBody, request: Request, runtime: RuntimeDep, user: Supervisor) -> dict[str, Any]:
    every_site(runtime, user)
    plate = normalise_plate(body.plate)
    if len(plate) > 16:
        raise Refusal("plate.too_long", "a plate has at most 16 characters", status=422)
    now = runtime.now()
    with runtime.store.write() as session, session.begin():
        existing = session.scalar(select(PlateRow).where(PlateRow.plate == plate, PlateRow.list_name == body.list,
                                                         PlateRow.removed_at.is_(None)))
        if existing is not None:
            return plate_view(existing)
        row = PlateRow(plate=plate, list_name=body.list, reason=body.reason, added_by=user.username, added_at=now)
        session.add(row)
        session.flush()
        audit.record(session, user.username, f"plate.{body.list}", target=f"plate:{plate}",
                     detail={"reason": body.reason}, client=client_address(request), at=now)
        view = plate_view(row)
    runtime.ingest.derived.plates_changed()
    return view


@router.delete("/{plate_id}")
def remove_plate(plate_id: RowId, request: Request, runtime: RuntimeDep, user: Supervisor) -> dict[str, Any]:
    every_site(runtime, user)
    now = runtime.now()
    with runtime.store.write() as session, session.begin():
        row = session.get(PlateRow, plate_id, with_for_update=True)
        if row is None:
            raise Refusal("plate.not_found", f"no plate entry {plate_id}", status=404, plate=plate_id)
        if row.removed_at is None:
            row.removed_by, row.removed_at = user.username, now
            audit.record(session, user.username, f"plate.un{row.list_name}", target=f"plate:{row.plate}",
                         client=client_address(request), at=now)
        view = plate_view(row)
    runtime.ingest.derived.plates_changed()
    return view
