"""Which instance of a cluster does the work that must run once (the deadline loop, the silence
watch, camera probes, ...): the one holding the duty's PostgreSQL advisory lock.

Each instance keeps one session and tries, every ``interval`` seconds, to take every duty nobody
holds (``pg_try_advisory_lock``, which never waits). A session lock is the server's to release:
when an instance dies, even by ``kill -9``, its socket closes, the server ends the session and
frees the locks, and the next try of another instance takes them. An instance that loses its
session gives up all its duties at once and takes them again only through a new session, so two
instances never both believe they hold one (postgres.py: the client gives up before the server
releases). Workers ask ``holds(duty)`` before each pass (``Worker.on_duty``).

Work that can be split is a family of duties named ``family:part`` (``camera-health:north``, one
per site). Those are shared out: an instance takes a free part only while it holds fewer than
its share (the family's parts over the instances up, rounded up), and an instance holding more
than its share (it was alone when the others started) lets one part go each round. A part let
go stops being held here at once, and its lock is given back only once the workers say none is
in the middle of it (``can_let_go``), so two instances never do one part at the same time.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from typing import Any

import psycopg

from console.cluster.postgres import connect, lock_key
from console.workers import Worker, describe

log = logging.getLogger("mcc.election")


def alive_key(instance: str) -> int:
    """The advisory lock an instance holds on its own name while it runs (adoption.py looks at it)."""
    return lock_key(f"alive:{instance}")


def family(duty: str) -> str | None:
    """``camera-health`` for ``camera-health:north``: a duty split among the instances; None: one duty."""
    name, split, _part = duty.partition(":")
    return name if split else None


# The instances up: members of the cluster whose lock on their name is held (a 64-bit advisory
# lock shows in pg_locks as its two 32-bit halves).
MEMBERS_UP = ("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
              "AND ((classid::bigint << 32) | objid::bigint) = ANY(%s)")


class Election(Worker):
    def __init__(self, url: str, instance: str, duties: list[str], interval: float = 1.0,
                 client_id: str = "", can_let_go: Callable[[str], bool] = lambda _duty: True) -> None:
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
        self._leaving: set[str] = set()
        """Parts let go (no longer held here) whose locks wait for their worker to finish with them."""
        self.can_let_go = can_let_go
        """Whether no worker is in the middle of a duty's work (the supervisor's answer)."""
        self.members_up = 1
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
        return {"instance": self.instance, "held": self.held, "takeovers": self.takeovers,
                "members_up": self.members_up}

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
        """Take what nobody holds (of a split family, up to this instance's share), let go of what
        is beyond the share; make sure the session (and so what it holds) is still there."""
        shares = self._shares(conn)
        held = {name: sum(1 for duty in self._held if family(duty) == name) for name in shares}
        self._let_go(conn, shares, held)
        free = [duty for duty in self.duties if duty not in self._held and duty not in self._leaving]
        taken = []
        for duty in free:
            name = family(duty)
            if name is not None and held[name] >= shares[name]:
                continue  # its share is taken: the part is left to an instance with room
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (self._keys[duty],)).fetchone()
            if row is not None and row[0]:
                taken.append(duty)
                if name is not None:
                    held[name] += 1
        if not free:
            conn.execute("SELECT 1")
        if taken:
            self._held = self._held | frozenset(taken)
            self.takeovers += len(taken)
            log.info("instance %s now does: %s", self.instance, ", ".join(taken))

    def _shares(self, conn: psycopg.Connection[Any]) -> dict[str, int]:
        """Each split family's share: as many of its parts as there are parts per instance up."""
        counts: dict[str, int] = {}
        for duty in self.duties:
            if (name := family(duty)) is not None:
                counts[name] = counts.get(name, 0) + 1
        if not counts:
            return {}
        members = [row[0] for row in conn.execute("SELECT instance FROM cluster_members").fetchall()]
        row = conn.execute(MEMBERS_UP, ([alive_key(m) for m in members],)).fetchone()
        self.members_up = max(1, int(row[0]) if row is not None else 1)
        return {name: math.ceil(count / self.members_up) for name, count in counts.items()}

    def _let_go(self, conn: psycopg.Connection[Any], shares: dict[str, int], held: dict[str, int]) -> None:
        """One part of each family beyond the share stops being held here; the locks of parts let go
        are given back once their worker is done with them."""
        for name, share in shares.items():
            if held[name] > share:
                duty = max(d for d in self._held if family(d) == name)
                self._held = self._held - {duty}
                self._leaving.add(duty)
                held[name] -= 1
                log.info("instance %s lets %s go (%d instances up)", self.instance, duty, self.members_up)
        for duty in sorted(self._leaving):
            if self.can_let_go(duty):
                conn.execute("SELECT pg_advisory_unlock(%s)", (self._keys[duty],))
                self._leaving.discard(duty)

    def _give_up(self, reason: str) -> None:
        if self._held:
            log.error("instance %s lost its store session (%s): gives up %s", self.instance, reason,
                      ", ".join(sorted(self._held)))
        self._held = frozenset()
        self._leaving.clear()  # the session, and so its locks, are gone
        self.report(f"store session lost: {reason}")

    def _close(self) -> None:
        self._held = frozenset()  # before the session goes: never believe in a lock that may be free
        self._leaving.clear()
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()  # the server frees this session's locks at once
            except psycopg.Error:
                pass
