"""The device registry: who a device is and where it is (building, floor, label).

It holds the site file's devices, plus the ones an admin registered from the console (kept in
the store, loaded at start). Adding one swaps in new maps rather than changing them in place, so
a reader on another thread never sees a map change under it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

from console.settings import DeviceEntry, Settings


@dataclass(frozen=True)
class Location:
    building: str = ""
    floor: str = ""
    zone: str = ""
    label: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"building": self.building, "floor": self.floor, "zone": self.zone, "label": self.label}


class DeviceRegistry:
    def __init__(self, devices: list[DeviceEntry], default_site: str, command_prefixes: list[str] | None = None):
        self.default_site = default_site
        self.command_prefixes = list(command_prefixes or [])
        """Where vendor devices may take commands besides their own mcc/v1 command topic."""
        self._lock = threading.Lock()
        self.from_site_file: frozenset[tuple[str, str]] = frozenset(
            (device.site or default_site, device.id) for device in devices)
        self._site_file = list(devices)
        self._places: dict[tuple[str, str], dict[str, Location]] = {}
        """Points of the console's own sources that are not devices (the patrol checkpoints), by
        (site, source id): where their alarms are."""
        self._index(devices)

    def _index(self, devices: list[DeviceEntry]) -> None:
        by_key = {(device.site or self.default_site, device.id): device for device in devices}
        # Vendor addresses (a Zigbee IEEE address, an esp-rfid hostname...) to registered ids,
        # by (site, adapter, address); an entry without an adapter answers for every adapter.
        by_address = {(device.site or self.default_site, device.adapter, device.address): device
                      for device in devices if device.address}
        owners: dict[tuple[str, str], str] = {}
        for (site, _adapter, address), device in by_address.items():
            owners.setdefault((site, address), device.id)
        self._by_key, self._by_address, self._owners = by_key, by_address, owners

    def entries(self) -> list[DeviceEntry]:
        return list(self._by_key.values())

    def add(self, device: DeviceEntry) -> None:
        """Register (or replace) a device registered from the console."""
        key = (device.site or self.default_site, device.id)
        with self._lock:  # two registrations at once must not lose one
            self._index([d for k, d in self._by_key.items() if k != key] + [device])

    def add_many(self, devices: list[DeviceEntry]) -> None:
        """Register (or replace) many devices at once (an import): the index is rebuilt once."""
        if not devices:
            return
        keys = {(device.site or self.default_site, device.id) for device in devices}
        with self._lock:
            self._index([d for k, d in self._by_key.items() if k not in keys] + list(devices))

    def remove(self, site: str, device_id: str) -> None:
        with self._lock:
            self._index([d for k, d in self._by_key.items() if k != (site, device_id)])

    def set_registered(self, devices: list[DeviceEntry]) -> bool:
        """Replace the devices registered from the console (as the store holds them now, also
        those another console instance registered); True if anything changed."""
        with self._lock:
            current = [d for k, d in self._by_key.items() if k not in self.from_site_file]
            if sorted(current, key=lambda d: d.id) == sorted(devices, key=lambda d: d.id):
                return False
            self._index(self._site_file + [d for d in devices
                                           if (d.site or self.default_site, d.id) not in self.from_site_file])
            return True

    def address_owner(self, site: str, address: str) -> str | None:
        """The device that has ``address`` as its vendor address, under any adapter."""
        return self._owners.get((site, address))

    @classmethod
    def from_settings(cls, settings: Settings) -> DeviceRegistry:
        return cls(settings.devices.entries, settings.site.id, settings.commands.topic_prefixes)

    def __len__(self) -> int:
        return len(self._by_key)

    def __iter__(self) -> Iterator[tuple[tuple[str, str], DeviceEntry]]:
        return iter(list(self._by_key.items()))

    def get(self, site: str, device_id: str) -> DeviceEntry | None:
        return self._by_key.get((site, device_id))

    def resolve(self, site: str, adapter: str, address: str) -> str:
        """The registered id of the device a vendor calls ``address`` (itself, when it is not
        registered by address: then it is either registered under that id, or unknown)."""
        entry = self._by_address.get((site, adapter, address)) or self._by_address.get((site, "", address))
        return entry.id if entry is not None else address

    def kind_of(self, site: str, device_id: str, point: str = "") -> str:
        """What the registry says a sensor (or one point of a device) is: the point's kind, the
        device's kind, else its role (door, lane, camera...); "" for an unregistered device."""
        device = self._by_key.get((site, device_id))
        if device is None:
            return ""
        entry = device.points.get(point) if point else None
        return (entry.kind if entry is not None and entry.kind else "") or device.kind or device.role

    def is_registered(self, site: str, device_id: str) -> bool:
        return (site, device_id) in self._by_key

    def set_places(self, site: str, source: str, places: dict[str, Location]) -> None:
        """Say where the points of one of the console's own sources are (replacing what was said)."""
        self._places = {**self._places, (site, source): dict(places)}

    def location(self, site: str, device_id: str, point: str = "") -> Location:
        device = self._by_key.get((site, device_id))
        if device is None:
            known = self._places.get((site, device_id), {}).get(point)
            return known if known is not None else Location(label=f"{device_id} {point}".strip())
        entry = device.points.get(point) if point else None
        if entry is None:
            label = device.label or device.name
            if point:
                label = f"{label} {point}".strip()
            return Location(device.building, device.floor, device.zone, label)
        return Location(
            device.building,
            entry.floor or device.floor,
            entry.zone or device.zone,
            entry.label or f"{device.label} {point}".strip(),
        )

    def name(self, site: str, device_id: str) -> str | None:
        device = self._by_key.get((site, device_id))
        return device.name or None if device else None
