"""What the adapters and the wire share, and nothing else: the inbound envelope, the canonical
kinds, the event draft an adapter makes of a payload, the payload error, what an adapter may ask
the device registry, and what it may announce to it.

Adapters import nothing from ``console`` but this module (an import contract in the test run
checks it), so a vendor format can be read, written and tested without the rest of the console.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, get_args

from paho.mqtt.client import topic_matches_sub

from console.errors import PayloadError

__all__ = [
    "ALL_KINDS", "AnnouncedDevice", "DeviceLookup", "Draft", "InboundMessage", "PayloadError",
    "check_topic_filter", "control_character", "family", "unclean",
]

# -- the canonical kinds (DESIGN.md, "Native MQTT format"); new kinds are added there first --------

FireKind = Literal["fire.alarm", "fire.fault", "fire.supervisory", "fire.feedback", "fire.isolated", "fire.reset"]
AccessKind = Literal["access.granted", "access.denied"]
DoorKind = Literal[
    "access.door_forced", "access.door_held_open", "access.door_closed", "access.tamper", "access.duress"
]
ParkingPassKind = Literal["parking.entry", "parking.exit", "parking.unpaid_exit", "parking.barrier_opened"]
ParkingFaultKind = Literal["parking.barrier_fault"]
CameraKind = Literal["camera.offline", "camera.online", "camera.tamper", "camera.motion"]
SafetyKind = Literal["safety.gas", "safety.water_leak"]
DeviceKind = Literal["device.online", "device.offline", "device.heartbeat", "device.fault"]
BatteryKind = Literal["device.battery_low"]
ElevatorKind = Literal["elevator.trapped", "elevator.fault"]
PowerKind = Literal["power.failure"]
PatrolKind = Literal[
    "patrol.checkpoint", "patrol.checkpoint_missed", "patrol.round_missed", "patrol.finding", "patrol.defect",
]
RestoreKind = Literal[
    "fire.restore", "access.restore", "parking.restore", "camera.restore", "safety.restore", "device.restore",
    "elevator.restore", "power.restore",
]

ALL_KINDS: frozenset[str] = frozenset(
    kind
    for group in (
        FireKind, AccessKind, DoorKind, ParkingPassKind, ParkingFaultKind, CameraKind,
        SafetyKind, DeviceKind, BatteryKind, ElevatorKind, PowerKind, PatrolKind, RestoreKind,
    )
    for kind in get_args(group)
)


def family(kind: str) -> str:
    return kind.split(".", 1)[0]


# -- what comes in, and what an adapter makes of it ----------------------------------------------------

@dataclass(frozen=True)
class InboundMessage:
    """One MQTT message as it arrived."""

    topic: str
    payload: bytes
    retain: bool
    received_at: datetime
    qos: int = 1
    mid: int = 0
    dup: bool = False
    settle: Callable[[], None] | None = field(default=None, compare=False, repr=False)
    """Called once the commit that stored (or quarantined) the message is done: the MQTT ack on
    the connection it came by, or a GB/T 26875.3 link's confirm. The message carries it, so the
    writer settles it without knowing where it came from."""


@dataclass(frozen=True)
class Draft:
    """What an adapter says a message means, before validation."""

    kind: str
    site: str
    device_id: str
    source_id: str
    ts: Any
    point: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    retained: bool = False


# -- the registry, as an adapter sees it ---------------------------------------------------------------


class DeviceLookup(Protocol):
    """What an adapter may ask the device registry (console/devices/registry.py implements it)."""

    def resolve(self, site: str, adapter: str, address: str) -> str:
        """The registered id of the device with this vendor ``address`` (the address itself if none)."""
        ...

    def kind_of(self, site: str, device_id: str, point: str = "") -> str:
        """What the registry says the device (or one of its points) is: smoke_detector, door_contact...; "" if unknown."""
        ...


@dataclass(frozen=True)
class AnnouncedDevice:
    """A device a format announces itself (Home Assistant discovery): the ingest registers it,
    checked like any registration, in the transaction that stores the message."""

    id: str
    name: str
    role: Literal["fire_panel", "door", "lane", "camera", "sensor", "gateway"] = "sensor"
    kind: str = ""
    adapter: str = ""
    address: str = ""
    label: str = ""


def check_topic_filter(value: str) -> None:
    """Raise ValueError unless ``value`` is a valid MQTT subscribe filter."""
    if not value or len(value.encode()) > 65535 or "\x00" in value:
        raise ValueError("empty, too long or contains NUL")
    levels = value.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            raise ValueError("'#' must be a whole last level")
        if "+" in level and level != "+":
            raise ValueError("'+' must be a whole level")
    # paho raises on filters it cannot match; this also checks the level rules it enforces.
    topic_matches_sub(value, "x")


# -- what text and numbers may hold (MQTT payloads, API bodies, site files) ------------------------------

_CONTROL_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_IN_NAME = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def control_character(text: str, *, name: bool = False) -> str | None:
    """The first control character in ``text`` as U+XXXX, or None. Text may hold tab, line feed and
    carriage return; a name (an id, a point, a key) holds none. NUL breaks PostgreSQL text, ESC
    rewrites a terminal that shows a log, and neither means anything on a wall."""
    found = (_CONTROL_IN_NAME if name else _CONTROL_IN_TEXT).search(text)
    return f"U+{ord(found.group()):04X}" if found else None


def unclean(value: Any, where: str = "") -> str | None:
    """Why a decoded JSON-like value cannot be kept, or None: a control character in a string
    (or any in a key), or a number that is not finite (NaN, Infinity, 1e999999 read as infinity)."""
    if isinstance(value, str):
        found = control_character(value)
        return f"{where or 'value'}: control character {found}" if found else None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{where or 'value'}: not a finite number"
    if isinstance(value, dict):
        # An event's data is mostly flat text: one search over all of it first (C speed; the join
        # fails on anything but strings, and then each item is looked at).
        try:
            if not _CONTROL_IN_TEXT.search("".join(value.values())) and not _CONTROL_IN_NAME.search("".join(value)):
                return None
        except TypeError:
            pass
        for key, item in value.items():
            if isinstance(key, str) and (found := control_character(key, name=True)):
                return f"{where or 'value'}: control character {found} in a key"
            if problem := unclean(item, f"{where}.{key}" if where else str(key)):
                return problem
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            if problem := unclean(item, f"{where}[{index}]"):
                return problem
    return None
