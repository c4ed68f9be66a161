"""Tasmota card readers (Wiegand, PN532, RDM6300, RC522, serial bridge) and the Tasmota LWT.

A read is a credential, not a decision (device-formats.md 3.2): the console has to look the card
up. Only a reader that the registry calls a patrol point turns a read into patrol.checkpoint
(section 7); anywhere else a read is no event. The LWT gives device.online / device.offline.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from adapters.base import (
    AdapterContext,
    AdapterDef,
    InboundMessage,
    derived_id,
    json_object,
    raw_payload,
    text_payload,
)
from console.contract import Draft, PayloadError

PATROL_POINT = "patrol_point"  # DeviceEntry.kind of a reader that is a guard-tour checkpoint
PREFIXES = ("tele", "stat")  # Tasmota's %prefix% levels that carry device reports
HEX_READERS = ("PN532", "RDM6300", "RC522")  # {"<reader>":{"UID":"<hex>", "DATA":"..."}}
CARD_SIZES = frozenset({24, 26, 32, 34})
KEYPAD_SIZES = frozenset({4, 8})
CLOCK_SET = datetime(2000, 1, 1)  # an unsynced Tasmota clock starts at 1970-01-01
HEX = re.compile(r"[0-9A-Fa-f]+")

Read = tuple[str, str, dict[str, Any]]  # (reader, card, extra data)




def _device(topic: str) -> str:
    """The %topic% level: after the prefix in the default FullTopic "%prefix%/%topic%/"
    (``tele/rfid-gate/SENSOR``, also below a fixed level: ``site/tele/rfid-gate/SENSOR``), before
    it in "%topic%/%prefix%/" (``rfid-gate/tele/SENSOR``)."""
    levels = topic.split("/")[:-1]
    for index, level in enumerate(levels):
        if level in PREFIXES:
            device = levels[index + 1] if index + 1 < len(levels) else (levels[index - 1] if index else "")
            if device:
                return device
            break
    raise PayloadError(f"topic {topic[:80]!r} has no tele/<topic> or stat/<topic> levels")


def _epoch(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise PayloadError(f"field {name} must be a number, got {type(value).__name__}")
    try:
        seconds = float(value)
    except ValueError as exc:
        raise PayloadError(f"field {name} is not a time: {str(value)[:40]!r}") from exc
    if not math.isfinite(seconds) or seconds < 0:
        raise PayloadError(f"field {name} is not a time: {str(value)[:40]!r}")
    return seconds / 1000 if seconds > 1e11 else seconds  # epoch milliseconds, if a build sends them


def _zone_offset(local: datetime, received: datetime) -> timedelta | None:
    """The device's UTC offset, from its naive local time and the receive time, in whole
    quarter hours (every zone is one); None when more than 14 h apart (clock wrong or a stale
    message). Exact for a message that arrives within 7.5 min; a later one lands within 7.5 min
    of its receive time."""
    quarters = round((local.replace(tzinfo=timezone.utc) - received) / timedelta(minutes=15))
    return timedelta(minutes=15 * quarters) if abs(quarters) <= 14 * 4 else None


def _source_time(body: dict[str, Any], message: InboundMessage, ctx: AdapterContext,
                 ) -> tuple[datetime, str | None, dict[str, Any]]:
    """(ts, the source time for ids or None, extra data). Tasmota's `Time` setting gives a naive
    local "Time" (default), plus "Epoch" (`Time 1`), or epoch seconds in "Time" (`Time 2`)."""
    raw = body.get("Epoch", body.get("Time"))
    if raw is None:
        return message.received_at, None, {}
    if not isinstance(raw, str) or raw.strip().replace(".", "", 1).isdigit():
        seconds = _epoch(raw, "Epoch" if "Epoch" in body else "Time")
        if seconds < CLOCK_SET.replace(tzinfo=timezone.utc).timestamp():
            return message.received_at, None, {"device_time": raw}
        try:
            return datetime.fromtimestamp(seconds, timezone.utc), str(raw).strip(), {}
        except (OverflowError, OSError, ValueError) as exc:
            raise PayloadError(f"time out of range: {str(raw)[:40]!r}") from exc
    try:
        local = datetime.fromisoformat(raw.strip())
    except ValueError as exc:
        raise PayloadError(f"field Time is not an ISO-8601 time: {raw[:40]!r}") from exc
    if local.replace(tzinfo=None) < CLOCK_SET:
        # Counting from 1970 since boot: not a date, and it repeats after a reboot (no id either).
        return message.received_at, None, {"device_time": raw}
    if local.tzinfo is not None:  # SetOption52 1 appends the offset
        return local, raw, {}
    zone = ctx.timezone  # the site's zone; without one, inferred from the receive time below
    if zone:
        try:
            return local.replace(tzinfo=ZoneInfo(zone)), raw, {}
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise PayloadError(f"site time zone {zone!r} is unknown") from exc
    offset = _zone_offset(local, message.received_at)
    if offset is None:
        return message.received_at, raw, {"device_time": raw}
    return local.replace(tzinfo=timezone(offset)), raw, {}


def _wiegand(section: dict[str, Any]) -> Read | None:
    """{"UID":7748328,"Size":26}; with SetOption123 1 the UID is hex text: "763AE8h"."""
    size = section.get("Size")
    if size is not None:
        if isinstance(size, bool) or not isinstance(size, (int, str)) or not str(size).strip().isdigit():
            raise PayloadError(f"Wiegand Size is not a number: {str(size)[:16]!r}")
        size = int(size)
        if size in KEYPAD_SIZES:
            return None  # keypad keys or a PIN: not a card, and no patrol scan
        if size not in CARD_SIZES:
            raise PayloadError(f"Wiegand Size {size} is neither a card (24/26/32/34) nor a keypad (4/8)")
    uid = section.get("UID")
    if isinstance(uid, int) and not isinstance(uid, bool) and uid >= 0:
        value = uid
    elif isinstance(uid, str) and uid.strip()[-1:] in ("h", "H") and HEX.fullmatch(uid.strip()[:-1]):
        value = int(uid.strip()[:-1], 16)
    elif isinstance(uid, str) and uid.strip().isdigit():
        value = int(uid.strip())
    else:
        raise PayloadError(f"Wiegand UID is not a card number: {str(uid)[:24]!r}")
    if value == 0:
        return None  # the driver reports a parity error as UID 0: a failed read
    # Decimal either way, so a card reads the same whatever SetOption123 says.
    return "Wiegand", str(value), ({"bits": size} if size is not None else {})


def _hex_uid(reader: str, section: dict[str, Any]) -> Read:
    uid = section.get("UID")
    if not isinstance(uid, str) or not HEX.fullmatch(uid.strip()):
        raise PayloadError(f"{reader} UID is not a hex string: {str(uid)[:24]!r}")
    extra: dict[str, Any] = {}
    block = section.get("DATA", section.get("Data", ""))
    if not isinstance(block, str):
        raise PayloadError(f"{reader} DATA must be a string, got {type(block).__name__}")
    if block:
        extra["tag_data"] = block  # the card's block-1 text; "" when it has none
    return reader, uid.strip().upper(), extra


def _serial(value: Any) -> list[Read]:
    """Serial bridge: "<2 hex version><8 hex card><2 hex XOR checksum>" per RDM6300 frame, maybe
    wrapped in STX (0x02)/ETX (0x03), several frames in a row without `SerialDelimiter 3`."""
    if not isinstance(value, str):
        raise PayloadError(f"SSerialReceived must be a string, got {type(value).__name__}")
    chunks = [c for c in re.split(r"[\x02\x03\s]+", value) if c]
    if not chunks or not all(len(c) % 12 == 0 and HEX.fullmatch(c) for c in chunks):
        return []  # another serial device on the bridge: not a card reader's frame
    cards: dict[str, Read] = {}
    for frame in (c[i:i + 12] for c in chunks for i in range(0, len(c), 12)):
        data = bytes.fromhex(frame[:10])
        if data[0] ^ data[1] ^ data[2] ^ data[3] ^ data[4] != int(frame[10:], 16):
            raise PayloadError(f"RDM6300 frame {frame} fails its XOR checksum (a misread)")
        cards.setdefault(frame[2:10].upper(), ("RDM6300", frame[2:10].upper(), {}))  # repeats: one read
    return list(cards.values())


def _reads(body: dict[str, Any]) -> list[Read]:
    reads: list[Read] = []
    for reader in ("Wiegand", *HEX_READERS):
        section = body.get(reader)
        if section is None:
            continue
        if not isinstance(section, dict):
            raise PayloadError(f"field {reader} must be an object, got {type(section).__name__}")
        read = _wiegand(section) if reader == "Wiegand" else _hex_uid(reader, section)
        if read is not None:
            reads.append(read)
    if "SSerialReceived" in body:
        reads.extend(_serial(body["SSerialReceived"]))
    return reads


def _lwt(message: InboundMessage, device: str, ctx: AdapterContext) -> list[Draft]:
    if not message.payload:
        return []  # an empty retained message only deletes the broker's copy
    state = text_payload(message.payload, ctx.limits).lower()  # "Online" / "Offline"
    if state not in ("online", "offline"):
        raise PayloadError(f"LWT must be Online or Offline, got {state[:32]!r}")
    # An LWT carries neither id nor time: derived id.
    return [Draft(kind=f"device.{state}", site=ctx.site, device_id=device, ts=message.received_at,
                  source_id=derived_id(device, message), data={"via": "lwt"}, retained=message.retain)]


def translate(message: InboundMessage, payload: bytes, ctx: AdapterContext) -> list[Draft]:
    device = _device(message.topic)
    leaf = message.topic.rsplit("/", 1)[-1]
    if leaf == "LWT":
        return _lwt(message, device, ctx)
    if leaf not in ("SENSOR", "RESULT"):
        return []  # STATE, INFO1-3, command replies: telemetry and inventory
    body = json_object(payload, ctx.limits)
    # SENSOR from other sensors, and RESULT {"Event":"Done"} after a PN532 read, have no reads.
    reads = _reads(body) if leaf == "SENSOR" else _serial(body.get("SSerialReceived", ""))
    if not reads:
        return []
    ts, time_key, extra = _source_time(body, message, ctx)  # checked even when no event follows
    if ctx.kind_of(device) != PATROL_POINT:
        return []  # a credential read: the console decides access (see the module docstring)
    drafts = []
    for reader, card, read_data in reads:
        # No serial number: the source time plus the read identifies a message.
        head = time_key if time_key is not None else derived_id(device, message)
        drafts.append(Draft(
            kind="patrol.checkpoint", site=ctx.site, device_id=device, ts=ts,
            source_id=f"{head}:{reader}:{card}"[:128],
            data={"card": card, "reader": reader, **read_data, **extra}, retained=message.retain,
        ))
    return drafts


TASMOTA_RFID = AdapterDef(
    name="tasmota-rfid",
    # Default FullTopic "%prefix%/%topic%/": reads on tele/<topic>/SENSOR, serial-bridge frames on
    # tele/<topic>/RESULT, the LWT on tele/<topic>/LWT. stat/<topic>/RESULT only follows a read.
    topic="tele/#",
    decode=raw_payload,
    translate=translate,
    emits=frozenset({"patrol.checkpoint", "device.online", "device.offline"}),
    samples=(
        ("tele/rfid-gate/LWT", b"Online"),
        ("tele/rfid-gate/LWT", b"Offline"),
    ),
    bad_samples=(
        ("tele/rfid-gate/LWT", b"Sleeping"),
        ("tele/rfid-gate/SENSOR", b'{"Time":"2026-11-26T10:29:58","Wiegand":{"UID":"card","Size":26}}'),
        ("tele/rfid-gate/SENSOR", b'{"Time":"yesterday","PN532":{"UID":"94D8FC5F","DATA":""}}'),
        ("tele/rfid-gate/SENSOR", b'{"Time":"2026-11-26T10:29:58","RDM6300":{"UID":12345}}'),
    ),
)
