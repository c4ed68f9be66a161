"""The native MCC format: ``mcc/v1/<site>/<device_id>/event`` (JSON) and ``/state`` (online/offline)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from adapters.base import (
    AdapterContext,
    AdapterDef,
    InboundMessage,
    Limits,
    json_any,
    raw_payload,
    text_payload,
)
from console.contract import ALL_KINDS, Draft, PayloadError


def parse_timestamp(value: Any) -> datetime:
    """ISO-8601 with a UTC offset (``Z`` or ``+08:00``); anything else is bad input."""
    if not isinstance(value, str):
        raise PayloadError(f"field ts must be an ISO-8601 string, got {type(value).__name__}")
    try:
        ts = datetime.fromisoformat(value)
    except ValueError as exc:
        raise PayloadError(f"field ts is not an ISO-8601 time: {value[:64]!r}") from exc
    if ts.tzinfo is None:
        raise PayloadError(f"field ts has no UTC offset: {value[:64]!r}")
    return ts


def _string_field(payload: dict[str, Any], key: str, required: bool) -> str:
    value = payload.get(key)
    if value is None:
        if required:
            raise PayloadError(f"missing field {key!r}")
        return ""
    if not isinstance(value, str):
        raise PayloadError(f"field {key} must be a string, got {type(value).__name__}")
    if required and not value:
        raise PayloadError(f"field {key} is empty")
    return value


def translate(message: InboundMessage, payload: bytes, ctx: AdapterContext) -> list[Draft]:
    levels = message.topic.split("/")
    if len(levels) >= 5 and levels[:2] == ["mcc", "v1"] and levels[4] == "command":
        return []  # a console's own command to the device (a barrier lift), or below it: outbound, no event
    if len(levels) != 5 or levels[:2] != ["mcc", "v1"] or levels[4] not in ("event", "state") or not levels[3]:
        raise PayloadError(
            f"topic {message.topic!r} is not mcc/v1/<site>/<device_id>/event or .../state"
        )
    site, device, channel = levels[2], levels[3], levels[4]
    if channel == "state":
        return _state(message, payload, site, device)
    body = json_any(payload, ctx.limits)
    if not isinstance(body, dict):
        raise PayloadError(f"payload is a JSON {type(body).__name__}, not an object")
    kind = _string_field(body, "type", required=True)
    if kind not in ALL_KINDS:
        raise PayloadError(f"unknown event type {kind[:64]!r}")
    data = body.get("data", {})
    if not isinstance(data, dict):
        raise PayloadError(f"field data must be an object, got {type(data).__name__}")
    return [
        Draft(
            kind=kind,
            site=site,
            device_id=device,
            source_id=_string_field(body, "id", required=True),
            ts=parse_timestamp(body.get("ts")) if "ts" in body else _missing_ts(),
            point=_string_field(body, "point", required=False),
            data=data,
            retained=message.retain,
        )
    ]


def _missing_ts() -> datetime:
    raise PayloadError("missing field 'ts'")


def _state(message: InboundMessage, payload: bytes, site: str, device: str) -> list[Draft]:
    if not payload:
        return []  # an empty retained message only deletes the broker's copy
    state = text_payload(payload, Limits()).lower()
    if state not in ("online", "offline"):
        raise PayloadError(f"state must be 'online' or 'offline', got {state[:32]!r}")
    return [
        Draft(
            kind=f"device.{state}",
            site=site,
            device_id=device,
            source_id=f"state:{message.received_at.isoformat()}",
            ts=message.received_at,
            retained=message.retain,
            data={"via": "state"},
        )
    ]


NATIVE = AdapterDef(
    name="native",
    topic="mcc/v1/{site}/#",
    decode=raw_payload,
    translate=translate,
    emits=ALL_KINDS,
    samples=(
        ("mcc/v1/demo/fp-1/event",
         b'{"id":"fp-1-1","ts":"2026-11-26T10:00:00+08:00","type":"fire.alarm","point":"1-003"}'),
        ("mcc/v1/demo/lane-in/event",
         '{"id":"l-1","ts":"2026-11-26T10:00:00Z","type":"parking.entry","data":{"plate":"粤B12345"}}'.encode()),
        ("mcc/v1/demo/door-1/state", b"offline"),
    ),
    bad_samples=(
        ("mcc/v1/demo/fp-1/event", b"{not json"),
        ("mcc/v1/demo/fp-1/event", b'{"id":"x","ts":"2026-11-26T10:00:00Z","type":"fire.smoke"}'),
        ("mcc/v1/demo/fp-1/extra/event", b'{"id":"x","ts":"2026-11-26T10:00:00Z","type":"fire.alarm"}'),
        ("mcc/v1/demo/fp-1/state", b"maybe"),
    ),
)
