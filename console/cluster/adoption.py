"""The MQTT session of an instance that is down is taken up by one that is up.

Each instance of a cluster has its own persistent MQTT session in the shared subscription, and a
broker keeps handing that session its share of the messages while the instance is away (Mosquitto
queues them for its return). Those would wait for an instance that may not come back soon. So
every instance holds an advisory lock on its own name for as long as it runs (election.py takes
it first thing), and the instance holding the ``session-adoption`` duty looks, every ``interval``
seconds, for members of the cluster whose lock is free: each such session is connected to under
the absent instance's client id, and its messages are stored here and acknowledged after the
commit, as the absent one would have. When the instance comes back (its lock is held again) the
adopted connection is closed before it can take the session back from it; a message it had not
acknowledged by then is delivered again to its owner and recognised by its source id.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, Protocol

import psycopg

from console.cluster.election import alive_key
from console.cluster.postgres import connect
from console.workers import Worker

log = logging.getLogger("mcc.adoption")


class Session(Protocol):
    """An MQTT connection under another instance's client id (console/wire/mqtt.py's)."""

    def start(self) -> None: ...

    def stop(self, timeout: float = 5.0) -> bool: ...


class SessionAdoption(Worker):
    duty = "session-adoption"
    """One instance of a cluster does this at a time."""

    def __init__(self, url: str, instance: str, open_session: Callable[[str, Callable[[], bool]], Session],
                 interval: float = 1.0) -> None:
        super().__init__("session-adoption")
        self.url = url
        self.instance = instance
        self.open_session = open_session
        """Makes the connection for a client id; its second argument says whether it may still connect."""
        self.interval = interval
        self.beat_timeout = max(30.0, 5 * interval)
        self.adopted: dict[str, Session] = {}
        """Absent instance → the connection under its client id."""
        self.adoptions = 0

    def detail(self) -> dict[str, object]:
        return {"adopted": sorted(self.adopted), "adoptions": self.adoptions}

    def run(self) -> None:
        delay = self.interval
        while not self.stopping.is_set():
            try:
                with connect(self.url, f"mcc {self.instance} adoption") as conn:
                    delay = self.interval
                    while not self.stopping.is_set():
                        self.beat()
                        if self.on_duty():
                            self._look(conn)
                        else:
                            self._release_all()
                        self.last_error = None
                        if self.stopping.wait(self.interval):
                            break
            except psycopg.Error as exc:
                self._release_all()  # not knowing who is away: adopt nobody
                self.report(exc)
                if self.stopping.wait(delay):
                    break
                delay = min(delay * 2, 10.0)

    def finish(self) -> None:
        self._release_all()

    def _look(self, conn: psycopg.Connection[Any]) -> None:
        members = conn.execute("SELECT instance, client_id FROM cluster_members WHERE instance <> %s",
                               (self.instance,)).fetchall()
        absent = set()
        for instance, client_id in members:
            if self._away(conn, instance):
                absent.add(instance)
                if instance not in self.adopted:
                    log.warning("instance %s is down: its MQTT session %s is taken up here", instance, client_id)
                    session = self.open_session(client_id, functools.partial(self.still_away, instance))
                    session.start()
                    self.adopted[instance] = session
                    self.adoptions += 1
        for instance in [name for name in self.adopted if name not in absent]:
            log.info("instance %s is back: its MQTT session is its own again", instance)
            self.adopted.pop(instance).stop(2.0)

    def still_away(self, instance: str) -> bool:
        """Asked by an adopted connection before each (re)connect: a fresh look, so it never takes
        the session back from its owner, which holds its lock before it connects."""
        if not self.on_duty() or self.stopping.is_set():
            return False
        try:
            with connect(self.url, f"mcc {self.instance} adoption check") as conn:
                return self._away(conn, instance)
        except psycopg.Error:
            return False

    @staticmethod
    def _away(conn: psycopg.Connection[Any], instance: str) -> bool:
        """Whether ``instance`` is down: its lock is free (taken for a moment, and given back so it
        can take it again when it starts)."""
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (alive_key(instance),)).fetchone()
        if row is None or not row[0]:
            return False
        conn.execute("SELECT pg_advisory_unlock(%s)", (alive_key(instance),))
        return True

    def _release_all(self) -> None:
        for instance in list(self.adopted):
            self.adopted.pop(instance).stop(2.0)
