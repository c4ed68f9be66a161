"""The native adapter's own checks beyond its golden cases (those run in test_adapter_golden)."""

from __future__ import annotations

from datetime import datetime, timezone

from adapters.native import NATIVE
from tests.support import golden


def test_event_time_keeps_its_offset_and_receive_time_is_separate() -> None:
    (event,) = golden.run(NATIVE, golden.cases("native")[0])
    assert event.ts == datetime(2026, 11, 26, 2, 0, tzinfo=timezone.utc)
    assert event.ts.utcoffset().total_seconds() == 8 * 3600  # type: ignore[union-attr]
    assert event.received_at == golden.NOW
