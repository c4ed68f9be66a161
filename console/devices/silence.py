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
import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from console.alarms.engine import settle_flapping
from console.alarms.views import alarm_view
from console.contract import Draft
from console.devices.admin import load_registered_devices
from console.messages import HubMessage
from console.settings import DeviceEntry, Settings
from console.store.tables import DeviceStatusRow, EventRow
from console.wire.ingest import Ingest

log = logging.getLogger("mcc.health")
DOOR_OPENED = ("access.granted", "access.door_forced")
DOOR_KINDS = (*DOOR_OPENED, "access.door_closed", "access.door_held_open")
SILENCE_KINDS = {"camera": ("camera.offline", "camera.online")}
DEFAULT_KINDS = ("device.offline", "device.online")


def budgets(settings: Settings, devices: list[DeviceEntry] | None = None) -> dict[tuple[str, str], tuple[int, str]]:
    """(site, device) → (budget seconds, role) for every supervised registered device."""
    out = {}
    for device in settings.devices.entries if devices is None else devices:
        if device.adapter == "gb26875":
            continue  # its receiver supervises the TCP link itself, keep-alives included
        budget = device.heartbeat_seconds
        if budget is None:
            budget = settings.health.heartbeat_seconds.get(device.role, 0)
        if budget:
            out[(device.site or settings.site.id, device.id)] = (budget, device.role)
    return out


class SilenceWatch:
    def __init__(self, settings: Settings, ingest: Ingest, publish: Callable[[list[HubMessage]], None],
                 now: Callable[[], datetime], backlog: Callable[[], int] = lambda: 0):
        self.backlog = backlog
        self.ingest = ingest
        self.publish = publish
        self.now = now
        self.settings = settings
        self.interval = settings.health.check_seconds
        self.budgets = budgets(settings, ingest.registry.entries())
        self.started_at = now()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mcc-silence", daemon=True)
        self.last_error: str | None = None

    def start(self) -> None:
        self.load_silenced()
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def load_silenced(self) -> None:
        """After a restart: which devices are still offline because of silence."""
        silenced: set[tuple[str, str]] = set()
        with self.ingest.store.read() as session:
            rows = session.execute(select(EventRow.site, EventRow.device_id, EventRow.kind, EventRow.data)
                                   .where(EventRow.adapter == "console").order_by(EventRow.id)).all()
        for site, device_id, kind, data in rows:
            if (data or {}).get("via") == "silence":
                (silenced.add if kind.endswith(".offline") else silenced.discard)((site, device_id))
        self.ingest.silenced |= silenced

    def check(self) -> list[HubMessage]:
        now = self.now()
        settled = self._settle(now)
        # Registrations made since (here or on another console instance) arrive, and are supervised.
        load_registered_devices(self.ingest.store, self.ingest.registry)
        self.budgets = budgets(self.settings, self.ingest.registry.entries())
        if self.backlog():  # messages still queued may be the very signs of life
            return settled
        with self.ingest.store.read() as session:
            rows = session.execute(select(DeviceStatusRow.site, DeviceStatusRow.device_id, DeviceStatusRow.state,
                                          DeviceStatusRow.last_seen)
                                   .where(DeviceStatusRow.last_seen.is_not(None))).all()
        drafts = []
        for site, device_id, state, last_seen in rows:
            key = (site, device_id)
            if key not in self.budgets or key in self.ingest.silenced or state == "offline":
                continue
            budget, role = self.budgets[key]
            silent = (now - last_seen).total_seconds()
            # After a start, every device gets its whole budget to be heard again first.
            if silent > budget and (now - self.started_at).total_seconds() > budget:
                offline, _online = SILENCE_KINDS.get(role, DEFAULT_KINDS)
                drafts.append(Draft(kind=offline, site=site, device_id=device_id,
                                    source_id=f"silence:{last_seen.timestamp():.0f}", ts=now,
                                    data={"via": "silence", "silent_s": int(silent), "budget_s": budget}))
        held = self._held_open(now)
        if held:
            settled = settled + self.ingest.process_console_drafts(held, now)
        if not drafts:
            return settled
        log.warning("silent past their heartbeat budget, taken offline: %s",
                    ", ".join(d.device_id for d in drafts))
        return settled + self.ingest.process_console_drafts(drafts, now, silenced=True)

    def _held_open(self, now: datetime) -> list[Draft]:
        """Doors with a held-open threshold: opened and not closed within it → door_held_open."""
        drafts = []
        doors = [d for d in self.ingest.registry.entries() if d.held_open_seconds]
        if not doors:
            return []
        with self.ingest.store.read() as session:
            for door in doors:
                site = door.site or self.settings.site.id
                last = session.execute(
                    select(EventRow.kind, EventRow.received_at, EventRow.source_id).where(
                        EventRow.site == site, EventRow.device_id == door.id, EventRow.kind.in_(DOOR_KINDS))
                    .order_by(EventRow.id.desc()).limit(1)).first()
                if last is None or last.kind not in DOOR_OPENED:
                    continue  # closed, or already reported held open
                open_s = (now - last.received_at).total_seconds()
                if open_s > door.held_open_seconds:  # type: ignore[operator]
                    drafts.append(Draft(kind="access.door_held_open", site=site, device_id=door.id,
                                        source_id=f"held:{last.source_id}"[:128], ts=now,
                                        data={"via": "timer", "open_s": int(open_s),
                                              "threshold_s": door.held_open_seconds}))
        return drafts

    def _settle(self, now: datetime) -> list[HubMessage]:
        """Flapping devices back and steady for a while: their damped offline alarm clears."""
        with self.ingest.store.write() as session, session.begin():
            changes = settle_flapping(session, now)
            return [HubMessage(c.type, alarm_view(c.alarm, self.ingest.registry)) for c in changes]

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                messages = self.check()
                self.last_error = None
            except SQLAlchemyError as exc:
                self.last_error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
                log.error("silence watch: store error: %s", self.last_error)
                continue
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("silence watch failed")
                continue
            if messages:
                self.publish(messages)
