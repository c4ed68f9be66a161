"""The WebSocket ``/ws``: a snapshot (or the missed messages after ``?since=``), then live changes."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timezone
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from console import auth, device_status
from console.api.deps import get_runtime, token_from
from console.hub import Subscriber, dumps
from console.runtime import Runtime
from console.store.tables import AlarmRow, EventRow
from console.views import alarm_view, event_row_view

router = APIRouter()
SNAPSHOT_EVENTS = 50


def build_snapshot(runtime: Runtime) -> dict[str, Any]:
    with runtime.store.read() as session:
        alarms = session.scalars(
            select(AlarmRow).where(AlarmRow.closed.is_(False))
            .order_by(AlarmRow.severity_rank, AlarmRow.raised_at)
        ).all()
        events = session.scalars(select(EventRow).order_by(EventRow.id.desc()).limit(SNAPSHOT_EVENTS)).all()
        counts = device_status.device_counts(session, runtime.registry)
    return {
        "server_time": datetime.now(timezone.utc).isoformat(),
        "alarms": [alarm_view(a, runtime.registry) for a in alarms],
        "tasks": [],
        "devices": counts,
        "events": [event_row_view(e, runtime.registry) for e in events],
    }


def _user_for(runtime: Runtime, token: str | None) -> auth.User | None:
    if not token:
        return None
    with runtime.store.read() as session:
        return auth.resolve_token(session, token)


def _int_param(websocket: WebSocket, name: str) -> int | None:
    value = websocket.query_params.get(name)
    if value is None or not value.lstrip("-").isdigit():
        return None
    return int(value)


@router.websocket("/ws")
async def websocket_endpoint(websocket: WebSocket) -> None:
    runtime = get_runtime(websocket)
    user = await run_in_threadpool(_user_for, runtime, token_from(websocket, allow_query=True))
    if user is None or user.role not in auth.VIEW:
        await websocket.close(code=1008)  # before accept: the handshake is refused (HTTP 403)
        return
    await websocket.accept()
    hub = runtime.hub
    subscriber = hub.subscribe()
    try:
        since = _int_param(websocket, "since")
        replay = hub.replay(since, websocket.query_params.get("stream")) if since is not None else None
        if replay is None:
            seq = hub.seq  # taken with the subscription, before any await: nothing falls between
            snapshot = await run_in_threadpool(build_snapshot, runtime)
            await websocket.send_text(dumps({"type": "snapshot", "seq": seq, "stream": hub.stream, **snapshot}))
        else:
            for text in replay:
                await websocket.send_text(text)
        await _pump(websocket, subscriber)
    except WebSocketDisconnect:
        pass
    finally:
        hub.unsubscribe(subscriber)


async def _pump(websocket: WebSocket, subscriber: Subscriber) -> None:
    async def send() -> None:
        while True:
            text = await subscriber.queue.get()
            if text is None:
                await websocket.close(code=1013, reason="client too slow; resume with ?since=")
                return
            await websocket.send_text(text)

    async def receive() -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return

    tasks = [asyncio.create_task(send()), asyncio.create_task(receive())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                await task
