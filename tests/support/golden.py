"""Golden payload cases for adapters: ``tests/payloads/<adapter>/golden.yaml``.

Each case: ``name``, ``topic``, the payload as ``payload`` (text) or ``payload_file`` (a file
beside golden.yaml, byte-exact, e.g. a vendor's documented sample), optional ``retain``, optional
``devices`` (registry entries the adapter may consult), optional ``timezone`` (the site's IANA
zone, for naive device times), and either ``expect`` (the events, each
a dict of the fields to check; ``[]`` = the message is understood and means nothing) or
``error`` (a substring of the PayloadError's reason: the message goes to quarantine); an adapter
that announces devices may add ``expect_devices`` (id and the registry fields, or withdrawn).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from adapters.base import AdapterContext, AdapterDef
from console.contract import InboundMessage
from console.devices.registry import DeviceRegistry
from console.events import Event, validate_event
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
                         adapter=adapter.name, timezone=case.get("timezone", ""))
    message = InboundMessage(case["topic"], case["payload_bytes"], bool(case.get("retain")), NOW)
    return [validate_event(draft, adapter.name, NOW) for draft in adapter.handle(message, ctx)]


def run_inventory(adapter: AdapterDef, case: dict[str, Any], site: str = "demo") -> list[Any]:
    ctx = AdapterContext(site=site, topic=adapter.topic.replace("{site}", site), adapter=adapter.name)
    message = InboundMessage(case["topic"], case["payload_bytes"], bool(case.get("retain")), NOW)
    return adapter.inventory(message, ctx) if adapter.inventory is not None else []


def check_inventory(items: list[Any], expected: list[dict[str, Any]]) -> None:
    assert len(items) == len(expected), [i.device_id for i in items]
    for item, expect in zip(items, expected, strict=True):
        assert item.device_id == expect["id"], item.device_id
        if expect.get("withdrawn"):
            assert item.entry is None
            continue
        for key, value in expect.items():
            if key != "id":
                assert getattr(item.entry, key) == value, (key, getattr(item.entry, key))


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


def main(argv: list[str]) -> int:
    """``python -m tests.support.golden module:CONSTANT``: run an adapter's golden cases and the
    registry contract checks on it before it is registered; print every failure."""
    import importlib
    import traceback

    from console.contract import ALL_KINDS
    from console.errors import PayloadError

    module, _, constant = argv[0].partition(":")
    adapter: AdapterDef = getattr(importlib.import_module(module), constant)
    failures = 0

    def fail(what: str) -> None:
        nonlocal failures
        failures += 1
        print(f"FAIL {what}")

    if not adapter.emits or not adapter.emits <= ALL_KINDS:
        fail(f"emits has non-canonical kinds: {sorted(adapter.emits - ALL_KINDS)}")
    ctx = AdapterContext(site="demo", topic=adapter.topic.replace("{site}", "demo"), adapter=adapter.name)
    for topic, payload in adapter.samples:
        try:
            message = InboundMessage(topic, payload, False, NOW)
            drafts = adapter.handle(message, ctx)
            assert drafts or (adapter.inventory and adapter.inventory(message, ctx)), "no events"
            for draft in drafts:
                assert validate_event(draft, adapter.name, NOW).kind in adapter.emits, draft.kind
        except Exception as exc:
            fail(f"sample {topic}: {exc!r}")
    for topic, payload in adapter.bad_samples:
        try:
            for draft in adapter.handle(InboundMessage(topic, payload, False, NOW), ctx):
                validate_event(draft, adapter.name, NOW)
            fail(f"bad sample {topic} did not raise PayloadError")
        except PayloadError:
            pass
    if not adapter.samples or not adapter.bad_samples:
        fail("samples and bad_samples are both required")
    loaded = cases(adapter.name)
    for case in loaded:
        try:
            if "error" in case:
                try:
                    run(adapter, case)
                    fail(f"{case['name']}: expected PayloadError containing {case['error']!r}")
                except PayloadError as exc:
                    if case["error"] not in exc.reason:
                        fail(f"{case['name']}: reason {exc.reason!r} lacks {case['error']!r}")
            else:
                check(run(adapter, case), case["expect"])
                if "expect_devices" in case:
                    check_inventory(run_inventory(adapter, case), case["expect_devices"])
        except AssertionError:
            fail(f"{case['name']}:\n{traceback.format_exc(limit=2)}")
        except Exception:
            fail(f"{case['name']}: raised\n{traceback.format_exc(limit=3)}")
    print(f"{adapter.name}: {len(loaded)} golden cases, {failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
