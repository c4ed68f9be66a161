"""Dahua VTO door stations through the DahuaVTO2MQTT bridge (device-formats.md 3.6).

The bridge publishes each event of the VTO's event stream as it came, on
``<prefix>/<EventCode>/Event`` (prefix ``DahuaVTO`` by default: the subscribe filter's levels
before its first wildcard). The payload is the device's event: ``Action`` (Start/Stop/Pulse),
``Code``, ``Index`` (the channel, door or alarm input, 0-based), ``Data`` and the bridge's
``deviceType`` and ``serialNumber``. ``<prefix>/Command/...`` (commands to the bridge) and
``<prefix>/MagneticLock/Status`` (the bridge's own guess from its unlock timer) are no events.

- ``AccessControl``: ``Status`` 1 → access.granted, 0 → access.denied (spec: inferred);
  point ``door-<Index>``. ``Method`` 4 → data.method "remote", 6 → "fingerprint".
- ``DoorStatus`` ``Close`` → access.door_closed (``Open`` → none: a granted door opens too);
  ``DoorNotClosed`` Start → access.door_held_open, Stop → access.door_closed; point ``door-<Index>``.
- ``AlarmLocal`` (and ``ProfileAlarmTransmit``) → by what the registry says the input is:
  ``ctx.kind_of(serial, "alarm-<Index>")`` (see ALARM_INPUTS); Stop ends it. An input the
  registry does not describe → device.fault with data.code "alarm_local" (Stop: device.restore),
  so the alarm still reaches the wall. ``ProfileAlarmTransmit`` without a registered kind uses
  its ``SenseMethod`` (``DoorMagnetism`` → door contact: spec, proposed).
- ``ChassisIntruded`` Start → access.tamper, Stop → access.restore; ``VideoMotion`` Start →
  camera.motion (Stop is the reset). Everything else → none: calls and doorbell (``Invite``,
  ``CallNoAnswered``, ``BackKeyLight``...), ``DoorCard`` (a credential read), ``VideoBlind``
  (camera.tamper comes only from the native format, spec 4.4), time and network notices.

Identity: ``serialNumber``; without one (the bridge could not read it) the prefix stands in:
one bridge serves one VTO. De-duplication: ``AccessControl`` ``RecNo`` (the device's record
number); otherwise code, action, Index and the source time (``UTC``).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from adapters.base import (
    AdapterContext,
    AdapterDef,
    InboundMessage,
    derived_id,
    json_object,
    number,
    raw_payload,
    split_below,
)
from console.contract import Draft, PayloadError

ACTIONS = frozenset({"Start", "Stop", "Pulse"})
BRIDGE_LEAVES = frozenset({"Command", "MagneticLock"})
METHODS = {4: "remote", 6: "fingerprint"}  # 4 = remote/web/SIP, 6 = fingerprint (the bridge's docs)
DIRECTIONS = {"Entry": "in", "Exit": "out"}
# Registry kind of an alarm input → (kind on Start, kind on Stop); Stop restores carry data.of.
ALARM_INPUTS = {
    "duress_button": ("access.duress", "access.restore"), "tamper": ("access.tamper", "access.restore"),
    "door_contact": ("access.door_forced", "access.door_closed"),  # door_closed clears it by itself
    **dict.fromkeys(("manual_call_point", "smoke_detector", "heat_detector"), ("fire.alarm", "fire.restore")),
    **dict.fromkeys(("gas", "co"), ("safety.gas", "safety.restore")),
    "water_leak": ("safety.water_leak", "safety.restore"),
}
UNKNOWN_INPUT = ("device.fault", "device.restore")
# ProfileAlarmTransmit SenseMethod → registry kind. Only DoorMagnetism is in the spec; the others
# are Dahua's names for the same sensors in its alarm-zone configuration.
SENSE_METHODS = {"DoorMagnetism": "door_contact", "SmokingSensor": "smoke_detector", "GasSensor": "gas",
                 "WaterSensor": "water_leak", "EmergencySwitch": "duress_button"}
CLOCK_SET = datetime(2000, 1, 1)  # earlier: the VTO clock was never set; no usable source time




def _number(value: Any, name: str, whole: bool = False) -> float:
    return number(value, name, whole=whole, non_negative=True)


def _int(value: Any, name: str) -> int:
    return int(_number(value, name, whole=True))


def _text(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)  # a numeric card or user number
    if not isinstance(value, str):
        raise PayloadError(f"field Data.{name} must be a string, got {type(value).__name__}")
    return value.strip()


def _zoned(local: datetime, message: InboundMessage, ctx: AdapterContext) -> datetime | None:
    """A naive VTO time in the site's zone; without one, the offset (whole quarter hours) that
    puts it nearest the receive time, or None when that is over 14 h away (clock wrong)."""
    if ctx.timezone:
        try:
            return local.replace(tzinfo=ZoneInfo(ctx.timezone))
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise PayloadError(f"site time zone {ctx.timezone!r} is unknown") from exc
    quarters = round((local.replace(tzinfo=timezone.utc) - message.received_at) / timedelta(minutes=15))
    return local.replace(tzinfo=timezone(timedelta(minutes=15 * quarters))) if abs(quarters) <= 56 else None


def _when(data: dict[str, Any], message: InboundMessage, ctx: AdapterContext) -> tuple[datetime, str | None]:
    """(ts, the source time for ids or None). ``RealUTC`` (newer firmware) and ``UTC`` are epoch
    seconds, ``LocaleTime`` is naive local "YYYY-MM-DD HH:MM:SS"."""
    raw = data.get("RealUTC", data.get("UTC"))
    utc, key = None, None
    if raw is not None:
        seconds = _number(raw, "Data.UTC")
        if seconds >= CLOCK_SET.replace(tzinfo=timezone.utc).timestamp():  # else: clock never set
            try:
                utc, key = datetime.fromtimestamp(seconds, timezone.utc), str(int(seconds))
            except (OverflowError, OSError, ValueError) as exc:
                raise PayloadError(f"field Data.UTC is out of range: {seconds:.0f}") from exc
    local = None
    if data.get("LocaleTime") is not None:
        text = data["LocaleTime"]
        try:
            local = datetime.fromisoformat(text.strip()) if isinstance(text, str) else None
        except ValueError:
            local = None
        if local is None or local.tzinfo is not None:
            raise PayloadError(f"field Data.LocaleTime is not a local time: {str(text)[:32]!r}")
        if local < CLOCK_SET:
            local = None
    if utc is not None and (local is None or "RealUTC" in data or local != utc.replace(tzinfo=None)):
        return utc, key
    if local is None:
        return message.received_at, None
    # UTC reads the same as LocaleTime: either firmware that puts the local wall clock in "UTC"
    # (why RealUTC was added) or a VTO left at GMT+0. Whichever reading is nearer the receive
    # time is the right one (in UTC itself both agree).
    zoned = _zoned(local, message, ctx)
    if utc is not None and (zoned is None or abs(utc - message.received_at) <= abs(zoned - message.received_at)):
        return utc, key
    return (zoned or message.received_at), key or local.isoformat()


class _Event:
    """One bridge message, checked."""

    def __init__(self, message: InboundMessage, body: dict[str, Any], ctx: AdapterContext,
                 code: str, device: str):
        self.message, self.ctx, self.code, self.device = message, ctx, code, device
        self.action = body.get("Action")
        if not isinstance(self.action, str) or self.action not in ACTIONS:
            raise PayloadError(f"{code} Action must be Start, Stop or Pulse, got {str(self.action)[:16]!r}")
        # The device always sends Index; the bridge's doc samples leave it out: the first channel.
        self.index = _int(body["Index"], "Index") if body.get("Index") is not None else 0
        data = body.get("Data", {})
        if not isinstance(data, dict):
            raise PayloadError(f"field Data must be an object, got {type(data).__name__}")
        self.data = data
        self.ts, self.time_key = _when(data, message, ctx)

    def draft(self, kind: str, point: str, data: dict[str, Any], source_id: str = "") -> Draft:
        if not source_id and self.time_key is None:
            source_id = derived_id(self.device, self.message)  # no record number, no source time
        elif not source_id:
            source_id = f"{self.code}:{self.action}:{self.index}:{self.time_key}"
        return Draft(kind=kind, site=self.ctx.site, device_id=self.device, source_id=source_id, ts=self.ts,
                     point=point, data=data or {}, retained=self.message.retain)


def _access(ev: _Event) -> list[Draft]:
    data = ev.data
    if data.get("Status") is not None:
        status = _int(data["Status"], "Data.Status")
        if status not in (0, 1):
            raise PayloadError(f"AccessControl Data.Status must be 0 or 1, got {status}")
        granted = status == 1
    elif data.get("ErrorCode") is not None:
        granted = _int(data["ErrorCode"], "Data.ErrorCode") == 0
    else:
        raise PayloadError("AccessControl has neither Data.Status nor Data.ErrorCode")
    out: dict[str, Any] = {}
    for key, name in (("CardNo", "card"), ("CardName", "person"), ("UserID", "user_id"), ("ReaderID", "reader")):
        if _text(data, key):
            out[name] = _text(data, key)
    if data.get("Method") is not None:
        out["method_code"] = _int(data["Method"], "Data.Method")
        if out["method_code"] in METHODS:
            out["method"] = METHODS[out["method_code"]]
    if _text(data, "Type") in DIRECTIONS:
        out["direction"] = DIRECTIONS[_text(data, "Type")]
    error = _int(data["ErrorCode"], "Data.ErrorCode") if data.get("ErrorCode") is not None else 0
    if error:
        out["error_code"] = error
    if not granted:
        out["reason"] = f"ErrorCode {error}" if error else "Status 0"
    # The device's own record number is the best id there is; else the source time and who.
    if data.get("RecNo") is not None:
        source_id = f"AccessControl:{_int(data['RecNo'], 'Data.RecNo')}"
    elif ev.time_key is not None:
        source_id = f"AccessControl:{ev.index}:{ev.time_key}:{out.get('card', out.get('user_id', ''))}"[:128]
    else:
        source_id = ""
    kind = "access.granted" if granted else "access.denied"
    return [ev.draft(kind, f"door-{ev.index}", out, source_id)]


def _door_status(ev: _Event) -> list[Draft]:
    status = _text(ev.data, "Status")
    if status == "Open":
        return []  # every granted entry opens the door; forced and held-open have their own events
    if status != "Close":
        raise PayloadError(f"DoorStatus Data.Status must be Open or Close, got {status[:16]!r}")
    return [ev.draft("access.door_closed", f"door-{ev.index}", {})]


def _door_not_closed(ev: _Event) -> list[Draft]:
    data = {"door": _text(ev.data, "Name")} if _text(ev.data, "Name") else {}
    kind = "access.door_closed" if ev.action == "Stop" else "access.door_held_open"
    return [ev.draft(kind, f"door-{ev.index}", data)]


def _alarm_input(ev: _Event) -> list[Draft]:
    point = f"alarm-{ev.index}"
    kind = ev.ctx.kind_of(ev.device, point)  # the point's kind, else the device's kind or role
    sense = _text(ev.data, "SenseMethod")
    if kind not in ALARM_INPUTS and ev.code == "ProfileAlarmTransmit":
        kind = SENSE_METHODS.get(sense, kind)
    raise_kind, clear_kind = ALARM_INPUTS.get(kind, UNKNOWN_INPUT)
    if kind in ALARM_INPUTS:
        data: dict[str, Any] = {"input": kind}
    else:  # not described in the registry: still an alarm on the wall, as a fault to look into
        code = "alarm_local" if ev.code == "AlarmLocal" else "profile_alarm"
        data = {"code": code, "cause": f"alarm input {ev.index} (kind not registered)"}
    if sense:
        data["sense_method"] = sense
    if ev.action != "Stop":
        return [ev.draft(raise_kind, point, data)]
    if clear_kind.endswith(".restore"):
        data["of"] = raise_kind
    return [ev.draft(clear_kind, point, data)]


def _tamper(ev: _Event) -> list[Draft]:
    if ev.action == "Stop":
        return [ev.draft("access.restore", "", {"of": "access.tamper"})]
    return [ev.draft("access.tamper", "", {"cause": "chassis intruded"})]


def _motion(ev: _Event) -> list[Draft]:
    if ev.action == "Stop":
        return []  # the end of the motion: the reset, not an event
    return [ev.draft("camera.motion", "", {"channel": ev.index})]


HANDLERS = {
    "AccessControl": _access, "DoorStatus": _door_status, "DoorNotClosed": _door_not_closed,
    "AlarmLocal": _alarm_input, "ProfileAlarmTransmit": _alarm_input, "ChassisIntruded": _tamper,
    "VideoMotion": _motion,
}




def translate(message: InboundMessage, payload: bytes, ctx: AdapterContext) -> list[Draft]:
    prefix, rest = split_below(message.topic, ctx.topic, "DahuaVTO2MQTT")
    if rest[0] in BRIDGE_LEAVES:
        return []  # commands to the bridge, and the lock state it guesses from its own timer
    if len(rest) != 2 or rest[1] != "Event" or not rest[0]:
        raise PayloadError(f"topic {message.topic[:80]!r} is not <prefix>/<EventCode>/Event")
    code = rest[0]
    body = json_object(payload, ctx.limits)
    if body.get("Code") is not None and body["Code"] != code:
        raise PayloadError(f"payload Code {str(body['Code'])[:32]!r} does not match the topic's {code!r}")
    handler = HANDLERS.get(code)
    if handler is None:
        return []  # calls, doorbell, card reads, time and network notices: no event
    serial = body.get("serialNumber")
    if serial is not None and not isinstance(serial, str):
        raise PayloadError(f"field serialNumber must be a string, got {type(serial).__name__}")
    device = serial.strip() if serial and serial.strip() else prefix
    return handler(_Event(message, body, ctx, code, device))


DAHUA_VTO2MQTT = AdapterDef(
    name="dahua-vto2mqtt",
    topic="DahuaVTO/#",
    decode=raw_payload,
    translate=translate,
    emits=frozenset({
        "access.granted", "access.denied", "access.door_closed", "access.door_held_open",
        "access.door_forced", "access.duress", "access.tamper", "access.restore", "camera.motion",
        "fire.alarm", "fire.restore", "safety.gas", "safety.water_leak", "safety.restore",
        "device.fault", "device.restore",
    }),
    samples=(
        ("DahuaVTO/AccessControl/Event",
         b'{"Action":"Pulse","Code":"AccessControl","Index":0,"Data":{"CardNo":"","LocaleTime":"2026-11-26 10:29:58",'
         b'"Method":4,"Name":"OpenDoor","ReaderID":"1","RecNo":691,"Status":1,"Type":"Entry","UTC":1795660198,'
         b'"UserID":""},"deviceType":"VTO2202F-P","serialNumber":"7F0A1B2PAJ00042"}'),
        ("DahuaVTO/VideoMotion/Event",
         b'{"Action":"Start","Code":"VideoMotion","Index":0,"Data":{"LocaleTime":"2026-11-26 10:29:50",'
         b'"UTC":1795660190},"deviceType":"VTO2202F-P","serialNumber":"7F0A1B2PAJ00042"}'),
        ("DahuaVTO/AlarmLocal/Event",
         b'{"Action":"Start","Code":"AlarmLocal","Index":1,"Data":{"UTC":1795660195},"serialNumber":"7F0A1B2P"}'),
    ),
    bad_samples=(
        ("DahuaVTO/AccessControl/Event", b'{"Action":"Pulse","Data":{"Status":1,"UTC":"EPOCH TIMESTAMP"}}'),
        ("DahuaVTO/VideoMotion/Event", b'{"Action":"?","Data":{"UTC":1795660190}}'),
        ("DahuaVTO/AccessControl", b'{"Action":"Pulse","Data":{"Status":1,"UTC":1795660198}}'),
        ("DahuaVTO/DoorStatus/Event", b"{not json"),
    ),
)
