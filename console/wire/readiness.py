"""Can the console take alarms now? The reasons it cannot (``not_ready``), asked by
``GET /api/health/ready``, and a watcher (``ReadinessWatch``) that tells the wall when the answer
changes: a full disk or a read-only store fails every commit while the page still shows the last
alarms it got, so the room must see the fault itself, not find it in a log.

Each reason starts with the part at fault (``broker:``, ``store:``, ``intake:``); the wall words
those parts in the reader's language and shows the reasons as they are for whoever looks closer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select

from console.messages import HubMessage
from console.store.database import Store
from console.wire.mqtt import MqttConnection
from console.wire.writer import Writer
from console.workers import PeriodicWorker, Supervisor

log = logging.getLogger("mcc.readiness")
HEALTH_MESSAGE = "console.health"


def store_answers(store: Store) -> str | None:
    """Why the store cannot serve a read, or None."""
    try:
        with store.read() as session:
            session.execute(select(1)).scalar()
    except Exception as exc:  # readiness must answer even when the store is down
        return f"store: {type(exc).__name__}"
    return None


def not_ready(mqtt: MqttConnection, writer: Writer, supervisor: Supervisor, stall_seconds: float,
              store_problem: str | None) -> list[str]:
    """Why the console cannot take alarms now (empty: ready)."""
    reasons = []
    if not mqtt.connected.is_set():
        reasons.append("broker: not connected")
    if store_problem:
        reasons.append(store_problem)
    if not writer.store_ok:
        reasons.append("store: writes failing")
    stalled = writer.stalled_seconds
    if stalled >= stall_seconds:
        reasons.append(f"intake: {writer.backlog} messages waiting, nothing committed for {stalled:.0f} s")
    worker = next((w for w in supervisor.status() if w.name == "writer"), None)
    if worker is not None and not worker.alive and worker.state not in ("new", "stopped"):
        reasons.append("intake: the writer is down")
    return reasons


def faults(reasons: list[str]) -> list[str]:
    """The parts at fault, each once: ``broker``, ``store``, ``intake``."""
    return sorted({reason.split(":", 1)[0] for reason in reasons})


class ReadinessWatch(PeriodicWorker):
    """Asks ``check`` every ``interval`` seconds and publishes ``console.health`` (ready, faults,
    reasons, since) to the hub when the parts at fault change; ``current`` goes into every
    WebSocket snapshot, so a wall that connects during a fault shows it at once."""

    def __init__(self, check: Callable[[], list[str]], publish: Callable[[list[HubMessage]], None],
                 now: Callable[[], datetime], interval: float = 1.0) -> None:
        super().__init__("readiness", interval)
        self.check = check
        self.publish = publish
        self.now = now
        self.current: dict[str, Any] = {"ready": True, "faults": [], "reasons": [], "since": now().isoformat()}

    def tick(self) -> None:
        reasons = self.check()
        parts = faults(reasons)
        if parts == self.current["faults"]:
            return
        self.current = {"ready": not reasons, "faults": parts, "reasons": reasons, "since": self.now().isoformat()}
        if reasons:
            log.warning("not ready: %s", "; ".join(reasons))
        else:
            log.info("ready again")
        self.publish([HubMessage(HEALTH_MESSAGE, dict(self.current))])
