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
