"""The deadline loop: fires every task deadline (and dispatch acceptance) when it falls due.

Due times live in the store (``tasks.next_due_at``), so the loop needs no memory of its own: on
start it fires at once whatever fell due while the console was down, then sleeps until the next
due time (at most ``max_sleep``), or until ``poke`` says a task changed. It also opens the tasks
of alarms whose shelf has expired while they were still open.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from console.messages import HubMessage
from console.store.database import Store
from console.store.tables import TaskRow
from console.tasks.outcome import Outcome
from console.tasks.service import TaskService
from console.workers import Worker

log = logging.getLogger("mcc.deadlines")
TASKS_PER_TRANSACTION = 25
"""Tasks whose deadlines are fired in one transaction: after a storm thousands fall due at once, and
each transaction holds the store's write lock (the ingest and the operators wait); the loop goes
round again at once while more are due."""


class DeadlineLoop(Worker):
    duty = "deadlines"
    """One instance of a cluster does this at a time."""

    def __init__(self, store: Store, service: TaskService, deliver: Callable[[Outcome], None],
                 now: Callable[[], datetime], max_sleep: float = 1.0):
        super().__init__("deadlines")
        self.store = store
        self.service = service
        self.deliver = deliver
        """Where a fired deadline's changes and notices go (the outlet's ``deliver``)."""
        self.now = now
        self.max_sleep = max_sleep
        self.beat_timeout = 60.0
        self._wake = threading.Event()
        self.fired = 0

    def poke(self, messages: list[HubMessage] | None = None) -> None:
        """A task changed (its next due time may be sooner): look again now. Taps the outlet."""
        if messages is None or any(m.type == "task.updated" for m in messages):
            self._wake.set()

    def interrupt(self) -> None:
        self._wake.set()

    def detail(self) -> dict[str, object]:
        return {"fired": self.fired}

    def run_once(self) -> float:
        """Fire what is due; return seconds until the next due time (capped at ``max_sleep``)."""
        now = self.now()
        with self.store.write() as session, session.begin():
            outcome = self.service.fire_due(session, now, limit=TASKS_PER_TRANSACTION)
            unshelved = self.service.open_unshelved(session, now)
        outcome.hub.extend(unshelved.hub)
        outcome.notices.extend(unshelved.notices)
        if outcome.hub or outcome.notices:
            self.fired += 1
            self.deliver(outcome)
        with self.store.read() as session:
            upcoming = session.scalar(select(func.min(TaskRow.next_due_at)).where(TaskRow.state == "open"))
        if upcoming is None:
            return self.max_sleep
        return max(0.0, min(self.max_sleep, (upcoming - self.now()).total_seconds()))

    def run(self) -> None:
        while not self.stopping.is_set():
            self.beat()
            if not self.on_duty():  # another instance of the cluster fires the deadlines now
                self._wake.wait(self.max_sleep)
                self._wake.clear()
                continue
            try:
                delay = self.run_once()
                self.last_error = None
            except SQLAlchemyError as exc:
                self.report(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
                log.error("deadline loop: store error, retrying: %s", self.last_error)
                delay = self.max_sleep
            except Exception as exc:  # keep firing other tasks' deadlines
                self.report(exc)
                log.exception("deadline loop failed")
                delay = self.max_sleep
            self._wake.wait(delay)
            self._wake.clear()
