"""GET /api/health: broker, store, time series and ingest figures; no login needed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import func, select

from console.api.deps import RuntimeDep
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
    mqtt = runtime.mqtt
    worker = runtime.worker
    counters = runtime.ingest.counters
    broker = {
        "connected": bool(mqtt and mqtt.connected.is_set()),
        "url": f"{mqtt.address.host}:{mqtt.address.port}" if mqtt else None,
        "connects": mqtt.connects if mqtt else 0,
        "last_error": mqtt.last_error if mqtt else "not started",
        "subscriptions": runtime.ingest.subscriptions,
    }
    store = {
        "ok": figures["ok"] and (worker.store_ok if worker else True),
        "dialect": runtime.store.dialect,
        "last_error": (worker.last_error if worker and not worker.store_ok else None) or figures.get("error"),
    }
    ingest = {
        "stored": counters.stored,
        "duplicates": counters.duplicates,
        "quarantined": counters.quarantined,
        "quarantine_total": figures.get("quarantine_total"),
        "unregistered_devices": figures.get("unregistered_devices"),
        "backlog": worker.backlog if worker else 0,
        "batches": counters.batches,
    }
    ok = broker["connected"] and store["ok"]
    return {
        "status": "ok" if ok else "degraded",
        "site": runtime.settings.site.id,
        "started_at": runtime.started_at.isoformat(),
        "broker": broker,
        "store": store,
        "influx": runtime.timeseries.status() if runtime.timeseries is not None else disabled_status(),
        "cameras": {**(runtime.cameras.status() if runtime.cameras is not None else camera_linkage.disabled_status()),
                    **(runtime.camera_health.status() if runtime.camera_health is not None
                       else {"states": {}, "state_counts": {}})},
        "ingest": ingest,
        "tasks": {
            "open": figures.get("open_tasks"),
            "next_due_at": figures.get("next_due_at"),
            "deadline_loop": "running" if runtime.deadlines is not None else "not started",
            "deadline_error": runtime.deadlines.last_error if runtime.deadlines is not None else None,
        },
        "heartbeats": {
            "supervised": len(runtime.silence.budgets) if runtime.silence is not None else 0,
            "silent_now": sorted(f"{site}/{device}" for site, device in runtime.ingest.silenced),
            "last_error": runtime.silence.last_error if runtime.silence is not None else None,
        },
        "notify": {
            "targets": len(runtime.settings.notify.targets),
            **vars(runtime.notifier.counters),
        },
        "websocket": {"clients": runtime.hub.client_count, "seq": runtime.hub.seq, "stream": runtime.hub.stream},
        "displays": runtime.displays.counts(runtime.now()),
        "build": runtime.build_id,
    }
