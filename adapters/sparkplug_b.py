"""Eclipse Sparkplug B (protobuf payloads) → canonical events (device-formats.md §6.1).

Topics ``spBv1.0/<group>/<type>/<node>[/<device>]`` and ``spBv1.0/STATE/<host>``. A birth
(NBIRTH/DBIRTH) is device.online, a death (NDEATH, the node's will, or DDEATH) device.offline; the
device id is the node id, or ``<node>/<device>`` for a device. Data metrics mean what the registry
says their names are (``ctx.kind_of(device, metric name)``: esphome.sensor_events, the same
vocabulary as ESPHome and Homie); numbers and unregistered metrics are telemetry.

Stateless by design, which costs three things a Sparkplug host application would do:
- aliases: a DATA metric that carries only the alias its birth gave it cannot be named, so it means
  nothing; nodes whose alarm metrics matter must send names in DATA (most can switch aliases off);
- ``seq`` gaps are not detected and no ``Node Control/Rebirth`` NCMD is sent (the console only
  subscribes); a lost DATA message is a lost state change until the next birth or change;
- a node's death does not take its devices offline here (their own DDEATH or silence does).
A birth carries every metric's current value, so its registered sensor metrics are read like DATA:
an alarm that began while the node was away is raised on its rebirth.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError, Message

from adapters.base import AdapterContext, AdapterDef, decode_text, derived_id, json_any
from adapters.esphome import parse_on, sensor_events
from console.contract import Draft, InboundMessage, PayloadError

NAMESPACE = "spBv1.0"
NODE_TYPES = frozenset({"NBIRTH", "NDEATH", "NDATA", "NCMD"})
DEVICE_TYPES = frozenset({"DBIRTH", "DDEATH", "DDATA", "DCMD"})
COMMANDS = frozenset({"NCMD", "DCMD"})  # sent to nodes by host applications: not the node's word
CONTROL = ("Node Control/", "Device Control/")  # the spec's own metrics (rebirth, reboot, scan rate)
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
NO_CLOCK_MS = 946_684_800_000  # 2000-01-01: below it a node's clock was never set (ms since boot)
MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


def _payload_class() -> Any:
    """``Payload`` of eclipse/tahu's sparkplug_b.proto (proto2, same field numbers and types),
    built without protoc, in a private pool, with only the fields read here. DataSet, Template
    and extension values are declared ``bytes`` (the wire type of an embedded message): a metric
    holding one is seen to have a value, which is never parsed. Metric metadata and properties
    (fields 8, 9) stay unknown fields."""
    f = descriptor_pb2.FieldDescriptorProto
    proto = descriptor_pb2.FileDescriptorProto(
        name="mcc/sparkplug_b.proto", package="org.eclipse.tahu.protobuf", syntax="proto2")
    payload = proto.message_type.add(name="Payload")
    metric = payload.nested_type.add(name="Metric")
    metric.oneof_decl.add(name="value")
    for name, number, type_, oneof in (
        ("name", 1, f.TYPE_STRING, False), ("alias", 2, f.TYPE_UINT64, False), ("timestamp", 3, f.TYPE_UINT64, False),
        ("datatype", 4, f.TYPE_UINT32, False), ("is_historical", 5, f.TYPE_BOOL, False),
        ("is_transient", 6, f.TYPE_BOOL, False), ("is_null", 7, f.TYPE_BOOL, False),
        ("int_value", 10, f.TYPE_UINT32, True), ("long_value", 11, f.TYPE_UINT64, True),
        ("float_value", 12, f.TYPE_FLOAT, True), ("double_value", 13, f.TYPE_DOUBLE, True),
        ("boolean_value", 14, f.TYPE_BOOL, True), ("string_value", 15, f.TYPE_STRING, True),
        ("bytes_value", 16, f.TYPE_BYTES, True), ("dataset_value", 17, f.TYPE_BYTES, True),
        ("template_value", 18, f.TYPE_BYTES, True), ("extension_value", 19, f.TYPE_BYTES, True),
    ):
        added = metric.field.add(name=name, number=number, type=type_, label=f.LABEL_OPTIONAL)
        if oneof:
            added.oneof_index = 0
    for name, number, type_ in (("timestamp", 1, f.TYPE_UINT64), ("seq", 3, f.TYPE_UINT64),
                                ("uuid", 4, f.TYPE_STRING), ("body", 5, f.TYPE_BYTES)):
        payload.field.add(name=name, number=number, type=type_, label=f.LABEL_OPTIONAL)
    payload.field.add(name="metrics", number=2, type=f.TYPE_MESSAGE, label=f.LABEL_REPEATED,
                      type_name=".org.eclipse.tahu.protobuf.Payload.Metric")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("org.eclipse.tahu.protobuf.Payload"))


PAYLOAD = _payload_class()


def decode_payload(payload: bytes) -> Message:
    try:
        return PAYLOAD.FromString(payload)
    except DecodeError as exc:
        raise PayloadError(f"payload is not a Sparkplug B protobuf message ({len(payload)} bytes)") from exc
    except UnicodeDecodeError as exc:  # the pure-Python runtime checks strings while parsing
        raise PayloadError(f"a string in the payload is not valid UTF-8 (byte {exc.start})") from exc


def _text(value: Any, what: str) -> str:
    # proto2 strings are not checked on parse: invalid UTF-8 comes back as bytes.
    if not isinstance(value, str):
        raise PayloadError(f"{what} is not valid UTF-8")
    return value


def _time(ms: int, what: str) -> datetime | None:
    """Epoch milliseconds; None for no time (absent, 0, or a clock never set)."""
    if ms > MAX_MS:
        raise PayloadError(f"{what} {ms} is not a time in epoch milliseconds")
    return EPOCH + timedelta(milliseconds=ms) if ms >= NO_CLOCK_MS else None


def _fit(key: str) -> str:
    """source_id within 128 characters: a readable start and a digest of the whole."""
    return key if len(key) <= 128 else f"{key[:96]}~{hashlib.sha256(key.encode()).hexdigest()[:31]}"


def _levels(topic: str) -> list[str]:
    """The levels after the namespace, wherever a bridge put it; Sparkplug 2.2 hosts publish
    ``STATE/<host>`` outside it (a site subscribes to that with a second filter)."""
    levels = topic.split("/")
    if NAMESPACE in levels:
        return levels[levels.index(NAMESPACE) + 1:]
    if len(levels) >= 2 and levels[-2] == "STATE":
        return levels[-2:]
    raise PayloadError(f"topic {topic[:80]!r} has no {NAMESPACE} level")


def translate(message: InboundMessage, payload: bytes, ctx: AdapterContext) -> list[Draft]:
    rest = _levels(message.topic)
    if rest[:1] == ["STATE"] and len(rest) == 2 and rest[1]:
        return _host_state(message, payload, ctx, rest[1])
    type_ = rest[1] if len(rest) > 1 else ""
    size = 3 if type_ in NODE_TYPES else 4 if type_ in DEVICE_TYPES else 0
    if len(rest) != size or "" in rest:
        raise PayloadError(f"topic {message.topic[:80]!r} is not {NAMESPACE}/<group>/<type>/<node>[/<device>]"
                           " or STATE/<host>")
    if type_ in COMMANDS or not payload:
        return []  # a command to the node; an empty payload only deletes a wrongly retained copy
    group, device = rest[0], "/".join(rest[2:])
    decoded = decode_payload(payload)
    ts = _time(decoded.timestamp, "payload timestamp") if decoded.HasField("timestamp") else None
    bd_seq = _bd_seq(decoded) if type_ in ("NBIRTH", "NDEATH") else None
    if ts is None:
        # No source time (or a clock never set, which restarts at each boot): seq and bdSeq wrap
        # at 256 and would repeat, so the id is derived.
        stem = derived_id(f"{group}/{device}:{type_}", message)
    else:
        counter = f"bd{bd_seq}" if bd_seq is not None else f"seq{decoded.seq}" if decoded.HasField("seq") else "-"
        stem = f"{group}/{device}:{type_}:{counter}:{decoded.timestamp}"
    drafts = []
    if type_.endswith(("BIRTH", "DEATH")):
        data = {"via": "state", "group": group, **({"bdSeq": bd_seq} if bd_seq is not None else {})}
        kind = "device.online" if type_.endswith("BIRTH") else "device.offline"
        drafts.append(Draft(kind, ctx.site, device, _fit(stem), ts or message.received_at, data=data,
                            retained=message.retain))
    if not type_.endswith("DEATH"):
        drafts += _metrics(message, decoded, ctx, group, device, stem, ts or message.received_at)
    return drafts


def _bd_seq(decoded: Message) -> int | None:
    """The birth/death sequence number that pairs a node's NBIRTH with its will (Int64 in the
    birth, UInt64 in the death: both arrive as long_value)."""
    for metric in decoded.metrics:
        if metric.name == "bdSeq":
            if metric.WhichOneof("value") not in ("long_value", "int_value"):
                raise PayloadError("metric bdSeq is not an integer")
            return int(getattr(metric, metric.WhichOneof("value")))
    return None


def _metrics(message: InboundMessage, decoded: Message, ctx: AdapterContext, group: str, device: str,
             stem: str, default_ts: datetime) -> list[Draft]:
    drafts: list[Draft] = []
    device_kind = ctx.kind_of(device)
    seen: set[str] = set()
    for index, metric in enumerate(decoded.metrics):
        name = _text(metric.name, f"metric {index} name")
        if not name or name == "bdSeq" or name.startswith(CONTROL):
            continue  # alias only (no birth memory here to name it), or the spec's own metrics
        kind = ctx.kind_of(device, name)
        if not sensor_events(kind, True, ""):
            continue  # unregistered, or not a sensor kind: telemetry
        # A kind given to this metric itself insists on a boolean; the device's own kind (a
        # single-sensor device) applies to its Boolean metrics only, the rest being telemetry.
        on = _boolean(metric, name, kind, strict=kind != device_kind)
        if on is None:
            continue
        mts = _time(metric.timestamp, f"metric {name} timestamp") if metric.HasField("timestamp") else None
        sid = f"{stem}:{name}" if name not in seen else f"{stem}:{name}:{index}"
        seen.add(name)
        for event_kind, event_data in sensor_events(kind, on, device_kind):
            data = {"via": "state", **event_data, "group": group}
            if event_kind.startswith("access.door"):
                data["door"] = device
            if metric.is_historical:
                data["historical"] = True  # store-and-forward: the value is from the past (its ts)
            drafts.append(Draft(event_kind, ctx.site, device, _fit(sid), mts or default_ts, point=name,
                                data=data, retained=message.retain))
    return drafts


def _boolean(metric: Message, name: str, kind: str, strict: bool) -> bool | None:
    """The metric's value as on/off; None for no value (is_null or none set: unchanged, §1)."""
    field = metric.WhichOneof("value")
    if metric.is_null or field is None:
        return None
    if field == "boolean_value":
        return bool(metric.boolean_value)
    if not strict:
        return None
    what = f"metric {name!r} (a {kind})"
    if field in ("int_value", "long_value") and getattr(metric, field) in (0, 1):
        return bool(getattr(metric, field) == 1)
    if field == "string_value":
        return parse_on(_text(metric.string_value, what), what)
    raise PayloadError(f"{what} is not a boolean: {field} {str(getattr(metric, field))[:32]!r}")


def _host_state(message: InboundMessage, payload: bytes, ctx: AdapterContext, host: str) -> list[Draft]:
    """A host application's STATE (retained; its will says offline). Edge nodes that take it as
    their primary host go offline with it, so it is reported as that host's own state."""
    text = decode_text(payload).strip()
    if not text:
        return []  # an empty retained message only deletes the broker's copy
    ms: int | None = None
    if text.upper() in ("ONLINE", "OFFLINE"):
        online = text.upper() == "ONLINE"  # Sparkplug 2.2: plain text, no time
    else:
        body = json_any(payload, ctx.limits)  # 3.0: {"online": true, "timestamp": <epoch ms>}
        if not isinstance(body, dict):
            raise PayloadError(f"STATE payload is a JSON {type(body).__name__}, not an object")
        if "online" not in body:
            raise PayloadError("STATE payload has no field 'online'")
        online = _json_bool(body["online"])
        ms = _json_ms(body.get("timestamp"))
    state = "online" if online else "offline"
    ts = _time(ms, "STATE timestamp") if ms is not None else None
    # No time (2.2, or none sent): derived id (the ingest drops a repeat of the current state).
    sid = f"STATE/{host}:{state}:{ms}" if ts is not None else derived_id(f"STATE/{host}", message)
    return [Draft(f"device.{state}", ctx.site, host, _fit(sid), ts or message.received_at,
                  data={"via": "state", "host_application": True}, retained=message.retain)]


def _json_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (str, int)):
        return parse_on(str(value), "STATE field online")  # §1: "true", "false", 1, 0, ON, OFF
    raise PayloadError(f"STATE field online is not a boolean: {str(value)[:32]!r}")


def _json_ms(value: Any) -> int | None:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)  # §1: numbers can be strings
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise PayloadError(f"STATE field timestamp is not epoch milliseconds: {str(value)[:32]!r}")
    return value


def _ignored(topic: str) -> bool:
    # Commands (a host's NCMD/DCMD: rebirth requests, writes, maybe large file transfers) are
    # never events: skipped before the size check.
    levels = topic.split("/")
    if NAMESPACE not in levels:
        return False
    at = levels.index(NAMESPACE) + 2
    return levels[at:at + 1] in (["NCMD"], ["DCMD"])


def _sample(seq: int | None, *metrics: dict[str, Any]) -> bytes:
    message = PAYLOAD(timestamp=1795660200000)
    for m in metrics:
        message.metrics.add(**m)
    if seq is not None:
        message.seq = seq
    return bytes(message.SerializeToString())


SPARKPLUG_B = AdapterDef(
    name="sparkplug-b",
    topic=f"{NAMESPACE}/#",  # every group and the hosts' STATE; a site may narrow it to spBv1.0/<group>/#
    ignore=_ignored,
    decode=lambda payload, limits: payload,  # protobuf, or JSON for STATE: the topic decides
    translate=translate,
    emits=frozenset({
        "fire.alarm", "fire.fault", "fire.restore", "safety.gas", "safety.water_leak", "safety.restore",
        "access.door_forced", "access.door_closed", "access.tamper", "access.duress", "access.restore",
        "device.online", "device.offline", "device.battery_low", "device.fault", "device.restore",
    }),
    samples=(
        (f"{NAMESPACE}/plant/NBIRTH/edge-1", _sample(0, {"name": "bdSeq", "datatype": 4, "long_value": 3})),
        (f"{NAMESPACE}/plant/NDEATH/edge-1", _sample(None, {"name": "bdSeq", "datatype": 8, "long_value": 3})),
        (f"{NAMESPACE}/plant/DBIRTH/edge-1/io-1", _sample(1, {"name": "Inputs/A", "datatype": 11,
                                                              "boolean_value": False})),
        (f"{NAMESPACE}/STATE/scada-1", b'{"online":false,"timestamp":1795660200000}'),
    ),
    bad_samples=(
        (f"{NAMESPACE}/plant/NDATA/edge-1", b"\xff\xff\xff"),
        (f"{NAMESPACE}/plant/NDATA/edge-1", b'{"timestamp":1795660200000,"metrics":[],"seq":1}'),
        (f"{NAMESPACE}/plant/NBIRTH/edge-1", _sample(0, {"name": "bdSeq", "string_value": "three"})),
        (f"{NAMESPACE}/plant/DDATA/edge-1", _sample(2)),
        (f"{NAMESPACE}/STATE/scada-1", b'{"online":"maybe"}'),
    ),
)
