"""The console's workers under one supervisor, with a real broker and a real store: /api/health lists
every worker and child process with its state; the single writer crashing at the worst moment (after
its commit, before the wall has the alarm), or its thread dying outright, is reported and started
again, and the alarm is still stored once, acknowledged to the broker, and on the hub."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from console.demo.broker import ManagedMosquitto, free_port
from console.messages import HubMessage
from console.runtime import Runtime
from console.settings import Settings
from console.store.tables import EventRow
from tests.conftest import DEVICES, ConsoleProcess, Publisher, native_event, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def runtime(broker: ManagedMosquitto, sqlite_url: str) -> Iterator[Runtime]:
    settings = Settings(site={"id": "demo"}, mqtt={"url": broker.url, "client_id": "supervised-console",
                                                   "reconnect_min": 0.1, "reconnect_max": 0.5},
                        database={"url": sqlite_url}, devices={"entries": DEVICES})
    runtime = Runtime.build(settings)
    runtime.supervisor.watchdog.interval = 0.2
    loop = asyncio.new_event_loop()
    serving = threading.Thread(target=loop.run_forever, daemon=True)  # the hub's loop, as uvicorn's would be
    serving.start()
    runtime.start(loop)
    assert runtime.mqtt.connected.wait(10)
    try:
        yield runtime
    finally:
        runtime.stop()
        loop.call_soon_threadsafe(loop.stop)
        serving.join(5)
        loop.close()


def on_hub(runtime: Runtime, kind: str) -> list[str]:
    return [text for _, text in runtime.hub.replay(0, None) or [] if f'"type":"{kind}"' in text]


def stored(runtime: Runtime, source_id: str) -> int:
    with runtime.store.read() as session:
        return session.scalar(select(func.count()).select_from(EventRow).where(EventRow.source_id == source_id)) or 0


def break_publish_once(runtime: Runtime, error: BaseException) -> threading.Event:
    """The writer's next hand-over to the outlet raises ``error`` (once): after the commit and the
    ack, before the hub has the change."""
    real = runtime.writer.outlet.publish
    raised = threading.Event()

    def publish(messages: list[HubMessage]) -> None:
        # Only the writer's own hand-over: other workers (the duty log's clock) publish too.
        if messages and not raised.is_set() and threading.current_thread().name == "mcc-writer":
            raised.set()
            raise error
        real(messages)

    runtime.writer.outlet.publish = publish  # type: ignore[method-assign]
    return raised


def writer_status(runtime: Runtime) -> dict[str, Any]:
    return next(s.as_dict() for s in runtime.supervisor.status() if s.name == "writer")


def no_redelivery(runtime: Runtime) -> None:
    """Drop the connection: an unacked message would come back now, and count as a duplicate. First
    the writer settles what it has (a message stored but not yet acked when the connection drops
    comes back by design, and is recognised as a duplicate)."""
    wait_until(lambda: runtime.writer.backlog == 0, message="everything written and acknowledged")
    before = runtime.mqtt.connects
    runtime.mqtt.client.disconnect()
    wait_until(lambda: runtime.mqtt.connects > before and runtime.mqtt.connected.is_set(), timeout=10)
    wait_until(lambda: runtime.writer.backlog == 0)
    assert runtime.ingest.counters.duplicates == 0, "every message was acknowledged after its commit"


def test_a_writer_that_raises_after_its_commit_is_restarted_and_the_alarm_still_reaches_the_hub(
    runtime: Runtime, publisher: Publisher
) -> None:
    raised = break_publish_once(runtime, RuntimeError("boom in the hand-over"))
    publisher.publish(*native_event("fp-1", "fire-crash", "fire.alarm", point="1-003"))
    assert raised.wait(10)
    wait_until(lambda: writer_status(runtime)["restarts"] == 1, message="the writer is started again")
    assert "boom in the hand-over" in writer_status(runtime)["last_error"]
    wait_until(lambda: on_hub(runtime, "alarm.raised"), message="the batch in hand is finished after the restart")
    assert len(on_hub(runtime, "alarm.raised")) == 1 and stored(runtime, "fire-crash") == 1
    publisher.publish(*native_event("fp-1", "fire-after", "fire.fault", point="1-003"))
    wait_until(lambda: stored(runtime, "fire-after") == 1 and on_hub(runtime, "alarm.raised")[1:])
    assert writer_status(runtime)["alive"] and writer_status(runtime)["state"] == "running"
    no_redelivery(runtime)


# The thread is killed on purpose: pytest would report its SystemExit as an unhandled thread exception.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_writer_thread_that_dies_is_revived_by_the_supervisor_and_nothing_is_lost(
    runtime: Runtime, publisher: Publisher
) -> None:
    raised = break_publish_once(runtime, SystemExit())  # not an Exception: the thread just ends
    publisher.publish(*native_event("fp-1", "fire-killed", "fire.alarm", point="1-003"))
    assert raised.wait(10)
    wait_until(lambda: writer_status(runtime)["restarts"] == 1, timeout=10,
               message="the supervisor's watchdog starts the thread again")
    assert "ended unexpectedly" in writer_status(runtime)["last_error"]
    for n in range(5):  # what arrived meanwhile waited in the queue
        publisher.publish(*native_event("fp-1", f"after-{n}", "device.heartbeat"))
    wait_until(lambda: on_hub(runtime, "alarm.raised") and all(stored(runtime, f"after-{n}") == 1 for n in range(5)))
    assert stored(runtime, "fire-killed") == 1 and len(on_hub(runtime, "alarm.raised")) == 1
    no_redelivery(runtime)


def test_health_lists_every_worker_and_child_process_with_its_state(
    make_console: Any, sqlite_url: str, mjpeg: Any
) -> None:
    console: ConsoleProcess = make_console(
        sqlite_url,
        adapters=[{"type": "native"}, {"type": "gb26875", "listen": f"127.0.0.1:{free_port()}"}],
        notify={"targets": [{"url": "json://127.0.0.1:9/hook", "roles": ["supervisor"], "name": "主管群"}]},
        cameras={"entries": [{"id": "cam-1", "name": "大堂", "url": mjpeg.url, "devices": ["fp-1"]}],
                 "health_seconds": 1},
        influx={"url": "http://127.0.0.1:9", "org": "o", "bucket": "b", "token": "t"},
    )
    expected = {"supervisor", "writer", "mqtt", "deadlines", "silence", "displays", "timeseries", "cameras",
                "snapshot-retention", "camera-health", "notify 主管群", "duty_log"}

    def listed() -> dict[str, dict[str, Any]]:
        return {w["name"]: w for w in console.health()["workers"]}

    workers = wait_until(lambda: (w := listed()) and any(x["kind"] == "process" for x in w.values()) and w,
                         timeout=30, message="the grab processes are listed once started")
    assert expected <= set(workers), sorted(set(expected) - set(workers))
    assert [name for name in workers if name.startswith("gb26875 127.0.0.1:")], workers.keys()
    for name in expected:
        assert workers[name]["kind"] == "thread" and workers[name]["state"] == "running", workers[name]
        assert workers[name]["alive"] is True and workers[name]["restarts"] == 0, workers[name]
    processes = [w for w in workers.values() if w["kind"] == "process"]
    assert all(p["pid"] > 0 and p["alive"] for p in processes), processes
    assert workers["writer"]["detail"]["backlog"] == 0
    assert console.health()["workers_down"] == []
