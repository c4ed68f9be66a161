"""Zigbee2MQTT: device state objects, availability and bridge events → canonical events.

A state message is the device's full state, so each alarm key it carries (present, not null) is a
level: true raises, false restores (with data.of). No memory of earlier values is kept here (a
retried batch or a shared subscription would then lose clears), so a calm sensor repeats its
restores; they carry ``data.via = "state"`` so the ingest, which holds the alarm state, can drop
those that clear nothing (it does not yet). A message without alarm keys is a device.heartbeat
whose id is bucketed: the store keeps one per device per HEARTBEAT_BUCKET.
"""

from __future__ import annotations

import hashlib
import math
import re
from datetime import datetime, timedelta, timezone
from typing import Any

from adapters.base import (
    AdapterContext,
    AdapterDef,
    InboundMessage,
    Limits,
    decode_text,
    derived_id,
    json_any,
)
from console.contract import Draft, PayloadError

HEARTBEAT_BUCKET = timedelta(minutes=15)
TAMPER, FAULT = "<tamper>", "<fault>"  # resolved per device: fire detector or not (§7)
# key -> (kind raised while true, data.cause). Everything else (battery, voltage, linkquality,
# *_density, sensitivity, supervision_reports, restore_reports, temperature...) is telemetry.
SIGNALS: dict[str, tuple[str, str]] = {
    "smoke": ("fire.alarm", "smoke"),                 # IAS bit0; JY-GZ-01AQ latches until muted
    "gas": ("safety.gas", "gas"),                     # Heiman bit1 sensors may never set it (gotcha 1)
    "carbon_monoxide": ("safety.gas", "co"),
    "water_leak": ("safety.water_leak", "water_leak"),  # null after a Z2M restart = never reported
    "tamper": (TAMPER, "tamper"),                     # IAS bit2
    "vibration": (TAMPER, "vibration"),               # DJT11LM; Z2M resets it to false after a timeout
    "battery_low": ("device.battery_low", "battery_low"),  # IAS bit3
    "trouble": (FAULT, "trouble"),                    # IAS bit6
    "ac_status": (FAULT, "ac_status"),                # IAS bit7: mains fault
    "battery_defect": (FAULT, "battery_defect"),      # IAS bit9
}
TAMPER_ACTIONS = frozenset({"vibration", "tilt", "drop"})  # momentary; the "" that follows is no event
FIRE_KINDS = frozenset({"smoke_detector", "heat_detector", "manual_call_point"})
DOOR_KINDS = frozenset({"door_contact", "door"})
TRUE, FALSE = frozenset({"true", "on", "1"}), frozenset({"false", "off", "0"})


def parse_bool(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in TRUE | FALSE:
        return value.strip().lower() in TRUE
    raise PayloadError(f"field {key} is not a boolean: {str(value)[:32]!r}")


def parse_number(value: Any, key: str) -> float:
    """Old Z2M sends ``battery`` as a string ("87.50")."""
    number = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str) and re.fullmatch(r"\s*-?\d+(\.\d+)?\s*", value):
        number = float(value)
    if number is None or not math.isfinite(number):  # json.loads accepts NaN and Infinity
        raise PayloadError(f"field {key} is not a number: {str(value)[:32]!r}")
    return number


def parse_last_seen(value: Any) -> tuple[datetime, str] | None:
    """``advanced.last_seen``: epoch ms (number or digits), ISO-8601 with Z or an offset, or
    "relative" ("5 minutes ago": no usable time, None). Returns (ts, the value as id text)."""
    if isinstance(value, str) and value.strip().endswith(" ago"):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not 946_684_800_000 <= value < 32_503_680_000_000:  # 2000..3000 in ms
            raise PayloadError(f"field last_seen {value!r} is not epoch milliseconds")
        return datetime.fromtimestamp(value / 1000, timezone.utc), str(value)
    if isinstance(value, str):
        try:
            ts = datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise PayloadError(f"field last_seen is not a time: {value[:40]!r}") from exc
        if ts.tzinfo is None:
            raise PayloadError(f"field last_seen has no UTC offset: {value[:40]!r}")
        return ts, value.strip()
    raise PayloadError(f"field last_seen must be a number or a string, got {type(value).__name__}")


def _json(payload: bytes, limits: Limits, what: str = "") -> Any:
    """The decoded payload; with ``what``, it must be an object."""
    try:
        body = json_any(payload, limits)
    except ValueError as exc:  # json_any lets through Python's limit on 4300-digit integers
        raise PayloadError(f"invalid JSON: {str(exc)[:80]}") from exc
    if what and not isinstance(body, dict):
        raise PayloadError(f"{what} is a JSON {type(body).__name__}, not an object")
    return body


def _short(device: str) -> str:
    """Keeps source ids within 128 characters however long a friendly name is."""
    return device if len(device) <= 48 else "sha:" + hashlib.sha256(device.encode()).hexdigest()[:20]


def split_topic(topic: str, filter_: str) -> tuple[list[str], list[str]]:
    """(base levels, levels after the base). The base is the subscribe filter's levels before its
    first wildcard ("zigbee2mqtt/#" → zigbee2mqtt, "zigbee/+" → zigbee); a filter that starts with
    a wildcard ("#", "+/z2m/#") takes the topic's levels up to the filter's first literal one."""
    levels, flevels = topic.split("/"), filter_.split("/")
    n = next((i for i, level in enumerate(flevels) if level in ("+", "#")), len(flevels) - 1)
    if n == 0:
        n = next((i + 1 for i, level in enumerate(flevels) if level not in ("+", "#")), 1)
    base, rest = levels[:n], levels[n:]
    if any(f not in ("+", "#", b) for f, b in zip(flevels, base)) or not rest or "" in rest:
        raise PayloadError(f"topic {topic!r} is not <base>/<device>[/...] under {filter_!r}")
    return base, rest


def translate(message: InboundMessage, payload: bytes, ctx: AdapterContext) -> list[Draft]:
    base, rest = split_topic(message.topic, ctx.topic)
    if rest[0] == "bridge":
        return _bridge(message, payload, ctx, "/".join(base), rest[1:])
    if len(rest) > 1 and ("set" in rest[1:] or "get" in rest[1:]):
        return []  # <name>/set[/attr], <name>/get[/attr]: commands from other clients
    if len(rest) > 1 and rest[-1] == "availability":
        return _availability(message, payload, ctx, "/".join(rest[:-1]))
    if len(rest) > 1 and rest[-1] in ("action", "click"):
        return []  # Home Assistant trigger topics repeat the state's "action": read once, there
    if not payload:
        return []  # Z2M clears a removed or renamed device's retained state with an empty payload
    body = _json(payload, ctx.limits)
    if not isinstance(body, dict):
        # A scalar under a device is per-attribute output (advanced.output: attribute), which
        # this adapter does not read: quarantine says so instead of dropping alarms silently.
        raise PayloadError(f"state is a JSON {type(body).__name__}, not an object "
                           "(per-attribute output is not supported: set advanced.output to json)")
    return _state(message, body, ctx, "/".join(rest))


def _state(message: InboundMessage, body: dict[str, Any], ctx: AdapterContext, device: str) -> list[Draft]:
    seen = parse_last_seen(body["last_seen"]) if body.get("last_seen") is not None else None
    ts = seen[0] if seen else message.received_at
    common: dict[str, Any] = {"via": "state"}
    if body.get("test") is not None and parse_bool(body["test"], "test"):
        common["test"] = True  # IAS bit8 / Aqara self-test: keep the event, flag it
    info = body.get("device")  # advanced.include_device_information
    if isinstance(info, dict) and isinstance(info.get("ieeeAddr"), str):
        common["ieee_address"] = info["ieeeAddr"]
    battery = parse_number(body["battery"], "battery") if body.get("battery") is not None else None
    registry_kind = ctx.kind_of(device)
    fire = "smoke" in body or registry_kind in FIRE_KINDS
    resolve = {TAMPER: "fire.fault" if fire else "access.tamper", FAULT: "fire.fault" if fire else "device.fault"}

    # Several keys may report one kind (tamper and trouble → fire.fault): it is active if any
    # says true, and restored only when every one of them present says false.
    levels: dict[str, list[str]] = {}
    for key, (kind, cause) in SIGNALS.items():
        if body.get(key) is None:
            continue  # missing or null: unchanged
        causes = levels.setdefault(resolve.get(kind, kind), [])
        if parse_bool(body[key], key):
            causes.append(cause)
    action = body.get("action")
    if action is not None and not isinstance(action, str):
        raise PayloadError(f"field action must be a string, got {type(action).__name__}")
    if action in TAMPER_ACTIONS and action not in levels.setdefault(resolve[TAMPER], []):
        levels[resolve[TAMPER]].append(action)  # {"action":"vibration","vibration":true}: one cause

    out: list[tuple[str, str, dict[str, Any]]] = []  # (kind, id tag, data)
    for kind, causes in levels.items():
        if kind == "device.battery_low" and causes:  # an out-of-range battery is left out, not fatal
            out.append((kind, kind, {"battery": battery} if battery is not None and 0 <= battery <= 100 else {}))
        elif causes:
            out.append((kind, kind, {"code" if kind == "device.fault" else "cause": ",".join(causes)}))
        else:
            restore = kind.split(".")[0] + ".restore"
            out.append((restore, f"{restore}:{kind}", {"of": kind}))
    if body.get("contact") is not None:
        out.extend(_contact(parse_bool(body["contact"], "contact"), device, registry_kind))
    if not out:
        # Battery, link quality, last_seen only: a sign of life, not a restore. The bucketed id
        # lets the store keep one per device per bucket (sightings are recorded for every message).
        bucket = datetime.fromtimestamp(ts.timestamp() // HEARTBEAT_BUCKET.total_seconds()
                                        * HEARTBEAT_BUCKET.total_seconds(), timezone.utc)
        sid = f"{_short(device)}|heartbeat|{bucket:%Y%m%dT%H%M}"
        return [Draft("device.heartbeat", ctx.site, device, sid, ts, data=common, retained=message.retain)]
    if seen:
        # last_seen is the source time; the digest keeps apart two publishes that share it (Z2M
        # resetting vibration after its timeout), and a QoS 1 redelivery gets the same id.
        stem = f"{_short(device)}|{seen[1][:32]}|{hashlib.sha256(message.payload).hexdigest()[:12]}"
    else:
        stem = derived_id(_short(device), message)  # last_seen is off by default: nothing else to use
    return [Draft(kind, ctx.site, device, f"{stem}|{tag}", ts, data={**common, **data}, retained=message.retain)
            for kind, tag, data in out]


def _contact(closed: bool, device: str, registry_kind: str) -> list[tuple[str, str, dict[str, Any]]]:
    """``contact`` true = closed. Only a registered door contact (a door that must stay shut) makes
    an opening an alarm: Z2M knows of no grant, so it is door_forced; held-open needs a timer the
    adapter does not have. A generic contact ("contact", a window) means nothing; with no registry
    entry, closing still says access.door_closed (there is no canonical "door open" kind)."""
    if registry_kind in DOOR_KINDS and not closed:
        return [("access.door_forced", "access.door_forced", {"door": device})]
    if closed and (registry_kind in DOOR_KINDS or registry_kind == ""):
        return [("access.door_closed", "access.door_closed", {"door": device})]
    return []


def _availability(message: InboundMessage, payload: bytes, ctx: AdapterContext, device: str) -> list[Draft]:
    """Legacy text ("online") or JSON ({"state":"online"}); retained."""
    text = decode_text(payload).strip()
    if not text:
        return []  # an empty retained message only deletes the broker's copy
    if text.startswith("{"):
        state = _json(payload, ctx.limits, "availability").get("state")
        if not isinstance(state, str):
            raise PayloadError("availability object has no string field 'state'")
        text = state
    state = text.strip().lower()
    if state not in ("online", "offline"):
        raise PayloadError(f"availability must be online or offline, got {state[:32]!r}")
    # No id or time in the payload: derived id (the ingest drops a repeat of the current state).
    return [Draft(f"device.{state}", ctx.site, device, derived_id(_short(device), message), message.received_at,
                  data={"via": "state"}, retained=message.retain)]


def _bridge(message: InboundMessage, payload: bytes, ctx: AdapterContext, base: str,
            rest: list[str]) -> list[Draft]:
    if rest == ["state"]:
        # The bridge's will: offline means no Zigbee device can report (§2). Its id is the base
        # topic + "/bridge", so two Z2M instances on one site stay apart.
        return _availability(message, payload, ctx, f"{base}/bridge")
    if rest == ["event"]:
        return _bridge_event(message, ctx, _json(payload, ctx.limits, "bridge event"))
    if rest == ["log"]:
        return _legacy_log(message, ctx, _json(payload, ctx.limits, "bridge log"))
    return []  # devices, groups, info, definitions, logging, request/*, response/*: inventory


def _bridge_event(message: InboundMessage, ctx: AdapterContext, body: dict[str, Any]) -> list[Draft]:
    if not isinstance(body.get("type"), str):
        raise PayloadError("bridge event has no string field 'type'")
    if body["type"] != "device_leave":
        return []  # device_joined, device_interview, device_announce: inventory
    if not isinstance(body.get("data"), dict):
        raise PayloadError("device_leave has no object field 'data'")
    return _left(message, ctx, body["data"].get("friendly_name"), body["data"].get("ieee_address"), "device_leave")


def _legacy_log(message: InboundMessage, ctx: AdapterContext, body: dict[str, Any]) -> list[Draft]:
    """Before 1.17: {"type":"device_removed","message":"left_network","meta":{"friendly_name":...}}.
    A device_removed with another message is an admin's removal, not a device dropping off."""
    if body.get("type") != "device_removed" or body.get("message") != "left_network":
        return []
    meta = body.get("meta")
    if not isinstance(meta, dict):
        meta = {}
    return _left(message, ctx, meta.get("friendly_name"), None, "device_removed")


def _left(message: InboundMessage, ctx: AdapterContext, name: Any, ieee: Any, via: str) -> list[Draft]:
    device = name if isinstance(name, str) and name else ieee  # some leaves carry only the address
    if not isinstance(device, str) or not device:
        raise PayloadError(f"{via} names no device (friendly_name or ieee_address)")
    data: dict[str, Any] = {"via": via}
    if isinstance(ieee, str) and re.fullmatch(r"0x[0-9a-fA-F]{16}", ieee):
        data["ieee_address"] = ieee
    # No id or time in the payload: derived id.
    return [Draft("device.offline", ctx.site, device, derived_id(_short(device), message), message.received_at,
                  data=data, retained=message.retain)]


# The bridge's inventory (every device, its definitions) outgrows the payload limit on a real
# network and never means an event: skipped before the size check, not quarantined each restart.
_INVENTORY = ("/bridge/devices", "/bridge/definitions", "/bridge/info", "/bridge/groups", "/bridge/extensions")


def _ignored(topic: str) -> bool:
    return topic.endswith(_INVENTORY)


ZIGBEE2MQTT = AdapterDef(
    name="zigbee2mqtt",
    topic="zigbee2mqtt/#",
    ignore=_ignored,
    decode=lambda payload, limits: payload,  # the topic says JSON or text: decoded in translate
    translate=translate,
    emits=frozenset({"fire.alarm", "fire.fault", "fire.restore", "safety.gas", "safety.water_leak",
                     "safety.restore", "access.door_forced", "access.door_closed", "access.tamper", "access.restore",
                     "device.online", "device.offline", "device.heartbeat", "device.battery_low", "device.fault",
                     "device.restore"}),
    samples=(
        ("zigbee2mqtt/hall smoke", b'{"smoke":true,"battery":90,"last_seen":1795660090123,"linkquality":120}'),
        ("zigbee2mqtt/kitchen/gas", b'{"gas":true,"gas_density":80,"last_seen":"2026-11-26T02:28:10.123Z"}'),
        ("zigbee2mqtt/plant-room/leak", b'{"water_leak":false,"battery":"87.50"}'),
        ("zigbee2mqtt/door-3/availability", b"offline"),
        ("zigbee2mqtt/door-3/availability", b'{"state":"online"}'),
        ("zigbee2mqtt/bridge/event", b'{"type":"device_leave","data":{"ieee_address":"0x90fd9ffffe6494fc"}}'),
    ),
    bad_samples=(
        ("zigbee2mqtt/hall smoke", b"{not json"),
        ("zigbee2mqtt/hall smoke", b'{"smoke":"maybe"}'),
        ("zigbee2mqtt/hall smoke", b'{"smoke":true,"last_seen":"yesterday"}'),
        ("zigbee2mqtt/door-3/availability", b"sleeping"),
        ("zigbee2mqtt/bridge/event", b'{"type":"device_leave","data":{}}'),
    ),
)
