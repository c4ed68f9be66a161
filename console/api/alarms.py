"""Alarms: the live list and acknowledgement (audited, pushed to every screen)."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from console.alarms.engine import acknowledge
from console.alarms.views import alarm_view
from console.api.deps import (
    AlarmActor,
    ReadSession,
    RowId,
    RuntimeDep,
    SiteWatcher,
    client_address,
    of_sites,
    seen_or_missing,
)
from console.errors import Refusal
from console.messages import HubMessage
from console.store import audit
from console.store.tables import AlarmRow

router = APIRouter(prefix="/api/alarms", tags=["alarms"])
log = logging.getLogger("mcc.api.alarms")


class AckBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: str | None = Field(None, max_length=1000)


@router.get("")
def list_alarms(
    session: ReadSession, runtime: RuntimeDep, user: SiteWatcher,
    active: Annotated[bool | None, Query(description="true: not yet acknowledged and cleared")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[dict[str, Any]]:
    query = (select(AlarmRow).where(of_sites(user, AlarmRow.site))
             .order_by(AlarmRow.raised_at.desc(), AlarmRow.id.desc()).limit(limit))
    if active is not None:
        query = query.where(AlarmRow.closed.is_(not active))
    return [alarm_view(row, runtime.registry) for row in session.scalars(query)]


@router.get("/{alarm_id}")
def get_alarm(alarm_id: RowId, session: ReadSession, runtime: RuntimeDep, user: SiteWatcher) -> dict[str, Any]:
    row = session.get(AlarmRow, alarm_id)
    missing = Refusal("alarm.not_found", f"no alarm {alarm_id}", status=404, alarm=alarm_id)
    if row is None:
        raise missing
    seen_or_missing(user, row.site, missing)
    return alarm_view(row, runtime.registry)


@router.post("/{alarm_id}/ack")
def ack_alarm(
    alarm_id: RowId, request: Request, runtime: RuntimeDep, user: AlarmActor,
    body: Annotated[AckBody | None, Body()] = None,
) -> dict[str, Any]:
    comment = body.comment if body else None
    with runtime.store.write() as session, session.begin():
        # Lock order (see console/tasks/service.py): the alarm, then its task, then the audit chain.
        row = session.get(AlarmRow, alarm_id, with_for_update=True)
        missing = Refusal("alarm.not_found", f"no alarm {alarm_id}", status=404, alarm=alarm_id)
        if row is None:
            raise missing
        seen_or_missing(user, row.site, missing)
        now = runtime.now()
        changed = acknowledge(row, user.username, comment, now)
        outcome = None
        if changed:
            try:
                with session.begin_nested():  # a fault in the task engine must not block the ack
                    outcome = runtime.tasks.on_alarm_acked(session, row, user.username, now)
            except Exception:
                log.exception("task engine failed on the ack of alarm %s; the ack stands", alarm_id)
            audit.record(session, user.username, "alarm.ack", target=f"alarm:{alarm_id}",
                         detail={"comment": comment, "kind": row.kind, "device_id": row.device_id,
                                 "point": row.point},
                         client=client_address(request), at=now)
        view = alarm_view(row, runtime.registry)
    if changed:
        runtime.outlet.publish([HubMessage("alarm.acked", view)])
        if outcome is not None:
            runtime.outlet.deliver(outcome)
    return view
