"""esp-rfid (github.com/esprfid/esp-rfid): access records, heartbeat, boot and the event log.

Every reader of a site may share one base topic, so the device is the payload's ``hostname``.
0.8.x records (published on ``<TOPIC>`` itself) and Home Assistant ``<TOPIC>/tag`` records carry
none: the base topic (without ``/send`` or ``/tag``) stands in for it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any

from adapters.base import (
    AdapterContext,
    AdapterDef,
    InboundMessage,
    derived_id,
    json_object,
    number,
    raw_payload,
)
from console.contract import Draft, PayloadError

# `access` values (compared case-insensitively). "Denied" is only sent for a card that is not in
# the user list; "Wrong pin code" comes from firmware with PIN support (rfid.esp).
GRANTED = frozenset({"always", "admin"})
DENIED = frozenset({"denied", "disabled", "expired", "wrong pin code"})
NO_PERSON = frozenset({"", "unknown", "undefined"})  # unknown card; user saved without a name

# Event-log entries (type INFO/WARN/ERRO, cmd "event") that mean something, by exact src + desc.
# "Door Open" is none: opened without a grant, the firmware also logs "Door was tampered!".
# Every other entry (wifi, mqtt, ntp, sys, updt, doorbell) is a log line, not an event.
LOG_KINDS = {
    ("door", "Door Closed"): "access.door_closed",
    ("tamper", "Door was tampered!"): "access.door_forced",
    ("tamper", "Door wasn't closed within max open time!"): "access.door_held_open",
    ("rfid", "Unknown rfid tag is scanned"): "access.denied",
}
LOG_TYPES = frozenset({"INFO", "WARN", "ERRO"})
ACK_TYPES = frozenset({"adduser", "deletuid", "deletusers"})  # replies to user commands
# Under <TOPIC>/# but no report: commands to the readers, HA availability, user-list dumps.
QUIET_LEAVES = frozenset({"cmd", "avty", "accesslist"})
CLOCK_SET = 946684800  # 2000-01-01Z: a smaller `time` counts from boot (NTP not synced yet)




def _number(value: Any, name: str) -> float:
    return number(value, name)  # the boot message sends `"uptime":"0"`


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name, "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)  # a numeric uid from a hand-made publisher
    if not isinstance(value, str):
        raise PayloadError(f"field {name} must be a string, got {type(value).__name__}")
    return value.strip()


def _flag(value: Any) -> bool:
    """`isKnown` is the string "true"/"false" (and `bool("false")` is True); accept every form."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, (str, int)) else ""
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise PayloadError(f"field isKnown is not a boolean: {str(value)[:16]!r}")


def _device(body: dict[str, Any], base: list[str]) -> str:
    # Some firmware between 0.8.x and 1.3.x put the hostname in "door" (mqtt_publish_access).
    for key in ("hostname", "door"):
        value = body.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    device = "/".join(base).strip("/")  # the doc's example base topic is "/rfid"
    if not device:
        raise PayloadError("no hostname in the payload and no base topic to name the reader")
    return device


def _time(body: dict[str, Any], message: InboundMessage) -> tuple[datetime, str | None]:
    """(ts, the source time for ids); None when there is no usable source time."""
    if body.get("time") is None:
        return message.received_at, None  # "missing key = unchanged": heartbeat without time
    seconds = _number(body["time"], "time")
    if seconds < 0:
        raise PayloadError("field time is negative")
    if seconds < CLOCK_SET:
        # Seconds since boot, not a date: useless as ts, and it repeats after a reboot, so it
        # cannot identify the message either.
        return message.received_at, None
    try:
        return datetime.fromtimestamp(seconds, tz=timezone.utc), str(int(seconds))
    except (OverflowError, OSError, ValueError) as exc:
        raise PayloadError(f"field time is out of range: {seconds:.0f}") from exc


def _sid(time_key: str | None, device: str, message: InboundMessage, *parts: str) -> str:
    # No serial number in esp-rfid payloads: the source time plus what happened identifies a
    # message (a QoS 1 redelivery gets the same id). Without a usable time, derived_id.
    head = time_key if time_key is not None else derived_id(device, message)
    sid = ":".join((head, *(part for part in parts if part)))
    if len(sid) > 128:
        sid = f"{sid[:100]}:{hashlib.sha256(sid.encode()).hexdigest()[:24]}"
    return sid


def _access(body: dict[str, Any], device: str, message: InboundMessage, site: str) -> list[Draft]:
    ts, time_key = _time(body, message)
    access = body.get("access")
    if access is None:
        raise PayloadError("access record has no field access")
    multi = isinstance(access, list)  # one value per door (1.3.x with several relays)
    values: list[Any] = access if multi else [access]
    if not values:
        raise PayloadError("field access is an empty list")
    names = body.get("doorName")
    if isinstance(names, list) and len(names) != len(values):
        raise PayloadError(f"doorName has {len(names)} entries for {len(values)} access values")
    known = _flag(body["isKnown"]) if body.get("isKnown") is not None else None
    card, user = _text(body, "uid"), _text(body, "username")
    drafts = []
    for index, value in enumerate(values):
        if not isinstance(value, str):
            raise PayloadError(f"access value must be a string, got {type(value).__name__}")
        level = value.strip().lower()
        # The HA /tag record has no isKnown: "Denied" alone marks an unknown card there.
        unknown = known is False or (known is None and level == "denied")
        if level in GRANTED and not unknown:
            kind = "access.granted"
        elif level in DENIED or unknown:  # an unknown card is never let in, whatever `access` says
            kind = "access.denied"
        else:
            raise PayloadError(f"unknown access value {value[:40]!r}")
        data: dict[str, Any] = {"access": value}
        if card:
            data["card"] = card
        if user == "MQTT" and not card:
            data["via"] = "mqtt"  # the `opendoor` command is answered with a grant for user "MQTT"
        elif user.lower() not in NO_PERSON:
            data["person"] = user
        if known is not None:
            data["known"] = known
        if kind == "access.denied":
            data["reason"] = "unknown card" if unknown else value
        door = names[index] if isinstance(names, list) else names
        if door is not None:
            if not isinstance(door, str):
                raise PayloadError(f"doorName must be a string, got {type(door).__name__}")
            data["door"] = door
        # The unknown-card event-log entry of the same swipe gets the same id (see _log).
        parts = ["unknown-tag", card] if unknown else ["access", card]
        if multi:
            parts.append(str(index + 1))
        drafts.append(Draft(
            kind=kind, site=site, device_id=device, source_id=_sid(time_key, device, message, *parts),
            ts=ts, point=str(index + 1) if multi else "", data=data, retained=message.retain,
        ))
    return drafts


def _log(body: dict[str, Any], device: str, message: InboundMessage, site: str) -> list[Draft]:
    src, desc = body.get("src"), body.get("desc")
    if not isinstance(src, str) or not isinstance(desc, str):
        raise PayloadError("event-log entry needs string fields src and desc")
    kind = LOG_KINDS.get((src, desc))
    if kind is None:
        return []
    ts, time_key = _time(body, message)
    if kind != "access.denied":
        return [Draft(kind=kind, site=site, device_id=device, ts=ts, retained=message.retain,
                      source_id=_sid(time_key, device, message, kind.split(".", 1)[1]))]
    # rfid.esp logs data = "<uid> <card type>" and then also publishes the access record
    # (isKnown "false", "Denied"). Both get the id "<time>:unknown-tag:<uid>", so one swipe is
    # stored once (one swipe counted twice would feed the denied-burst alarm).
    extra = body.get("data")
    card = extra.split()[0] if isinstance(extra, str) and extra.split() else ""
    data: dict[str, Any] = {"reason": "unknown card", "known": False}
    if card:
        data["card"] = card
    return [Draft(kind=kind, site=site, device_id=device, ts=ts, data=data, retained=message.retain,
                  source_id=_sid(time_key, device, message, "unknown-tag", card))]


def _status(kind: str, body: dict[str, Any], device: str, message: InboundMessage,
            site: str) -> list[Draft]:
    ts, time_key = _time(body, message)
    data: dict[str, Any] = {}
    ip = body.get("ip", body.get("Local IP"))  # 0.8.x boot says "Local IP"
    if isinstance(ip, str) and ip:
        data["ip"] = ip
    if body.get("uptime") is not None:
        data["uptime_s"] = _number(body["uptime"], "uptime")
    return [Draft(kind=kind, site=site, device_id=device, ts=ts, data=data, retained=message.retain,
                  source_id=_sid(time_key, device, message, kind.split(".", 1)[1]))]


def translate(message: InboundMessage, payload: bytes, ctx: AdapterContext) -> list[Draft]:
    levels = message.topic.split("/")
    leaf = levels[-1]
    if leaf in QUIET_LEAVES or (len(levels) > 1 and levels[-2] == "io"):
        # <TOPIC>/io/<door|tamper|lock|doorbell> (HA mode) carries ON/OFF without time or host;
        # the same facts come with both on /send when MQTT logging is on.
        return []
    body = json_object(payload, ctx.limits)  # the HA /tag doc sample's trailing comma fails here
    if leaf == "tag":  # HA mode: {uid, username, access, time}, no type, isKnown or hostname
        return _access(body, _device(body, levels[:-1]), message, ctx.site)
    device = _device(body, levels[:-1] if leaf == "send" else levels)
    kind = body.get("type")
    if kind is None:
        if {"command", "list", "acctype"} & body.keys():
            return []  # user-list replies (getuserlist/listusr): inventory
        raise PayloadError("message has no field type")
    if not isinstance(kind, str):
        raise PayloadError(f"field type must be a string, got {type(kind).__name__}")
    if kind == "access":
        return _access(body, device, message, ctx.site)
    if kind in ("heartbeat", "hearthbeat"):  # 0.8.x spelled it "hearthbeat"
        return _status("device.heartbeat", body, device, message, ctx.site)
    if kind == "boot":
        return _status("device.online", body, device, message, ctx.site)
    if kind in LOG_TYPES:
        return _log(body, device, message, ctx.site)
    if kind in ACK_TYPES:
        return []
    raise PayloadError(f"unknown esp-rfid message type {kind[:32]!r}")


ESP_RFID = AdapterDef(
    name="esp-rfid",
    # The base topic is set in the web UI (empty by default); README-MQTT.md's example is "/rfid".
    # "#" also matches "/rfid" itself, where 0.8.x published.
    topic="/rfid/#",
    decode=raw_payload,
    translate=translate,
    emits=frozenset({
        "access.granted", "access.denied", "access.door_closed", "access.door_forced",
        "access.door_held_open", "device.heartbeat", "device.online",
    }),
    samples=(
        ("/rfid/send", b'{"type":"access","time":1795660200,"isKnown":"true","access":"Always",'
                       b'"username":"Zhang Wei","uid":"a1b2c3d4","hostname":"door-lobby"}'),
        ("/rfid/send", b'{"type":"access","time":1795660200,"isKnown":"false","access":"Denied",'
                       b'"username":"Unknown","uid":"0badcafe","hostname":"door-lobby"}'),
        ("/rfid/send", b'{"type":"WARN","src":"tamper","desc":"Door was tampered!","data":"",'
                       b'"time":1795660200,"cmd":"event","hostname":"door-lobby"}'),
        ("/rfid/send", b'{"type":"heartbeat","time":1795660200,"uptime":999,"ip":"10.0.0.5",'
                       b'"hostname":"door-lobby"}'),
    ),
    bad_samples=(
        ("/rfid/send", b'{"type":"access","time":1795660200,"isKnown":"maybe","access":"Always",'
                       b'"uid":"a1","hostname":"door-lobby"}'),
        ("/rfid/send", b'{"type":"heartbeat","time":"soon","hostname":"door-lobby"}'),
        ("/rfid/tag", b'{"uid":"a1","username":"u","access":"Always","time":1795660200,}'),
        ("/rfid/send", b'{"type":"access","time":1795660200,"access":"Maybe","uid":"a1","hostname":"h"}'),
    ),
)
