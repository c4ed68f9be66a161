"""The wall displays: each sends a heartbeat over its WebSocket every 15 s (what it shows, whether
its sound plays, how far behind it is), kept here in memory.

A display is ``live`` (a heartbeat within 45 s, socket open), ``stale`` (socket open, but no
heartbeat for 45 s: the page is frozen) or ``disconnected`` (its socket closed). A change of
state goes to every screen as ``display.updated``; a background check every 5 s finds the
displays that went quiet.

Only ``display`` logins are recorded (the caller checks the role). A display is keyed by its login
and its id, so one login cannot take over another's wall. One socket speaks for one display: the
first id it sends is the only one it may use, and at most one heartbeat per ``MIN_BEAT`` counts.
When the same login sends the same id over a newer socket (the wall reloaded, or reconnected
before the server saw its old socket drop), the newest socket is the wall. At most ``KEEP``
displays are remembered; the oldest disconnected one makes room, and a display disconnected for
``FORGET_AFTER`` is forgotten (a kiosk in incognito mode gets a new id on every boot). Every
heartbeat is O(1) work: it runs on the event loop.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from console.messages import HubMessage
from console.workers import PeriodicWorker

log = logging.getLogger("mcc.displays")
STALE_AFTER = timedelta(seconds=45)
CHECK_SECONDS = 5.0
KEEP = 200  # displays remembered; the oldest disconnected ones are forgotten first
FORGET_AFTER = timedelta(hours=12)  # a display disconnected this long is forgotten
MIN_BEAT = timedelta(seconds=2)  # a socket's heartbeats closer together than this are dropped
SOUND = ("on", "blocked", "off")
RECORDED_ROLES = frozenset({"display"})

Key = tuple[str, str]  # (username, display id)


def _text(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**53 else None


@dataclass
class Display:
    display: str
    name: str
    user: str
    address: str
    build: str
    sound: str
    page: str
    last_seq: int | None
    lag_ms: int | None
    alarms: int | None
    last_at: datetime
    connected: bool
    connection: int
    sites: tuple[str, ...] | None = None
    """The sites its login is limited to (None: every site, a group wall)."""
    state: str = "live"
    """The state last announced."""
    closed_at: datetime | None = None

    def current_state(self, now: datetime) -> str:
        if not self.connected:
            return "disconnected"
        return "live" if now - self.last_at <= STALE_AFTER else "stale"

    def message(self) -> HubMessage:
        return HubMessage("display.updated", {
            "display": self.display, "name": self.name, "state": self.state, "sound": self.sound,
            "last_at": self.last_at.isoformat(), "build": self.build, "lag_ms": self.lag_ms, "user": self.user,
            "sites": list(self.sites) if self.sites is not None else None})

    def view(self, now: datetime) -> dict[str, Any]:
        return {"display": self.display, "name": self.name, "user": self.user, "address": self.address,
                "state": self.current_state(now), "sound": self.sound, "build": self.build,
                "last_at": self.last_at.isoformat(), "lag_ms": self.lag_ms, "alarms": self.alarms,
                "last_seq": self.last_seq, "page": self.page}


@dataclass
class _Link:
    """What one socket speaks for: its display and its last counted heartbeat."""
    key: Key
    last_beat: datetime
    warned: bool = False


class DisplayBook:
    """Thread-safe: heartbeats arrive on the event loop, the check runs on its own thread."""

    def __init__(self, keep: int = KEEP) -> None:
        self._lock = threading.Lock()
        self._keep = keep
        self._displays: dict[Key, Display] = {}
        self._links: dict[int, _Link] = {}  # connection -> its display
        self._gone: OrderedDict[Key, None] = OrderedDict()  # disconnected displays, oldest close first
        self._full_warned = False

    def heartbeat(self, data: dict[str, Any], user: str, address: str, connection: int,
                  now: datetime, sites: tuple[str, ...] | None = None) -> list[HubMessage]:
        """Record one heartbeat; the ``display.updated`` to send if the display's state changed
        (a new display, a frozen one that beats again, one that reconnected). ``sites``: those its
        login is limited to (None: every site), which decide who is told of it."""
        display_id = _text(data.get("display"), 64).strip()
        if not display_id:
            return []
        key = (user, display_id)
        with self._lock:
            link = self._links.get(connection)
            if link is not None:
                if link.key != key:
                    if not link.warned:
                        link.warned = True
                        log.warning("connection %d (%s) sent display id %r after %r; ignored",
                                    connection, user, display_id, link.key[1])
                    return []
                if now - link.last_beat < MIN_BEAT:
                    return []
            entry = self._displays.get(key)
            if entry is not None and entry.connected and entry.connection != connection and link is not None:
                return []  # a newer socket of the same login took this wall over
            if entry is None and len(self._displays) >= self._keep and not self._make_room():
                if not self._full_warned:
                    self._full_warned = True
                    log.warning("%d displays connected; display %r of %s not recorded",
                                len(self._displays), display_id, user)
                return []
            if link is None:
                self._links[connection] = _Link(key, now)
                if entry is not None and entry.connected and entry.connection != connection:
                    log.info("display %r of %s moved from connection %d to %d",
                             display_id, user, entry.connection, connection)
            else:
                link.last_beat = now
            before = entry.state if entry is not None else None
            self._gone.pop(key, None)
            entry = Display(
                display=display_id, name=_text(data.get("name"), 64) or display_id, user=user, address=address[:64],
                build=_text(data.get("build"), 32), sound=str(data.get("sound")) if data.get("sound") in SOUND else "off",
                page=_text(data.get("page"), 16) or "wall", last_seq=_int(data.get("last_seq")),
                lag_ms=_int(data.get("lag_ms")), alarms=_int(data.get("alarms")),
                last_at=now, connected=True, connection=connection, sites=sites)
            entry.state = "live"
            self._displays[key] = entry
            return [entry.message()] if before != "live" else []

    def closed(self, connection: int, now: datetime) -> list[HubMessage]:
        """A socket closed: the display it spoke for is disconnected (unless a newer socket has it)."""
        with self._lock:
            link = self._links.pop(connection, None)
            if link is None:
                return []
            entry = self._displays.get(link.key)
            if entry is None or entry.connection != connection or not entry.connected:
                return []
            entry.connected = False
            entry.closed_at = now
            self._gone[link.key] = None
            if entry.state == "disconnected":
                return []
            entry.state = "disconnected"
            return [entry.message()]

    def check(self, now: datetime) -> list[HubMessage]:
        """The displays whose state changed since they were last announced (live → stale); and
        forget those disconnected for longer than ``FORGET_AFTER``. Runs on the watch's thread."""
        out = []
        with self._lock:
            while self._gone:
                key = next(iter(self._gone))
                entry = self._displays.get(key)
                if entry is not None and entry.closed_at is not None and now - entry.closed_at <= FORGET_AFTER:
                    break
                self._gone.popitem(last=False)
                self._displays.pop(key, None)
            for entry in self._displays.values():
                state = entry.current_state(now)
                if state != entry.state:
                    entry.state = state
                    out.append(entry.message())
            if len(self._displays) < self._keep:
                self._full_warned = False
        return out

    def views(self, now: datetime) -> list[dict[str, Any]]:
        with self._lock:
            entries = list(self._displays.values())
        return [e.view(now) for e in sorted(entries, key=lambda e: (e.name, e.display, e.user))]

    def counts(self, now: datetime) -> dict[str, int]:
        out = {"live": 0, "stale": 0, "disconnected": 0}
        with self._lock:
            for entry in self._displays.values():
                out[entry.current_state(now)] += 1
        return out

    def _make_room(self) -> bool:
        """Forget the display disconnected longest ago; False if every display is connected."""
        if not self._gone:
            return False
        key, _ = self._gone.popitem(last=False)
        self._displays.pop(key, None)
        return True


class DisplayWatch(PeriodicWorker):
    """Every 5 s: announce the displays that went stale."""

    def __init__(self, book: DisplayBook, publish: Callable[[list[HubMessage]], None],
                 now: Callable[[], datetime], interval: float = CHECK_SECONDS):
        super().__init__("displays", interval)
        self.book, self.publish, self.now = book, publish, now

    def tick(self) -> None:
        messages = self.book.check(self.now())
        if messages:
            self.publish(messages)
