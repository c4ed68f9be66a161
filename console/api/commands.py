"""Remote commands from the console: lift a lane's barrier, send a GB/T 26875.3 duty check (查岗),
each with a reason. The answer says "sent"; the outcome ("confirmed" by the device's own event, or
"not confirmed" after the site's limit) follows as ``command.updated`` and at ``/api/commands/{id}``
(console/devices/commands.py). Every step is in the audit chain."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from console.api.deps import AlarmActor, ReadSession, RuntimeDep, Supervisor, client_address, of_sites, seen_or_missing
from console.devices import commands
from console.errors import Refusal
from console.messages import HubMessage
from console.runtime import Runtime
from console.settings.devices import command_namespace_problem, command_topic_problem, default_command_topic
from console.store import audit
from console.store.tables import CommandRow

router = APIRouter(prefix="/api", tags=["commands"])


class ReasonBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=2, max_length=300, description="Why (in the audit chain): 访客登记、收费争议、例行查岗…")


def _record(runtime: Runtime, request: Request, user: str, device_id: str, action: str,
            detail: dict[str, Any]) -> None:
    with runtime.store.write() as session, session.begin():
        audit.record(session, user, action, target=f"device:{device_id}", detail=detail,
                     client=client_address(request), at=runtime.now())


def _outcome(runtime: Runtime, request: Request, user: str, device_id: str, action: str, detail: dict[str, Any],
             sent: bool, *, kind: str, command_id: str, reason: str, sent_at: datetime,
             site: str | None = None) -> dict[str, Any] | None:
    """One transaction for what the send came to: ``action`` in the audit chain with ``sent``, and
    when it went, the command waiting for its confirmation (its view; None when it did not go)."""
    with runtime.store.write() as session, session.begin():
        audit.record(session, user, action, target=f"device:{device_id}", detail={**detail, "sent": sent},
                     client=client_address(request), at=runtime.now())
        if not sent:
            return None
        row = commands.record_sent(session, runtime.settings, command_id=command_id, kind=kind, device_id=device_id,
                                   reason=reason, user=user, sent_at=sent_at, now=runtime.now(),
                                   client=client_address(request), site=site)
        view = commands.view(row)
    runtime.outlet.publish([HubMessage("command.updated", view)])
    return view


@router.post("/devices/{device_id}/open-barrier", responses={503: {"description": (
    "The console is not connected to the broker, or the broker did not take the command.")}})
async def open_barrier(device_id: str, body: ReasonBody, request: Request, runtime: RuntimeDep,
                       user: AlarmActor,
                       site: Annotated[str | None, Query(max_length=64, description=(
                           "The lane's site (default: the console's own; a center's communities have theirs)"))] = None,
                       ) -> dict[str, Any]:
    """Lift a lane's barrier: an MQTT command to the barrier's command topic, taken by the broker
    before the answer ("sent"); "confirmed" when the lane reports ``parking.barrier_opened``."""
    site = site or runtime.settings.site.id
    # The lanes of the user's sites; to a user of other sites, no lane at all.
    device = runtime.registry.get(site, device_id) if user.sees(site) else None
    if device is None or device.role != "lane":
        raise Refusal("barrier.not_lane", f"{device_id} is not a registered lane with a barrier", device=device_id)
    if runtime.mqtt is None:
        raise Refusal("broker.not_connected", "the console is not connected to the broker", status=503)
    topic = device.command_topic or default_command_topic(site, device_id)
    # Refused at entry; checked again before anything is sent.
    if problem := command_topic_problem(topic) or command_namespace_problem(
            topic, site, device_id, runtime.settings.commands.topic_prefixes):
        raise Refusal("barrier.bad_topic", f"{device_id}'s command topic cannot be published to: {problem}",
                      status=409, device=device_id)
    command_id = uuid.uuid4().hex
    payload = json.dumps({"id": command_id, "cmd": "open_barrier", "ts": runtime.now().isoformat(),
                          "by": user.username, "reason": body.reason}, ensure_ascii=False).encode()

    detail = {"reason": body.reason, "command_id": command_id, "topic": topic, "site": site}
    # In the audit chain before the barrier can move; the outcome follows (also a failure).
    await run_in_threadpool(_record, runtime, request, user.username, device_id, "barrier.open_requested", detail)
    sent_at = runtime.now()
    sent = await run_in_threadpool(runtime.mqtt.publish, topic, payload)
    view = await run_in_threadpool(lambda: _outcome(
        runtime, request, user.username, device_id, "barrier.open", detail, sent, kind=commands.BARRIER,
        command_id=command_id, reason=body.reason, sent_at=sent_at, site=site))
    if view is None:
        raise Refusal("barrier.not_sent", "the broker did not take the command; nothing was opened", status=503)
    return {"sent": True, "command_id": command_id, "topic": topic, **view}


@router.post("/devices/{device_id}/duty-check",
             responses={503: {"description": "The device has no open link to this console."}})
async def duty_check(device_id: str, body: ReasonBody, request: Request, runtime: RuntimeDep,
                     user: Supervisor) -> dict[str, Any]:
    """查岗: ask the staff at a fire-alarm transmission device (GB/T 26875.3) to answer; "confirmed"
    when their answer comes back (a heartbeat via ``duty_check``). Audited; not for polling."""
    site = runtime.settings.site.id
    device = runtime.registry.get(site, device_id) if user.sees(site) else None
    if device is None or device.adapter != "gb26875" or not device.address:
        raise Refusal("gb.not_device", f"{device_id} is not a registered GB/T 26875.3 device", device=device_id)
    sent = False
    sent_at = runtime.now()
    for receiver in runtime.receivers:
        sent = await run_in_threadpool(receiver.send_duty_check, device.address)
        if sent:
            break
    if not sent and runtime.gb_commands is not None:
        # In a cluster the device's link may be on another instance: that one sends it.
        sent = await run_in_threadpool(runtime.gb_commands.ask, device.address)
    view = await run_in_threadpool(lambda: _outcome(
        runtime, request, user.username, device_id, "device.duty_check", {"reason": body.reason}, sent,
        kind=commands.DUTY_CHECK, command_id=uuid.uuid4().hex, reason=body.reason, sent_at=sent_at))
    if view is None:
        raise Refusal("gb.no_link", "the device has no open link to this console", status=503)
    return {"sent": True, "device_id": device_id, "command_id": view["id"], **view}


@router.get("/commands")
def list_commands(session: ReadSession, user: AlarmActor, device_id: str | None = None,
                  limit: Annotated[int, Query(ge=1, le=500)] = 50) -> list[dict[str, Any]]:
    """The latest commands of the user's sites, newest first (of one device with ``device_id``)."""
    query = select(CommandRow).where(of_sites(user, CommandRow.site)).order_by(CommandRow.sent_at.desc()).limit(limit)
    if device_id:
        query = query.where(CommandRow.device_id == device_id)
    return [commands.view(row) for row in session.scalars(query)]


@router.get("/commands/{command_id}")
def get_command(command_id: str, session: ReadSession, user: AlarmActor) -> dict[str, Any]:
    row = session.get(CommandRow, command_id)
    missing = Refusal("command.not_found", f"no command {command_id}", status=404, command=command_id)
    if row is None:
        raise missing
    seen_or_missing(user, row.site, missing)
    return commands.view(row)
