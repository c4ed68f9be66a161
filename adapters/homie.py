"""Homie (homieiot.github.io): device ``$state``, ``$alert``s and registered property values.

Homie 5 topics are ``<root>/5/<device>/...``; Homie 3/4 topics under the same root,
``<root>/<device>/...``, are read the same way (their ``$state`` may also be ``alert``). Payloads
are plain strings. A property value means something only when the registry gives its
``<node>/<property>`` a sensor kind (esphome.sensor_events: the same vocabulary).
"""

from __future__ import annotations

from adapters.base import AdapterContext, AdapterDef, decode_text, derived_id
from adapters.esphome import parse_on, sensor_events, short
from console.contract import Draft, InboundMessage, PayloadError

# $state → kind. "init" (connecting) and "sleeping" (announced silence) mean nothing; "lost" is
# the root device's will. A zero-length $state removes the device (an admin's act): nothing.
STATES = {"ready": "device.online", "disconnected": "device.offline", "lost": "device.offline"}
QUIET_STATES = frozenset({"init", "sleeping"})
ALERT_STATE = "alert"  # Homie 3/4 only (5 replaced it with $alert topics): connected but needs a human
# What an $alert is, by the registry kind of "$alert/<id>" (else the device's kind or role).
SUPERVISORY = frozenset({"supervisory"})  # e.g. a sprinkler valve or pressure monitor
FIRE = frozenset({"smoke_detector", "heat_detector", "manual_call_point", "fire_panel"})


def split_topic(topic: str, filter_: str) -> tuple[bool, list[str]]:
    """(Homie 5?, the levels from the device id on). The root is the subscribe filter's literal
    start, at least one level ("homie/#" → homie; "+/5/+/$state", the spec's discovery filter →
    the first level); Homie 5 then has the level "5"."""
    levels, flevels = topic.split("/"), filter_.split("/")
    root = max(1, next((i for i, level in enumerate(flevels) if level in ("+", "#")), len(flevels)))
    root = min(root, len(levels) - 1)
    if root < 1:
        raise PayloadError(f"topic {topic[:80]!r} has no level after the Homie root")
    if levels[root - 1] == "5" and root >= 2:
        return True, levels[root:]  # the filter names the version itself ("homie/5/#")
    if levels[root] == "5" and len(levels) > root + 1:
        return True, levels[root + 1:]
    return False, levels[root:]


def translate(message: InboundMessage, payload: bytes, ctx: AdapterContext) -> list[Draft]:
    v5, rest = split_topic(message.topic, ctx.topic)
    if rest[0] == "$broadcast":
        return []  # a controller's broadcast to every device
    if len(rest) < 2 or "" in rest or rest[0].startswith("$"):
        raise PayloadError(f"topic {message.topic[:80]!r} is not <root>[/5]/<device>/...")
    device, attribute = rest[0], rest[1]
    if rest[1:] == ["$state"]:
        return _state(message, payload, ctx, device, v5)
    if attribute == "$alert" and len(rest) == 3:
        return _alert(message, payload, ctx, device, rest[2])
    if attribute.startswith("$"):
        # $description (5; its JSON can be large), $log/<level> (5), and the 3/4 attributes:
        # $homie, $name, $nodes, $stats/..., $fw/..., $implementation/...: inventory and logs.
        return []
    if len(rest) == 3 and not rest[2].startswith("$"):
        return _property(message, payload, ctx, device, f"{attribute}/{rest[2]}")
    node_attribute = len(rest) == 3 and rest[2].startswith("$")
    if node_attribute or (len(rest) == 4 and (rest[3] == "set" or rest[3].startswith("$"))):
        # <node>/$name (3/4 node attributes), <node>/<prop>/$datatype (3/4 property attributes),
        # <prop>/set (a controller's command) and <prop>/$target (5: where the value is heading)
        return []
    raise PayloadError(f"topic {message.topic[:80]!r} is not a Homie device, node or property topic")


def _state(message: InboundMessage, payload: bytes, ctx: AdapterContext, device: str, v5: bool) -> list[Draft]:
    state = decode_text(payload).strip()
    if not state or state in QUIET_STATES:
        return []
    data = {"via": "state", "state": state}
    # No id or time in a Homie payload: derived ids (the ingest drops a repeat of the current state).
    sid = derived_id(short(f"{device}/$state"), message)
    if state in STATES:
        drafts = [Draft(STATES[state], ctx.site, device, sid, message.received_at, data=data,
                        retained=message.retain)]
        if state == "ready" and not v5:  # leaving a 3/4 "alert": the ingest drops it if nothing was raised
            drafts.append(Draft("device.restore", ctx.site, device, f"{sid}:restore", message.received_at,
                                data={"via": "state", "of": "device.fault"}, retained=message.retain))
        return drafts
    if state == ALERT_STATE and not v5:
        return [Draft("device.fault", ctx.site, device, sid, message.received_at,
                      data={**data, "code": ALERT_STATE}, retained=message.retain)]
    raise PayloadError(f"$state {state[:32]!r} is not a Homie {'5 ' if v5 else ''}device state")


def _alert(message: InboundMessage, payload: bytes, ctx: AdapterContext, device: str,
           alert_id: str) -> list[Draft]:
    """``$alert/<id>`` → "message" (retained) raises; deleting the topic (empty payload) clears."""
    point = f"$alert/{alert_id}"
    role = ctx.kind_of(device, point)
    kind = "fire.supervisory" if role in SUPERVISORY else "fire.fault" if role in FIRE else "device.fault"
    text = decode_text(payload).strip()
    sid = derived_id(short(f"{device}/{point}"), message)
    if not text:
        restore = kind.split(".")[0] + ".restore"
        return [Draft(restore, ctx.site, device, sid, message.received_at, point=point,
                      data={"of": kind, "code": alert_id}, retained=message.retain)]
    return [Draft(kind, ctx.site, device, sid, message.received_at, point=point,
                  data={"code": alert_id, "cause": text[:256]}, retained=message.retain)]


def _property(message: InboundMessage, payload: bytes, ctx: AdapterContext, device: str,
              point: str) -> list[Draft]:
    kind = ctx.kind_of(device, point)
    # An unregistered property (a temperature, a light's power) has a datatype only its $description
    # knows: nothing to check. A registered sensor's value must be a boolean ("true"/"false").
    events = sensor_events(kind, True, "") if kind else []
    text = decode_text(payload)
    if not events or not text:
        return []  # unknown sensor kind, or an empty retained message that deletes the value
    if text == "\x00":  # Homie's empty string: no boolean
        raise PayloadError(f"property {point} of sensor kind {kind!r} is an empty string, not true/false")
    on = parse_on(text, f"property {point} (a {kind})")
    sid = derived_id(short(f"{device}/{point}"), message)
    return [Draft(event_kind, ctx.site, device, sid, message.received_at, point=point,
                  data={"via": "state", **data}, retained=message.retain)
            for event_kind, data in sensor_events(kind, on, ctx.kind_of(device))]


def _ignored(topic: str) -> bool:
    # A bridge's $description lists every child and property (it may pass the payload limit); logs
    # are chatter. Neither is ever an event.
    return topic.endswith("/$description") or "/$log/" in topic


HOMIE = AdapterDef(
    name="homie",
    topic="homie/#",  # Homie 5 devices under homie/5/..., Homie 3/4 devices under homie/<device>/...
    ignore=_ignored,
    decode=lambda payload, limits: payload,  # plain strings; the topic decides how each is read
    translate=translate,
    emits=frozenset({
        "fire.alarm", "fire.fault", "fire.supervisory", "fire.restore", "safety.gas", "safety.water_leak",
        "safety.restore", "access.door_forced", "access.door_closed", "access.tamper", "access.duress",
        "access.restore", "device.online", "device.offline", "device.battery_low", "device.fault",
        "device.restore",
    }),
    samples=(
        ("homie/5/pump-room/$state", b"ready"),
        ("homie/5/pump-room/$state", b"lost"),
        ("homie/5/pump-room/$alert/childlost", b"Sensor xyz in livingroom hasn't reported updates for 3 hours"),
    ),
    bad_samples=(
        ("homie/5/pump-room/$state", b"alert"),
        ("homie/5/pump-room/$state", b"asleep"),
        ("homie/5/pump-room", b"ready"),
    ),
)
