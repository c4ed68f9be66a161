"""Health: liveness, readiness and the figures behind them.

- ``GET /api/health/live``: the process answers (200). A supervisor that restarts on failure asks this.
- ``GET /api/health/ready``: 200 when the console can take alarms, 503 when it cannot: the broker
  is not connected, the store does not answer or refuses writes, or intake is stalled (messages
  wait and nothing was committed for ``health.stall_seconds``: a full disk, a locked store). The
  Dockerfile, compose and the systemd unit ask this.
- ``GET /api/health``: everyone gets up/down; staff signed in (operator, supervisor, admin) get the
  figures (with the free space of the SQLite file's volume). Broker address, subscriptions, store
  type and camera errors are not for anonymous eyes.

The wall learns the same answer without asking: console/wire/readiness.py publishes ``console.health``.
"""

from __future__ import annotations

import shutil
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import func, select

from console.api.deps import RuntimeDep, signed_in, token_from
from console.api.pages import build_id
from console.people import auth
from console.runtime import Runtime
from console.settings import sqlite_path
from console.sinks.timeseries import disabled_status
from console.store.tables import DeviceStatusRow, QuarantineRow, TaskRow
from console.video import linker as camera_linkage
from console.wire.readiness import store_answers

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


def _store_answers(runtime: Runtime) -> str | None:
    return store_answers(runtime.store)


def _disk(runtime: Runtime) -> dict[str, Any]:
    """Free and total bytes of the SQLite file's volume: a full disk stops every commit, so the room
    should see it coming (PostgreSQL's disks are its own server's business: nothing here)."""
    path = sqlite_path(runtime.store.url)
    if path is None:
        return {}
    try:
        usage = shutil.disk_usage(path.resolve().parent)
    except OSError as exc:
        return {"disk_error": f"{type(exc).__name__}: {exc.strerror}"}
    return {"free_bytes": usage.free, "total_bytes": usage.total}


_VERIFIED: dict[str, float] = {}
"""Staff tokens (their SHA-256) verified lately, and when: while the store is down, which is when
the figures matter most, a token verified in the last ``STAFF_MEMORY`` seconds still sees them."""
STAFF_MEMORY = 600.0


def _staff(request: Request, runtime: Runtime) -> bool:
    token = token_from(request)
    if not token:
        return False
    digest = auth.token_digest(token)
    try:
        user = signed_in(request, runtime)
    except Exception:  # the store is away: trust a recent verification, nothing else
        seen = _VERIFIED.get(digest)
        return seen is not None and time.monotonic() - seen < STAFF_MEMORY
    if user is None or user.role not in auth.ACT_ON_ALARMS:
        _VERIFIED.pop(digest, None)
        return False
    if len(_VERIFIED) > 1000:
        _VERIFIED.clear()
    _VERIFIED[digest] = time.monotonic()
    return True


_UP: dict[int | str, dict[str, Any]] = {200: {"description": "The process answers."}}
_READY: dict[int | str, dict[str, Any]] = {200: {"description": "Ready: broker connected, store writable, intake flowing."},
          503: {"description": "Not ready; staff signed in get the reasons."}}


@router.get("/api/health/live", responses=_UP)
def live() -> dict[str, str]:
    return {"status": "up"}


@router.get("/api/health/ready", responses=_READY)
async def ready(request: Request, runtime: RuntimeDep) -> JSONResponse:
    reasons = runtime.not_ready(await run_in_threadpool(_store_answers, runtime))
    body: dict[str, Any] = {"status": "down" if reasons else "ready"}
    staff: bool = bool(reasons) and await run_in_threadpool(_staff, request, runtime)
    if staff:
        body["reasons"] = reasons
    return JSONResponse(body, status_code=503 if reasons else 200)


@router.get("/api/health")
async def health(request: Request, runtime: RuntimeDep) -> dict[str, Any]:
    if not await run_in_threadpool(_staff, request, runtime):
        reasons = runtime.not_ready(await run_in_threadpool(_store_answers, runtime))
        return {"status": "down" if reasons else "up"}
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
        **await run_in_threadpool(_disk, runtime),
    }
    ingest = {
        "stored": counters.stored,
        "duplicates": counters.duplicates,
        "quarantined": counters.quarantined,
        "quarantine_total": figures.get("quarantine_total"),
        "unregistered_devices": figures.get("unregistered_devices"),
        "backlog": writer.backlog,
        "stalled_seconds": round(writer.stalled_seconds, 1),
        "batches": counters.batches,
    }
    workers = [status.as_dict() for status in runtime.supervisor.status()]
    down = [w["name"] for w in workers if not w["alive"] and w["state"] not in ("new", "stopped")]
    reasons = runtime.not_ready(None if figures["ok"] else f"store: {figures.get('error')}")
    ok = not reasons and not down
    retention = runtime.retention.detail() if runtime.retention is not None else {}
    return {
        "status": "ok" if ok else "degraded",
        "ready": not reasons,
        "not_ready": reasons,
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
        "cluster": ({"instance": runtime.settings.cluster.instance, "duties": runtime.election.held}
                    if runtime.election is not None else None),
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
        "logins": {"refused_while_locked": runtime.logins.refused},
        "websocket": {"clients": runtime.hub.client_count, "seq": runtime.hub.seq, "stream": runtime.hub.stream},
        "displays": runtime.displays.counts(runtime.now()),
        "workers": workers,
        "workers_down": down,
        "build": build_id(),
    }
