"""Which subsystem a device, a point or an alarm belongs to: fire, access, parking, video or other.

One place for the mapping, used by the device counts (wall and /api/devices/summary), the floor
plans' markers, the device page, event search and the day's figures.
"""

from __future__ import annotations

from console.devices.registry import DeviceRegistry

SUBSYSTEMS: tuple[str, ...] = ("fire", "access", "parking", "video", "other")

_FIRE = frozenset({
    "fire_panel", "smoke_detector", "heat_detector", "flame_detector", "manual_call_point", "hydrant_button",
    "sprinkler", "water_flow", "water_pressure", "flow_switch", "pressure_switch", "fire_pump", "fire_door",
    "gas_extinguishing", "linear_heat", "beam_detector", "aspirating", "fire_damper",
})
_ACCESS = frozenset({
    "door", "door_contact", "reader", "intercom", "access_controller", "turnstile", "gate", "lock", "exit_button",
    "patrol_point",
})
_PARKING = frozenset({"lane", "lane_in", "lane_out", "barrier", "plate_reader", "lpr", "parking_sensor"})
_VIDEO = frozenset({"camera", "nvr", "dvr", "video_encoder"})
# Alarm and event kinds by family (the part before the dot).
_FAMILY = {"fire": "fire", "access": "access", "parking": "parking", "camera": "video", "video": "video"}


def of_kind(kind: str, adapter: str = "") -> str:
    """The subsystem of what the registry says a device or point is (registry.kind_of)."""
    if adapter == "gb26875":
        return "fire"  # a fire-alarm transmission device (GB/T 26875.3) and its points
    kind = (kind or "").lower()
    if kind in _FIRE or (kind.startswith(("fire", "smoke", "heat", "water", "sprinkler", "hydrant"))
                         and kind != "water_leak"):
        return "fire"
    if kind in _ACCESS or kind.startswith(("door", "access", "reader", "intercom")):
        return "access"
    if kind in _PARKING or kind.startswith(("lane", "barrier", "plate", "parking")):
        return "parking"
    if kind in _VIDEO or kind.startswith(("camera", "nvr")):
        return "video"
    return "other"


def of_device(registry: DeviceRegistry, site: str, device_id: str, point: str = "") -> str:
    """The subsystem of a registered device (or one of its points); "other" when not registered."""
    device = registry.get(site, device_id)
    if device is None:
        return "other"
    return of_kind(registry.kind_of(site, device_id, point), device.adapter)


def of_event(kind: str, registry: DeviceRegistry, site: str, device_id: str, point: str = "") -> str:
    """The subsystem of an alarm or event: its family (fire.*, access.*, parking.*, camera.*), else
    the device's (a device.offline of a fire panel is the fire subsystem's)."""
    family = kind.split(".", 1)[0]
    if family in _FAMILY:
        return _FAMILY[family]
    return of_device(registry, site, device_id, point)


def empty_counts() -> dict[str, dict[str, int]]:
    return {name: {"online": 0, "offline": 0, "total": 0} for name in SUBSYSTEMS}


def families(name: str) -> list[str]:
    """The event families (fire, access, ...) that belong to a subsystem whatever the device."""
    return [family for family, subsystem in _FAMILY.items() if subsystem == name]


def mapped_families() -> list[str]:
    return list(_FAMILY)


def device_ids(registry: DeviceRegistry, name: str) -> set[str]:
    """The ids of the registered devices of a subsystem."""
    return {device_id for (site, device_id), _d in registry if of_device(registry, site, device_id) == name}
