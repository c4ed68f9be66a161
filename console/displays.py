"""The wall displays: each sends a heartbeat over its WebSocket every 15 s (what it shows, whether
its sound plays, how far behind it is), kept here in memory.

A display is ``live`` (a heartbeat within 45 s, socket open), ``stale`` (socket open, but no
heartbeat for 45 s: the page is frozen) or ``disconnected`` (its socket closed). A change of
state goes to every screen as ``display.updated``; a background check every 5 s finds the
displays that went quiet.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from console.messages import HubMessage

log = logging.getLogger("mcc.displays")
STALE_AFTER = timedelta(seconds=45)
CHECK_SECONDS = 5.0
KEEP = 200  # displays remembered; the oldest disconnected ones are forgotten first
SOUND = ("on", "blocked", "off")
RECORDED_ROLES = frozenset({"display", "admin", "supervisor", "operator"})


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
    state: str = "live"
    """The state last announced."""

    def current_state(self, now: datetime) -> str:
        if not self.connected:
            return "disconnected"
        return "live" if now - self.last_at <= STALE_AFTER else "stale"

    def message(self) -> HubMessage:
        return HubMessage("display.updated", {
            "display": self.display, "name": self.name, "state": self.state, "sound": self.sound,
            "last_at": self.last_at.isoformat(), "build": self.build, "lag_ms": self.lag_ms, "user": self.user})

    def view(self, now: datetime) -> dict[str, Any]:
        return {"display": self.display, "name": self.name, "user": self.user, "address": self.address,
                "state": self.current_state(now), "sound": self.sound, "build": self.build,
                "last_at": self.last_at.isoformat(), "lag_ms": self.lag_ms, "alarms": self.alarms,
                "last_seq": self.last_seq, "page": self.page}


class DisplayBook:
    """Thread-safe: heartbeats arrive on the event loop, the check runs on its own thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._displays: dict[str, Display] = {}

    def heartbeat(self, data: dict[str, Any], user: str, address: str, connection: int,
                  now: datetime) -> list[HubMessage]:
        """Record one heartbeat; the ``display.updated`` to send if the display's state changed
        (a new display, a frozen one that beats again, one that reconnected)."""
        display_id = _text(data.get("display"), 64).strip()
        if not display_id:
            return []
        sound = data.get("sound") if data.get("sound") in SOUND else "off"
        with self._lock:
            entry = self._displays.get(display_id)
            before = entry.state if entry is not None else None
            entry = Display(
                display=display_id, name=_text(data.get("name"), 64) or display_id, user=user, address=address[:64],
                build=_text(data.get("build"), 32), sound=sound, page=_text(data.get("page"), 16) or "wall",
                last_seq=_int(data.get("last_seq")), lag_ms=_int(data.get("lag_ms")), alarms=_int(data.get("alarms")),
                last_at=now, connected=True, connection=connection)
            entry.state = "live"
            self._displays[display_id] = entry
            self._forget_old()
            return [entry.message()] if before != "live" else []

    def closed(self, connection: int, now: datetime) -> list[HubMessage]:
        """A socket closed: the displays that spoke over it are disconnected."""
        out = []
        with self._lock:
            for entry in self._displays.values():
                if entry.connection == connection and entry.connected:
                    entry.connected = False
                    if entry.state != "disconnected":
                        entry.state = "disconnected"
                        out.append(entry.message())
        return out

    def check(self, now: datetime) -> list[HubMessage]:
        """The displays whose state changed since they were last announced (live → stale)."""
        out = []
        with self._lock:
            for entry in self._displays.values():
                state = entry.current_state(now)
                if state != entry.state:
                    entry.state = state
                    out.append(entry.message())
        return out

    def views(self, now: datetime) -> list[dict[str, Any]]:
        with self._lock:
            entries = list(self._displays.values())
        return [e.view(now) for e in sorted(entries, key=lambda e: (e.name, e.display))]

    def counts(self, now: datetime) -> dict[str, int]:
        out = {"live": 0, "stale": 0, "disconnected": 0}
        with self._lock:
            for entry in self._displays.values():
                out[entry.current_state(now)] += 1
        return out

    def _forget_old(self) -> None:
        if len(self._displays) <= KEEP:
            return
        gone = sorted((e for e in self._displays.values() if not e.connected), key=lambda e: e.last_at)
        for entry in gone[:len(self._displays) - KEEP]:
            del self._displays[entry.display]


class DisplayWatch:
    """Every 5 s: announce the displays that went stale (the thread style of the silence watch)."""

    def __init__(self, book: DisplayBook, publish: Callable[[list[HubMessage]], None],
                 now: Callable[[], datetime], interval: float = CHECK_SECONDS):
        self.book, self.publish, self.now, self.interval = book, publish, now, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mcc-displays", daemon=True)
        self.last_error: str | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                messages = self.book.check(self.now())
                if messages:
                    self.publish(messages)
                self.last_error = None
            except Exception as exc:  # the watch must outlive any one fault
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("display check failed")
