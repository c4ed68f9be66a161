"""The worker backbone: a worker that raises is reported and started again with back-off, one whose
thread dies is revived by the supervisor's watchdog, a periodic worker outlives a failing tick, and
the supervisor stops everything in reverse order within one deadline and lists it all."""

from __future__ import annotations

import threading
import time

import pytest

from console.workers import PeriodicWorker, Supervisor, Worker, WorkerStatus
from tests.conftest import wait_until


class Flaky(Worker):
    """Raises on its first ``fail`` passes, then counts passes until stopped."""

    def __init__(self, name: str, fail: int = 0, die: bool = False) -> None:
        super().__init__(name)
        self.fail, self.die, self.passes = fail, die, 0
        self.finished = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(0.01):
            self.beat()
            if self.fail:
                self.fail -= 1
                if self.die:
                    raise SystemExit  # ends the thread past every `except Exception`
                raise RuntimeError("boom")
            self.passes += 1

    def finish(self) -> None:
        self.finished.set()


def test_a_worker_that_raises_is_reported_and_started_again() -> None:
    worker = Flaky("flaky", fail=2)
    worker.start()
    try:
        wait_until(lambda: worker.passes > 3, timeout=5, message="it runs again after two crashes")
        status = worker.worker_status()
        assert (status.state, status.alive, status.restarts) == ("running", True, 2)
        assert status.last_error == "RuntimeError: boom" and status.last_error_at is not None
    finally:
        assert worker.stop(2.0)
    assert worker.finished.is_set() and worker.worker_status().state == "stopped"


# The thread is killed on purpose: pytest would report its SystemExit as an unhandled thread exception.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_thread_that_dies_is_revived_by_the_watchdog_and_listed_meanwhile_as_not_alive() -> None:
    supervisor = Supervisor(check_seconds=0.2)
    worker = supervisor.add(Flaky("mortal", fail=1, die=True))
    supervisor.start()
    try:
        wait_until(lambda: worker.restarts == 1, timeout=5, message="the watchdog starts the thread again")
        wait_until(lambda: worker.passes > 0, timeout=5)
        listed = {s.name: s for s in supervisor.status()}
        assert listed["mortal"].alive and listed["supervisor"].alive
        assert "ended unexpectedly" in (listed["mortal"].last_error or "")
    finally:
        assert supervisor.stop(5.0) == []


def test_a_periodic_worker_outlives_a_failing_tick() -> None:
    class Ticker(PeriodicWorker):
        def __init__(self) -> None:
            super().__init__("ticker", 0.02)
            self.ticks = 0

        def tick(self) -> None:
            self.ticks += 1
            if self.ticks == 2:
                raise ValueError("one bad round")

    ticker = Ticker()
    ticker.start()
    try:
        wait_until(lambda: ticker.ticks >= 5, timeout=5)
        assert ticker.restarts == 0 and ticker.alive
    finally:
        ticker.stop(1.0)


def test_the_supervisor_stops_in_reverse_order_within_one_deadline_and_names_what_would_not_stop() -> None:
    order: list[str] = []

    class Polite(Flaky):
        def finish(self) -> None:
            order.append(self.name)

    class Stubborn(Worker):
        def run(self) -> None:
            while True:  # ignores the stop
                time.sleep(0.05)
                self.beat()

    supervisor = Supervisor()
    for name in ("first", "second", "third"):
        supervisor.add(Polite(name))
    supervisor.add(Stubborn("stubborn"))

    class Pool:
        def processes(self) -> list[WorkerStatus]:
            return [WorkerStatus("grab 42", "process", "idle", True, pid=42)]

    supervisor.adopt(Pool())
    supervisor.start()
    listed = [(s.name, s.kind) for s in supervisor.status()]
    assert listed == [("supervisor", "thread"), ("first", "thread"), ("second", "thread"), ("third", "thread"),
                      ("stubborn", "thread"), ("grab 42", "process")]
    started = time.monotonic()
    assert supervisor.stop(2.0) == ["stubborn"]
    assert time.monotonic() - started < 3.5, "one deadline for all, not one each"
    assert order == ["third", "second", "first"]


def test_a_worker_with_a_duty_works_only_while_its_instance_holds_the_duty() -> None:
    ticks: list[float] = []
    held: set[str] = set()

    class Sweep(PeriodicWorker):
        duty = "sweep"

        def tick(self) -> None:
            ticks.append(time.monotonic())

    supervisor = Supervisor()
    worker = supervisor.add(Sweep("sweep", 0.05))
    supervisor.add(Worker("plain"))  # no duty: not asked
    assert supervisor.duties() == ["sweep"]
    supervisor.elect_by(held.__contains__)
    worker.start()
    try:
        time.sleep(0.3)
        assert ticks == [] and worker.worker_status().detail == {"duty": "sweep", "on_duty": False}
        held.add("sweep")  # this instance takes the duty (its owner went)
        wait_until(lambda: len(ticks) >= 2, timeout=3, message="ticks once on duty")
        held.clear()
        time.sleep(1.2)  # a tick under way may end; none starts after
        count = len(ticks)
        time.sleep(0.5)
        assert len(ticks) == count
    finally:
        worker.stop()
