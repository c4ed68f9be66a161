"""Hikvision ISAPI event pushes, forwarded to MQTT by a bridge (device-formats.md 3.5 and 4.3).

A bridge publishes each HTTP-host (or alertStream) body unchanged below ``hikvision/``; we suggest
``hikvision/<device name or MAC>/<eventType>``. It splits multipart bodies: only the JSON or XML
part is published. Identity is the payload's ``macAddress`` (lower case, colons); the topic level
below the prefix stands in when a body has none. Access controllers send JSON, cameras
``EventNotificationAlert`` XML, where every value is text (numbers and booleans in strings).

- ``AccessControllerEvent`` → by ``majorEventType``/``subEventType`` (decimal; the spec's table is
  hex) with CODES. Other codes of the four majors (several hundred log entries: logins, lock
  relay, buttons, custom codes) → none; another major → quarantine. Points ``door-<doorNo>``,
  ``reader-<cardReaderNo>``, ``alarm-<alarmInNo>``, ``case-<caseSensorNo>``.
- ``ANPR`` → parking.entry/exit by the registry kind of the camera or of its point
  ``channel-<channelID>`` (an NVR): ``lane_in``/``lane_out``; a ``lane`` without a side (its role)
  goes by ``direction``: forward (approaching) = entry, reverse = exit. Not a lane → none.
- ``VMD`` active → camera.motion at ``channel-<channelID|dynChannelID>`` (inactive → none);
  ``heartBeat`` → device.heartbeat; any other ``eventType`` (videoloss keep-alives...) → none.

De-duplication: ``serialNo`` (access), ``UUID`` (ANPR), else type, channel and ``dateTime``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from adapters.base import (
    AdapterContext,
    AdapterDef,
    InboundMessage,
    Limits,
    decode_text,
    derived_id,
    json_object,
    number,
    prefix_depth,
    raw_payload,
)
from console.contract import Draft, PayloadError

MAC = re.compile(r"[0-9a-f]{2}([:-]?)[0-9a-f]{2}(\1[0-9a-f]{2}){4}")
LANES = {"lane_in": "parking.entry", "lane_out": "parking.exit"}
DIRECTION = {"forward": "parking.entry", "reverse": "parking.exit"}  # for a lane without a side
POINT_FIELDS = {"door": "doorNo", "reader": "cardReaderNo", "alarm": "alarmInNo", "case": "caseSensorNo"}


def _code(kind: str, where: str = "", **data: Any) -> tuple[str, str, dict[str, Any]]:
    return kind, where, data


def _with_resume(major: int, minor: int, resume: int, kind: str, where: str, **data: Any) -> dict[tuple[int, int], Any]:
    """An alarm code and its resume code, which clears it with the family's restore kind."""
    restore = _code(f"{kind.split('.')[0]}.restore", where, of=kind)
    return {(major, minor): _code(kind, where, **data), (major, resume): restore}


# Multi-factor checks come in threes: PASS at the code, FAIL at +1, TIMEOUT at +2.
_VERIFY = {
    0x02: "card_password", 0x28: "card_fingerprint", 0x2b: "card_fingerprint_password", 0x2e: "fingerprint_password",
    0x36: "face_fingerprint", 0x39: "face_password", 0x3c: "face_card", 0x3f: "face_password_fingerprint",
    0x42: "face_card_fingerprint", 0x45: "employee_no_fingerprint", 0x48: "employee_no_fingerprint_password",
    0x4d: "employee_no_face", 0x65: "employee_no_password"}
_PASS = {0x01: "card", 0x10: "multi_verify", 0x26: "fingerprint", 0x4b: "face", 0x69: "person_id_card"}
_DENIED = {
    0x05: "card_password_over_time", 0x06: "card_no_right", 0x07: "card_invalid_period", 0x08: "card_out_of_date",
    0x09: "invalid_card", 0x0a: "anti_sneak_fail", 0x27: "fingerprint_fail", 0x31: "fingerprint_unknown",
    0x4c: "face_fail", 0x50: "face_not_enrolled", 0x70: "person_id_card_fail", 0x71: "certificate_blocklist"}
_INPUT_FAULTS = {  # access.tamper (proposed)
    0x53: "door lock input short circuit", 0x54: "door lock input broken circuit", 0x55: "door lock input exception",
    0x56: "door contact input short circuit", 0x57: "door contact input broken circuit",
    0x58: "door contact input exception"}

# NET_DVR_ACS_ALARM_INFO (major, minor) → (kind, point, data). Spec 3.5; granted and denied also
# take the other *_PASS / *_FAIL / *_TIMEOUT codes of the same list.
CODES: dict[tuple[int, int], tuple[str, str, dict[str, Any]]] = {
    **{(5, minor): _code("access.granted", "door", method=how) for minor, how in {**_PASS, **_VERIFY}.items()},
    **{(5, minor + 1): _code("access.denied", "door", reason=f"{how}_fail") for minor, how in _VERIFY.items()},
    **{(5, minor + 2): _code("access.denied", "door", reason=f"{how}_timeout") for minor, how in _VERIFY.items()},
    **{(5, minor): _code("access.denied", "door", reason=reason) for minor, reason in _DENIED.items()},
    **{(5, minor): _code("access.tamper", "door", cause=cause) for minor, cause in _INPUT_FAULTS.items()},
    (5, 0x1a): _code("access.door_closed", "door"),
    (5, 0x1b): _code("access.door_forced", "door"),
    (5, 0x1c): _code("access.door_held_open", "door"),
    **_with_resume(5, 0x34, 0x35, "fire.feedback", "door", cause="fire relay: door held open"),  # proposed
    (1, 0x400): _code("access.tamper", "alarm", cause="alarm input short circuit"),  # 0x400-0x402 proposed
    (1, 0x401): _code("access.tamper", "alarm", cause="alarm input broken circuit"),
    (1, 0x402): _code("access.tamper", "alarm", cause="alarm input exception"),
    (1, 0x403): _code("access.restore", "alarm", of="access.tamper"),
    **_with_resume(1, 0x404, 0x405, "access.tamper", "", cause="controller dismantled"),
    **_with_resume(1, 0x406, 0x407, "access.tamper", "reader", cause="card reader dismantled"),
    **_with_resume(1, 0x408, 0x409, "access.tamper", "case", cause="case sensor"),
    (1, 0x40a): _code("access.duress", "door", cause="duress card"),
    (1, 0x40c): _code("access.denied", "door", reason="card_max_authenticate_fail", repeated=True),
    (1, 0x415): _code("fire.fault", "", cause="fire input short circuit"),
    (1, 0x416): _code("fire.fault", "", cause="fire input broken circuit"),
    (1, 0x417): _code("fire.restore", "", of="fire.fault"),
    **_with_resume(1, 0x418, 0x419, "fire.alarm", "", cause="fire button"),
    **_with_resume(1, 0x41c, 0x41d, "access.duress", "", cause="emergency button"),  # proposed
    (2, 0x27): _code("device.offline", "", cause="network broken"),
    (2, 0x407): _code("device.online", ""),
    **_with_resume(2, 0x403, 0x404, "device.battery_low", ""),
    **_with_resume(2, 0x405, 0x406, "device.fault", "", code="ac_off", cause="mains power lost"),
    (2, 0x409): _code("device.offline", "reader", cause="card reader offline"),
    (2, 0x40a): _code("device.online", "reader"),
    (3, 0x400): _code("access.granted", "door", method="remote"),
}
MAJORS = frozenset({1, 2, 3, 5})  # alarm, exception, operation, event




def _num(value: Any, name: str, whole: bool = True) -> float:
    """A number, or one in a string (every XML value is text)."""
    result = number(value, name, whole=whole, non_negative=True)
    return int(result) if whole else result


def _text(obj: dict[str, Any], name: str) -> str:
    value = obj.get(name)
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise PayloadError(f"field {name} must be text, got {type(value).__name__}")
    return value.strip()


def _xml(payload: bytes, limits: Limits) -> dict[str, Any]:
    """EventNotificationAlert → nested dicts of text (namespaces and attributes dropped; a
    repeated element becomes a list). defusedxml is not installed, so any DTD is refused before
    parsing: entity expansion ("billion laughs") and external entities need one."""
    text = decode_text(payload)
    if "<!DOCTYPE" in text.upper() or "<!ENTITY" in text.upper():
        raise PayloadError("XML with a DOCTYPE or ENTITY declaration is refused")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise PayloadError(f"invalid XML: {exc}") from exc

    def convert(element: ET.Element, depth: int) -> Any:
        if depth > limits.max_json_depth:
            raise PayloadError(f"XML nested deeper than {limits.max_json_depth} levels")
        if len(element) == 0:
            return (element.text or "").strip()
        out: dict[str, Any] = {}
        repeated: set[str] = set()
        for child in element:
            tag, value = child.tag.rsplit("}", 1)[-1], convert(child, depth + 1)
            if tag in out:
                out[tag] = (out[tag] if tag in repeated else [out[tag]]) + [value]
                repeated.add(tag)
            else:
                out[tag] = value
        return out

    body = convert(root, 1)
    return body if isinstance(body, dict) else {}


def _body(payload: bytes, limits: Limits) -> dict[str, Any]:
    payload = payload.lstrip().removeprefix(b"\xef\xbb\xbf").lstrip()  # a UTF-8 byte-order mark
    if payload.startswith(b"{"):
        return json_object(payload, limits)
    if payload.startswith(b"<"):
        return _xml(payload, limits)
    if payload.startswith(b"--"):
        raise PayloadError("multipart body: the bridge must publish the JSON or XML part alone")
    raise PayloadError("payload is neither JSON nor XML")


def _time(body: dict[str, Any], message: InboundMessage, ctx: AdapterContext) -> tuple[datetime, str | None]:
    """(ts, the source time for ids). ``dateTime`` is ISO-8601 with an offset; a naive one
    (seen on some firmware) is local: the site's zone, else the offset nearest the receive time."""
    raw = _text(body, "dateTime")
    if not raw:
        return message.received_at, None
    try:
        ts = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise PayloadError(f"field dateTime is not an ISO-8601 time: {raw[:40]!r}") from exc
    if ts.tzinfo is None and ctx.timezone:
        try:
            ts = ts.replace(tzinfo=ZoneInfo(ctx.timezone))
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise PayloadError(f"site time zone {ctx.timezone!r} is unknown") from exc
    elif ts.tzinfo is None:
        quarters = round((ts.replace(tzinfo=timezone.utc) - message.received_at) / timedelta(minutes=15))
        if abs(quarters) > 56:  # more than 14 h away: the clock is wrong
            return message.received_at, raw
        ts = ts.replace(tzinfo=timezone(timedelta(minutes=15 * quarters)))
    return ts, raw


def _device(body: dict[str, Any], topic: str, filter_: str) -> str:
    mac = _text(body, "macAddress").lower()
    if mac:
        if not MAC.fullmatch(mac):
            raise PayloadError(f"field macAddress is not a MAC address: {mac[:32]!r}")
        digits = re.sub(r"[:-]", "", mac)
        return ":".join(digits[i:i + 2] for i in range(0, 12, 2))
    depth = prefix_depth(filter_)
    levels = topic.split("/")
    if len(levels) > depth and levels[depth]:
        return levels[depth]  # hikvision/<device>/...: the bridge's name for the device
    raise PayloadError("no macAddress in the payload and no device level in the topic")


def _channel(body: dict[str, Any]) -> str:
    raw = _text(body, "channelID") or _text(body, "dynChannelID")  # VMD may carry only dynChannelID
    return f"channel-{_num(raw, 'channelID')}" if raw else ""


Out = tuple[str, str | None, str, dict[str, Any]]  # (kind, source id or None: derive one, point, data)


def _acs(body: dict[str, Any], key: str | None, ctx: AdapterContext, device: str) -> list[Out]:
    acs = body.get("AccessControllerEvent")
    if not isinstance(acs, dict):
        raise PayloadError("AccessControllerEvent must be an object")
    major = _num(acs.get("majorEventType"), "majorEventType")
    minor = _num(acs.get("subEventType"), "subEventType")
    if major not in MAJORS:
        raise PayloadError(f"unknown majorEventType {major} (known: 1, 2, 3, 5)")
    rule = CODES.get((int(major), int(minor)))
    if rule is None:
        return []  # a log entry of the controller (lock relay, button, login...): no event
    kind, where, extra = rule
    number = _text(acs, POINT_FIELDS[where]) if where else ""
    point = f"{where}-{number}" if number else ""
    data: dict[str, Any] = {"major": major, "minor": minor}
    for field, name in (("cardNo", "card"), ("name", "person"), ("employeeNoString", "employee"),
                        ("cardReaderNo", "reader"), ("doorNo", "door")):
        if _text(acs, field):
            data[name] = _text(acs, field)
    if _text(acs, "serialNo"):
        source_id: str | None = f"acs:{_num(acs['serialNo'], 'serialNo')}"
    else:  # no serial number: the source time and the code identify it
        source_id = f"acs:{key}:{major}:{minor}:{point}" if key else None
    return [(kind, source_id, point, {**data, **extra})]


def _anpr(body: dict[str, Any], key: str | None, ctx: AdapterContext, device: str) -> list[Out]:
    anpr = body.get("ANPR")
    if not isinstance(anpr, dict):
        raise PayloadError("ANPR event has no ANPR block")
    point, plate, direction = _channel(body), _text(anpr, "licensePlate"), _text(anpr, "direction").lower()
    confidence = _text(anpr, "confidenceLevel")
    retransmitted = _text(body, "isDataRetransmission").lower()
    if retransmitted not in ("", "true", "false"):
        raise PayloadError(f"field isDataRetransmission is not a boolean: {retransmitted[:16]!r}")
    lane = ctx.kind_of(device, point)  # the channel's kind (an NVR), else the camera's kind or role
    kind = LANES.get(lane) or (DIRECTION.get(direction) if lane == "lane" else None)
    if kind is None:
        return []  # not a lane camera (or a lane without a side and no direction): a read, no pass
    data: dict[str, Any] = {"plate": None if plate.lower() in ("", "unknown") else plate}
    vehicle = anpr.get("vehicleInfo")
    if not isinstance(vehicle, dict):
        vehicle = {}
    for obj, field, name in ((anpr, "plateColor", "plate_color"), (anpr, "plateType", "plate_type"),
                             (anpr, "vehicleType", "vehicle_type"), (anpr, "vehicleListName", "list"),
                             (vehicle, "color", "vehicle_color")):
        if _text(obj, field) and _text(obj, field).lower() != "unknown":
            data[name] = _text(obj, field)
    if confidence:
        data["confidence"] = _num(confidence, "confidenceLevel", whole=False)
    if direction:
        data["vehicle_direction"] = direction  # forward = approaching the camera, reverse = leaving
    if retransmitted:
        data["retransmitted"] = retransmitted == "true"
    source_id = _text(body, "UUID") or (f"anpr:{key}:{point}:{plate}" if key else None)
    return [(kind, source_id, point, data)]


def _vmd(body: dict[str, Any], key: str | None, ctx: AdapterContext, device: str) -> list[Out]:
    state = _text(body, "eventState").lower()
    if state == "inactive":
        return []  # the motion has ended: the reset
    if state != "active":
        raise PayloadError(f"VMD eventState must be active or inactive, got {state[:16]!r}")
    point = _channel(body)
    count = _text(body, "activePostCount")  # counts the repeats of one ongoing alarm
    return [("camera.motion", f"vmd:{point}:{key}:{count}" if key else None, point, {})]


def _heartbeat(body: dict[str, Any], key: str | None, ctx: AdapterContext, device: str) -> list[Out]:
    return [("device.heartbeat", f"heartbeat:{key}" if key else None, "", {})]


HANDLERS = {"accesscontrollerevent": _acs, "anpr": _anpr, "vmd": _vmd, "heartbeat": _heartbeat}


def translate(message: InboundMessage, payload: bytes, ctx: AdapterContext) -> list[Draft]:
    body = _body(payload, ctx.limits)
    event_type = "AccessControllerEvent" if "AccessControllerEvent" in body else _text(body, "eventType")
    if not event_type:
        raise PayloadError("payload has no eventType")
    device = _device(body, message.topic, ctx.topic)
    handler = HANDLERS.get(event_type.lower())
    if handler is None:
        return []  # videoloss keep-alives, line crossing, IO, faces...: no event
    ts, key = _time(body, message, ctx)
    return [
        Draft(kind=kind, site=ctx.site, device_id=device, ts=ts, point=point, data=data, retained=message.retain,
              source_id=(source_id or derived_id(device, message))[:128])  # derived: no id, no source time
        for kind, source_id, point, data in handler(body, key, ctx, device)
    ]


HIKVISION_ISAPI = AdapterDef(
    name="hikvision-isapi",
    topic="hikvision/#",
    decode=raw_payload,
    translate=translate,
    emits=frozenset({
        "access.granted", "access.denied", "access.door_closed", "access.door_forced", "access.door_held_open",
        "access.tamper", "access.duress", "access.restore", "fire.alarm", "fire.fault", "fire.feedback",
        "fire.restore", "device.online", "device.offline", "device.battery_low", "device.fault",
        "device.restore", "device.heartbeat", "parking.entry", "parking.exit", "camera.motion",
    }),
    samples=(
        ("hikvision/door-lobby/AccessControllerEvent",
         b'{"ipAddress":"10.0.0.21","portNo":80,"macAddress":"44:47:CC:12:AB:01","eventType":"AccessControllerEvent",'
         b'"dateTime":"2026-11-26T10:29:58+08:00","eventState":"active","AccessControllerEvent":{"deviceName":"Lobby",'
         b'"majorEventType":5,"subEventType":27,"doorNo":1,"serialNo":4711,"currentEvent":true}}'),
        ("hikvision/cam-gate/VMD",
         b'<EventNotificationAlert version="1.0" xmlns="http://www.hikvision.com/ver20/XMLSchema"><macAddress>'
         b'44:47:cc:12:ab:02</macAddress><dynChannelID>1</dynChannelID><dateTime>2026-11-26T10:29:58+08:00'
         b'</dateTime><eventType>VMD</eventType><eventState>active</eventState></EventNotificationAlert>'),
    ),
    bad_samples=(
        ("hikvision/door-lobby/AccessControllerEvent",
         b'{"macAddress":"44:47:cc:12:ab:01","AccessControllerEvent":{"majorEventType":9,"subEventType":1}}'),
        ("hikvision/cam-gate/ANPR", b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY b "c">]><a>&b;</a>'),
        ("hikvision/cam-gate/VMD", b"<EventNotificationAlert><eventType>VMD</eventType>"),
        ("hikvision/cam-gate/VMD", b'{"macAddress":"44:47:cc:12:ab:02","eventType":"VMD","eventState":"active",'
                                   b'"dateTime":"yesterday"}'),
    ),
)
