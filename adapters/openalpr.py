"""OpenALPR agent (alprd) JSON forwarded to MQTT by a bridge (device-formats.md 4.2).

The agent itself POSTs to an HTTP server or fills the beanstalkd tube ``alprd``; a bridge
publishes each body unchanged, one message per body, below ``openalpr/`` (we suggest
``openalpr/<agent>/<data_type>``). Every id comes from the payload, so the topic levels below
the subscribe filter do not matter.

- ``alpr_group`` (commercial agent; one passage; times in epoch ms) → parking.entry /
  parking.exit with ``best_plate_number``, where the registry says the camera is a lane: device
  kind ``lane_in`` → parking.entry, ``lane_out`` → parking.exit (the camera is addressed by its
  ``camera_id``). A plate at a camera that is not a lane is no pass → none. ``is_parked`` groups
  (Rekor: a car standing in view, read again) → none.
- ``alpr_results`` with ``data_type`` (the commercial agent, which also sends the groups) → none.
  Results without ``data_type`` come from the open-source alprd, which never groups: each plate
  of the frame → a pass as above. alprd sends one such message per frame in which it reads the
  plate, so one car can give several passes (the frames have different uuids).
- ``heartbeat`` (every minute; ms) → device.heartbeat for the agent (``agent_uid`` in Rekor v2,
  else ``site_id``), and for each ``video_streams[]`` camera: ``is_streaming`` false →
  camera.offline, true → camera.online (the heartbeat is a state report: it says so every minute).
- ``alpr_alert`` (the web server's own plate lists; the console has its own) → none.

De-duplication (source_id): a group → its first frame's uuid and the plate's index in that
frame (``uuids[0]``/``plate_indexes[0]``), which stay the same when Rekor sends a preview group
and then the final one, so only the first is stored; a frame → ``uuid:<index in results>``;
a heartbeat → ``heartbeat:<timestamp>``.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from adapters.base import AdapterContext, AdapterDef, json_object, number
from console.contract import Draft, InboundMessage, PayloadError

LANES = {"lane_in": "parking.entry", "lane_out": "parking.exit"}
# Epoch seconds in the 2014 docs, ms in groups, heartbeats and Rekor v2 frames. 1e11 s is the
# year 5138 while 1e11 ms is 1973, so a larger value is ms.
MS_ABOVE = 1e11


def _number(value: Any, field: str) -> float:
    return number(value, field)


def _epoch(value: Any, field: str) -> datetime:
    number = _number(value, field)
    try:
        return datetime.fromtimestamp(number / 1000 if number > MS_ABOVE else number, tz=timezone.utc)
    except (ValueError, OverflowError, OSError) as exc:
        raise PayloadError(f"field {field} is not an epoch time: {str(value)[:32]!r}") from exc


def _flag(value: Any, field: str) -> bool:
    """OpenALPR booleans: 0/1 in the 2014 agent, JSON booleans in Rekor v2; strings too."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, str)) and str(value).strip().lower() in ("0", "1", "true", "false"):
        return str(value).strip().lower() in ("1", "true")
    raise PayloadError(f"field {field} must be 0/1 or true/false, got {str(value)[:32]!r}")


def _camera(value: Any, field: str = "camera_id") -> str:
    """``camera_id`` is an integer (a string of digits is accepted): the camera's device id."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[0-9]+\s*", value):
        return str(int(value))
    raise PayloadError(f"field {field} must be an integer camera id, got {str(value)[:32]!r}")


def _text(obj: dict[str, Any], key: str, where: str = "") -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip():
        raise PayloadError(f"field {where}{key} must be a non-empty string, got {type(value).__name__}")
    return value.strip()


def _agent(body: dict[str, Any], required: bool = True) -> str:
    """The agent's id: ``agent_uid`` (Rekor v2), else ``site_id`` (one per agent in the 2014 docs)."""
    for key in ("agent_uid", "site_id"):
        if body.get(key) is not None:
            return _text(body, key)
    if required:
        raise PayloadError("payload has neither agent_uid nor site_id to name the agent")
    return ""


def translate(message: InboundMessage, body: dict[str, Any], ctx: AdapterContext) -> list[Draft]:
    data_type = body.get("data_type")
    if data_type is None:
        if "results" in body:
            return _frame(message, body, ctx)  # the open-source alprd has no data_type
        raise PayloadError("payload has no data_type and no results: not an OpenALPR agent message")
    if data_type == "alpr_group":
        return _group(message, body, ctx)
    if data_type == "heartbeat":
        return _heartbeat(message, body, ctx)
    if data_type in ("alpr_results", "alpr_alert"):
        return []  # per-frame reads the agent also groups; alerts from the web server's lists
    raise PayloadError(f"unknown data_type {str(data_type)[:32]!r}")


def _pass(message: InboundMessage, ctx: AdapterContext, camera: str, source_id: str, ts: datetime,
          plate: dict[str, Any], data: dict[str, Any]) -> list[Draft]:
    """A parking pass from one plate read, or nothing when the camera is not a lane."""
    if plate.get("confidence") is not None:
        data["confidence"] = round(_number(plate["confidence"], "confidence"), 2)
    if plate.get("matches_template") is not None:
        data["matches_template"] = _flag(plate["matches_template"], "matches_template")
    region = plate.get("region")
    if region is not None and not isinstance(region, str):
        raise PayloadError(f"field region must be a string, got {type(region).__name__}")
    if region:
        data["region"] = region
    kind = LANES.get(ctx.kind_of(camera))
    if kind is None:
        return []  # not a lane camera: a plate read, but no pass
    return [Draft(kind=kind, site=ctx.site, device_id=camera, source_id=source_id, ts=ts, data=data,
                  retained=message.retain)]


def _frame(message: InboundMessage, body: dict[str, Any], ctx: AdapterContext) -> list[Draft]:
    uuid, camera = _text(body, "uuid"), _camera(body.get("camera_id"))
    frame_ts = _epoch(body.get("epoch_time"), "epoch_time")
    results = body["results"]
    if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
        raise PayloadError("field results must be a list of objects")
    drafts = []
    for index, result in enumerate(results):
        plate = _text(result, "plate", f"results[{index}].")
        # A result may carry its own epoch_time (the documented sample does); else the frame's.
        ts = _epoch(result["epoch_time"], f"results[{index}].epoch_time") if "epoch_time" in result else frame_ts
        data: dict[str, Any] = {"plate": plate, "via": "alpr_results"}
        if _agent(body, required=False):
            data["agent"] = _agent(body)
        drafts += _pass(message, ctx, camera, f"{uuid}:{index}", ts, result, data)
    return drafts


def _vehicle(body: dict[str, Any], data: dict[str, Any]) -> None:
    """Rekor v2 ``vehicle{color[], make[]}``: lists of {name, confidence}, best first."""
    vehicle = body.get("vehicle")
    if vehicle is None:
        return
    if not isinstance(vehicle, dict):
        raise PayloadError("field vehicle must be an object")
    for key in ("color", "make"):
        ranked = vehicle.get(key)
        if ranked:
            if not isinstance(ranked, list) or not isinstance(ranked[0], dict):
                raise PayloadError(f"field vehicle.{key} must be a list of {{name, confidence}}")
            data[f"vehicle_{key}"] = _text(ranked[0], "name", f"vehicle.{key}[0].")


def _group(message: InboundMessage, body: dict[str, Any], ctx: AdapterContext) -> list[Draft]:
    camera = _camera(body.get("camera_id"))
    ts = _epoch(body.get("epoch_start"), "epoch_start")
    best = body.get("best_plate")
    if not isinstance(best, dict):
        raise PayloadError("field best_plate must be an object")
    plate = _text(body, "best_plate_number") if "best_plate_number" in body else _text(best, "plate", "best_plate.")
    uuids, indexes = body.get("uuids"), body.get("plate_indexes")
    if isinstance(uuids, list) and uuids and isinstance(uuids[0], str) and uuids[0]:
        source_id = uuids[0]
        if isinstance(indexes, list) and indexes and isinstance(indexes[0], int):
            source_id = f"{source_id}:{indexes[0]}"
    else:
        source_id = _text(body, "best_uuid")
    if body.get("is_parked") is not None and _flag(body["is_parked"], "is_parked"):
        return []  # a car standing in view, not passing
    data: dict[str, Any] = {"plate": plate, "via": "alpr_group"}
    if _agent(body, required=False):
        data["agent"] = _agent(body)
    if body.get("best_confidence") is not None:
        best = {**best, "confidence": body["best_confidence"]}
    if isinstance(body.get("best_region"), str) and not best.get("region"):
        best = {**best, "region": body["best_region"]}
    if isinstance(body.get("country"), str) and body["country"]:
        data["country"] = body["country"]
    _vehicle(body, data)
    return _pass(message, ctx, camera, source_id, ts, best, data)


def _heartbeat(message: InboundMessage, body: dict[str, Any], ctx: AdapterContext) -> list[Draft]:
    agent, ts = _agent(body), _epoch(body.get("timestamp"), "timestamp")
    # From the number, so 1.2e12 and "1200000000000" give the same id.
    source_id = f"heartbeat:{round(_number(body['timestamp'], 'timestamp'))}"
    data: dict[str, Any] = {}
    for key in ("daemon_uptime_seconds", "cpu_usage_percent", "beanstalk_queue_size"):
        if body.get(key) is not None:
            number = _number(body[key], key)
            data[key] = int(number) if number.is_integer() else number
    drafts = [Draft(kind="device.heartbeat", site=ctx.site, device_id=agent, source_id=source_id, ts=ts,
                    data=data, retained=message.retain)]
    streams = body.get("video_streams") or []
    if not isinstance(streams, list) or not all(isinstance(s, dict) for s in streams):
        raise PayloadError("field video_streams must be a list of objects")
    for index, stream in enumerate(streams):
        camera = _camera(stream.get("camera_id"), f"video_streams[{index}].camera_id")
        if stream.get("is_streaming") is None:
            continue  # a missing key means unchanged
        streaming = _flag(stream["is_streaming"], f"video_streams[{index}].is_streaming")
        # Not the stream url: it often holds the camera's RTSP user and password.
        drafts.append(Draft(kind="camera.online" if streaming else "camera.offline", site=ctx.site,
                            device_id=camera, source_id=source_id, ts=ts,
                            data={"via": "heartbeat", "agent": agent}, retained=message.retain))
    return drafts


OPENALPR = AdapterDef(
    name="openalpr",
    topic="openalpr/#",
    decode=json_object,
    translate=translate,
    emits=frozenset({"parking.entry", "parking.exit", "device.heartbeat", "camera.online", "camera.offline"}),
    samples=(
        ("openalpr/hq/heartbeat",
         b'{"data_type":"heartbeat","site_id":"hq","timestamp":1764122400000,'
         b'"video_streams":[{"camera_id":7,"is_streaming":false,"last_update":1764122399000}]}'),
        ("openalpr/hq/heartbeat",
         b'{"data_type":"heartbeat","agent_uid":"a1b2","timestamp":"1764122460000","video_streams":[]}'),
    ),
    bad_samples=(
        ("openalpr/hq/alpr_group", b"{not json"),
        ("openalpr/hq/alpr_group", b'{"data_type":"alpr_group","camera_id":"gate","epoch_start":1764122400000,'
                                   b'"best_plate":{"plate":"A1"},"best_plate_number":"A1","best_uuid":"u"}'),
        ("openalpr/hq/heartbeat", b'{"data_type":"heartbeat","site_id":"hq","timestamp":"yesterday"}'),
        ("openalpr/hq/x", b'{"data_type":"telemetry"}'),
    ),
)
