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

from console.store.database import Store
from console.store.tables import TaskRow
from console.tasks.outcome import Outcome
from console.tasks.service import TaskService

log = logging.getLogger("mcc.deadlines")


class DeadlineLoop:
    def __init__(self, store: Store, service: TaskService, after_commit: Callable[[Outcome], None],
                 now: Callable[[], datetime], max_sleep: float = 1.0):
        self.store = store
        self.service = service
        self.after_commit = after_commit
        self.now = now
        self.max_sleep = max_sleep
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mcc-deadlines", daemon=True)
        self.fired = 0
        self.last_error: str | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def poke(self) -> None:
        self._wake.set()

    def run_once(self) -> float:
        """Fire what is due; return seconds until the next due time (capped at ``max_sleep``)."""
        now = self.now()
        with self.store.write() as session, session.begin():
            outcome = self.service.fire_due(session, now)
            unshelved = self.service.open_unshelved(session, now)
        outcome.hub.extend(unshelved.hub)
        outcome.notices.extend(unshelved.notices)
        if outcome.hub or outcome.notices:
            self.fired += 1
            self.after_commit(outcome)
        with self.store.read() as session:
            upcoming = session.scalar(select(func.min(TaskRow.next_due_at)).where(TaskRow.state == "open"))
        if upcoming is None:
            return self.max_sleep
        return max(0.0, min(self.max_sleep, (upcoming - self.now()).total_seconds()))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                delay = self.run_once()
                self.last_error = None
            except SQLAlchemyError as exc:
                self.last_error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
                log.error("deadline loop: store error, retrying: %s", self.last_error)
                delay = self.max_sleep
            except Exception as exc:  # keep firing other tasks' deadlines
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("deadline loop failed")
                delay = self.max_sleep
            self._wake.wait(delay)
            self._wake.clear()
