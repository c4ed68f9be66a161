"""Devices with their state and last-seen time; the quarantine for admins."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import func, select

from console.api.deps import Admin, ReadSession, RuntimeDep, SiteWatcher
from console.store.tables import DeviceStatusRow, QuarantineRow
from console.views import iso

router = APIRouter(prefix="/api", tags=["devices"])


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
