"""Devices with their state and last-seen time; the quarantine for admins."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from console import audit, auth, device_admin
from console.api.deps import Admin, AlarmActor, ReadSession, RuntimeDep, SiteWatcher, client_address, require
from console.parking import occupancy
from console.settings import DeviceEntry
from console.store.tables import DeviceStatusRow, QuarantineRow
from console.views import iso

router = APIRouter(prefix="/api", tags=["devices"])
SupervisorOrAdmin = Annotated[auth.User, require(frozenset({"supervisor", "admin"}))]


@router.get("/devices")
def list_devices(session: ReadSession, runtime: RuntimeDep, _user: SiteWatcher) -> list[dict[str, Any]]:
    status = {(row.site, row.device_id): row for row in session.scalars(select(DeviceStatusRow))}
    out = []
    for (site, device_id), device in runtime.registry:
        row = status.pop((site, device_id), None)
        out.append({
            "site": site, "device_id": device_id, "name": device.name, "name_en": device.name_en,
            "role": device.role, "registered": True,
            "location": runtime.registry.location(site, device_id).as_dict(),
            "state": row.state if row else "unknown", "state_at": iso(row.state_at) if row else None,
            "last_seen": iso(row.last_seen) if row else None,
        })
    for (site, device_id), row in sorted(status.items()):
        out.append({
            "site": site, "device_id": device_id, "name": None, "name_en": None, "role": None,
            "registered": row.registered, "location": None, "state": row.state,
            "state_at": iso(row.state_at), "last_seen": iso(row.last_seen),
            "first_seen": iso(row.first_seen), "last_adapter": row.last_adapter, "last_topic": row.last_topic,
        })
    return out


@router.get("/quarantine")
def list_quarantine(
    session: ReadSession, _user: Admin, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    total = session.scalar(select(func.count()).select_from(QuarantineRow)) or 0
    rows = session.scalars(select(QuarantineRow).order_by(QuarantineRow.id.desc()).limit(limit))
    items = []
    for row in rows:
        preview = row.payload[:512]
        items.append({
            "id": row.id, "received_at": iso(row.received_at), "topic": row.topic, "adapter": row.adapter,
            "reason": row.reason, "size": row.size, "retained": row.retained,
            "payload_preview": preview.decode("utf-8", errors="replace"),
            "payload_base64": base64.b64encode(row.payload).decode() if row.size <= 65536 else None,
        })
    return {"total": total, "items": items}


class BarrierBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=2, max_length=300, description="Why (shown in the audit log): 访客登记、收费争议…")


@router.post("/devices/{device_id}/open-barrier")
async def open_barrier(device_id: str, body: BarrierBody, request: Request, runtime: RuntimeDep,
                       user: AlarmActor) -> dict[str, Any]:
    """Lift a lane's barrier from the console: an MQTT command to the barrier's command topic,
    confirmed by the broker before the answer, and in the audit chain with the reason."""
    site = runtime.settings.site.id
    device = runtime.registry.get(site, device_id)
    if device is None or device.role != "lane":
        raise HTTPException(status.HTTP_409_CONFLICT, f"{device_id} is not a registered lane with a barrier")
    if runtime.mqtt is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the console is not connected to the broker")
    topic = device.command_topic or f"mcc/v1/{site}/{device_id}/command"
    command_id = uuid.uuid4().hex
    now = runtime.now()
    payload = json.dumps({"id": command_id, "cmd": "open_barrier", "ts": now.isoformat(), "by": user.username,
                          "reason": body.reason}, ensure_ascii=False).encode()
    def record(action: str, **detail: object) -> None:
        with runtime.store.write() as session, session.begin():
            audit.record(session, user.username, action, target=f"device:{device_id}",
                         detail={"reason": body.reason, "command_id": command_id, "topic": topic, **detail},
                         client=client_address(request), at=runtime.now())

    # In the audit chain before the barrier can move; the outcome follows (also a failure).
    await run_in_threadpool(record, "barrier.open_requested")
    sent = await run_in_threadpool(runtime.mqtt.publish, topic, payload)
    await run_in_threadpool(record, "barrier.open", sent=sent)
    if not sent:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            "道闸指令未送达（未连接消息服务器）/ the broker did not take the command; nothing was opened")
    return {"sent": True, "command_id": command_id, "topic": topic}


@router.post("/devices/{device_id}/duty-check")
async def duty_check(device_id: str, request: Request, runtime: RuntimeDep, user: SupervisorOrAdmin) -> dict[str, Any]:
    """查岗: ask the staff at a fire-alarm transmission device (GB/T 26875.3) to answer; their
    answer comes back as a heartbeat event from the device. Audited; not for polling."""
    site = runtime.settings.site.id
    device = runtime.registry.get(site, device_id)
    if device is None or device.adapter != "gb26875" or not device.address:
        raise HTTPException(status.HTTP_409_CONFLICT, f"{device_id} is not a registered GB/T 26875.3 device")
    sent = False
    for receiver in runtime.receivers:
        sent = await run_in_threadpool(receiver.send_duty_check, device.address)
        if sent:
            break
    now = runtime.now()

    def record() -> None:
        with runtime.store.write() as session, session.begin():
            audit.record(session, user.username, "device.duty_check", target=f"device:{device_id}",
                         detail={"sent": sent}, client=client_address(request), at=now)

    await run_in_threadpool(record)
    if not sent:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            "该装置当前未连接 / the device has no open link to this console")
    return {"sent": True, "device_id": device_id}


@router.get("/parking/occupancy")
def parking_occupancy(session: ReadSession, runtime: RuntimeDep, _user: SiteWatcher) -> list[dict[str, Any]]:
    """Cars inside each car park of the site file's ``parking.car_parks``, from entries and exits."""
    return occupancy(session, runtime.settings, runtime.registry, runtime.now())


@router.post("/devices")
def register_device(entry: DeviceEntry, request: Request, runtime: RuntimeDep, user: Admin) -> dict[str, Any]:
    """Register a device (typically one listed as unregistered) with its name and place; its
    events are stored as registered from now on."""
    try:
        with runtime.store.write() as session, session.begin():
            device_admin.register(session, runtime.registry, entry, user.username, runtime.now(),
                                  client_address(request))
    except device_admin.RegistryError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    runtime.registry.add(entry)
    site = entry.site or runtime.settings.site.id
    return {"site": site, "device_id": entry.id, "registered": True,
            "location": runtime.registry.location(site, entry.id).as_dict()}


@router.delete("/devices/{device_id}")
def unregister_device(device_id: str, request: Request, runtime: RuntimeDep, user: Admin) -> dict[str, Any]:
    site = runtime.settings.site.id
    try:
        with runtime.store.write() as session, session.begin():
            device_admin.unregister(session, runtime.registry, site, device_id, user.username, runtime.now(),
                                    client_address(request))
    except device_admin.RegistryError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    runtime.registry.remove(site, device_id)
    return {"site": site, "device_id": device_id, "registered": False}
