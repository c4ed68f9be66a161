"""Heartbeat budgets: a registered device that has been silent for longer than its budget is
taken offline (``device.offline``, or ``camera.offline`` for a camera, with ``data.via:
"silence"``), which raises its alarm and opens its SOP's task; the first message it sends
afterwards brings it back online (``device.online`` / ``camera.online``) and clears the alarm.

It also times doors that have a held-open threshold (``held_open_seconds``): opened (a granted
card, or forced) and not reported closed within it, the console raises ``access.door_held_open``
itself; the door's ``door_closed`` clears it. And it settles flapping devices: an offline alarm that the device kept toggling (three times in
ten minutes) is damped, not silenced: it stays raised, counting, and clears here once the
device has been online for ten minutes.

Devices with a will or availability topic go offline by themselves; this is for the ones that
only beat (esp-rfid every 180 s, GB/T 26875.3 links, fire panels behind simple gateways).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select

from console.contract import Draft
from console.devices.admin import load_registered_devices
from console.devices.registry import DeviceRegistry
from console.messages import AlarmPath
from console.settings import DeviceEntry, Settings
from console.store.database import Store
from console.store.tables import DeviceStatusRow, EventRow
from console.workers import PeriodicWorker

log = logging.getLogger("mcc.health")
DOOR_OPENED = ("access.granted", "access.door_forced")
DOOR_KINDS = (*DOOR_OPENED, "access.door_closed", "access.door_held_open")
SILENCE_KINDS = {"camera": ("camera.offline", "camera.online")}
DEFAULT_KINDS = ("device.offline", "device.online")


def budgets(settings: Settings, devices: list[DeviceEntry] | None = None) -> dict[tuple[str, str], tuple[int, str]]:
    """(site, device) → (budget seconds, role) for every supervised registered device."""
    out: dict[tuple[str, str], tuple[int, str]] = {}
    for device in settings.devices.entries if devices is None else devices:
        if device.adapter == "gb26875":
            continue  # its receiver supervises the TCP link itself, keep-alives included
        budget = device.heartbeat_seconds
        if budget is None:
            budget = settings.health.heartbeat_seconds.get(device.role, 0)
        if budget:
            out[(device.site or settings.site.id, device.id)] = (budget, device.role)
    return out


class SilenceWatch(PeriodicWorker):
    """Every ``health.check_seconds``: devices silent past their budget and doors held open are
    handed to the alarm path as the console's own observations; flapping devices are settled."""

    duty = "silence-watch"
    """One instance of a cluster does this at a time."""

    def __init__(self, settings: Settings, store: Store, registry: DeviceRegistry, alarm_path: AlarmPath,
                 now: Callable[[], datetime]):
        super().__init__("silence", settings.health.check_seconds)
        self.settings = settings
        self.store = store
        self.registry = registry
        self.alarm_path = alarm_path
        self.now = now
        self.budgets = budgets(settings, registry.entries())
        self.started_at = now()

    def detail(self) -> dict[str, object]:
        return {"supervised": len(self.budgets)}

    def tick(self) -> None:
        now = self.now()
        # Registrations made since (here or on another console instance) arrive, and are supervised.
        load_registered_devices(self.store, self.registry)
        self.budgets = budgets(self.settings, self.registry.entries())
        # Messages still waiting to be written may be the very signs of life: judge silence only
        # when the writer has caught up.
        silent = [] if self.alarm_path.backlog else self.silent_devices(now)
        held = self._held_open(now)
        if held:
            self.alarm_path.observe(held)
        if silent:
            log.warning("silent past their heartbeat budget, taken offline: %s",
                        ", ".join(d.device_id for d in silent))
            self.alarm_path.observe(silent, silenced=True)
        self.alarm_path.settle_flapping(now)
    def silent_devices(self, now: datetime) -> list[Draft]:
        with self.store.read() as session:
            rows = session.execute(select(DeviceStatusRow.site, DeviceStatusRow.device_id, DeviceStatusRow.state,
                                          DeviceStatusRow.last_seen)
                                   .where(DeviceStatusRow.last_seen.is_not(None))).all()
        silent = self.alarm_path.silent
        drafts = []
        for site, device_id, state, last_seen in rows:
            key = (site, device_id)
            if key not in self.budgets or key in silent or state == "offline" or last_seen is None:
                continue
            budget, role = self.budgets[key]
            quiet = (now - last_seen).total_seconds()
            # After a start, every device gets its whole budget to be heard again first.
            if quiet > budget and (now - self.started_at).total_seconds() > budget:
                offline, _online = SILENCE_KINDS.get(role, DEFAULT_KINDS)
                drafts.append(Draft(kind=offline, site=site, device_id=device_id,
                                    source_id=f"silence:{last_seen.timestamp():.0f}", ts=now,
                                    data={"via": "silence", "silent_s": int(quiet), "budget_s": budget}))
        return drafts

    def _held_open(self, now: datetime) -> list[Draft]:
        """Doors with a held-open threshold: opened and not closed within it → door_held_open."""
        drafts = []
        doors = [d for d in self.registry.entries() if d.held_open_seconds]
        if not doors:
            return []
        with self.store.read() as session:
            for door in doors:
                site = door.site or self.settings.site.id
                last = session.execute(
                    select(EventRow.kind, EventRow.received_at, EventRow.source_id).where(
                        EventRow.site == site, EventRow.device_id == door.id, EventRow.kind.in_(DOOR_KINDS))
                    .order_by(EventRow.id.desc()).limit(1)).first()
                if last is None or last.kind not in DOOR_OPENED:
                    continue  # closed, or already reported held open
                open_s = (now - last.received_at).total_seconds()
                if door.held_open_seconds is not None and open_s > door.held_open_seconds:
                    drafts.append(Draft(kind="access.door_held_open", site=site, device_id=door.id,
                                        source_id=f"held:{last.source_id}"[:128], ts=now,
                                        data={"via": "timer", "open_s": int(open_s),
                                              "threshold_s": door.held_open_seconds}))
        return drafts
