"""GET /api/health: broker, store, time series and ingest figures; no login needed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import func, select

from console.api.deps import RuntimeDep
from console.api.pages import build_id
from console.runtime import Runtime
from console.sinks.timeseries import disabled_status
from console.store.tables import DeviceStatusRow, QuarantineRow, TaskRow
from console.video import linker as camera_linkage

router = APIRouter(tags=["health"])


def _store_figures(runtime: Runtime) -> dict[str, Any]:
    try:
        with runtime.store.read() as session:
            quarantined = session.scalar(select(func.count()).select_from(QuarantineRow)) or 0
            unregistered = session.scalar(
                select(func.count()).select_from(DeviceStatusRow).where(DeviceStatusRow.registered.is_(False))
            ) or 0
            open_tasks = session.scalar(select(func.count()).select_from(TaskRow).where(TaskRow.state == "open")) or 0
            overdue = session.scalar(select(func.min(TaskRow.next_due_at)).where(TaskRow.state == "open"))
        return {"ok": True, "quarantine_total": quarantined, "unregistered_devices": unregistered,
                "open_tasks": open_tasks, "next_due_at": overdue.isoformat() if overdue else None}
    except Exception as exc:  # health must answer even when the store is down
        return {"ok": False, "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"}


@router.get("/api/health")
async def health(runtime: RuntimeDep) -> dict[str, Any]:
    figures = await run_in_threadpool(_store_figures, runtime)
    mqtt, writer, deadlines = runtime.mqtt, runtime.writer, runtime.deadlines
    counters = runtime.ingest.counters
    broker = {
        "connected": mqtt.connected.is_set(),
        "url": f"{mqtt.address.host}:{mqtt.address.port}",
        "connects": mqtt.connects,
        "last_error": mqtt.connection_error if mqtt.state != "new" else "not started",
        "subscriptions": runtime.ingest.subscriptions,
    }
    store = {
        "ok": figures["ok"] and writer.store_ok,
        "dialect": runtime.store.dialect,
        "last_error": (writer.store_error if not writer.store_ok else None) or figures.get("error"),
    }
    ingest = {
        "stored": counters.stored,
        "duplicates": counters.duplicates,
        "quarantined": counters.quarantined,
        "quarantine_total": figures.get("quarantine_total"),
        "unregistered_devices": figures.get("unregistered_devices"),
        "backlog": writer.backlog,
        "batches": counters.batches,
    }
    workers = [status.as_dict() for status in runtime.supervisor.status()]
    down = [w["name"] for w in workers if not w["alive"] and w["state"] not in ("new", "stopped")]
    ok = broker["connected"] and store["ok"] and not down
    retention = runtime.retention.detail() if runtime.retention is not None else {}
    return {
        "status": "ok" if ok else "degraded",
        "site": runtime.settings.site.id,
        "started_at": runtime.started_at.isoformat(),
        "broker": broker,
        "store": store,
        "influx": runtime.timeseries.status() if runtime.timeseries is not None else disabled_status(),
        "cameras": {**(runtime.cameras.status() if runtime.cameras is not None else camera_linkage.disabled_status()),
                    **retention,
                    **(runtime.camera_health.status() if runtime.camera_health is not None
                       else {"states": {}, "state_counts": {}})},
        "ingest": ingest,
        "tasks": {
            "open": figures.get("open_tasks"),
            "next_due_at": figures.get("next_due_at"),
            "deadline_loop": deadlines.state if deadlines.state != "new" else "not started",
            "deadline_error": deadlines.last_error,
        },
        "heartbeats": {
            "supervised": len(runtime.silence.budgets),
            "silent_now": sorted(f"{site}/{device}" for site, device in writer.silent),
            "last_error": runtime.silence.last_error,
        },
        "notify": {
            "targets": len(runtime.settings.notify.targets),
            **vars(runtime.notifier.counters),
        },
        "websocket": {"clients": runtime.hub.client_count, "seq": runtime.hub.seq, "stream": runtime.hub.stream},
        "displays": runtime.displays.counts(runtime.now()),
        "workers": workers,
        "workers_down": down,
        "build": build_id(),
    }
