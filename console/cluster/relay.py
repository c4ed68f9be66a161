"""Every change reaches the WebSocket clients of every instance, numbered once, through the store.

Out (``RelayOut``): whatever an instance commits (the outlet's ``publish``) is queued here and
written to ``hub_changes`` in batches, under one transaction-scoped advisory lock, with a
``NOTIFY mcc_hub``. Holding the lock while inserting makes the ids grow in commit order, so a
reader that has seen id N never later meets a smaller one: the id is the ``seq`` every client
sees, on any instance.

In (``RelayIn``): each instance LISTENs, reads the rows after the last it delivered (on each
notification, and every ``poll`` seconds in case one was missed while reconnecting) and hands them
to its hub. A client that reconnects to another instance with ``?since=N`` resumes from the
store if that instance's own buffer does not reach back (``replay``).

A change is written after its own commit: an instance killed between the two loses the change for
the other instances' screens (their next snapshot has it). Rows older than ``keep_seconds`` go.
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.exc import SQLAlchemyError

from console.cluster.postgres import connect, lock_key
from console.messages import HubMessage
from console.sinks.hub import Hub, dumps, numbered_text
from console.store.database import Store
from console.store.tables import HubChangeRow
from console.workers import Worker, describe

log = logging.getLogger("mcc.relay")
CHANNEL = "mcc_hub"
BATCH = 2000
PRUNE_SECONDS = 30.0
Numbered = list[tuple[int, HubMessage, str]]


class RelayOut(Worker):
    def __init__(self, store: Store, instance: str, keep_seconds: int, now: Callable[[], datetime]) -> None:
        super().__init__("relay-out")
        self.store = store
        self.instance = instance
        self.keep = timedelta(seconds=keep_seconds)
        self.now = now
        self.beat_timeout = 60.0
        self._queue: queue.SimpleQueue[list[HubMessage]] = queue.SimpleQueue()
        self._pending: list[HubMessage] = []
        self._lock_key = lock_key("hub-changes")
        self._pruned_at = 0.0
        self.sent = 0

    def offer(self, messages: list[HubMessage]) -> None:
        """Thread-safe: committed changes for every instance's clients (the outlet's relay)."""
        self._queue.put(messages)

    def detail(self) -> dict[str, object]:
        return {"sent": self.sent, "waiting": self._queue.qsize() + len(self._pending)}

    def run(self) -> None:
        delay = 0.2
        while not self.stopping.is_set():
            self.beat()
            if not self._pending:
                try:
                    self._pending.extend(self._queue.get(timeout=0.5))
                except queue.Empty:
                    self._prune()
                    continue
            self._drain()
            try:
                self._write(self._pending)
            except SQLAlchemyError as exc:  # the store is away: keep the changes and try again
                self.report(exc)
                self.stopping.wait(delay)
                delay = min(delay * 2, 5.0)
                continue
            delay = 0.2
            self.last_error = None
            self._prune()

    def finish(self) -> None:
        """On stop: what the last commits sent still goes out, once."""
        self._drain(limit=None)
        if self._pending:
            try:
                self._write(self._pending)
            except SQLAlchemyError as exc:
                log.error("relay: %d changes not sent to the other instances: %s", len(self._pending), exc)

    def _drain(self, limit: int | None = BATCH) -> None:
        while limit is None or len(self._pending) < limit:
            try:
                self._pending.extend(self._queue.get_nowait())
            except queue.Empty:
                return

    def _write(self, messages: list[HubMessage]) -> None:
        at = self.now()
        rows = [{"at": at, "origin": self.instance, "body": dumps({"type": m.type, "data": m.data})} for m in messages]
        with self.store.write_engine.begin() as conn:
            # One writer at a time, across instances: ids then grow in the order they commit.
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": self._lock_key})
            conn.execute(insert(HubChangeRow), rows)
            conn.execute(text(f"NOTIFY {CHANNEL}"))
        self.sent += len(messages)
        self._pending = []

    def _prune(self) -> None:
        if time.monotonic() - self._pruned_at < PRUNE_SECONDS:
            return
        self._pruned_at = time.monotonic()
        try:
            with self.store.write_engine.begin() as conn:
                conn.execute(delete(HubChangeRow).where(HubChangeRow.at < self.now() - self.keep))
        except SQLAlchemyError as exc:
            self.report(f"prune: {describe(exc)}")


class RelayIn(Worker):
    def __init__(self, store: Store, instance: str, hub: Hub, deliver: Callable[[Numbered], None],
                 poll: float = 0.5) -> None:
        super().__init__("relay-in")
        self.store = store
        self.instance = instance
        self.hub = hub
        self.deliver = deliver
        """Hands numbered changes to the hub, on its event loop (the outlet's ``deliver_numbered``)."""
        self.poll = poll
        self.beat_timeout = 60.0
        self.last = 0
        self.received = 0

    def detail(self) -> dict[str, object]:
        return {"seq": self.last, "received": self.received}

    def prepare(self) -> None:
        """Start where the store is: clients of this instance number from the cluster's last change,
        in the cluster's stream (the same on every instance, new if the table is made again)."""
        with self.store.read() as session:
            self.last = int(session.scalar(select(func.coalesce(func.max(HubChangeRow.id), 0))) or 0)
            table = session.scalar(text("SELECT current_database() || ':' || 'hub_changes'::regclass::oid::text"))
        self.hub.seq = self.last
        self.hub.stream = "c" + hashlib.sha256(str(table).encode()).hexdigest()[:11]

    def run(self) -> None:
        delay = self.poll
        while not self.stopping.is_set():
            try:
                with connect(self.store.url, f"mcc {self.instance} relay") as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    delay = self.poll
                    while not self.stopping.is_set():
                        self.beat()
                        if self._read(conn) == BATCH:
                            continue  # more are waiting
                        for _ in conn.notifies(timeout=self.poll, stop_after=1):
                            pass
                        self.last_error = None
            except psycopg.Error as exc:
                self.report(exc)
                if self.stopping.wait(delay):
                    break
                delay = min(delay * 2, 5.0)

    def _read(self, conn: psycopg.Connection[Any]) -> int:
        rows = conn.execute("SELECT id, body FROM hub_changes WHERE id > %s ORDER BY id LIMIT %s",
                            (self.last, BATCH)).fetchall()
        if not rows:
            return 0
        numbered = []
        for seq, body in rows:
            message = json.loads(body)  # for the clients' filters (a guard's, a site's)
            numbered.append((int(seq), HubMessage(message["type"], message["data"]), numbered_text(int(seq), body)))
        self.last = numbered[-1][0]
        self.received += len(numbered)
        self.deliver(numbered)
        return len(rows)

    def replay(self, since: int, upto: int) -> list[tuple[int, str]] | None:
        """The changes after ``since`` up to ``upto`` as clients get them, from the store; None when
        the store no longer has them all (a fresh snapshot then)."""
        if since >= upto:
            return []
        with self.store.read() as session:
            oldest = session.scalar(select(func.min(HubChangeRow.id)))
            if oldest is None or oldest > since + 1:
                return None
            rows = session.execute(select(HubChangeRow.id, HubChangeRow.body)
                                   .where(HubChangeRow.id > since, HubChangeRow.id <= upto)
                                   .order_by(HubChangeRow.id)).all()
        return [(int(seq), numbered_text(int(seq), body)) for seq, body in rows]
