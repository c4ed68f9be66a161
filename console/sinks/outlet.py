"""Where every committed change goes, from whichever thread committed it: the hub (numbered for the
WebSocket clients, on the event loop), the taps that follow changes (the time series, camera linkage,
the deadline loop's wake-up), and the notice taps (the notifier) for what a task change owes people."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from console.messages import HubMessage
from console.sinks.hub import Hub
from console.tasks.outcome import Notice, Outcome

log = logging.getLogger("mcc.outlet")
Tap = Callable[[list[HubMessage]], None]
NoticeTap = Callable[[list[Notice]], None]


class Outlet:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._loop: asyncio.AbstractEventLoop | None = None
        self._taps: list[Tap] = []
        self._notice_taps: list[NoticeTap] = []
        self._relay: Tap | None = None

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """The event loop the hub and the WebSocket clients live on."""
        self._loop = loop

    def relay_to(self, relay: Tap) -> None:
        """In a cluster: changes go to the store's relay (console/cluster/relay.py), which numbers
        them for every instance and brings them back through ``deliver_numbered``."""
        self._relay = relay

    def deliver_numbered(self, messages: list[tuple[int, HubMessage, str]]) -> None:
        """Thread-safe: changes the cluster numbered, for this instance's clients."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.hub.publish_numbered, messages)

    def tap(self, listener: Tap) -> None:
        """Also hand every change to ``listener``, in the committing thread: it must only take note
        (append to a buffer, set an event), never wait."""
        self._taps.append(listener)

    def tap_notices(self, listener: NoticeTap) -> None:
        """Also hand every notice to ``listener`` (the notifier's queues), in the committing thread."""
        self._notice_taps.append(listener)

    def publish(self, messages: list[HubMessage]) -> None:
        """Thread-safe: hand committed changes to the hub and the taps."""
        if not messages:
            return
        if self._relay is not None:
            self._relay(messages)
        elif self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.hub.publish, messages)
        for listener in self._taps:
            try:
                listener(messages)
            except Exception:  # a sink's fault must never cost the wall its changes
                log.exception("a tap failed on %d changes", len(messages))

    def notify(self, notices: list[Notice]) -> None:
        """Thread-safe: hand committed notices to whoever sends them."""
        if not notices:
            return
        for listener in self._notice_taps:
            try:
                listener(notices)
            except Exception:
                log.exception("a notice tap failed on %d notices", len(notices))

    def deliver(self, outcome: Outcome) -> None:
        """What a committed task change owes the outside: its changes and its notices."""
        self.publish(outcome.hub)
        self.notify(outcome.notices)
