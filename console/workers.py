"""One backbone for everything the console runs in the background: ``Worker`` (a thread that runs
until it is asked to stop, reports its crashes and is restarted with back-off), ``PeriodicWorker``
(the same, on a timer) and the ``Supervisor`` that owns every worker and child process, starts them
in order, stops them in reverse order within one deadline, restarts a thread that died, and lists
them all with their liveness and last error (``/api/health``).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

log = logging.getLogger("mcc.workers")

State = Literal["new", "starting", "running", "restarting", "stopping", "stopped", "failed"]


@dataclass(frozen=True)
class WorkerStatus:
    name: str
    kind: Literal["thread", "process"]
    state: str
    alive: bool
    restarts: int = 0
    last_error: str | None = None
    last_error_at: float | None = None
    """Unix time of the last error."""
    beat_age_s: float | None = None
    """Seconds since the worker last said it was making progress (None: it does not say)."""
    pid: int | None = None
    detail: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items() if value is not None}


def describe(error: BaseException) -> str:
    """``Type: first line of the message``, at most 300 characters."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"[:300]


class Worker:
    """A background worker: one thread that runs ``run()`` until ``stopping`` is set.

    Subclasses implement ``run()`` (loop while ``not self.stopping.is_set()``, call ``beat()`` at
    each pass, block only in waits that ``stopping`` or ``interrupt()`` can end) and may override
    ``prepare()`` (in the starter's thread, before the first run: load state, bind a port; raising
    aborts the start), ``interrupt()`` (unblock ``run()`` on stop: a sentinel in a queue, a loop's
    stop) and ``finish()`` (in the worker's thread, after the last run: flush what is buffered).

    If ``run()`` raises, the error is logged and kept (``last_error``), and ``run()`` is started
    again after a back-off (0.5 s doubling to 30 s) unless ``restart`` is False or the worker is
    stopping; state that must survive a crash lives on the worker object, not in ``run()``'s locals.
    """

    restart: bool = True
    beat_timeout: float | None = None
    """Seconds without a beat after which the worker is reported not alive (None: not checked)."""
    duty: str | None = None
    """Work that must run on one console instance at a time (``"deadlines"``): in a cluster the worker
    runs but does its work only while this instance holds the duty (``on_duty``); None: every
    instance does its own (ingest, its own WebSocket clients)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.stopping = threading.Event()
        self.state: State = "new"
        self.restarts = 0
        self.last_error: str | None = None
        self.last_error_at: float | None = None
        self._beat: float | None = None
        self._thread: threading.Thread | None = None
        self._rng = random.Random()
        self._holds: Callable[[str], bool] | None = None

    def elect_by(self, holds: Callable[[str], bool]) -> None:
        """In a cluster: ``holds(duty)`` says whether this instance owns the duty now."""
        self._holds = holds

    def on_duty(self) -> bool:
        """Whether to do the work now: always for a worker without a duty or outside a cluster."""
        return self.duty is None or self._holds is None or self._holds(self.duty)

    def parts(self) -> list[str]:
        """Work split among a cluster's instances, as duties named ``family:part`` (camera probes,
        one part per site): each part is held by one instance at a time (``holds_part``)."""
        return []

    def holds_part(self, part: str) -> bool:
        """Whether to do this part of the work now: always outside a cluster."""
        return self._holds is None or self._holds(part)

    def may_let_go(self, part: str) -> bool:
        """Whether this worker is not in the middle of ``part`` (the cluster gives it to another
        instance only then)."""
        return True

    # -- for subclasses -----------------------------------------------------------------------

    def run(self) -> None:
        raise NotImplementedError

    def prepare(self) -> None:
        """Before the first run, in the starting thread."""

    def interrupt(self) -> None:
        """Unblock ``run()`` once ``stopping`` is set."""

    def finish(self) -> None:
        """After the last run, in the worker's thread."""

    def beat(self) -> None:
        self._beat = time.monotonic()

    def report(self, error: BaseException | str) -> None:
        """Keep an error that the worker handled itself (a store away, a camera that fails): its
        type and the first line of its text (a database error goes on with the statement)."""
        self.last_error = error if isinstance(error, str) else describe(error)
        self.last_error_at = time.time()

    def detail(self) -> dict[str, Any] | None:
        """Figures of the worker's own for /api/health (queue length, counts)."""
        return None

    # -- for owners ---------------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        if self._thread is None or not self._thread.is_alive():
            return False
        if self.beat_timeout is not None and self._beat is not None and self.state == "running":
            return time.monotonic() - self._beat <= self.beat_timeout
        return True

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self.state = "starting"
        self.stopping.clear()
        self.prepare()
        self._spawn()

    def stop(self, timeout: float = 5.0) -> bool:
        """Ask the worker to stop and wait up to ``timeout`` s; False if its thread is still running."""
        if self._thread is None:
            self.state = "stopped"
            return True
        self.state = "stopping" if self._thread.is_alive() else self.state
        self.stopping.set()
        try:
            self.interrupt()
        except Exception:  # a stop must go on whatever the worker's interrupt does
            log.exception("%s: interrupt failed", self.name)
        self._thread.join(max(0.0, timeout))
        if self._thread.is_alive():
            log.warning("%s did not stop within %.1f s", self.name, timeout)
            return False
        return True

    def revive(self) -> bool:
        """Start a new thread if the worker's thread died without being asked to stop (the
        supervisor's watchdog calls this); True if it did."""
        if self.stopping.is_set() or self._thread is None or self._thread.is_alive() or self.state == "failed":
            return False
        self.restarts += 1
        self.report(f"thread {self._thread.name} ended unexpectedly; started again")
        log.error("%s: thread ended unexpectedly; starting it again", self.name)
        self._spawn()
        return True

    def worker_status(self) -> WorkerStatus:
        beat = None if self._beat is None else round(time.monotonic() - self._beat, 1)
        detail = self.detail()
        if self.duty is not None and self._holds is not None:
            detail = {**(detail or {}), "duty": self.duty, "on_duty": self.on_duty()}
        return WorkerStatus(self.name, "thread", self.state, self.alive, self.restarts, self.last_error,
                            self.last_error_at, beat, None, detail)

    # -- the thread ---------------------------------------------------------------------------

    def _spawn(self) -> None:
        self._thread = threading.Thread(target=self._main, name=f"mcc-{self.name}", daemon=True)
        self._thread.start()

    def _main(self) -> None:
        delay = 0.5
        while not self.stopping.is_set():
            self.state = "running"
            self.beat()
            try:
                self.run()
                if self.stopping.is_set():
                    break
                raise RuntimeError("run() returned without being asked to stop")
            except Exception as exc:
                log.exception("%s crashed", self.name)
                self.report(exc)
                if not self.restart:
                    self.state = "failed"
                    return
                self.state = "restarting"
                if self.stopping.wait(delay * self._rng.uniform(0.8, 1.2)):
                    break
                delay = min(delay * 2, 30.0)
                self.restarts += 1
                log.warning("%s: starting again (restart %d)", self.name, self.restarts)
        try:
            self.finish()
        except Exception as exc:
            log.exception("%s: finish failed", self.name)
            self.report(exc)
        self.state = "stopped"


class PeriodicWorker(Worker):
    """A worker that calls ``tick()`` every ``interval`` seconds (the first after one interval,
    or at once with ``first_at_once``); an error in one tick is reported and the next tick comes
    as usual (a periodic check that fails once must not stop checking)."""

    first_at_once = False

    def __init__(self, name: str, interval: float) -> None:
        super().__init__(name)
        self.interval = interval
        self.beat_timeout = max(30.0, 3 * interval)

    def tick(self) -> None:
        raise NotImplementedError
    def run(self) -> None:
        wait = 0.0 if self.first_at_once else self.interval
        while not self.stopping.wait(wait):
            self.beat()
            # In a cluster, another instance may own this work now: look again within a second.
            on_duty = self.on_duty()
            try:
                if on_duty:
                    self.tick()
            except Exception as exc:
                log.exception("%s: tick failed", self.name)
                self.report(exc)
            else:
                self.last_error = None
            wait = self.interval if on_duty else min(self.interval, 1.0)
            self.beat()


class ChildProcesses(Protocol):
    """Processes the console started (its grab processes, the demo's broker), as the supervisor
    lists them."""

    def processes(self) -> Iterable[WorkerStatus]: ...


class Supervisor:
    """Owns every background worker and child process: starts them in the order they were added,
    stops them in reverse order within one deadline, restarts a worker whose thread died, and lists
    them all. Its own watchdog is a worker too (the first in the list)."""

    def __init__(self, check_seconds: float = 5.0) -> None:
        self.workers: list[Worker] = []
        self.children: list[ChildProcesses] = []
        self.watchdog = _Watchdog(self, check_seconds)

    def add(self, worker: Worker) -> Worker:
        self.workers.append(worker)
        return worker

    def adopt(self, child: ChildProcesses) -> None:
        self.children.append(child)

    def start(self) -> None:
        self.watchdog.start()
        for worker in self.workers:
            worker.start()

    def stop(self, deadline_s: float = 20.0) -> list[str]:
        """Stop everything within ``deadline_s`` in all; return the names of what did not stop."""
        end = time.monotonic() + deadline_s
        stuck = [w.name for w in reversed(self.workers) if not w.stop(max(0.5, end - time.monotonic()))]
        self.watchdog.stop(1.0)
        return stuck

    def duties(self) -> list[str]:
        """The duties of the workers it owns and the parts of their split work, each once, in order."""
        duties = [w.duty for w in self.workers if w.duty is not None]
        return list(dict.fromkeys([*duties, *(part for w in self.workers for part in w.parts())]))

    def may_let_go(self, part: str) -> bool:
        """Whether no worker is in the middle of ``part``."""
        return all(w.may_let_go(part) for w in self.workers)

    def elect_by(self, holds: Callable[[str], bool]) -> None:
        """In a cluster: every worker with a duty asks ``holds`` before doing its work."""
        for worker in self.workers:
            worker.elect_by(holds)

    def find(self, name: str) -> Worker | None:
        return next((w for w in self.workers if w.name == name), None)

    def status(self) -> list[WorkerStatus]:
        out = [self.watchdog.worker_status()] + [w.worker_status() for w in self.workers]
        for child in self.children:
            out.extend(child.processes())
        return out


class _Watchdog(PeriodicWorker):
    def __init__(self, supervisor: Supervisor, interval: float) -> None:
        super().__init__("supervisor", interval)
        self.supervisor = supervisor

    def tick(self) -> None:
        for worker in self.supervisor.workers:
            worker.revive()
