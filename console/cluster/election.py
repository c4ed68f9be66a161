"""Which instance of a cluster does the work that must run once (the deadline loop, the silence
watch, camera probes, ...): the one holding the duty's PostgreSQL advisory lock.

Each instance keeps one session and tries, every ``interval`` seconds, to take every duty nobody
holds (``pg_try_advisory_lock``, which never waits). A session lock is the server's to release:
when an instance dies, even by ``kill -9``, its socket closes, the server ends the session and
frees the locks, and the next try of another instance takes them. An instance that loses its
session gives up all its duties at once and takes them again only through a new session, so two
instances never both believe they hold one (postgres.py: the client gives up before the server
releases). Workers ask ``holds(duty)`` before each pass (``Worker.on_duty``).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import psycopg

from console.cluster.postgres import connect, lock_key
from console.workers import Worker, describe

log = logging.getLogger("mcc.election")


def alive_key(instance: str) -> int:
    """The advisory lock an instance holds on its own name while it runs (adoption.py looks at it)."""
    return lock_key(f"alive:{instance}")


class Election(Worker):
    def __init__(self, url: str, instance: str, duties: list[str], interval: float = 1.0,
                 client_id: str = "") -> None:
        super().__init__("election")
        self.url = url
        self.instance = instance
        self.client_id = client_id
        """This instance's MQTT session, recorded for the instance that takes it up while this one is down."""
        self.duties = list(duties)
        self.interval = interval
        self.beat_timeout = max(30.0, 5 * interval)
        self._keys: dict[str, int] = {}
        self.elect_for(self.duties)
        self._held: frozenset[str] = frozenset()
        self._conn: psycopg.Connection[Any] | None = None
        self.takeovers = 0
        """Duties this instance has taken (at its start, or from an instance that went)."""
        self.announced = threading.Event()
        """Set once this instance holds the lock on its name (its MQTT connection waits for it)."""

    def elect_for(self, duties: list[str]) -> None:
        """The duties to hold (before the start: the workers are known once they are all built)."""
        self.duties = list(duties)
        self._keys = {duty: lock_key(f"duty:{duty}") for duty in self.duties}

    def holds(self, duty: str) -> bool:
        """Whether this instance owns ``duty`` now (any thread may ask)."""
        return duty in self._held

    @property
    def held(self) -> list[str]:
        return sorted(self._held)

    def detail(self) -> dict[str, object]:
        return {"instance": self.instance, "held": self.held, "takeovers": self.takeovers}

    def run(self) -> None:
        delay = self.interval
        while not self.stopping.is_set():
            try:
                self._conn = connect(self.url, f"mcc {self.instance} election")
                self._announce(self._conn)
                delay = self.interval
                while not self.stopping.is_set():
                    self.beat()
                    self._claim(self._conn)
                    self.last_error = None
                    if self.stopping.wait(self.interval):
                        break
            except psycopg.Error as exc:
                self._give_up(describe(exc))
                if self.stopping.wait(delay):
                    break
                delay = min(delay * 2, 10.0)
            finally:
                self._close()

    def _announce(self, conn: psycopg.Connection[Any]) -> None:
        """Say this instance is up (its lock on its own name, held by this session) and which MQTT
        session is its own. Taken before the MQTT connection is opened: an instance that adopted
        this one's session while it was down lets go of it before this one connects."""
        conn.execute("SET lock_timeout = '10s'")
        try:
            conn.execute("SELECT pg_advisory_lock(%s)", (alive_key(self.instance),))
        except psycopg.errors.LockNotAvailable as exc:
            # Held for more than a moment: another running instance has this name. Two sessions
            # under one MQTT client id would throw each other off the broker; this one waits.
            log.error("another instance named %s is running: this one waits (give each its own "
                      "cluster.instance)", self.instance)
            raise psycopg.OperationalError(f"another instance named {self.instance} is running") from exc
        conn.execute("RESET lock_timeout")
        conn.execute("INSERT INTO cluster_members (instance, client_id, started_at) VALUES (%s, %s, now()) "
                     "ON CONFLICT (instance) DO UPDATE SET client_id = EXCLUDED.client_id, "
                     "started_at = EXCLUDED.started_at", (self.instance, self.client_id))
        self.announced.set()

    def _claim(self, conn: psycopg.Connection[Any]) -> None:
        """Take what nobody holds; make sure the session (and so what it holds) is still there."""
        free = [duty for duty in self.duties if duty not in self._held]
        taken = []
        for duty in free:
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (self._keys[duty],)).fetchone()
            if row is not None and row[0]:
                taken.append(duty)
        if not free:
            conn.execute("SELECT 1")
        if taken:
            self._held = self._held | frozenset(taken)
            self.takeovers += len(taken)
            log.info("instance %s now does: %s", self.instance, ", ".join(taken))

    def _give_up(self, reason: str) -> None:
        if self._held:
            log.error("instance %s lost its store session (%s): gives up %s", self.instance, reason,
                      ", ".join(sorted(self._held)))
        self._held = frozenset()
        self.report(f"store session lost: {reason}")

    def _close(self) -> None:
        self._held = frozenset()  # before the session goes: never believe in a lock that may be free
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()  # the server frees this session's locks at once
            except psycopg.Error:
                pass
