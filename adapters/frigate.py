"""Frigate NVR over MQTT (device-formats.md 4.1): server and camera health, motion, plate reads.

Topics, below Frigate's ``topic_prefix`` (``frigate`` by default). The prefix is the subscribe
filter's levels before its first wildcard (at least one level), so a site whose filter is
``nvr2/#`` or ``site1/frigate/#`` works unchanged.

- ``<prefix>/available``: ``online`` → device.online; ``stopped`` (clean stop) and ``offline``
  (the LWT) → device.offline. The device is the Frigate server; its id is the prefix itself
  (``frigate``), which is unique per Frigate instance on a broker.
- ``<prefix>/<camera>/status/<detect|record|audio>``: ``online``/``offline`` → camera.online /
  camera.offline with point = the role (each role can have its own stream, so ``record`` coming
  back must not clear ``detect`` still being down); ``disabled`` → none.
- ``<prefix>/<camera>/motion``: ``ON`` → camera.motion; ``OFF`` is the reset value → none.
- ``<prefix>/events`` (a vehicle ``label`` with ``recognized_license_plate``) and
  ``<prefix>/tracked_object_update`` (``type`` ``lpr``): parking.entry / parking.exit, only where
  the registry says the camera is a lane. Frigate gives no direction. Registry kinds:
  ``lane_in`` → parking.entry, ``lane_out`` → parking.exit, on the camera itself or on a point
  named after a Frigate zone (a camera watching both lanes: zone ``in_lane`` kind ``lane_in``,
  zone ``out_lane`` kind ``lane_out``; the pass then has point = the zone). A plate read at a
  camera that is not a lane is no pass → none. ``tracked_object_update`` carries no zones, so it
  only uses the camera's own kind: a camera told apart by zones must have no camera-level kind.
- Everything else → none: reviews, triggers, stats, camera_activity, object counts, snapshots
  (JPEG bytes), ``*/state`` and ``*/set``, audio, review_status; face, description and
  classification updates (metadata).

De-duplication: one tracked object is published as ``new`` → ``update``… → ``end`` on events,
and each better plate read again on tracked_object_update, all with the same ``id``. Every plate
message of one object gives source_id = that id on the same camera, so the ingest stores the
first read (while the car is still at the barrier) and drops the rest: one pass per car.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

from adapters.base import (
    AdapterContext,
    AdapterDef,
    InboundMessage,
    decode_text,
    derived_id,
    json_object,
    raw_payload,
    split_below,
)
from console.contract import Draft, PayloadError

LANES = {"lane_in": "parking.entry", "lane_out": "parking.exit"}
# COCO vehicles Frigate's LPR runs on, plus the object a dedicated LPR camera tracks.
VEHICLES = frozenset({"car", "motorcycle", "bus", "truck", "license_plate"})
ON, OFF = frozenset({"on", "true", "1"}), frozenset({"off", "false", "0"})




def _epoch(value: Any, field: str) -> datetime:
    """Frigate times are epoch seconds as floats; a numeric string is accepted too."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise PayloadError(f"field {field} must be epoch seconds, got {type(value).__name__}")
    try:
        return datetime.fromtimestamp(float(value), tz=timezone.utc)
    except (ValueError, OverflowError, OSError) as exc:
        raise PayloadError(f"field {field} is not epoch seconds: {str(value)[:32]!r}") from exc


def _text(obj: dict[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise PayloadError(f"field {where}{key} must be a non-empty string, got {type(value).__name__}")
    return value


def _percent(value: Any, field: str) -> float | None:
    """A 0–1 score as a 0–100 confidence (OpenALPR's scale), or None when absent."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise PayloadError(f"field {field} must be a number, got {type(value).__name__}")
    try:
        score = float(value)
    except ValueError as exc:
        raise PayloadError(f"field {field} is not a number: {str(value)[:32]!r}") from exc
    if not 0 <= score <= 1:
        raise PayloadError(f"field {field} must be between 0 and 1, got {score}")
    return round(score * 100, 2)


def _word(payload: bytes) -> str:
    return decode_text(payload).strip().lower()




def translate(message: InboundMessage, payload: bytes, ctx: AdapterContext) -> list[Draft]:
    prefix, rest = split_below(message.topic, ctx.topic, "Frigate")
    if rest == ["available"]:
        return _available(message, payload, ctx, prefix)
    if rest == ["events"]:
        return _events(message, payload, ctx)
    if rest == ["tracked_object_update"]:
        return _object_update(message, payload, ctx)
    if len(rest) == 1:
        return []  # reviews, triggers, stats, camera_activity, restart...: no event
    camera, channel = rest[0], rest[1]
    if rest[1:] != ["motion"] and channel != "status":
        return []  # counts, snapshots, motion/state, */set, audio, ptz...: no event
    if not camera:
        raise PayloadError(f"topic {message.topic!r} has an empty camera name")
    if channel == "motion":
        return _motion(message, payload, ctx, camera)
    if len(rest) != 3 or not rest[2]:
        raise PayloadError(f"topic {message.topic!r} is not <prefix>/<camera>/status/<role>")
    return _status(message, payload, ctx, camera, rest[2])


def _draft(message: InboundMessage, ctx: AdapterContext, kind: str, device: str, source_id: str,
           ts: datetime, data: dict[str, Any], point: str = "") -> Draft:
    return Draft(kind=kind, site=ctx.site, device_id=device, source_id=source_id, ts=ts, point=point,
                 data=data, retained=message.retain)


def _available(message: InboundMessage, payload: bytes, ctx: AdapterContext, prefix: str) -> list[Draft]:
    state = _word(payload)
    if not state:
        return []  # an empty retained message only deletes the broker's copy
    if state not in ("online", "offline", "stopped"):
        raise PayloadError(f"available must be online, offline or stopped, got {state[:32]!r}")
    kind = "device.online" if state == "online" else "device.offline"
    # Text without an id or a time: derived_id. via "state" lets the ingest drop the "online"
    # Frigate republishes on every broker reconnect when nothing changed.
    return [_draft(message, ctx, kind, prefix, derived_id(prefix, message), message.received_at,
                   {"via": "state", "state": state})]


def _motion(message: InboundMessage, payload: bytes, ctx: AdapterContext, camera: str) -> list[Draft]:
    value = _word(payload)
    if value in OFF or not value:
        return []  # OFF follows ON after mqtt_off_delay: the reset value, not an event
    if value not in ON:
        raise PayloadError(f"motion must be ON or OFF, got {value[:32]!r}")
    # Text without an id or a time: derived_id.
    return [_draft(message, ctx, "camera.motion", camera, derived_id(camera, message), message.received_at, {})]


def _status(message: InboundMessage, payload: bytes, ctx: AdapterContext, camera: str, role: str) -> list[Draft]:
    state = _word(payload)
    if state in ("disabled", ""):
        return []  # turned off on purpose (or a deleted retained copy): not a fault
    if state not in ("online", "offline"):
        raise PayloadError(f"camera status must be online, offline or disabled, got {state[:32]!r}")
    # Text without an id or a time: derived_id, with the role (one camera has several statuses).
    source_id = derived_id(f"{camera}/{role}", message)
    return [_draft(message, ctx, f"camera.{state}", camera, source_id, message.received_at,
                   {"role": role}, point=role)]


def _lane(ctx: AdapterContext, camera: str, zones: list[str]) -> tuple[str, str] | None:
    """(parking kind, point) from the registry: a zone registered as a lane point, else the camera."""
    own = ctx.kind_of(camera)
    for zone in zones:
        kind = ctx.kind_of(camera, zone)
        if kind in LANES and kind != own:  # kind_of falls back to the camera's own kind
            return LANES[kind], zone
    return (LANES[own], "") if own in LANES else None


def _zones(after: dict[str, Any]) -> list[str]:
    zones: list[str] = []
    for key in ("current_zones", "entered_zones"):
        value = after.get(key) or []
        if not isinstance(value, list) or not all(isinstance(z, str) for z in value):
            raise PayloadError(f"field after.{key} must be a list of zone names")
        zones.extend(value)
    return zones


def _name(sub_label: Any) -> str | None:
    """The known name: ``sub_label`` is null, ``[name, score]``, or a plain string before 0.14."""
    if sub_label is None:
        return None
    if isinstance(sub_label, list) and sub_label and isinstance(sub_label[0], str):
        return sub_label[0]
    if isinstance(sub_label, str):
        return sub_label
    raise PayloadError(f"field after.sub_label must be null, a name or [name, score], got {str(sub_label)[:64]}")


def _events(message: InboundMessage, payload: bytes, ctx: AdapterContext) -> list[Draft]:
    body = json_object(payload, ctx.limits)
    if body.get("type") not in ("new", "update", "end"):
        raise PayloadError(f"events type must be new, update or end, got {str(body.get('type'))[:32]!r}")
    after = body.get("after")
    if not isinstance(after, dict):
        raise PayloadError("events message has no 'after' object")
    event_id, camera = _text(after, "id", "after."), _text(after, "camera", "after.")
    label = _text(after, "label", "after.")
    start = _epoch(after.get("start_time"), "after.start_time")
    ts = _epoch(after["frame_time"], "after.frame_time") if after.get("frame_time") is not None else start
    plate = after.get("recognized_license_plate")
    if plate is not None and not isinstance(plate, str):
        raise PayloadError(f"field after.recognized_license_plate must be a string, got {type(plate).__name__}")
    zones, name = _zones(after), _name(after.get("sub_label"))
    confidence = _percent(after.get("recognized_license_plate_score"), "after.recognized_license_plate_score")
    plate = (plate or "").strip()
    if after.get("false_positive") is True or label not in VEHICLES or not plate:
        return []  # a person, a car without a read plate (0.9-era events have no LPR at all)
    lane = _lane(ctx, camera, zones)
    if lane is None:
        return []  # not a lane camera: a plate read, but no pass
    data: dict[str, Any] = {"plate": plate, "label": label, "via": "events"}
    if confidence is not None:
        data["confidence"] = confidence
    if name:
        data["name"] = name
    angle = after.get("velocity_angle")
    if isinstance(angle, (int, float)) and not isinstance(angle, bool) and math.isfinite(angle):
        data["velocity_angle"] = angle  # kept for a later direction rule; Frigate's frame-relative degrees
    return [_draft(message, ctx, lane[0], camera, event_id, ts, data, point=lane[1])]


def _object_update(message: InboundMessage, payload: bytes, ctx: AdapterContext) -> list[Draft]:
    body = json_object(payload, ctx.limits)
    kind = body.get("type")
    if not isinstance(kind, str) or not kind:
        raise PayloadError("tracked_object_update has no type")
    if kind != "lpr":
        return []  # face, description, classification (and types added later): metadata
    plate = body.get("plate")
    if plate is None:
        # A dedicated LPR camera sends {"type": "lpr", "name": null, "plate": null, "camera": ...}
        # (no id, no time) when its last car has gone: a reset, not a read.
        return []
    if not isinstance(plate, str):
        raise PayloadError(f"field plate must be a string, got {type(plate).__name__}")
    event_id, camera = _text(body, "id", ""), _text(body, "camera", "")
    ts = _epoch(body["timestamp"], "timestamp") if body.get("timestamp") is not None else message.received_at
    confidence = _percent(body.get("score"), "score")
    name = body.get("name")
    if name is not None and not isinstance(name, str):
        raise PayloadError(f"field name must be a string or null, got {type(name).__name__}")
    if not plate.strip():
        return []
    lane = _lane(ctx, camera, [])
    if lane is None:
        return []
    data: dict[str, Any] = {"plate": plate.strip(), "via": "lpr"}
    if confidence is not None:
        data["confidence"] = confidence
    if name:
        data["name"] = name
    return [_draft(message, ctx, lane[0], camera, event_id, ts, data, point=lane[1])]


FRIGATE = AdapterDef(
    name="frigate",
    topic="frigate/#",
    # JPEG snapshots (<camera>/<label>/snapshot) are larger than any event and never one.
    ignore=lambda topic: topic.endswith("/snapshot"),
    decode=raw_payload,
    translate=translate,
    emits=frozenset({
        "device.online", "device.offline", "camera.online", "camera.offline", "camera.motion",
        "parking.entry", "parking.exit",
    }),
    samples=(
        ("frigate/available", b"online"),
        ("frigate/available", b"offline"),
        ("frigate/gate_cam/status/detect", b"offline"),
        ("frigate/gate_cam/status/detect", b"online"),
        ("frigate/gate_cam/motion", b"ON"),
    ),
    bad_samples=(
        ("frigate/available", b"maybe"),
        ("frigate/gate_cam/motion", b"\xff\xfe"),
        ("frigate/gate_cam/status", b"offline"),
        ("frigate/events", b"{not json"),
        ("frigate/events", b'{"type":"update","after":{"id":"1.2-abc","camera":"gate_cam","label":"car",'
                           b'"start_time":"soon"}}'),
        ("frigate/tracked_object_update", b'{"type":"lpr","id":"1.2-abc","camera":"gate_cam","plate":123}'),
    ),
)
