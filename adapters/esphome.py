"""ESPHome's MQTT component: binary-sensor states and the node's birth/will → canonical events.

A state is ``ON``/``OFF`` and says nothing about what the sensor is: the registry does
(``ctx.kind_of(node, object_id)``: the point's kind, else the node's kind, else its role). The
vocabulary of registry kinds is ``sensor_events`` below; homie.py and openmqttgateway.py read the
same kinds the same way. A binary sensor whose kind is not in it (unregistered, "motion", a role
such as "sensor" or "door") means nothing: a multi-sensor node needs a point per sensor.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

from adapters.base import AdapterContext, AdapterDef, decode_text, derived_id
from console.contract import Draft, InboundMessage, PayloadError

TAMPER, FAULT = "<tamper>", "<fault>"  # resolved per device: on a fire detector, fire.fault (§7)
# Registry kind -> (kind raised while ON, data.cause); OFF restores it (data.of, "via": "state").
LEVELS: dict[str, tuple[str, str]] = {
    "smoke_detector": ("fire.alarm", "smoke"),
    "heat_detector": ("fire.alarm", "heat"),
    "manual_call_point": ("fire.alarm", "manual_call_point"),
    "gas": ("safety.gas", "gas"),
    "co": ("safety.gas", "co"),
    "water_leak": ("safety.water_leak", "water_leak"),
    # A released panic button restores the alarm: it stays in the queue until acknowledged anyway.
    "duress_button": ("access.duress", "duress_button"),
    "tamper": (TAMPER, "tamper"),
    "vibration": (TAMPER, "vibration"),
    "battery_low": ("device.battery_low", "battery_low"),
    "fault": (FAULT, "fault"),
}
DOOR_CONTACT = "door_contact"  # ON = open (HA convention, the opposite of Z2M `contact`)
# Device-level kinds (or the fire_panel role) whose tamper and fault inputs are fire faults.
FIRE_DEVICES = frozenset({"smoke_detector", "heat_detector", "manual_call_point", "fire_panel"})
ON, OFF = frozenset({"on", "true", "1"}), frozenset({"off", "false", "0"})

# ESPHome components (<prefix>/<component>/<object_id>[/<attribute>]/state|command). Only
# binary_sensor states can be alarms; sensor values are checked to be numbers; the rest (switch,
# light, climate mode/state, cover position/state...) are telemetry and commands.
COMPONENTS = frozenset({
    "binary_sensor", "sensor", "text_sensor", "switch", "light", "fan", "cover", "climate", "lock",
    "number", "select", "button", "text", "valve", "alarm_control_panel", "event", "update",
    "datetime", "date", "time", "media_player",
})


def parse_on(text: str, what: str) -> bool:
    """ON/OFF (ESPHome), true/false (Homie), 1/0, in any case."""
    value = text.strip().lower()
    if value in ON | OFF:
        return value in ON
    raise PayloadError(f"{what} is not ON/OFF or true/false: {text[:32]!r}")


def sensor_events(kind: str, on: bool, device_kind: str) -> list[tuple[str, dict[str, Any]]]:
    """What a sensor of registry ``kind`` means when it turns on or off: [(canonical kind, data)].
    ``device_kind`` is the kind (or role) of the device the sensor belongs to."""
    if kind == DOOR_CONTACT:
        # No grant is known here: an opening is door_forced; held-open needs a timer we lack.
        return [("access.door_forced" if on else "access.door_closed", {})]
    if kind not in LEVELS:
        return []
    raised, cause = LEVELS[kind]
    fire = device_kind in FIRE_DEVICES
    if raised == TAMPER:
        raised = "fire.fault" if fire else "access.tamper"
    elif raised == FAULT:
        raised = "fire.fault" if fire else "device.fault"
    if not on:
        return [(raised.split(".")[0] + ".restore", {"of": raised})]
    if raised == "device.battery_low":
        return [(raised, {})]
    return [(raised, {"code" if raised == "device.fault" else "cause": cause})]


def short(key: str) -> str:
    """Keeps derived source ids within 128 characters however long a name is."""
    return key if len(key) <= 64 else "sha:" + hashlib.sha256(key.encode()).hexdigest()[:24]


def _node(head: list[str], filter_: str) -> str:
    """The node from the topic levels before the ESPHome tail: those after the subscribe filter's
    literal start ("esphome/#" with topic_prefix "esphome/<node>"), all of them for a filter that
    starts with a wildcard ("+/status": ESPHome's default prefix, the node name)."""
    flevels = filter_.split("/")
    literal = next((i for i, level in enumerate(flevels) if level in ("+", "#")), len(flevels))
    node = head[literal:] or head[-1:]  # an exact filter names the node itself: its last level
    if not node or "" in node:
        raise PayloadError(f"no node name before the ESPHome topic levels under {filter_!r}")
    return "/".join(node)


def translate(message: InboundMessage, payload: bytes, ctx: AdapterContext) -> list[Draft]:
    levels = message.topic.split("/")
    if len(levels) >= 2 and levels[-1] == "status":
        return _status(message, payload, ctx, _node(levels[:-1], ctx.topic))
    discovery = len(levels) <= 3 and (levels[-1] == "discover" or levels[-2:-1] in (["discover"], ["ping"]))
    if levels[-1] == "debug" or discovery:
        # The node's log, and ESPHome's node discovery (mqtt discover_ip, on by default):
        # esphome/discover, esphome/ping/<node>, and the answer esphome/discover/<node> (ip, mac, version).
        return []
    if levels[-1] in ("state", "command"):
        for tail in (3, 4):  # <component>/<object_id>/state, <component>/<object_id>/<attribute>/state
            if len(levels) > tail and levels[-tail] in COMPONENTS:
                node = _node(levels[:-tail], ctx.topic)
                component, object_id = levels[-tail], levels[-tail + 1]
                if tail == 3 and levels[-1] == "state" and component == "binary_sensor":
                    return _binary(message, payload, ctx, node, object_id)
                if tail == 3 and levels[-1] == "state" and component == "sensor":
                    _reading(payload, object_id)
                return []  # telemetry, or a command another client sent the node
    raise PayloadError(f"topic {message.topic[:80]!r} is not an ESPHome status, state or command topic")


def _status(message: InboundMessage, payload: bytes, ctx: AdapterContext, node: str) -> list[Draft]:
    """Birth ``online`` (retained) and will ``offline``; also sent on a clean shutdown."""
    text = decode_text(payload).strip().lower()
    if not text:
        return []  # an empty retained message only deletes the broker's copy
    if text not in ("online", "offline"):
        raise PayloadError(f"status must be online or offline, got {text[:32]!r}")
    # No id or time in the payload: derived id (the ingest drops a repeat of the current state).
    return [Draft(f"device.{text}", ctx.site, node, derived_id(short(f"{node}/status"), message),
                  message.received_at, data={"via": "state"}, retained=message.retain)]


def _binary(message: InboundMessage, payload: bytes, ctx: AdapterContext, node: str,
            object_id: str) -> list[Draft]:
    text = decode_text(payload)
    if not text:
        return []  # an empty retained message only deletes the broker's copy
    on = parse_on(text, f"binary_sensor {object_id}")
    kind = ctx.kind_of(node, object_id)
    # A state is a level, repeated on every reconnect (retained): "via": "state" lets the ingest
    # drop the restores that clear nothing. No id or time in the payload: derived id, per sensor
    # (a node publishes all its states in one burst at boot).
    sid = derived_id(short(f"{node}/{object_id}"), message)
    drafts = []
    for event_kind, data in sensor_events(kind, on, ctx.kind_of(node)):
        if event_kind.startswith("access.door"):
            data["door"] = node
        drafts.append(Draft(event_kind, ctx.site, node, sid, message.received_at,
                            point=object_id, data={"via": "state", **data}, retained=message.retain))
    return drafts


def _reading(payload: bytes, object_id: str) -> None:
    """A sensor value is telemetry, but one that is no number goes to quarantine (§1)."""
    text = decode_text(payload).strip()
    if not text or text.lower() == "nan":
        return  # deleted, or no reading yet: ESPHome publishes NaN as "nan"
    try:
        if math.isfinite(float(text)):
            return
    except ValueError:
        pass
    raise PayloadError(f"sensor {object_id} value is not a number: {text[:32]!r}")


def _ignored(topic: str) -> bool:
    return topic.endswith("/debug")  # the node's log: frequent and maybe long, never an event


ESPHOME = AdapterDef(
    name="esphome",
    # One filter must cover <prefix>/status and <prefix>/binary_sensor/<id>/state. ESPHome's default
    # prefix is the bare node name, which only "+/#" (every topic on the broker) would cover, so the
    # default assumes each node sets `mqtt: topic_prefix: esphome/<node>`. A site whose nodes keep
    # the default prefix enables the adapter twice: topics "+/status" and "+/binary_sensor/+/state".
    topic="esphome/#",
    ignore=_ignored,
    decode=lambda payload, limits: payload,  # plain text; the topic decides how it is read
    translate=translate,
    emits=frozenset({
        "fire.alarm", "fire.fault", "fire.restore", "safety.gas", "safety.water_leak", "safety.restore",
        "access.door_forced", "access.door_closed", "access.tamper", "access.duress", "access.restore",
        "device.online", "device.offline", "device.battery_low", "device.fault", "device.restore",
    }),
    samples=(
        ("esphome/garage-node/status", b"online"),
        ("esphome/garage-node/status", b"offline"),
    ),
    bad_samples=(
        ("esphome/garage-node/status", b"sleeping"),
        ("esphome/garage-node/binary_sensor/smoke/state", b"MAYBE"),
        ("esphome/garage-node/sensor/temperature/state", b"warm"),
        ("esphome/garage-node/something", b"ON"),
    ),
)
