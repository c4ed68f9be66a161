"""The writer's batches keep the order things arrived in: an observation of the console's own (a
device gone silent) that ends a batch is written right after it, before any message that came
later (the device speaking again must come after its silence, not before)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from console.contract import Draft, InboundMessage
from console.wire.writer import Writer

T0 = datetime(2026, 12, 7, 8, 0, tzinfo=timezone.utc)


def message(n: int) -> InboundMessage:
    return InboundMessage("mcc/v1/demo/door-1/event", f'{{"id": "m{n}"}}'.encode(), False, T0)


def test_an_observation_that_ends_a_batch_comes_right_after_it() -> None:
    writer = Writer(ingest=Any, outlet=Any, batch_max=10)  # type: ignore[arg-type]  # _take needs neither
    silent = Draft(kind="device.offline", site="demo", device_id="door-1", source_id="silence:1", ts=T0)
    writer.submit(message(1))
    writer.submit(message(2))
    writer.observe([silent], silenced=True, at=T0)
    writer.submit(message(3))  # the device speaks again
    writer.interrupt()
    writer.submit(message(4))  # after the stop: written by the final drain
    batches = [writer._take() for _ in range(4)]
    assert [[j.payload if isinstance(j, InboundMessage) else "silence" for j in b or []] for b in batches] == [
        [b'{"id": "m1"}', b'{"id": "m2"}'], ["silence"], [b'{"id": "m3"}'], []]
    assert batches[3] is None, "the stop, where it was asked"
    assert writer.backlog == 1


def test_a_batch_that_held_the_lock_too_long_makes_the_next_smaller_and_quick_ones_grow_it_back() -> None:
    writer = Writer(ingest=Any, outlet=Any, batch_max=500)  # type: ignore[arg-type]
    writer._fit_batch(500, 2.5)  # a storm: 5 ms a message
    writer._fit_batch(250, 1.2)
    writer._fit_batch(125, 0.6)
    assert writer.batch_limit == 62
    writer._fit_batch(3, 0.01)  # a small batch says nothing about a full one
    assert writer.batch_limit == 62
    for _ in range(4):
        writer._fit_batch(writer.batch_limit, 0.02)  # full and quick: routine traffic again
    assert writer.batch_limit == 500, "back to batch_max, never above"


def test_the_ingest_writer_lets_a_waiting_writer_of_this_process_go_first(tmp_path: Any) -> None:
    """An operator's write waits for SQLite's lock while a batch holds it; before its next batch the
    ingest writer waits until that write has the lock (and at most its bound when none is waiting)."""
    import threading
    import time

    from sqlalchemy import text

    from console.store.database import Store

    store = Store(f"sqlite:///{tmp_path / 'turns.db'}")
    got_lock = threading.Event()
    try:
        with store.write() as batch, batch.begin():
            batch.execute(text("CREATE TABLE t (x INTEGER)"))

            def operator() -> None:
                with store.write() as session, session.begin():
                    got_lock.set()
                    session.execute(text("INSERT INTO t VALUES (1)"))

            thread = threading.Thread(target=operator)
            thread.start()
            deadline = time.monotonic() + 5
            while store.turns.waiting() == 0 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert store.turns.waiting() == 1, "the operator's write waits for the lock"
        store.turns.let_others_write(5.0)  # the batch committed: the next one waits for the operator
        assert got_lock.is_set()
        thread.join(5)
        started = time.monotonic()
        store.turns.let_others_write(5.0)
        assert time.monotonic() - started < 1.0, "nobody waiting: no wait"
    finally:
        store.dispose()
