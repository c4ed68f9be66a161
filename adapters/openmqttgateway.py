"""OpenMQTTGateway 433 MHz (RCSwitch) codes and the gateway's LWT → canonical events.

A code says nothing but itself: ``{"value":1315156,"protocol":1,"length":24,"delay":317}``. The
device is the code (``DeviceEntry.address`` = the decimal ``value``), and the registry says what it
is (esphome.sensor_events: the same kinds). A cheap sensor sends a fixed code when it trips and
nothing when it calms down, so a code is the ON of its kind and no restore ever follows. A code
that is not registered is anyone's remote or doorbell: no event (§3.4).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from adapters.base import AdapterContext, AdapterDef, decode_text, derived_id, json_any
from adapters.esphome import sensor_events, short
from console.contract import Draft, InboundMessage, PayloadError

RF_LEVEL = "433toMQTT"  # codes received; also the gateway's echo of a code it was told to send
LWT_LEVEL = "LWT"  # "online" on connect, "offline" as the will (retained; older builds capitalise them)
# A press repeats its code for a second or so, and two gateways may hear the same press: one
# event per code per window. A press whose repeats straddle a window edge gives two events, which
# the alarm engine counts into one alarm (the window cannot slide without memory in the adapter).
REPEAT_WINDOW = timedelta(seconds=2)
UINT64 = 2**64


def _gateway(levels: list[str], index: int, topic: str) -> str:
    if index < 1 or not levels[index - 1]:
        raise PayloadError(f"topic {topic[:80]!r} has no gateway name before {levels[index]!r}")
    return levels[index - 1]


def _int(body: dict[str, Any], key: str, required: bool = False) -> int | None:
    """A JSON integer or one in a string (§1: numbers can be strings)."""
    value = body.get(key)
    if value is None:
        if required:
            raise PayloadError(f"433toMQTT message has no field {key!r}")
        return None
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,20}", value.strip()):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < UINT64:
        raise PayloadError(f"field {key} is not a whole number: {str(value)[:32]!r}")
    return value


def translate(message: InboundMessage, payload: bytes, ctx: AdapterContext) -> list[Draft]:
    levels = message.topic.split("/")
    if levels[-1] == LWT_LEVEL:
        return _lwt(message, payload, ctx, _gateway(levels, len(levels) - 1, message.topic))
    if RF_LEVEL in levels:
        # home/<gateway>/433toMQTT, or .../433toMQTT/<value> with valueAsATopic: the payload is the same.
        index = levels.index(RF_LEVEL)
        return _code(message, payload, ctx, _gateway(levels, index, message.topic))
    if any(level.endswith("toMQTT") for level in levels) or "commands" in levels or levels[-1] == "version":
        # SYStoMQTT (uptime, memory), BTtoMQTT, IRtoMQTT, RTL_433toMQTT, RFtoMQTT (receiver
        # settings), commands to the gateway, its version: not RF codes.
        return []
    raise PayloadError(f"topic {message.topic[:80]!r} is not an OpenMQTTGateway 433toMQTT or LWT topic")


def _lwt(message: InboundMessage, payload: bytes, ctx: AdapterContext, gateway: str) -> list[Draft]:
    state = decode_text(payload).strip().lower()
    if not state:
        return []  # an empty retained message only deletes the broker's copy
    if state not in ("online", "offline"):
        raise PayloadError(f"LWT must be online or offline, got {state[:32]!r}")
    # No id or time in an LWT: derived id (the ingest drops a repeat of the current state).
    return [Draft(f"device.{state}", ctx.site, gateway, derived_id(short(f"{gateway}/LWT"), message),
                  message.received_at, data={"via": "state"}, retained=message.retain)]


def _code(message: InboundMessage, payload: bytes, ctx: AdapterContext, gateway: str) -> list[Draft]:
    body = json_any(payload, ctx.limits)
    if isinstance(body, (int, str)) and not isinstance(body, bool):
        # A bare number is the gateway acknowledging a code it sent (a plain MQTTto433 command).
        return []
    if not isinstance(body, dict):
        raise PayloadError(f"433toMQTT payload is a JSON {type(body).__name__}, not an object")
    value = _int(body, "value", required=True)
    if value == 0:
        raise PayloadError("433toMQTT value 0 is no code (RCSwitch's failed read)")
    code = str(value)
    # A code only ever says "on": the alarm is momentary (acknowledged, it leaves the queue).
    data: dict[str, Any] = {"code": code, "gateway": gateway, "momentary": True}
    for key in ("protocol", "length", "delay"):  # RCSwitch protocol id, bits, pulse length in µs
        number = _int(body, key)
        if number is not None:
            data[key] = number
    mhz = body.get("mhz", body.get("frequency"))  # CC1101 receivers: "mhz" (docs), "frequency" (1.x)
    if isinstance(mhz, (int, float)) and not isinstance(mhz, bool):
        data["mhz"] = mhz
    kind = ctx.kind_of(code)
    events = sensor_events(kind, True, "") if kind else []
    if not events:
        return []  # not registered (a neighbour's remote, noise), or a kind that raises nothing
    # No id or time in the payload: the code and the repeat window name the press, whichever
    # gateway heard it and however often it repeated.
    window = int(message.received_at.timestamp() // REPEAT_WINDOW.total_seconds() * REPEAT_WINDOW.total_seconds())
    return [Draft(event_kind, ctx.site, code, f"rf:{code}:{window}", message.received_at,
                  data={**event_data, **data}, retained=message.retain)
            for event_kind, event_data in events]


def _ignored(topic: str) -> bool:
    # Under a wider filter ("home/#", for valueAsATopic) a BLE gateway floods BTtoMQTT/<mac>.
    return "/BTtoMQTT" in topic


OPENMQTTGATEWAY = AdapterDef(
    name="openmqttgateway",
    # <Base_Topic><gateway name>/433toMQTT and .../LWT, base "home/": one level per gateway name.
    # "home/+/+" leaves out the BLE per-device topics (BTtoMQTT/<mac>); a gateway built with
    # valueAsATopic (433toMQTT/<value>) needs the site to set "home/+/#".
    topic="home/+/+",
    ignore=_ignored,
    decode=lambda payload, limits: payload,  # JSON (codes) or text (LWT): decoded in translate
    translate=translate,
    emits=frozenset({
        "fire.alarm", "safety.gas", "safety.water_leak", "access.door_forced", "access.tamper",
        "access.duress", "device.battery_low", "device.fault", "device.online", "device.offline",
    }),
    samples=(
        ("home/OpenMQTTGateway/LWT", b"online"),
        ("home/OpenMQTTGateway/LWT", b"Offline"),
    ),
    bad_samples=(
        ("home/OpenMQTTGateway/LWT", b"restarting"),
        ("home/OpenMQTTGateway/433toMQTT", b'{"value":"code","protocol":1}'),
        ("home/OpenMQTTGateway/433toMQTT", b'{"protocol":1,"length":24}'),
        ("home/OpenMQTTGateway/433toMQTT", b"{not json"),
    ),
)
