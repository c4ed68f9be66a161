"""Drills (演练) from the console: plan one (supervisors), start a planned one or cancel it
(operators and supervisors), and the plans and the drill history with their scores
(console/people/drill_plans.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from console.api.deps import (
    AlarmActor,
    ReadSession,
    RowId,
    RuntimeDep,
    Supervisor,
    client_address,
    of_sites,
    seen_or_missing,
    their_site,
)
from console.errors import Refusal
from console.messages import HubMessage
from console.people import auth, drill_plans
from console.people.drills import DrillError
from console.runtime import Runtime
from console.store.tables import DrillPlanRow

router = APIRouter(prefix="/api/drills", tags=["drills"])


class PlanBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=2, max_length=200, description="e.g. 2026年第四季度消防演练")
    planned_for: datetime | None = Field(None, description="When it is meant to run (with offset); optional.")
    device_id: str = Field(min_length=1, max_length=128, description="A registered device: the drill's place.")
    point: str = Field("", max_length=64)
    kind: str = Field(min_length=3, max_length=48, description="An alarm kind with an SOP, e.g. fire.alarm.")
    note: str = Field("", max_length=1000)


def _changed(runtime: Runtime, view: dict[str, Any]) -> dict[str, Any]:
    runtime.outlet.publish([HubMessage("drill.updated", view)])
    return view


def _of_theirs(session: Session, user: auth.User, plan_id: int) -> int:
    """A drill plan of another site than the user's is, to them, no plan at all (404)."""
    site = session.scalar(select(DrillPlanRow.site).where(DrillPlanRow.id == plan_id))
    seen_or_missing(user, site, Refusal("drill.not_found", f"no drill plan {plan_id}", status=404, plan=plan_id))
    return plan_id


@router.get("")
def drills(session: ReadSession, runtime: RuntimeDep, user: AlarmActor,
           limit: Annotated[int, Query(ge=1, le=500)] = 50) -> dict[str, Any]:
    """The plans (newest first) with their task and score, and every drill task (the history), of
    the user's sites."""
    plans = session.scalars(select(DrillPlanRow).where(of_sites(user, DrillPlanRow.site))
                            .order_by(DrillPlanRow.created_at.desc()).limit(limit)).all()
    return {"plans": [drill_plans.view(session, row, runtime.tasks.book) for row in plans],
            "history": drill_plans.history(session, runtime.tasks.book, limit, user.sites)}


@router.post("/plans")
def plan_drill(body: PlanBody, request: Request, runtime: RuntimeDep, user: Supervisor) -> dict[str, Any]:
    their_site(user, runtime.settings.site.id)  # a plan is of the console's site (its drill goes to its broker)
    with runtime.store.write() as session, session.begin():
        row = drill_plans.plan(session, runtime.settings, runtime.tasks.book, title=body.title,
                               planned_for=body.planned_for, device_id=body.device_id, point=body.point,
                               kind=body.kind, note=body.note, user=user.username, now=runtime.now(),
                               client=client_address(request))
        view = drill_plans.view(session, row, runtime.tasks.book)
    return _changed(runtime, view)


@router.post("/plans/{plan_id}/start", responses={503: {"description": (
    "The console is not connected to the broker, or the broker did not take the drill message.")}})
async def start_drill(plan_id: RowId, request: Request, runtime: RuntimeDep, user: AlarmActor) -> dict[str, Any]:
    """Publish the drill alarm now (to the site's broker, confirmed by it): the real path opens its
    task. The plan is taken first, the message goes out of any transaction, then the outcome."""
    if runtime.mqtt is None:
        raise Refusal("broker.not_connected", "the console is not connected to the broker", status=503)
    client = client_address(request)

    def take() -> tuple[str, bytes]:
        with runtime.store.write() as session, session.begin():
            return drill_plans.claim(session, runtime.settings, runtime.tasks.book, _of_theirs(session, user, plan_id),
                                     user.username,
                                     runtime.now(), client)

    def record(sent: bool) -> dict[str, Any]:
        with runtime.store.write() as session, session.begin():
            row = drill_plans.started(session, plan_id, user.username, runtime.now(), sent, client)
            return drill_plans.view(session, row, runtime.tasks.book)

    topic, payload = await run_in_threadpool(take)
    sent = await run_in_threadpool(runtime.mqtt.publish, topic, payload)
    view = await run_in_threadpool(record, sent)
    if not sent:
        _changed(runtime, view)
        raise DrillError("drill.not_sent", "the broker did not take the drill message; nothing started", status=503)
    return _changed(runtime, view)


@router.post("/plans/{plan_id}/cancel")
def cancel_drill(plan_id: RowId, request: Request, runtime: RuntimeDep, user: Supervisor) -> dict[str, Any]:
    with runtime.store.write() as session, session.begin():
        row = drill_plans.cancel(session, _of_theirs(session, user, plan_id), user.username, runtime.now(), client_address(request))
        view = drill_plans.view(session, row, runtime.tasks.book)
    return _changed(runtime, view)
