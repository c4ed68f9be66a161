"""The adapter framework: an adapter is a declaration (topic filter, device id, decoder, routes).

A pure ``translate`` function is used only where routes cannot say it (the native format maps
its fields one to one; binary frames). Every decoder and translator raises PayloadError, never
anything else, on bad input; the ingest wraps anything else as an internal error.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from paho.mqtt.client import topic_matches_sub

from console.contract import (
    AnnouncedDevice,
    DeviceLookup,
    Draft,
    InboundMessage,
    PayloadError,
    check_topic_filter,
)


@dataclass(frozen=True)
class Limits:
    """Input limits from the site file's ``ingest`` section."""

    max_payload_bytes: int = 65536
    max_json_depth: int = 16


@dataclass(frozen=True)
class TopicLevel:
    """Take the device id from one level of the topic (0-based)."""

    index: int

    def __call__(self, topic: str) -> str:
        levels = topic.split("/")
        if self.index >= len(levels) or not levels[self.index]:
            raise PayloadError(f"topic {topic!r} has no level {self.index} for the device id")
        return levels[self.index]


@dataclass(frozen=True)
class Route:
    """When every key in ``when`` equals the decoded payload's value, emit ``emit``."""

    when: dict[str, Any]
    emit: str

    def matches(self, payload: dict[str, Any]) -> bool:
        return all(key in payload and payload[key] == value for key, value in self.when.items())


@dataclass(frozen=True)
class Inventory:
    """A device an adapter announces (``entry``), or withdraws (``entry`` None, ``device_id`` set)."""

    device_id: str
    entry: AnnouncedDevice | None = None


Translate = Callable[[InboundMessage, Any, "AdapterContext"], Sequence[Draft]]


@dataclass(frozen=True)
class AdapterContext:
    """What an adapter instance knows from the site file."""

    site: str
    topic: str
    limits: Limits = Limits()
    registry: DeviceLookup | None = None
    adapter: str = ""
    timezone: str = ""
    """The site's IANA zone, for formats that send naive local times (Tasmota ``Time``)."""
    """For formats whose payload does not say what a sensor is (ESPHome, Homie, 433 MHz codes):
    ``registry.kind_of(site, device_id, point)``. Adapters emit the vendor's own device id; the
    ingest maps it to the registered id (the registry entry's ``address``)."""

    def kind_of(self, device_id: str, point: str = "") -> str:
        """What the registry says the device (by its vendor id) or one of its points is; "" if unknown."""
        if self.registry is None:
            return ""
        registered = self.registry.resolve(self.site, self.adapter, device_id)
        return self.registry.kind_of(self.site, registered, point)


@dataclass(frozen=True)
class AdapterDef:
    name: str
    topic: str
    """Default subscribe filter; ``{site}`` is replaced by the site id."""
    decode: Callable[[bytes, Limits], Any]
    translate: Translate | None = None
    device_id: TopicLevel | None = None
    routes: tuple[Route, ...] = ()
    emits: frozenset[str] = frozenset()
    """Every kind this adapter can emit (checked against the canonical kinds by contract tests)."""
    samples: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)
    """(topic, payload) pairs that must translate cleanly; each adapter ships good cases."""
    bad_samples: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)
    """(topic, payload) pairs that must raise PayloadError."""
    transport: Literal["mqtt", "tcp"] = "mqtt"
    """tcp: the console's own receiver feeds this adapter (``topic`` only names its messages;
    nothing is subscribed on the broker)."""
    inventory: Callable[[InboundMessage, AdapterContext], list[Inventory]] | None = field(default=None, repr=False)
    """For formats that announce devices (Home Assistant discovery): what the message adds to or
    removes from the registry; the ingest applies it in the same transaction, audited."""
    ignore: Callable[[str], bool] | None = field(default=None, repr=False)
    """Topics under the filter that never mean an event, skipped before any check (Frigate's
    JPEG snapshots, larger than any event payload, would otherwise fill the quarantine)."""

    def __post_init__(self) -> None:
        check_topic_filter(self.topic.replace("{site}", "site"))
        if self.translate is None and (self.device_id is None or not self.routes):
            raise ValueError(f"adapter {self.name}: routes need a device_id, or give a translate function")

    def handle(self, message: InboundMessage, ctx: AdapterContext) -> list[Draft]:
        if self.ignore is not None and self.ignore(message.topic):
            return []
        if len(message.payload) > ctx.limits.max_payload_bytes:
            raise PayloadError(
                f"payload of {len(message.payload)} bytes exceeds the limit of {ctx.limits.max_payload_bytes}"
            )
        decoded = self.decode(message.payload, ctx.limits)
        if self.translate is not None:
            return list(self.translate(message, decoded, ctx))
        assert self.device_id is not None
        if not isinstance(decoded, dict):
            raise PayloadError("payload is not a JSON object")
        device = self.device_id(message.topic)
        drafts = [
            Draft(
                kind=route.emit,
                site=ctx.site,
                device_id=device,
                source_id=derived_id(device, message),
                ts=message.received_at,
                retained=message.retain,
            )
            for route in self.routes
            if route.matches(decoded)
        ]
        return drafts


def matches(filter_: str, topic: str) -> bool:
    return topic_matches_sub(filter_, topic)


def prefix_depth(filter_: str) -> int:
    """How many leading levels of a subscribe filter are the vendor's base topic: those before
    its first wildcard (for an exact filter, all but the last level); at least one."""
    levels = filter_.split("/")
    return max(next((i for i, level in enumerate(levels) if level in ("+", "#")), len(levels) - 1), 1)


def split_below(topic: str, filter_: str, vendor: str) -> tuple[str, list[str]]:
    """(the base topic, the levels below it) of a message under ``filter_``; a site may move the
    base topic (``site1/frigate/#``), so it is read from the filter, not assumed."""
    depth = prefix_depth(filter_)
    levels = topic.split("/")
    if len(levels) <= depth or not all(levels[:depth]):
        raise PayloadError(f"topic {topic[:80]!r} has nothing below the {vendor} prefix")
    return "/".join(levels[:depth]), levels[depth:]


def derived_id(device: str, message: InboundMessage) -> str:
    """An id for formats that carry none: device, receive time and a digest of the payload.

    The receive time keeps a sensor's legitimate repeats apart, but it also means a QoS 1
    redelivery of such a message is stored twice. Adapters whose payload has a source time or
    a serial number must build the id from that instead (domain rules, "De-duplication").
    """
    digest = hashlib.sha256(message.payload).hexdigest()[:16]
    return f"{device}:{message.received_at.timestamp():.3f}:{digest}"


def _depth(value: Any, limit: int) -> int:
    """Depth of nested containers, stopping early past ``limit`` (iterative: no recursion limit)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def raw_payload(payload: bytes, limits: Limits) -> bytes:
    """For formats where the topic decides how (or whether) the payload is read: ``translate``
    decodes it."""
    return payload


def number(value: Any, name: str, *, whole: bool = False, non_negative: bool = False) -> float:
    """A JSON number or one written as a string (vendors send both); anything else, NaN,
    infinity, and (as asked) fractions or negatives are bad input."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise PayloadError(f"field {name} must be a number, got {type(value).__name__}")
    try:
        result = float(value)
    except (ValueError, OverflowError) as exc:
        raise PayloadError(f"field {name} is not a number: {str(value)[:32]!r}") from exc
    if not math.isfinite(result) or (non_negative and result < 0) or (whole and not result.is_integer()):
        raise PayloadError(f"field {name} is not a {'whole ' if whole else ''}number: {str(value)[:32]!r}")
    return result


def decode_text(payload: bytes) -> str:
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(f"payload is not valid UTF-8 (byte {exc.start})") from exc


def json_any(payload: bytes, limits: Limits) -> Any:
    """bytes -> JSON value, with the size and depth limits; raises PayloadError."""
    text = decode_text(payload)
    if not text.strip():
        raise PayloadError("payload is empty")
    try:
        value = json.loads(text)
    except RecursionError as exc:
        raise PayloadError(f"JSON nested deeper than {limits.max_json_depth} levels") from exc
    except json.JSONDecodeError as exc:
        raise PayloadError(f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    except ValueError as exc:  # Python refuses integers of more than 4300 digits
        raise PayloadError(f"invalid JSON: {str(exc)[:80]}") from exc
    # Counting brackets is C-speed and bounds the depth from above: most payloads skip the walk.
    brackets = payload.count(b"{") + payload.count(b"[")
    if brackets > limits.max_json_depth and _depth(value, limits.max_json_depth) > limits.max_json_depth:
        raise PayloadError(f"JSON nested deeper than {limits.max_json_depth} levels")
    return value


def json_object(payload: bytes, limits: Limits) -> dict[str, Any]:
    value = json_any(payload, limits)
    if not isinstance(value, dict):
        raise PayloadError(f"payload is a JSON {type(value).__name__}, not an object")
    return value


def text_payload(payload: bytes, limits: Limits) -> str:
    return decode_text(payload).strip()
