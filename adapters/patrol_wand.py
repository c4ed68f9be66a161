"""Patrol wands (巡更棒): handsets that read the RFID button at each checkpoint, store the reads
(a button's serial and the wand's clock) and upload them later, from a cradle or over 4G.

Vendors' own upload protocols are proprietary and differ; a wand's cradle software or a 4G
bridge publishes each upload to MQTT in this documented form (one message per upload):

    topic    patrolwand/<wand id>/upload
    payload  {"wand": "W-0017", "guard": "g1", "uploaded_at": "2026-11-26T10:40:00+08:00",
              "records": [{"seq": 1017, "tag": "00A1B2C3D4", "time": "2026-11-26 10:31:05"}, ...]}

``wand`` (optional) must name the topic's wand; ``guard`` (optional) the guard who carried it;
each record's ``tag`` is the button's serial (hex), ``time`` the wand's clock (ISO 8601 with an
offset, or a naive local time, read in the site's zone), ``seq`` the wand's record number (the
de-duplication key: an upload sent twice, or overlapping the previous one, stores each read once).

Every record becomes ``patrol.checkpoint`` with ``data.card`` (the button), at the wand's time;
the console's rounds match the button to the checkpoint whose ``wand_tag`` it is
(console/patrol/rounds.py), keeping both the wand's time and the upload's receive time.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from adapters.base import AdapterContext, AdapterDef, InboundMessage, json_object, split_below
from console.contract import Draft, PayloadError

TAG = re.compile(r"^[0-9A-Fa-f]{4,32}$")
WAND = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
MAX_RECORDS = 5000


def _time(value: Any, zone: str, index: int) -> datetime:
    if not isinstance(value, str):
        raise PayloadError(f"records[{index}].time must be a text time, got {type(value).__name__}")
    try:
        at = datetime.fromisoformat(value.strip().replace("/", "-"))
    except ValueError as exc:
        raise PayloadError(f"records[{index}].time is not a time: {value[:40]!r}") from exc
    if at.tzinfo is None:
        try:
            at = at.replace(tzinfo=ZoneInfo(zone or "UTC"))
        except ZoneInfoNotFoundError as exc:
            raise PayloadError(f"records[{index}].time has no offset and the site zone {zone!r} is unknown") from exc
    return at


def translate(message: InboundMessage, payload: bytes, ctx: AdapterContext) -> list[Draft]:
    _base, levels = split_below(message.topic, ctx.topic, "patrol wand")
    if len(levels) != 2 or levels[1] != "upload":
        return []  # the wand's other topics (status, battery) carry no reads
    wand = levels[0]
    if not WAND.match(wand):
        raise PayloadError(f"wand id {wand[:40]!r} is not an id (letters, digits, . _ : -)")
    body = json_object(payload, ctx.limits)
    if "wand" in body and body["wand"] != wand:
        raise PayloadError(f"payload names wand {str(body['wand'])[:40]!r}, the topic {wand!r}")
    guard = body.get("guard")
    if guard is not None and (not isinstance(guard, str) or not 0 < len(guard) <= 64):
        raise PayloadError("guard must be a user name (1-64 characters)")
    records = body.get("records")
    if not isinstance(records, list):
        raise PayloadError("records must be a list of reads")
    if len(records) > MAX_RECORDS:
        raise PayloadError(f"{len(records)} records in one upload; at most {MAX_RECORDS}")
    drafts = []
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise PayloadError(f"records[{index}] is not an object")
        tag = record.get("tag")
        if not isinstance(tag, str) or not TAG.match(tag):
            raise PayloadError(f"records[{index}].tag must be the button's serial in hex")
        at = _time(record.get("time"), ctx.timezone, index)
        seq = record.get("seq")
        if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int) or seq < 0):
            raise PayloadError(f"records[{index}].seq must be a whole number")
        source = f"{wand}:{seq}" if seq is not None else f"{wand}:{at.isoformat()}:{tag.upper()}"
        data: dict[str, Any] = {"card": tag.upper(), "wand": wand, "via": "wand"}
        if guard is not None:
            data["guard"] = guard
        drafts.append(Draft(kind="patrol.checkpoint", site=ctx.site, device_id=wand, source_id=source[:128], ts=at,
                            data=data, retained=message.retain))
    return drafts


PATROL_WAND = AdapterDef(
    name="patrol-wand",
    topic="patrolwand/#",
    decode=lambda payload, _limits: payload,
    translate=translate,
    emits=frozenset({"patrol.checkpoint"}),
    samples=(
        ("patrolwand/W-0017/upload",
         b'{"wand":"W-0017","records":[{"seq":1,"tag":"00A1B2C3D4","time":"2026-11-26T10:31:05+08:00"}]}'),
    ),
    bad_samples=(
        ("patrolwand/W-0017/upload", b'{"records":[{"seq":1,"tag":"not hex","time":"2026-11-26 10:31:05"}]}'),
        ("patrolwand/W-0017/upload", b'{"records":"none"}'),
    ),
)
