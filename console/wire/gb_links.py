"""The site's GB/T 26875.3 receivers, built from the site file (one per ``gb26875`` adapter entry with
``listen``), and what a link going quiet or speaking again means for the alarm path: a registered
device's ``device.offline`` / ``device.online``, handed to the single writer like any observation."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import datetime

from console.contract import Draft
from console.devices.registry import DeviceRegistry
from console.messages import AlarmPath
from console.settings import AdapterEntry, Settings
from console.wire.gb26875_receiver import Gb26875Receiver

log = logging.getLogger("mcc.gb26875")


class GbLinks:
    """One entry's receiver settings and link events (bound methods, handed to its receiver)."""

    def __init__(self, entry: AdapterEntry, site: str, registry: DeviceRegistry, alarm_path: AlarmPath,
                 now: Callable[[], datetime]) -> None:
        self.entry = entry
        self.site = site
        self.registry = registry
        self.alarm_path = alarm_path
        self.now = now

    def checksum(self, source: str) -> str:
        return self.entry.checksum_by_address.get(source, self.entry.checksum)

    def peers(self, source: str) -> list[str]:
        return self.entry.peers.get(source, [])

    def silent(self, source: str) -> None:
        self._link(source, "device.offline")

    def back(self, source: str) -> None:
        self._link(source, "device.online")

    def _link(self, source: str, kind: str) -> None:
        device = self.registry.resolve(self.site, "gb26875", source)
        if not self.registry.is_registered(self.site, device):
            log.warning("GB/T 26875.3 link %s (not registered) %s", source, kind)
            return  # an unknown source's link says nothing about the site's equipment
        now = self.now()
        draft = Draft(kind=kind, site=self.site, device_id=device, source_id=f"link:{kind}:{now.timestamp():.3f}",
                      ts=now, data={"via": "silence"})
        self.alarm_path.observe([draft], silenced=kind == "device.offline")


def build_receivers(settings: Settings, registry: DeviceRegistry, submit: Callable[..., None],
                    alarm_path: AlarmPath, now: Callable[[], datetime],
                    heard: Callable[[str, str], None] | None = None) -> list[Gb26875Receiver]:
    """A receiver per gb26875 entry; its frames go to ``submit`` (the writer), each confirmed only once
    stored. Registered GB devices are expected to connect: one that does not is reported silent.
    With ``heard`` (a cluster) the receivers only say whom they heard (site, source), and the
    links are supervised from the store (gb_supervision.py)."""
    receivers = []
    for entry in settings.adapters:
        if entry.type != "gb26875" or entry.listen is None:
            continue
        host, _, port = entry.listen.rpartition(":")
        site = settings.site_entry(entry.site or settings.site.id)
        links = GbLinks(entry, site.id, registry, alarm_path, now)
        local = heard is None
        receiver = Gb26875Receiver(host, int(port), submit=submit, checksum=links.checksum,
                                   supervise_seconds=entry.supervise_seconds if local else 0.0,
                                   on_silence=links.silent if local else None, on_back=links.back if local else None,
                                   now=now, timezone=site.timezone, peers=links.peers,
                                   on_heard=None if heard is None else functools.partial(heard, site.id))
        if local:
            for device in registry.entries():
                if device.adapter == "gb26875" and device.address:
                    receiver.expect(device.address)
        receivers.append(receiver)
    return receivers
