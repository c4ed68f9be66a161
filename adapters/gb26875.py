"""GB/T 26875.3-2011 frames from user information transmission devices (用户信息传输装置).

The console's TCP receiver (console/wire/gb26875_receiver.py) cuts the byte stream into frames and hands
each whole frame to the ingest as ``gb26875/<source address hex>``; this module parses it
(device-formats.md section 5) and also builds the frames the centre sends (confirm, deny, 查岗).

Decisions where the section is silent (see also the receiver's docstring):
- Addresses are 6 bytes low byte first; ``device_id`` is their hex, most significant byte first,
  12 lowercase digits (wire ``01 02 03 04 05 06`` → ``060504030201``) = ``DeviceEntry.address``.
- ``point``: ``<system type>-<system address>`` for system objects and operations,
  ``<system type>-<system address>-<component address>`` for components, the 4-byte component
  address read low byte first as a decimal integer (loop/point packing varies by vendor: the
  registry's ``points`` give the label); ``""`` for the transmission device itself (types 21/24).
- ``ts``: the object's own time (+T) where it has one, else the frame's time label; both are local
  time in ``ctx.timezone`` (Asia/Shanghai when the context has none).
- ``source_id``: source, frame time label, serial number, object index and kind. The serial
  number restarts at 0 on every connection, so alone it would collide; a retransmission repeats
  the frame as it was and de-duplicates.
- Status objects (types 1, 2, 21) are the whole state of their point: every set bit raises its
  kind; every alarm kind whose bits are clear gets ``fire.restore`` with ``data.of`` and ``via:
  "state"`` (the ingest drops it when nothing is open), or one plain ``fire.restore`` when none is
  set. Fault bits make one ``fire.fault`` (``data.cause`` joins them with "+"; the device's own
  mains/standby/link faults too, per the section's table), started/delay ``fire.feedback`` with
  ``data.stage``. A fire bit is ``fire.alarm`` on any component (gas detectors too: section 5).
- Checksum: the receiver checks the device's configured variant; a frame it denied comes on
  ``gb26875/<source>/bad-checksum/<variant>`` and is quarantined, naming the variant it is valid
  under, if any. With no per-device options here, a frame on the plain topic may be valid under
  any of CHECKSUM_VARIANTS; ``data.checksum`` records which.
- A component description is GB 18030 up to the first NUL; undecodable bytes become U+FFFD
  rather than costing a fire alarm its event.
- Analog values (type 3, 部件模拟量值) are telemetry: each object is one ``device.heartbeat`` (the
  device is alive and reporting; the canonical kinds have no telemetry kind) at the component's
  point, ``via: "analog"``, with ``analog_type``, ``quantity`` (English snake case), ``unit``,
  ``raw`` (the int16, signed, low byte first) and ``value`` = raw × the step of table 6, a float
  rounded to 6 decimals (type 4 raw 4 → 0.4 MPa, not 0.4000000000000001; type 3 raw −55 →
  −5.5 °C). Both pressure types have quantity ``pressure``; the unit (MPa, kPa) tells them apart.
  The time-series sink writes ``value`` tagged with ``quantity`` and ``unit``
  (console/sinks/points.py). The event raises and clears no alarm; to the ingest it is a
  sign of life like any message.
- An analog type outside table 6 (0, 13–255) is still an event (the device spoke, and a vendor's
  own quantity is worth keeping): ``quantity: "unknown"``, no ``unit``, ``value`` = raw unscaled;
  ``analog_type`` says which it was.
"""

from __future__ import annotations

from datetime import datetime
from functools import reduce
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from adapters.base import AdapterContext, AdapterDef, raw_payload
from console.contract import Draft, InboundMessage, PayloadError

START, END = b"@@", b"##"
HEAD = 27  # start .. command byte; the data unit follows
MAX_DATA = 1024
DEFAULT_ZONE = "Asia/Shanghai"
CONTROL, SEND, CONFIRM, REQUEST, ANSWER, DENY = 1, 2, 3, 4, 5, 6
SYNC_CLOCK, DUTY_CHECK = 90, 91
# (first byte covered, XOR?): the standard sums bytes 3–27 plus the data unit; 赋安 FSCN8001 sums
# from the command byte; some vendors XOR instead of adding.
CHECKSUM_VARIANTS = {"sum": (2, False), "sum-from-command": (26, False), "xor": (2, True),
                     "xor-from-command": (26, True)}
# type flag -> (information body bytes, None = variable; followed by a 6-byte time)
BODIES: dict[int, tuple[int | None, bool]] = {1: (4, True), 2: (40, True), 3: (10, True), 4: (4, True), 5: (4, False),
    6: (None, False), 7: (38, False), 8: (2, True), 21: (1, True), 24: (2, True), 25: (2, False), 26: (None, False),
    28: (0, True)}
DOWNLOAD_TYPES = frozenset({*range(61, 69), 81, 84, 85, 86, 88, 89, 90, 91})
ALARM_KINDS = ("fire.alarm", "fire.fault", "fire.isolated", "fire.supervisory", "fire.feedback")
# status bit -> (kind, label); a label goes into data.cause (faults) or data.stage (feedback)
_COMMON = {1: ("fire.alarm", ""), 2: ("fire.fault", ""), 3: ("fire.isolated", ""), 4: ("fire.supervisory", ""),
           5: ("fire.feedback", "started"), 6: ("fire.feedback", ""), 7: ("fire.feedback", "delay")}
SYSTEM_BITS = {**_COMMON, 8: ("fire.fault", "mains"), 9: ("fire.fault", "standby_power"),
               10: ("fire.fault", "bus"), 13: ("fire.reset", "")}  # 11 manual (data.mode), 12 config: none
MANUAL_BIT = 11
COMPONENT_BITS = {**_COMMON, 8: ("fire.fault", "power")}
DEVICE_BITS = {1: ("fire.alarm", ""), 2: ("fire.fault", ""), 3: ("fire.fault", "mains"),
               4: ("fire.fault", "standby_power"), 5: ("fire.fault", "link"), 6: ("fire.fault", "monitoring_line")}
OPERATION_BITS = {0: ("fire.reset", {}), 2: ("fire.alarm", {"cause": "manual"}),
                  3: ("fire.restore", {"of": "fire.alarm"})}
# silence, self-test, acknowledge, test: audit only. Type 24 bit 5 is 查岗应答, the duty-check answer.
DEVICE_OPERATION_BITS = {**OPERATION_BITS, 5: ("device.heartbeat", {"via": "duty_check"})}
# analog type (table 6) -> (quantity, unit, step per count)
ANALOG_TYPES: dict[int, tuple[str, str, float]] = {
    1: ("event_count", "count", 1), 2: ("height", "m", 0.01), 3: ("temperature", "°C", 0.1),
    4: ("pressure", "MPa", 0.1), 5: ("pressure", "kPa", 0.1), 6: ("gas", "%LEL", 0.1), 7: ("time", "s", 1),
    8: ("voltage", "V", 0.1), 9: ("current", "A", 0.1), 10: ("flow", "L/s", 0.1), 11: ("air_volume", "m3/min", 0.1),
    12: ("wind_speed", "m/s", 1)}


def _table(text: str) -> dict[int, str]:
    return {int(number): name for number, name in (item.strip().split(" ", 1) for item in text.split("|"))}


SYSTEM_TYPES = _table("""0 general|1 fire alarm|10 linkage controller|11 hydrant|12 sprinkler|13 gas extinguishing
|14 water spray (pump start)|15 water spray (pressure-vessel start)|16 foam|17 dry powder|18 smoke control
|19 fire doors and shutters|20 fire lift|21 emergency broadcast|22 emergency lighting and exit signs|23 fire power
|24 fire telephone""")
COMPONENT_TYPES = _table("""0 general|1 fire alarm controller|10 combustible gas detector
|11 point combustible gas detector|12 standalone combustible gas detector|13 line combustible gas detector
|16 electrical fire monitor|17 residual-current electrical fire monitor|18 temperature electrical fire monitor
|21 detection loop|22 fire display panel|23 manual call point|24 hydrant button|25 fire detector|30 heat detector
|31 point heat detector|32 point heat detector S|33 point heat detector R|34 line heat detector
|35 line heat detector S|36 line heat detector R|37 fibre heat detector|40 smoke detector
|41 point ionisation smoke detector|42 point photoelectric smoke detector|43 beam smoke detector
|44 aspirating smoke detector|50 multi-criteria detector|51 smoke and heat detector|52 light and heat detector
|53 light and smoke detector|61 UV flame detector|62 IR flame detector|69 light detector|74 gas detector
|78 video detector|79 acoustic detector|81 gas extinguishing controller|82 electrical control unit
|83 graphic display unit|84 module|85 input module|86 output module|87 input/output module|88 repeater
|91 fire pump|92 water tank|95 sprinkler pump|96 flow indicator|97 signal valve|98 alarm valve|99 pressure switch
|101 valve actuator|102 fire door|103 fire damper|104 ventilation/AC|105 foam pump|106 solenoid valve
|111 smoke fan|113 exhaust damper|114 closed inlet|115 smoke outlet|116 smoke curtain|117 shutter controller
|118 door monitor|121 sounder""")


# -- frames -------------------------------------------------------------------------------------

def address_hex(raw: bytes) -> str:
    return raw[::-1].hex()


def address_bytes(hex_address: str) -> bytes:
    raw = bytes.fromhex(hex_address)[::-1]
    if len(raw) != 6:
        raise ValueError(f"a GB/T 26875.3 address is 6 bytes, got {hex_address!r}")
    return raw


def checksum(frame: bytes, variant: str = "sum") -> int:
    """The checksum of a frame (the bytes up to, not including, its checksum byte)."""
    first, xor = CHECKSUM_VARIANTS[variant]
    covered = frame[first:]
    return reduce(lambda a, b: a ^ b, covered, 0) if xor else sum(covered) % 256


def frame_length(head: bytes | bytearray) -> int:
    """The whole frame's length from its first 26 bytes (the data length is at bytes 25–26)."""
    return 30 + int.from_bytes(head[24:26], "little")


def split_frame(raw: bytes) -> dict[str, Any]:
    """The fields of a structurally whole frame (start, length, end); the checksum is not checked."""
    if len(raw) < 30:
        raise PayloadError(f"frame of {len(raw)} bytes is shorter than the 30-byte minimum")
    if raw[:2] != START:
        raise PayloadError(f"bad start {raw[:2].hex()}: a frame starts with @@ (4040)")
    size = int.from_bytes(raw[24:26], "little")
    if size > MAX_DATA:
        raise PayloadError(f"data length {size} exceeds the {MAX_DATA}-byte maximum")
    if len(raw) != 30 + size:
        raise PayloadError(f"length mismatch: the header says {size} data bytes, so {30 + size} bytes, "
                           f"but the frame has {len(raw)}")
    if raw[-2:] != END:
        raise PayloadError(f"bad end {raw[-2:].hex()}: a frame ends with ## (2323)")
    return {"serial": int.from_bytes(raw[2:4], "little"), "version": (raw[4], raw[5]), "time": raw[6:12],
            "source": address_hex(raw[12:18]), "destination": address_hex(raw[18:24]),
            "command": raw[26], "data": raw[HEAD:HEAD + size], "checksum": raw[-3]}


def checksum_variant(raw: bytes) -> str | None:
    """The first variant under which the frame's checksum is right, None if under none."""
    return next((name for name in CHECKSUM_VARIANTS if checksum(raw[:-3], name) == raw[-3]), None)


def time_label(when: datetime) -> bytes:
    return bytes([when.second, when.minute, when.hour, when.day, when.month, when.year % 100])


def parse_time(raw: bytes, zone: ZoneInfo) -> datetime:
    sec, minute, hour, day, month, year = raw
    try:
        return datetime(2000 + year, month, day, hour, minute, sec, tzinfo=zone)
    except ValueError as exc:
        raise PayloadError(f"time label {raw.hex()} is not a valid time ({exc})") from exc


def build_frame(serial: int, source: str, destination: str, command: int, data: bytes = b"", *,
                when: datetime, version: tuple[int, int] = (1, 0), variant: str = "sum") -> bytes:
    """A frame; ``when`` is local time at the sender (seconds-first time label)."""
    body = (START + (serial & 0xFFFF).to_bytes(2, "little") + bytes(version) + time_label(when)
            + address_bytes(source) + address_bytes(destination) + len(data).to_bytes(2, "little")
            + bytes([command]) + data)
    return body + bytes([checksum(body, variant)]) + END


# -- translation --------------------------------------------------------------------------------



def translate(message: InboundMessage, payload: bytes, ctx: AdapterContext) -> list[Draft]:
    frame = split_frame(payload)
    variant = checksum_variant(payload)
    levels = message.topic.split("/")
    if len(levels) > 2 and levels[-2] == "wrong-peer":  # denied by the receiver: never an event
        raise PayloadError(f"frame from {levels[-1]}, which is not an allowed peer of source {levels[-3]}")
    if len(levels) > 2 and levels[-2] == "bad-checksum":  # denied by the receiver: never an event
        configured = levels[-1] if levels[-1] in CHECKSUM_VARIANTS else "sum"
        raise PayloadError(f"bad checksum {frame['checksum']:02x}: {configured} gives "
                           f"{checksum(payload[:-3], configured):02x}; " + (
                               f"the frame is valid under {variant}: set the device's checksum variant"
                               if variant else "valid under no variant"))
    if variant is None:
        expected = ", ".join(f"{name} {checksum(payload[:-3], name):02x}" for name in CHECKSUM_VARIANTS)
        raise PayloadError(f"bad checksum {frame['checksum']:02x} (expected {expected})")
    command = frame["command"]
    if command in (CONTROL, CONFIRM, REQUEST, DENY) or command >= 128:
        return []  # commands and replies carry no upload; 128–255 are vendors' own (keep-alives)
    if command not in (SEND, ANSWER):
        raise PayloadError(f"reserved command {command}")
    try:
        zone = ZoneInfo(ctx.timezone or DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise PayloadError(f"unknown site time zone {ctx.timezone!r}") from exc
    frame_ts = parse_time(frame["time"], zone)
    data: bytes = frame["data"]
    if not data:
        return []  # an empty upload: some devices send it to keep the link
    if len(data) < 2:
        raise PayloadError("truncated data unit: no object count after the type flag")
    type_flag, count = data[0], data[1]
    if type_flag in DOWNLOAD_TYPES:
        raise PayloadError(f"type flag {type_flag} is a centre-to-device command, not an upload")
    if type_flag not in BODIES:
        what = "user-defined (vendor format unknown)" if type_flag >= 128 else "reserved"
        raise PayloadError(f"unknown type flag {type_flag}: {what}")
    size, timed = BODIES[type_flag]
    base = {"serial": frame["serial"], "checksum": variant}
    stem = f"{frame['source']}:{frame['time'].hex()}:{frame['serial']}"
    drafts: list[Draft] = []
    offset = 2
    for index in range(count):
        length = size if size is not None else _variable_length(type_flag, data, offset)
        end = offset + length + (6 if timed else 0)
        if end > len(data):
            raise PayloadError(f"truncated object {index + 1} of {count} (type {type_flag}): needs "
                               f"{end - offset} bytes, {len(data) - offset} left")
        body = data[offset:offset + length]
        ts = parse_time(data[offset + length:end], zone) if timed else frame_ts
        for kind, point, extra in _object_events(type_flag, body):
            suffix = f"{kind}/{extra['of']}" if "of" in extra else kind
            drafts.append(Draft(kind=kind, site=ctx.site, device_id=frame["source"],
                                source_id=f"{stem}:{index}:{suffix}", ts=ts, point=point,
                                data={**base, **extra}, retained=message.retain))
        offset = end
    if offset != len(data):
        raise PayloadError(f"{len(data) - offset} bytes left over after {count} objects of type {type_flag}")
    return drafts


def _variable_length(type_flag: int, data: bytes, offset: int) -> int:
    at = offset + (2 if type_flag == 6 else 0)  # type 6: system type, address, then the length
    if at >= len(data):
        raise PayloadError(f"truncated object (type {type_flag}): no configuration length")
    return at - offset + 1 + data[at]


Found = list[tuple[str, str, dict[str, Any]]]


def _object_events(type_flag: int, body: bytes) -> Found:
    """(kind, point, data) for one information body; [] for the types that mean no event."""
    if type_flag == 1:
        point, status = f"{body[0]}-{body[1]}", int.from_bytes(body[2:4], "little")
        mode = "manual" if status >> MANUAL_BIT & 1 else "auto"  # linkage control, for the duty log
        return _status(SYSTEM_BITS, status, point, {**_system(body), "status": f"{status:04x}", "mode": mode})
    if type_flag == 2:
        point, extra = _component(body)
        status = int.from_bytes(body[7:9], "little")
        extra = {**extra, "status": f"{status:04x}", "description": _description(body[9:40])}
        return _status(COMPONENT_BITS, status, point, extra)
    if type_flag == 3:
        point, extra = _component(body)
        return [("device.heartbeat", point, {**extra, "via": "analog", **_analog(body[7], body[8:10])})]
    if type_flag == 21:
        return _status(DEVICE_BITS, body[0], "", {"status": f"{body[0]:02x}"})
    if type_flag in (4, 24):  # operations: system type, address, flags, operator; 24: flags, operator
        flags, operator = (body[2], body[3]) if type_flag == 4 else (body[0], body[1])
        point, extra = (f"{body[0]}-{body[1]}", _system(body)) if type_flag == 4 else ("", {})
        extra = {**extra, "operation": f"{flags:02x}", "operator": operator}
        table = OPERATION_BITS if type_flag == 4 else DEVICE_OPERATION_BITS
        return [(kind, point, {**extra, **more}) for bit, (kind, more) in table.items() if flags >> bit & 1]
    return []  # versions, configuration, clocks: inventory (none)


def _system(body: bytes) -> dict[str, Any]:
    extra: dict[str, Any] = {"system_type": body[0], "system_address": body[1]}
    if body[0] in SYSTEM_TYPES:
        extra["system"] = SYSTEM_TYPES[body[0]]
    return extra


def _component(body: bytes) -> tuple[str, dict[str, Any]]:
    """The point and fields of a component object (types 2 and 3): system type, system address,
    component type, component address (4 bytes, low byte first)."""
    address = int.from_bytes(body[3:7], "little")
    extra = {**_system(body), "component_type": body[2], "component_address": address}
    if body[2] in COMPONENT_TYPES:
        extra["component"] = COMPONENT_TYPES[body[2]]
    return f"{body[0]}-{body[1]}-{address}", extra


def _analog(analog_type: int, raw_value: bytes) -> dict[str, Any]:
    """An analog value (table 6): the signed int16 scaled by its type's step."""
    raw = int.from_bytes(raw_value, "little", signed=True)
    if analog_type not in ANALOG_TYPES:
        return {"analog_type": analog_type, "quantity": "unknown", "raw": raw, "value": float(raw)}
    quantity, unit, step = ANALOG_TYPES[analog_type]
    return {"analog_type": analog_type, "quantity": quantity, "unit": unit, "raw": raw,
            "value": float(round(raw * step, 6))}


def _description(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].rstrip(b"\xff ").decode("gb18030", errors="replace").strip()


def _status(bits: dict[int, tuple[str, str]], status: int, point: str, extra: dict[str, Any]) -> Found:
    """Every set bit's kind, then a level restore for the alarm kinds whose bits are clear."""
    if not status & 1:  # bit 0: 0 = test mode (system, component and device state alike)
        extra = {**extra, "test": True}
    labels: dict[str, list[str]] = {}
    for bit, (kind, label) in bits.items():
        if status >> bit & 1:
            labels.setdefault(kind, []).extend([label] if label else [])
    found: Found = []
    if "fire.reset" in labels:
        found.append(("fire.reset", point, extra))
    clears = [kind for kind in ALARM_KINDS if kind in {k for k, _ in bits.values()}]
    raised = [kind for kind in clears if kind in labels]
    for kind in raised:
        key = "stage" if kind == "fire.feedback" else "cause"
        found.append((kind, point, {**extra, key: "+".join(labels[kind])} if labels[kind] else extra))
    if not raised:
        if "fire.reset" not in labels:
            found.append(("fire.restore", point, {**extra, "via": "state"}))
        return found
    return found + [("fire.restore", point, {**extra, "of": kind, "via": "state"})
                    for kind in clears if kind not in raised]


def _sample(type_flag: int, body: bytes, command: int = SEND) -> tuple[str, bytes]:
    when = datetime(2026, 11, 26, 10, 15, 30)
    data = bytes([type_flag, 1]) + body + time_label(when)
    return "gb26875/060504030201", build_frame(7, "060504030201", "000000000000", command, data, when=when)


_FIRE = _sample(2, bytes([1, 3, 42, 9, 0, 1, 0, 0x03, 0]) + "1号楼3层走廊".encode("gb18030").ljust(31, b"\0"))
GB26875 = AdapterDef(
    name="gb26875",
    topic="gb26875/#",
    decode=raw_payload,
    translate=translate,
    transport="tcp",
    emits=frozenset({*ALARM_KINDS, "fire.reset", "fire.restore", "device.heartbeat"}),
    samples=(_FIRE, _sample(1, bytes([1, 3, 0x05, 0x01])), _sample(21, bytes([0x09])), _sample(24, bytes([0x20, 2])),
             _sample(3, bytes([11, 1, 91, 7, 0, 0, 0, 4, 4, 0]))),  # hydrant 11-1, fire pump 7: 0.4 MPa
    bad_samples=(
        (_FIRE[0], _FIRE[1][:-3] + bytes([_FIRE[1][-3] ^ 0x55]) + END),
        (_FIRE[0], b"##" + _FIRE[1][2:]),
        (_FIRE[0], _FIRE[1][:-10] + _FIRE[1][-3:]),
        _sample(77, b""),
    ),
)
