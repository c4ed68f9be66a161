"""Home Assistant MQTT discovery (device-formats.md §6.2): devices announce themselves.

``homeassistant/<component>/[<node_id>/]<object_id>/config`` carries a JSON config (possibly with
abbreviated keys and ``~`` for a base topic); an empty payload withdraws the entity. Configs
create no events: they register the entity in the console's registry (audited, actor
``ha-discovery``), named and typed by its ``device_class``, with its state topic as its address.

State messages that arrive under the discovery prefix (``homeassistant/binary_sensor/garden/state``)
are read here, by the kind the config registered, through the same sensor table as ESPHome and
Homie. States published elsewhere (a Zigbee2MQTT bridge's own topics) are read by that bridge's
adapter; registering those under the bridge's own id stays a decision for the admin.

Decisions where the spec is silent:
- The entity id is ``ha-`` plus the config topic's node and object ids (so an empty config, which
  has no unique_id, withdraws the same entity), cleaned to the registry's id pattern; the state
  topic is its address, so two entities never share one.
- ``device_class`` → registry kind: smoke → smoke_detector, gas → gas, carbon_monoxide → co,
  moisture → water_leak, door/garage_door/opening → door_contact, tamper → tamper, vibration →
  vibration, problem → fault, battery → battery_low, safety → duress_button is NOT assumed
  (a safety sensor is "unsafe" in general): unmapped classes register with the class as kind,
  which means no event (motion, occupancy, light... are not alarms here).
"""

from __future__ import annotations

import re
from typing import Any

from adapters.base import (
    AdapterContext,
    AdapterDef,
    InboundMessage,
    Inventory,
    derived_id,
    json_object,
    prefix_depth,
    raw_payload,
    text_payload,
)
from adapters.esphome import parse_on, sensor_events
from console.contract import AnnouncedDevice, Draft, PayloadError

KINDS = {"smoke": "smoke_detector", "gas": "gas", "carbon_monoxide": "co", "moisture": "water_leak",
         "door": "door_contact", "garage_door": "door_contact", "opening": "door_contact", "tamper": "tamper",
         "vibration": "vibration", "problem": "fault", "battery": "battery_low"}
ABBREVIATIONS = {"stat_t": "state_topic", "dev_cla": "device_class", "uniq_id": "unique_id", "obj_id": "object_id",
                 "pl_on": "payload_on", "pl_off": "payload_off", "dev": "device", "avty_t": "availability_topic"}
_NOT_ID = re.compile(r"[^A-Za-z0-9_.\-]")


def _prefix(ctx: AdapterContext) -> str:
    return "/".join(ctx.topic.split("/")[:prefix_depth(ctx.topic)])


def _config_levels(topic: str, prefix: str) -> list[str] | None:
    """[component, (node,) object] of a config topic under the prefix, or None."""
    if not topic.startswith(prefix + "/") or not topic.endswith("/config"):
        return None
    levels = topic[len(prefix) + 1:-len("/config")].split("/")
    return levels if len(levels) in (2, 3) and all(levels) else None


def _config(payload: bytes, ctx: AdapterContext) -> dict[str, Any]:
    body = json_object(payload, ctx.limits)
    config = {ABBREVIATIONS.get(key, key): value for key, value in body.items()}
    base = config.get("~")
    for key, value in list(config.items()):
        if isinstance(value, str) and isinstance(base, str) and key.endswith("_topic"):
            config[key] = value.replace("~", base) if value.startswith("~") or value.endswith("~") else value
    return config


def entity_id(levels: list[str]) -> str:
    """From the config topic's node and object ids: the same for the config and for its
    withdrawal (an empty payload, which carries no unique_id)."""
    return "ha-" + _NOT_ID.sub("_", "-".join(levels[1:]))[:60]


def inventory(message: InboundMessage, ctx: AdapterContext) -> list[Inventory]:
    levels = _config_levels(message.topic, _prefix(ctx))
    if levels is None:
        return []
    if not message.payload.strip():
        return [Inventory(entity_id(levels))]  # withdrawn (without its unique_id: by its topic levels)
    config = _config(message.payload, ctx)
    state_topic = config.get("state_topic")
    if not isinstance(state_topic, str) or not state_topic or len(state_topic) > 128:
        return []  # a tag scanner, a button, a trigger: nothing to supervise
    device_class = config.get("device_class")
    if device_class is not None and not isinstance(device_class, str):
        raise PayloadError(f"field device_class must be a string, got {type(device_class).__name__}")
    name = config.get("name")
    device = config.get("device")
    if not isinstance(device, dict):
        device = {}
    label = " ".join(str(part) for part in (device.get("name"), name) if part) if device or name else ""
    entry = AnnouncedDevice(id=entity_id(levels), name=str(name or levels[-1])[:64], role="sensor",
                            kind=KINDS.get(device_class or "", device_class or ""), adapter="ha-discovery",
                            address=state_topic, label=label[:100])
    return [Inventory(entry.id, entry)]


def translate(message: InboundMessage, payload: bytes, ctx: AdapterContext) -> list[Draft]:
    if message.topic.endswith("/config"):
        inventory(message, ctx)  # a config that cannot be read is quarantined, not silently skipped
        return []
    kind = ctx.kind_of(message.topic)
    if not kind or not payload.strip():
        return []  # not announced, or announced as something that raises nothing
    on = parse_on(text_payload(payload, ctx.limits), f"state of {message.topic}")
    # A state topic carries no id or time: derived_id (a QoS 1 redelivery may be stored twice).
    return [Draft(event_kind, ctx.site, message.topic, derived_id(message.topic, message), message.received_at,
                  data={**event_data, **({} if on else {"via": "state"})}, retained=message.retain)
            for event_kind, event_data in sensor_events(kind, on, "")]


HA_DISCOVERY = AdapterDef(
    name="ha-discovery",
    topic="homeassistant/#",
    decode=raw_payload,
    translate=translate,
    inventory=inventory,
    emits=frozenset({"fire.alarm", "fire.restore", "safety.gas", "safety.water_leak", "safety.restore",
                     "access.door_forced", "access.door_closed", "access.tamper", "access.restore",
                     "device.fault", "device.battery_low", "device.restore"}),
    samples=(  # configs: they register, they raise nothing
        ("homeassistant/binary_sensor/kitchen/smoke/config",
         b'{"name":"Kitchen smoke","dev_cla":"smoke","stat_t":"homeassistant/binary_sensor/kitchen/smoke/state",'
         b'"uniq_id":"kitchen_smoke_1"}'),
    ),
    bad_samples=(("homeassistant/binary_sensor/garden/config", b"{not json"),
                 ("homeassistant/binary_sensor/garden/config", b'{"state_topic":"x","device_class":7}')),
)
