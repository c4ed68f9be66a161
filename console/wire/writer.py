"""The single writer of the alarm path: one thread takes what arrives (MQTT messages, GB/T 26875.3
frames) and what the console concludes itself (a device silent past its budget, a camera's picture,
a GB link gone quiet), writes it through the ingest, commits, and only then settles each message
(the MQTT ack, the GB confirm) and hands the changes to the outlet.

Group commit: the writer blocks for one message, then takes whatever else is already waiting (up to
``batch_max``). Under light load every message is committed on its own at once; under heavy load one
fsync covers hundreds. Nothing is settled before its commit. A batch in hand survives a crash of the
thread: the restarted thread finishes it from the step it had reached (commit, settle, publish).

A transaction holds the store's write lock (SQLite has one for the whole file), so a batch is kept
to about ``BATCH_SECONDS``: in an alarm storm each message opens a task and costs milliseconds, and
500 of them would keep an operator's acknowledgement waiting for seconds. The batch's size halves
when a commit took longer and grows back when commits are quick; before each batch, a writer of
this process waiting for the lock goes first (console/store/database.py, ``WriteTurns``).
"""

from __future__ import annotations

import logging
import queue
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from console.alarms.engine import settle_flapping
from console.alarms.views import alarm_view
from console.contract import Draft, InboundMessage
from console.messages import HubMessage
from console.sinks.outlet import Outlet
from console.wire.ingest import Ingest
from console.workers import Worker

log = logging.getLogger("mcc.writer")
BATCH_SECONDS = 0.25
"""About the longest a batch's transaction should hold the write lock."""


@dataclass(frozen=True)
class Observation:
    """Events the console observed itself, written as one transaction."""

    at: datetime
    """When the console observed it (the observer's clock): the events' receive time."""
    drafts: list[Draft] = field(default_factory=list)
    silenced: bool = False
    settle: bool = False
    """Clear the damped offline alarms of devices that have settled (no drafts)."""


Job = InboundMessage | Observation


@dataclass
class _Batch:
    jobs: list[Job]
    hub: list[HubMessage] | None = None
    """Set once committed: what the batch changed, still to be handed to the outlet."""
    settled: bool = False


class Writer(Worker):
    def __init__(self, ingest: Ingest, outlet: Outlet, batch_max: int = 500) -> None:
        super().__init__("writer")
        self.ingest = ingest
        self.outlet = outlet
        self.batch_max = batch_max
        self.batch_limit = batch_max
        """The size of the next batch: ``batch_max``, less while commits take longer than ``BATCH_SECONDS``."""
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._next: list[Job | None] = []
        """What ended the last batch (an observation, the stop), taken before anything queued after it."""
        self._batch: _Batch | None = None
        self.store_ok = True
        self.store_error: str | None = None
        self._silent: frozenset[tuple[str, str]] = frozenset()
        self._progress_at = time.monotonic()
        """When the writer last had nothing waiting or finished a batch (readiness: intake stalled)."""

    # -- hand-over (any thread) ---------------------------------------------------------------

    def submit(self, message: InboundMessage) -> None:
        """A message that arrived (the MQTT network thread, the GB receiver)."""
        self._queue.put(message)

    def observe(self, drafts: list[Draft], *, silenced: bool = False, at: datetime | None = None) -> None:
        if drafts:
            if at is None:
                at = drafts[0].ts if isinstance(drafts[0].ts, datetime) else datetime.now(timezone.utc)
            self._queue.put(Observation(at, list(drafts), silenced=silenced))

    def settle_flapping(self, now: datetime) -> None:
        self._queue.put(Observation(now, settle=True))

    @property
    def backlog(self) -> int:
        """What is not yet written and settled: the queue, and the batch in hand until its messages
        are acknowledged (a message stored but not yet acked would come back after a reconnect)."""
        batch = self._batch
        waiting = self._queue.qsize() + sum(1 for job in self._next if job is not None)
        return waiting + (len(batch.jobs) if batch is not None and not batch.settled else 0)

    @property
    def stalled_seconds(self) -> float:
        """How long messages have waited while nothing was committed (0 while intake flows). A full
        disk or a locked store shows here before anything else: the batch in hand keeps retrying."""
        if self.backlog == 0:
            return 0.0
        return max(0.0, time.monotonic() - self._progress_at)

    @property
    def silent(self) -> frozenset[tuple[str, str]]:
        return self._silent

    # -- the thread ---------------------------------------------------------------------------

    def prepare(self) -> None:
        self.ingest.load_silenced()
        self._silent = frozenset(self.ingest.silenced)

    def interrupt(self) -> None:
        self._queue.put(None)

    def run(self) -> None:
        while True:
            if self._batch is None:
                jobs = self._take()
                if jobs is None:
                    return
                self._batch = _Batch(jobs)
            self._write(self._batch)
            self._batch = None
            self._progress_at = time.monotonic()
            self.beat()

    def finish(self) -> None:
        """Write what is still queued (messages that arrived before the stop)."""
        self.drain()

    def drain(self) -> list[HubMessage]:
        """Write everything queued now, in the calling thread, and return what it changed (the
        thread's own stop uses it; so do tests on a controlled clock, with the thread not started)."""
        changed: list[HubMessage] = []
        while True:
            try:
                job = self._next.pop() if self._next else self._queue.get_nowait()
            except queue.Empty:
                return changed
            if job is not None:
                batch = _Batch([job])
                self._write(batch)
                changed.extend(batch.hub or [])

    def detail(self) -> dict[str, Any]:
        return {"backlog": self.backlog, "store_ok": self.store_ok, "batch_limit": self.batch_limit}

    def _take(self) -> list[Job] | None:
        """One job, then whatever messages are already waiting; None when asked to stop."""
        while True:
            try:
                first = self._next.pop() if self._next else self._queue.get(timeout=1.0)
                break
            except queue.Empty:
                self._progress_at = time.monotonic()
                self.beat()
        if first is None:
            return None
        if isinstance(first, Observation):
            return [first]  # the console's own conclusions are written on their own
        batch: list[Job] = [first]
        while len(batch) < self.batch_limit:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None or isinstance(item, Observation):
                self._next.append(item)  # right after the batch (a stop, an observation), in order
                break
            batch.append(item)
        return batch

    def _write(self, batch: _Batch) -> None:
        if batch.hub is None:
            batch.hub = self._commit_with_retry(batch.jobs)
        if not batch.settled:
            for job in batch.jobs:
                if isinstance(job, InboundMessage) and job.settle is not None:
                    try:
                        job.settle()
                    except Exception:  # a closed TCP link must not stop the others' acks
                        log.exception("settling %s failed", job.topic[:200])
            batch.settled = True
        self.outlet.publish(batch.hub)

    def _commit_with_retry(self, jobs: list[Job]) -> list[HubMessage]:
        delay = 0.2
        while True:
            try:
                hub = self._commit(jobs)
                break
            except SQLAlchemyError as exc:
                # The store is away: keep the batch (unacked, so the broker keeps it too) and retry.
                self.store_ok = False
                self.store_error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
                self.report(self.store_error)
                log.error("store write failed, retrying in %.1f s: %s", delay, self.store_error)
                if self.stopping.wait(delay):
                    # Stopping with the store away: nothing of this batch was settled, so the broker
                    # (or the GB device) still holds it and sends it again to the next console.
                    raise
                delay = min(delay * 2, 5.0)
            except Exception as exc:  # a bug must not stop the flow: keep the bytes, say why
                log.exception("ingest failed on a batch of %d; quarantining it", len(jobs))
                messages = [job for job in jobs if isinstance(job, InboundMessage)]
                self._quarantine_with_retry(messages, f"internal error: {type(exc).__name__}: {exc}")
                hub = []
                break
        self.store_ok = True
        self._silent = frozenset(self.ingest.silenced)
        return hub

    def _commit(self, jobs: list[Job]) -> list[HubMessage]:
        self.ingest.store.turns.let_others_write(BATCH_SECONDS)
        messages = [job for job in jobs if isinstance(job, InboundMessage)]
        if messages:
            started = time.monotonic()
            changed = self.ingest.process(messages)
            self._fit_batch(len(messages), time.monotonic() - started)
            return changed
        hub: list[HubMessage] = []
        for job in jobs:
            assert isinstance(job, Observation)
            if job.settle:
                with self.ingest.store.write() as session, session.begin():
                    changes = settle_flapping(session, job.at)
                    hub.extend(HubMessage(c.type, alarm_view(c.alarm, self.ingest.registry)) for c in changes)
            if job.drafts:
                hub.extend(self.ingest.process_console_drafts(job.drafts, job.at, silenced=job.silenced))
        return hub

    def _fit_batch(self, size: int, seconds: float) -> None:
        """Halve the next batch after one that held the lock too long; double it back after quick ones."""
        if seconds > BATCH_SECONDS and size > 1:
            self.batch_limit = max(1, min(self.batch_limit, size) // 2)
        elif seconds < BATCH_SECONDS / 4 and size >= self.batch_limit:
            self.batch_limit = min(self.batch_max, self.batch_limit * 2)

    def _quarantine_with_retry(self, messages: list[InboundMessage], reason: str) -> None:
        while messages:
            try:
                self.ingest.quarantine(messages, reason)
                return
            except SQLAlchemyError as exc:
                self.store_ok = False
                self.store_error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
                if self.stopping.wait(1.0):
                    raise  # unsettled: the broker sends them again to the next console
