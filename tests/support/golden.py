"""Golden payload cases for adapters: ``tests/payloads/<adapter>/golden.yaml``.

Each case: ``name``, ``topic``, the payload as ``payload`` (text) or ``payload_file`` (a file
beside golden.yaml, byte-exact, e.g. a vendor's documented sample), optional ``retain``, optional
``devices`` (registry entries the adapter may consult), and either ``expect`` (the events, each
a dict of the fields to check; ``[]`` = the message is understood and means nothing) or
``error`` (a substring of the PayloadError's reason: the message goes to quarantine).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from adapters.base import AdapterContext, AdapterDef, InboundMessage
from console.events import Event, validate_event
from console.registry import DeviceRegistry
from console.settings import DeviceEntry

PAYLOADS = Path(__file__).parents[1] / "payloads"
NOW = datetime(2026, 11, 26, 2, 30, tzinfo=timezone.utc)


def cases(adapter: str) -> list[dict[str, Any]]:
    path = PAYLOADS / adapter / "golden.yaml"
    loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    for case in loaded:
        if "payload_file" in case:
            case["payload_bytes"] = (path.parent / case["payload_file"]).read_bytes()
        else:
            payload = case.get("payload", "")
            case["payload_bytes"] = payload.encode() if isinstance(payload, str) else bytes(payload)
    return loaded


def run(adapter: AdapterDef, case: dict[str, Any], site: str = "demo") -> list[Event]:
    registry = DeviceRegistry([DeviceEntry.model_validate(d) for d in case.get("devices", [])], site)
    ctx = AdapterContext(site=site, topic=adapter.topic.replace("{site}", site), registry=registry,
                         adapter=adapter.name)
    message = InboundMessage(case["topic"], case["payload_bytes"], bool(case.get("retain")), NOW)
    return [validate_event(draft, adapter.name, NOW) for draft in adapter.handle(message, ctx)]


def check(events: list[Event], expected: list[dict[str, Any]]) -> None:
    assert len(events) == len(expected), [e.kind for e in events]
    for event, expect in zip(events, expected, strict=True):
        for key, value in expect.items():
            if key == "data":
                dumped = event.data.model_dump(mode="json", exclude_defaults=True)
                for data_key, data_value in value.items():
                    assert dumped.get(data_key) == data_value, (data_key, dumped)
            elif key == "ts":
                assert event.ts == datetime.fromisoformat(value), (event.ts, value)
            else:
                assert getattr(event, key) == value, (key, getattr(event, key))
        assert event.ts.tzinfo is not None
