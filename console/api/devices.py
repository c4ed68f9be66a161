"""Devices with their state and last-seen time, counts per subsystem, one device's page, the
registry import (console/devices/importer.py checks it whole before anything is written); the
quarantine for admins and supervisors. Remote commands are in commands.py."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from console.alarms.views import alarm_view, iso
from console.api.deps import (
    Admin,
    ReadSession,
    RuntimeDep,
    SiteWatcher,
    Supervisor,
    client_address,
    of_sites,
    seen_or_missing,
)
from console.api.events import event_views
from console.devices import admin as device_admin
from console.devices import floorplans, subsystems
from console.devices import status as device_status
from console.devices.importer import CSV_TYPES, IMPORT_MAX_BYTES, YAML_TYPES, run_import
from console.devices.parking import occupancy
from console.devices.registry import DeviceRegistry
from console.errors import Refusal
from console.settings import DeviceEntry
from console.store.tables import AlarmRow, DeviceStatusRow, EventRow, QuarantineRow, RegisteredDeviceRow
from console.wire.ingest import ANNOUNCER

router = APIRouter(prefix="/api", tags=["devices"])


@router.get("/devices")
def list_devices(session: ReadSession, runtime: RuntimeDep, user: SiteWatcher) -> list[dict[str, Any]]:
    status = {(row.site, row.device_id): row for row in session.scalars(
        select(DeviceStatusRow).where(of_sites(user, DeviceStatusRow.site)))}
    out = []
    for (site, device_id), device in runtime.registry:
        if not user.sees(site):
            continue
        row = status.pop((site, device_id), None)
        out.append({
            "site": site, "device_id": device_id, "name": device.name, "name_en": device.name_en,
            "role": device.role, "registered": True, "kind": runtime.registry.kind_of(site, device_id),
            "subsystem": subsystems.of_device(runtime.registry, site, device_id),
            "location": runtime.registry.location(site, device_id).as_dict(),
            "state": row.state if row else "unknown", "state_at": iso(row.state_at) if row else None,
            "last_seen": iso(row.last_seen) if row else None,
        })
    for (site, device_id), row in sorted(status.items()):
        out.append({
            "site": site, "device_id": device_id, "name": None, "name_en": None, "role": None, "kind": "",
            "subsystem": "other",
            "registered": row.registered, "location": None, "state": row.state,
            "state_at": iso(row.state_at), "last_seen": iso(row.last_seen),
            "first_seen": iso(row.first_seen), "last_adapter": row.last_adapter, "last_topic": row.last_topic,
        })
    return out


@router.get("/devices/summary")
def devices_summary(session: ReadSession, runtime: RuntimeDep, user: SiteWatcher) -> dict[str, Any]:
    """{online, offline, unknown, total, by_subsystem: {fire|access|parking|video|other: {online, offline, total}}}"""
    return device_status.device_counts(session, runtime.registry, user.sites)


@router.get("/quarantine")
def list_quarantine(
    session: ReadSession, _user: Supervisor, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
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


@router.get("/parking/occupancy")
def parking_occupancy(session: ReadSession, runtime: RuntimeDep, user: SiteWatcher) -> list[dict[str, Any]]:
    """Cars inside each car park of the site file's ``parking.car_parks``, from entries and exits
    (the console's site's car parks: none for a user of other sites)."""
    if not user.sees(runtime.settings.site.id):
        return []
    return occupancy(session, runtime.settings, runtime.registry, runtime.now())


@router.post("/devices")
def register_device(entry: DeviceEntry, request: Request, runtime: RuntimeDep, user: Admin) -> dict[str, Any]:
    """Register a device (typically one listed as unregistered) with its name and place; its
    events are stored as registered from now on."""
    with runtime.store.write() as session, session.begin():
        device_admin.register(session, runtime.registry, entry, user.username, runtime.now(), client_address(request))
    runtime.registry.add(entry)
    site = entry.site or runtime.settings.site.id
    return {"site": site, "device_id": entry.id, "registered": True,
            "location": runtime.registry.location(site, entry.id).as_dict()}


@router.delete("/devices/{device_id}")
def unregister_device(device_id: str, request: Request, runtime: RuntimeDep, user: Admin) -> dict[str, Any]:
    site = runtime.settings.site.id
    with runtime.store.write() as session, session.begin():
        device_admin.unregister(session, runtime.registry, site, device_id, user.username, runtime.now(),
                                client_address(request))
    runtime.registry.remove(site, device_id)
    return {"site": site, "device_id": device_id, "registered": False}


# -- one device's page ---------------------------------------------------------------------------

def _source(session: Session, registry: DeviceRegistry, site: str, device_id: str) -> str | None:
    if (site, device_id) in registry.from_site_file:
        return "site_file"
    row = session.get(RegisteredDeviceRow, (site, device_id))
    if row is not None:
        return "announced" if row.registered_by == ANNOUNCER else "console"
    return None


@router.get("/devices/{device_id}")
def device_page(device_id: str, session: ReadSession, runtime: RuntimeDep, user: SiteWatcher,
                site: Annotated[str | None, Query(max_length=64)] = None) -> dict[str, Any]:
    """A device with its status, open alarms, its last 50 alarms and last 100 events."""
    site = site or runtime.settings.site.id
    registry = runtime.registry
    missing = Refusal("device.not_found", f"no device {device_id} at site {site}", status=404, device=device_id)
    seen_or_missing(user, site, missing)
    entry = registry.get(site, device_id)
    status_row = session.get(DeviceStatusRow, (site, device_id))
    if entry is None and status_row is None and session.scalar(
            select(EventRow.id).where(EventRow.site == site, EventRow.device_id == device_id).limit(1)) is None:
        raise missing
    placed = floorplans.positions_for(session, site, device_id)
    if entry is not None:
        x, y = placed.get("", (entry.x, entry.y))
        device = {
            "id": device_id, "site": site, "name": entry.name or None, "name_en": entry.name_en or None,
            "role": entry.role, "kind": registry.kind_of(site, device_id),
            "subsystem": subsystems.of_device(registry, site, device_id), "adapter": entry.adapter,
            "address": entry.address, "location": registry.location(site, device_id).as_dict(), "x": x, "y": y,
            "registered": True, "source": _source(session, registry, site, device_id), "cameras": entry.cameras,
            "points": [{"point": point, "kind": registry.kind_of(site, device_id, point),
                        "subsystem": subsystems.of_device(registry, site, device_id, point),
                        "location": registry.location(site, device_id, point).as_dict(),
                        "x": placed.get(point, (p.x, p.y))[0], "y": placed.get(point, (p.x, p.y))[1]}
                       for point, p in entry.points.items()],
        }
    else:
        device = {
            "id": device_id, "site": site, "name": None, "name_en": None, "role": None, "kind": "",
            "subsystem": "other", "adapter": status_row.last_adapter if status_row else "", "address": "",
            "location": registry.location(site, device_id).as_dict(), "x": None, "y": None, "registered": False,
            "source": None, "cameras": [], "points": [],
        }
    state = {
        "state": status_row.state if status_row else "unknown",
        "state_at": iso(status_row.state_at) if status_row else None,
        "last_seen": iso(status_row.last_seen) if status_row else None,
        "first_seen": iso(status_row.first_seen) if status_row else None,
        "last_adapter": status_row.last_adapter if status_row else None,
        "registered": entry is not None,
    }
    mine = (AlarmRow.site == site, AlarmRow.device_id == device_id)
    open_alarms = session.scalars(select(AlarmRow).where(*mine, AlarmRow.closed.is_(False))
                                  .order_by(AlarmRow.severity_rank, AlarmRow.raised_at)).all()
    alarms = session.scalars(select(AlarmRow).where(*mine).order_by(AlarmRow.raised_at.desc(), AlarmRow.id.desc())
                             .limit(50)).all()
    events = session.scalars(select(EventRow).where(EventRow.device_id == device_id, EventRow.site == site)
                             .order_by(EventRow.received_at.desc(), EventRow.id.desc()).limit(100)).all()
    return {"device": device, "status": state,
            "open_alarms": [alarm_view(a, registry) for a in open_alarms],
            "alarms": [alarm_view(a, registry) for a in alarms],
            "events": event_views(session, list(events), runtime)}


@router.post("/devices/import", response_model=None, responses={
    413: {"description": "The file is larger than 2 MB or has more than 5000 devices."},
    415: {"description": "The body is neither text/csv nor application/yaml."}})
async def import_devices(request: Request, runtime: RuntimeDep, user: Admin,
                         dry_run: bool = True) -> dict[str, Any] | JSONResponse:
    """The body is the file's text: ``text/csv`` or ``application/yaml`` (the formats of ``mcc devices
    export``), at most 2 MB and 5000 devices (else 413). → {added, updated, unchanged, errors:
    [{line, message}]}; with any error nothing is applied (and, when not a dry run, the answer is
    422 with the same body)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in YAML_TYPES:
        fmt = "yaml"
    elif content_type in CSV_TYPES:
        fmt = "csv"
    else:
        raise Refusal("import.media_type", "send the file as text/csv or application/yaml (the formats of mcc "
                      "devices export)", status=415)
    declared = request.headers.get("content-length", "")
    if declared.strip().isdigit() and int(declared) > IMPORT_MAX_BYTES:
        raise Refusal("import.too_large", f"an import is at most {IMPORT_MAX_BYTES} bytes", status=413,
                      max=IMPORT_MAX_BYTES)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > IMPORT_MAX_BYTES:
            raise Refusal("import.too_large", f"an import is at most {IMPORT_MAX_BYTES} bytes", status=413,
                          max=IMPORT_MAX_BYTES)
        chunks.append(chunk)
    raw = b"".join(chunks)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refusal("import.not_utf8", "the file is not UTF-8 text", status=422) from exc
    body = await run_in_threadpool(run_import, runtime.store, runtime.registry, runtime.settings.site.id, text,
                                   fmt, dry_run, user.username, client_address(request), runtime.now())
    if body["errors"] and not dry_run:
        count = len(body["errors"])
        return JSONResponse({**body, "detail": f"{count} problems in the file; nothing was imported",
                             "code": "import.problems", "params": {"count": count}}, status_code=422)
    return body
