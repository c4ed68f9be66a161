"""GB/T 26875.3 link supervision across a cluster. Behind a balancer a device's link lands on any
instance and, after a reconnect, on another: no instance alone knows whether a device is silent.
So each instance's receivers note when they hear a source (``HeardLinks``, written to the store
every second), and the instance holding the ``gb-link-supervision`` duty judges every link from
those times (``LinkSupervision``): a source silent for its entry's ``supervise_seconds`` goes
offline once, and online when it is heard again, whichever instance hears it. A single console
keeps supervising in its receivers (gb26875_receiver.py)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from console.devices.registry import DeviceRegistry
from console.messages import AlarmPath
from console.settings import Settings
from console.store.database import Store
from console.store.tables import DeviceStatusRow, GbHeardRow
from console.wire.gb_links import GbLinks
from console.workers import PeriodicWorker

log = logging.getLogger("mcc.gb26875")


class HeardLinks(PeriodicWorker):
    """This instance's receivers' latest frame per source, written to the store every ``interval``."""

    def __init__(self, store: Store, instance: str, now: Callable[[], datetime], interval: float = 1.0) -> None:
        super().__init__("gb-heard", interval)
        self.store, self.instance, self.now = store, instance, now
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str], datetime] = {}

    def heard(self, site: str, source: str) -> None:
        """A receiver heard ``source`` (on its loop: only notes it)."""
        with self._lock:
            self._pending[(site, source)] = self.now()

    def tick(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return
        rows = [{"site": site, "source": source, "heard_at": at, "instance": self.instance}
                for (site, source), at in pending.items()]
        statement = insert(GbHeardRow).values(rows)
        statement = statement.on_conflict_do_update(
            index_elements=["site", "source"],
            set_={"heard_at": statement.excluded.heard_at, "instance": statement.excluded.instance},
            where=GbHeardRow.heard_at < statement.excluded.heard_at)
        try:
            with self.store.write() as session, session.begin():
                session.execute(statement)
        except Exception:
            with self._lock:  # not lost: the next tick writes them (unless newer ones came)
                for key, at in pending.items():
                    self._pending.setdefault(key, at)
            raise


@dataclass
class Supervised:
    """One gb26875 entry: its site's link events, how long a link may be silent, and the sources
    expected (its registered GB devices, as a single console's receiver expects them)."""

    links: GbLinks
    supervise_seconds: float
    expected: set[str]


class LinkSupervision(PeriodicWorker):
    duty = "gb-link-supervision"
    """One instance of a cluster does this at a time."""

    def __init__(self, store: Store, entries: list[Supervised], now: Callable[[], datetime],
                 interval: float = 1.0) -> None:
        super().__init__("gb-link-supervision", interval)
        self.store, self.entries, self.now = store, entries, now
        self.silent: set[tuple[str, str]] = set()
        self._took_at: datetime | None = None
        self._last_tick = 0.0

    def detail(self) -> dict[str, object]:
        return {"silent": sorted(f"{site}/{source}" for site, source in self.silent)}

    def tick(self) -> None:
        now = self.now()
        if time.monotonic() - self._last_tick > 3 * self.interval + 1:
            self._take_over(now)  # (again) on duty: start from what the store says
        self._last_tick = time.monotonic()
        with self.store.read() as session:
            heard = {(r.site, r.source): r.heard_at for r in session.scalars(select(GbHeardRow))}
        assert self._took_at is not None
        for entry in self.entries:
            site = entry.links.site
            sources = entry.expected | {source for (s, source) in heard if s == site}
            for source in sorted(sources):
                key = (site, source)
                # Never heard: it has had since this instance took the duty to speak.
                last = heard.get(key, self._took_at)
                quiet = (now - last).total_seconds()
                if quiet >= entry.supervise_seconds and key not in self.silent:
                    self.silent.add(key)
                    log.warning("GB/T 26875.3: %s/%s silent for %.1f s", site, source, quiet)
                    entry.links.silent(source)
                elif quiet < entry.supervise_seconds and key in self.silent:
                    self.silent.discard(key)
                    entry.links.back(source)

    def _take_over(self, now: datetime) -> None:
        """The links already reported silent are those whose device is offline in the store."""
        self._took_at = now
        self.silent = set()
        with self.store.read() as session:
            offline = {(r.site, r.device_id) for r in session.scalars(
                select(DeviceStatusRow).where(DeviceStatusRow.state == "offline"))}
        for entry in self.entries:
            links = entry.links
            for source in entry.expected:
                if (links.site, links.registry.resolve(links.site, "gb26875", source)) in offline:
                    self.silent.add((links.site, source))


def supervised_links(settings: Settings, registry: DeviceRegistry, alarm_path: AlarmPath,
                     now: Callable[[], datetime]) -> list[Supervised]:
    """Every gb26875 entry's links, as the cluster's supervision judges them."""
    out = []
    for entry in settings.adapters:
        if entry.type != "gb26875" or entry.listen is None:
            continue
        links = GbLinks(entry, entry.site or settings.site.id, registry, alarm_path, now)
        expected = {d.address for d in registry.entries() if d.adapter == "gb26875" and d.address}
        out.append(Supervised(links, entry.supervise_seconds, expected))
    return out
