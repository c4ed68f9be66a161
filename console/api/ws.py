"""The WebSocket ``/ws``: a ``hello`` (the build id), a snapshot (or the missed messages after
``?since=``), then live changes. Walls send ``display.heartbeat`` over the same socket. With
``?batch=1`` (the pages ask for it) the changes waiting for a client go as one ``batch`` frame."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from console.alarms.views import alarm_view, event_row_view
from console.api.deps import client_address, get_runtime, get_sockets, of_sites, origin_allowed, token_from
from console.api.pages import build_id
from console.devices import status as device_status
from console.messages import HubMessage
from console.people import auth
from console.people.displays import RECORDED_ROLES
from console.runtime import Runtime
from console.sinks.hub import MAX_BATCH, Hub, Subscriber, batch_text, dumps
from console.store.tables import AlarmRow, EventRow, TaskRow
from console.tasks.views import task_summary

log = logging.getLogger("mcc.ws")
router = APIRouter()
SNAPSHOT_EVENTS = 50
MAX_CLIENT_MESSAGE = 4096
_connections = itertools.count(1)


def build_snapshot(runtime: Runtime, user: auth.User) -> dict[str, Any]:
    if user.role == "guard":
        return _guard_snapshot(runtime, user)
    with runtime.store.read() as session:
        alarms = session.scalars(
            select(AlarmRow).where(AlarmRow.closed.is_(False), of_sites(user, AlarmRow.site))
            .order_by(AlarmRow.severity_rank, AlarmRow.raised_at)
        ).all()
        events = session.scalars(select(EventRow).where(of_sites(user, EventRow.site))
                                 .order_by(EventRow.id.desc()).limit(SNAPSHOT_EVENTS)).all()
        counts = device_status.device_counts(session, runtime.registry, user.sites)
        tasks = session.scalars(select(TaskRow).where(TaskRow.state == "open", of_sites(user, TaskRow.site))
                                .order_by(TaskRow.severity_rank, TaskRow.opened_at)).all()
        task_views = [task_summary(t, runtime.tasks.book.sops.get(t.sop_id), runtime.registry) for t in tasks]
    return {
        "server_time": datetime.now(timezone.utc).isoformat(),
        "alarms": [alarm_view(a, runtime.registry) for a in alarms],
        "tasks": task_views,
        "devices": counts,
        "events": [event_row_view(e, runtime.registry) for e in events],
        # Can the console take alarms now (console.health after this): a wall shows a fault at once.
        "health": runtime.readiness.current if runtime.readiness is not None else None,
        # The sites this screen shows: several make a group wall, which names each alarm's site.
        "sites": [{"id": site, "name": runtime.settings.site_entry(site).name or site}
                  for site in runtime.settings.site_ids if user.sees(site)],
    }


# What a user limited to some sites still gets that names no site: the console's own health, and
# guards' states (their names only). Anything else without a site is withheld from them.
SITELESS = frozenset({"console.health", "guard.updated"})


def site_filter(sites: tuple[str, ...], then: Callable[[HubMessage], bool] | None) -> Callable[[HubMessage], bool]:
    """A stream for a user of ``sites``: only their sites' changes (and ``then``'s own choice). A
    wall display's state goes to them when the wall shows only their sites (as /api/displays)."""
    def accept(message: HubMessage) -> bool:
        if message.type == "display.updated":
            shown = message.data.get("sites")
            mine = shown is not None and set(shown) <= set(sites)
            return mine and (then is None or then(message))
        site = message.data.get("site")
        mine = site in sites if site is not None else message.type in SITELESS
        return mine and (then is None or then(message))

    return accept


def _guard_snapshot(runtime: Runtime, user: auth.User) -> dict[str, Any]:
    """A guard's phone gets their own open tasks only: no alarm queue, no event log."""
    with runtime.store.read() as session:
        tasks = session.scalars(select(TaskRow).where(TaskRow.state == "open", TaskRow.assignee == user.username,
                                                      of_sites(user, TaskRow.site))
                                .order_by(TaskRow.opened_at)).all()
        views = [task_summary(t, runtime.tasks.book.sops.get(t.sop_id), runtime.registry) for t in tasks]
    return {"server_time": datetime.now(timezone.utc).isoformat(), "alarms": [], "tasks": views,
            "devices": {}, "events": []}


def guard_filter(username: str) -> Callable[[HubMessage], bool]:
    def accept(message: HubMessage) -> bool:
        if message.type == "task.updated":
            return username in message.data.get("guards", ()) or message.data.get("assignee") == username
        return message.type in ("guard.updated", "round.updated") and message.data.get("guard") == username

    return accept


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
    sockets = get_sockets(websocket)
    if not origin_allowed(websocket, runtime.settings.http.allowed_origins):
        # Another site's page riding on the user's cookie (cross-site WebSocket hijacking).
        log.warning("WebSocket from origin %r refused (host %r)", websocket.headers.get("origin", "")[:200],
                    websocket.headers.get("host", "")[:200])
        await websocket.close(code=1008)
        return
    token = token_from(websocket)  # the page's cookie, or an API client's Authorization header
    user = await run_in_threadpool(_user_for, runtime, token)
    if user is None or user.role not in auth.VIEW:
        await websocket.close(code=1008)  # before accept: the handshake is refused (HTTP 403)
        return
    assert token is not None
    cluster = runtime.settings.cluster
    # In a center, which instance serves this socket (behind the load balancer; for operations).
    await websocket.accept(headers=[(b"x-mcc-instance", cluster.instance.encode())] if cluster.enabled else None)
    hub = runtime.hub
    is_guard = user.role == "guard"
    connection = next(_connections)
    # Disabling the user, changing their role or password, or their logout closes this socket (1008).
    revoked = asyncio.Event()
    loop = asyncio.get_running_loop()

    def revoke() -> None:  # from any thread
        with contextlib.suppress(RuntimeError):  # the loop has closed: so has the socket
            loop.call_soon_threadsafe(revoked.set)

    since = _int_param(websocket, "since")
    stream = websocket.query_params.get("stream")
    batch = websocket.query_params.get("batch") == "1"  # the client reads ``batch`` frames
    if since is not None and runtime.relay_in is not None:
        await _catch_up(hub, since)  # a client of another instance may be a moment ahead of this one
    sockets.add(user.username, connection, auth.token_digest(token), revoke)
    # Checked again now that the socket is registered: a change committed since the handshake
    # either finds this socket to close, or shows here.
    try:
        again = await run_in_threadpool(_user_for, runtime, token)
    except BaseException:
        sockets.remove(user.username, connection)
        raise
    if again is None or again.role != user.role:
        sockets.remove(user.username, connection)
        await websocket.close(code=1008, reason="signed out")
        return
    accept = guard_filter(user.username) if is_guard else None
    if user.sites is not None:
        accept = site_filter(user.sites, accept)
    subscriber = hub.subscribe(accept)
    # A guard, or a user of some sites only, always starts from a fresh snapshot: the replay buffer
    # holds everyone's messages.
    fresh = accept is not None
    try:
        replay = hub.replay(since, stream) if since is not None and not fresh else None
        seq = hub.seq  # taken with the subscription, before any await: nothing falls between
        if (replay is None and since is not None and not fresh and runtime.relay_in is not None
                and stream == hub.stream and since <= seq):
            # Reconnected to an instance whose own buffer does not reach back that far: the store does.
            replay = await run_in_threadpool(runtime.relay_in.replay, since, seq)
        # First, before the snapshot or the replay: which build of the pages the server serves.
        await websocket.send_text(dumps({"type": "hello", "build": build_id(),
                                         "server_time": datetime.now(timezone.utc).isoformat()}))
        if replay is None:
            snapshot = await run_in_threadpool(build_snapshot, runtime, user)
            await websocket.send_text(dumps({"type": "snapshot", "seq": seq, "stream": hub.stream, **snapshot}))
        else:
            await _send(websocket, replay, batch)
        await _pump(websocket, subscriber, _client_messages(runtime, user, client_address(websocket), connection),
                    revoked, batch)
    except WebSocketDisconnect:
        pass
    finally:
        sockets.remove(user.username, connection)
        hub.unsubscribe(subscriber)
        closed = runtime.displays.closed(connection, runtime.now())
        if closed:
            runtime.outlet.publish(closed)


async def _catch_up(hub: Hub, since: int, wait: float = 1.0) -> None:
    """In a cluster, wait up to ``wait`` s for this instance to have delivered what the client saw."""
    deadline = asyncio.get_running_loop().time() + wait
    while hub.seq < since and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.02)


def _client_messages(runtime: Runtime, user: auth.User, address: str,
                     connection: int) -> Callable[[str], None]:
    """What a client may send: a wall's ``display.heartbeat``, from a ``display`` login only (the
    console's own pages send none). Anything else is ignored. The display book keeps one display
    per connection and drops heartbeats that come too often."""
    def handle(text: str) -> None:
        if user.role not in RECORDED_ROLES or len(text) > MAX_CLIENT_MESSAGE:
            return
        try:
            message = json.loads(text)
        except ValueError:
            return
        if not isinstance(message, dict) or message.get("type") != "display.heartbeat":
            return
        changes = runtime.displays.heartbeat(message, user.username, address, connection, runtime.now(),
                                             tuple(user.sites) if user.sites is not None else None)
        if changes:
            runtime.outlet.publish(changes)

    return handle


async def _wait(event: asyncio.Event) -> None:
    await event.wait()


async def _send(websocket: WebSocket, items: list[tuple[int, str]], batch: bool) -> None:
    """Changes to one client: one ``batch`` frame each ``MAX_BATCH`` for a client that asked for
    batches (a single change goes as itself), else one frame each."""
    if not batch:
        for _, text in items:
            await websocket.send_text(text)
        return
    for start in range(0, len(items), MAX_BATCH):
        chunk = items[start:start + MAX_BATCH]
        await websocket.send_text(chunk[0][1] if len(chunk) == 1 else batch_text(chunk))


async def _pump(websocket: WebSocket, subscriber: Subscriber, on_text: Callable[[str], None],
                revoked: asyncio.Event | None = None, batch: bool = False) -> None:
    async def send() -> None:
        while True:
            item = await subscriber.queue.get()
            items = []
            while item is not None:
                items.append(item)
                if not batch or len(items) >= MAX_BATCH or subscriber.queue.empty():
                    break
                item = subscriber.queue.get_nowait()  # what else waits now goes in the same frame
            await _send(websocket, items, batch)
            if item is None:
                await websocket.close(code=1013, reason="client too slow; resume with ?since=")
                return

    async def receive() -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text"):
                on_text(message["text"])

    tasks = [asyncio.create_task(send()), asyncio.create_task(receive())]
    if revoked is not None:
        tasks.append(asyncio.create_task(_wait(revoked)))
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                await task
    if revoked is not None and revoked.is_set():
        # The user was disabled, changed or signed out: the pages go to the login page on 1008.
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
            await websocket.close(code=1008, reason="signed out")
