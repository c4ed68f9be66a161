"""Golden payloads for the native adapter, through the same path the ingest uses."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from adapters.base import AdapterContext, InboundMessage
from adapters.native import NATIVE
from console.errors import PayloadError
from console.events import validate_event

CASES = yaml.safe_load((Path(__file__).parents[1] / "payloads" / "native" / "golden.yaml").read_text())
NOW = datetime(2026, 11, 26, 2, 30, tzinfo=timezone.utc)
CTX = AdapterContext(site="demo", topic="mcc/v1/demo/#")


def translate(case: dict[str, Any]) -> list[Any]:
    message = InboundMessage(case["topic"], case["payload"].encode(), bool(case.get("retain")), NOW)
    return [validate_event(draft, "native", NOW) for draft in NATIVE.handle(message, CTX)]


@pytest.mark.parametrize("case", [c for c in CASES if "expect" in c], ids=lambda c: c["name"])
def test_golden_payload_becomes_the_expected_events(case: dict[str, Any]) -> None:
    events = translate(case)
    assert len(events) == len(case["expect"])
    for event, expect in zip(events, case["expect"], strict=True):
        for key, value in expect.items():
            if key == "data":
                dumped = event.data.model_dump(mode="json", exclude_defaults=True)
                assert dumped == value
            else:
                assert getattr(event, key) == value, key
        assert event.ts.tzinfo is not None


@pytest.mark.parametrize("case", [c for c in CASES if "error" in c], ids=lambda c: c["name"])
def test_bad_payload_raises_a_payload_error_with_its_reason(case: dict[str, Any]) -> None:
    with pytest.raises(PayloadError) as raised:
        translate(case)
    assert case["error"] in raised.value.reason


def test_event_time_keeps_its_offset_and_receive_time_is_separate() -> None:
    (event,) = translate(CASES[0])
    assert event.ts == datetime(2026, 11, 26, 2, 0, tzinfo=timezone.utc)
    assert event.ts.utcoffset().total_seconds() == 8 * 3600  # type: ignore[union-attr]
    assert event.received_at == NOW
