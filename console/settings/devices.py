"""The site file's equipment: the device registry (devices and their points), the adapters that
feed the console, heartbeat budgets, car parks, and the ingest's input limits."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from console.contract import check_topic_filter
from console.settings.base import ID_PATTERN, Section


class PointEntry(Section):
    floor: str = ""
    zone: str = ""
    label: str = ""
    kind: str = ""
    x: float | None = Field(None, ge=0, le=1, description="Position on the floor plan, 0..1 from the left.")
    y: float | None = Field(None, ge=0, le=1, description="Position on the floor plan, 0..1 from the top.")


COMMAND_TOPIC_MAX = 200


def command_topic_problem(topic: str) -> str | None:
    """Why ``topic`` cannot be published to, or None. A broker drops the connection of a client
    that publishes to a wildcard or a malformed name, and the client resends it on every
    reconnect: one bad command topic would cut off alarm intake (so it is refused at entry)."""
    if any(ch in topic for ch in "+#"):
        return "a command topic is a topic name: no wildcards (+ or #)"
    if any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 or ch in "\u2028\u2029\ufffe\uffff" for ch in topic):
        return "a command topic has no control characters"
    if topic.startswith("$"):
        return "a command topic cannot start with $ (the broker's own topics)"
    if topic.startswith("/") or topic.endswith("/") or "//" in topic:
        return "a command topic has no empty level (no leading, trailing or double /)"
    if len(topic.encode("utf-8")) > 4 * COMMAND_TOPIC_MAX:
        return f"a command topic is at most {4 * COMMAND_TOPIC_MAX} bytes"
    return None


def default_command_topic(site: str, device_id: str) -> str:
    return f"mcc/v1/{site}/{device_id}/command"


def command_namespace_problem(topic: str, site: str, device_id: str, prefixes: list[str]) -> str | None:
    """Why ``topic`` is outside the device's command namespace, or None. A device's commands go to
    ``mcc/v1/<site>/<device>/command`` (or below it), which no device publishes to and the console
    never reads as a signal; vendor devices may take them under a prefix the site file lists
    (``commands.topic_prefixes``, e.g. ``cmnd/`` for Tasmota). Anything else could point a command
    at another device's command topic or at an event topic, where the console would read its own
    command as a signal."""
    own = default_command_topic(site, device_id)
    if topic == own or topic.startswith(own + "/") or any(topic.startswith(prefix) for prefix in prefixes):
        return None
    listed = f" or under {', '.join(prefixes)}" if prefixes else ""
    return f"a command topic of {device_id} is {own} (or below it){listed}"


class DeviceEntry(Section):
    id: str = Field(pattern=ID_PATTERN)
    site: str | None = Field(None, description="Defaults to site.id.")
    name: str = ""
    name_en: str = ""
    role: Literal["fire_panel", "door", "lane", "camera", "sensor", "gateway"] = "sensor"
    kind: str = Field("", description="What a sensor is, for adapters whose payload does not say: smoke_detector, "
                                      "heat_detector, gas, co, water_leak, contact, vibration, door_contact, "
                                      "manual_call_point, duress_button, reader, patrol_point...")
    adapter: str = Field("", description="The adapter this device speaks through (with address).")
    address: str = Field("", description="The device's own id in its adapter's format: a Zigbee IEEE address or "
                                         "friendly name, an esp-rfid hostname, a Frigate camera name...")
    held_open_seconds: int | None = Field(
        None, gt=0, le=86400,
        description="A door: opened (a granted card, or forced) and not reported closed within this time → the "
                    "console raises door_held_open. Only for doors that report door_closed.")
    command_topic: str = Field("", max_length=COMMAND_TOPIC_MAX, description=(
        "Where the console sends this device's commands (a barrier's open): default mcc/v1/<site>/<id>/command. "
        "A topic name: no wildcards (+ #), no control characters, no empty level, not $-prefixed."))
    heartbeat_seconds: int | None = Field(
        None, ge=0, le=7 * 86400,
        description="Silent longer than this → offline alarm; 0 = not supervised; default: health.heartbeat_seconds "
                    "for the device's role.")
    building: str = ""
    floor: str = ""
    zone: str = ""
    label: str = Field("", description="Chinese location label shown on the wall.")
    x: float | None = Field(None, ge=0, le=1, description="Position on the floor plan, 0..1 from the left.")
    y: float | None = Field(None, ge=0, le=1, description="Position on the floor plan, 0..1 from the top.")
    cameras: list[str] = Field(default_factory=list)
    points: dict[str, PointEntry] = Field(default_factory=dict)

    @field_validator("command_topic")
    @classmethod
    def _publishable(cls, value: str) -> str:
        if value and (problem := command_topic_problem(value)):
            raise ValueError(problem)
        return value


class DevicesSection(Section):
    file: Path | None = Field(None, description="YAML list of devices, relative to the site file.")
    entries: list[DeviceEntry] = Field(default_factory=list, description="Devices listed inline.")

    @model_validator(mode="after")
    def _unique_addresses(self) -> DevicesSection:
        seen: dict[tuple[str, str], str] = {}
        for device in self.entries:
            if device.address:
                key = (device.adapter, device.address)
                if key in seen:
                    raise ValueError(f"devices {seen[key]} and {device.id} share the address {device.address!r}"
                                     f" of adapter {device.adapter or '(any)'}")
                seen[key] = device.id
        return self
    unknown: Literal["accept", "quarantine"] = Field(
        "accept", description="Events from unregistered devices: store and flag, or quarantine."
    )


AdapterType = Literal[
    "native", "zigbee2mqtt", "esp-rfid", "tasmota-rfid", "esphome", "homie", "openmqttgateway", "dahua-vto2mqtt",
    "hikvision-isapi", "frigate", "openalpr", "sparkplug-b", "ha-discovery", "gb26875", "patrol-wand",
]


ChecksumVariant = Literal["sum", "sum-from-command", "xor", "xor-from-command"]


class AdapterEntry(Section):
    type: AdapterType
    topic: str | None = Field(None, description="Subscribe filter; default is the format's own.")
    site: str | None = Field(None, pattern=ID_PATTERN, description=(
        "The site whose devices speak through it (default: site.id). The native format needs none: it reads "
        "the site from the topic, and listens for every site of the deployment."))
    # GB/T 26875.3 receiver (type gb26875) only:
    listen: str | None = Field(None, description="gb26875: HOST:PORT the TCP receiver listens on.")
    checksum: ChecksumVariant = Field("sum", description="gb26875: the standard's checksum, or a vendor's variant.")
    checksum_by_address: dict[str, ChecksumVariant] = Field(
        default_factory=dict, description="gb26875: a variant per device address (12 hex digits).")
    supervise_seconds: float = Field(
        300.0, gt=0, le=86400, description="gb26875: a link silent this long (no frame, no keep-alive) is offline.")
    peers: dict[str, list[str]] = Field(
        default_factory=dict, description="gb26875: the IP addresses each device address (12 hex digits) may speak "
                                          "from; frames claiming that address from anywhere else are denied.")

    @model_validator(mode="after")
    def _receiver_options(self) -> AdapterEntry:
        if self.type == "gb26875":
            if not self.listen:
                raise ValueError("gb26875 needs listen: HOST:PORT for its TCP receiver")
            host, _, port = self.listen.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"listen must be HOST:PORT, got {self.listen!r}")
        elif self.listen or self.checksum_by_address or self.peers or "checksum" in self.model_fields_set:
            raise ValueError(f"listen and checksum apply to gb26875, not {self.type}")
        return self

    @field_validator("topic")
    @classmethod
    def _filter(cls, value: str | None) -> str | None:
        if value is not None:
            check_topic_filter(value)
        return value


class HealthSection(Section):
    heartbeat_seconds: dict[Literal["fire_panel", "door", "lane", "camera", "sensor", "gateway"], int] = Field(
        default_factory=dict,
        description="Budget per device role: a registered device silent for longer is taken offline (camera.offline "
                    "for cameras, device.offline for the rest) until it speaks again. Not set: not supervised. "
                    "Give each role about three of its heartbeat intervals (esp-rfid beats every 180 s: 540).")
    check_seconds: float = Field(15.0, ge=1, le=600, description="How often the budgets are checked.")
    stall_seconds: float = Field(
        10.0, ge=1, le=600, description="Messages waiting and nothing committed for this long: intake is stalled, "
                                        "and GET /api/health/ready answers 503 (a full disk, a locked store).")
    audit_anchor_seconds: float = Field(
        300.0, ge=1, le=86400, description="How often the audit chain's head (id, hash) is logged and written to the "
                                           "time series (mcc_audit_head), to check later with mcc audit verify --anchor.")


class CarPark(Section):
    capacity: int = Field(ge=1, le=100000)
    lanes: list[str] = Field(default_factory=list, description="Lane device ids; default: lanes whose building is "
                                                                  "the car park's name.")
    baseline: int = Field(0, ge=0, description="Cars inside at counted_from (a count by hand).")
    counted_from: datetime | None = Field(None, description="When the baseline was counted (ISO-8601 with offset); "
                                                            "default: since the first event.")


class ParkingSection(Section):
    car_parks: dict[str, CarPark] = Field(default_factory=dict, description="Occupancy from entries and exits.")


class CommandsSection(Section):
    """How long a remote command waits for the device to say it was done, and where commands may go."""

    topic_prefixes: list[str] = Field(default_factory=list, description=(
        "Topic prefixes (ending in /) where devices of vendor formats take their commands, e.g. cmnd/ for "
        "Tasmota. Without one, a device's command topic is mcc/v1/<site>/<device>/command or below it."))

    @field_validator("topic_prefixes")
    @classmethod
    def _prefixes(cls, value: list[str]) -> list[str]:
        for prefix in value:
            if not prefix.endswith("/") or (problem := command_topic_problem(prefix + "x")):
                raise ValueError(f"{prefix!r}: a prefix is a topic name ending in / "
                                 f"({problem or 'it does not end in /'})")
            if prefix.startswith("mcc/"):
                raise ValueError(f"{prefix!r}: the mcc/ tree is the console's own; its command topics are "
                                 "mcc/v1/<site>/<device>/command")
        return value

    barrier_confirm_seconds: int = Field(
        15, ge=2, le=300, description="A barrier lift not followed by the lane's parking.barrier_opened is "
                                      "'not confirmed' after this.")
    duty_check_answer_seconds: int = Field(
        600, ge=10, le=3600, description="A GB/T 26875.3 duty check (查岗) the staff do not answer in time is "
                                         "'not confirmed' (the device waits 10 minutes).")


class IngestSection(Section):
    max_payload_bytes: int = Field(65536, ge=256, description="Larger payloads are quarantined.")
    max_json_depth: int = Field(16, ge=2, le=64, description="Deeper JSON is quarantined.")
    max_future_seconds: int = Field(86400, ge=0, description="Timestamps further ahead are quarantined.")
    batch_max: int = Field(500, ge=1, le=10000, description="Most messages committed in one transaction.")
