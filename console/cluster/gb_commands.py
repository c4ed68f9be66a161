"""A 查岗 duty check reaches a GB/T 26875.3 device whichever instance of a cluster holds its link.

Behind the balancer the supervisor's request lands on any instance, and the device's TCP link on
any other. The instance that has no link asks the others over PostgreSQL (``NOTIFY mcc_gb_ask``);
every instance listens (``LinkCommands``), and the one that holds the link sends the command and
says so (``NOTIFY mcc_gb_done``). The asker waits up to ``timeout`` seconds for that answer: the
command is "sent" only when an instance has put it on the device's link.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

import psycopg

from console.cluster.postgres import connect
from console.wire.gb26875_receiver import Gb26875Receiver
from console.workers import Worker

log = logging.getLogger("mcc.gb26875")
ASK = "mcc_gb_ask"
DONE = "mcc_gb_done"


class LinkCommands(Worker):
    def __init__(self, url: str, instance: str, receivers: list[Gb26875Receiver]) -> None:
        super().__init__("gb-link-commands")
        self.url, self.instance, self.receivers = url, instance, receivers
        self.beat_timeout = 60.0
        self.relayed = 0

    def detail(self) -> dict[str, object]:
        return {"relayed": self.relayed}

    def send_duty_check(self, source: str) -> bool:
        """Through this instance's own link to ``source``, if it holds one."""
        return any(receiver.send_duty_check(source) for receiver in self.receivers)

    def ask(self, source: str, timeout: float = 3.0) -> bool:
        """Ask the other instances to send a duty check to ``source``; True once one did."""
        request = uuid.uuid4().hex
        with connect(self.url, f"mcc {self.instance} gb ask") as conn:
            conn.execute(f"LISTEN {DONE}")
            conn.execute("SELECT pg_notify(%s, %s)",
                         (ASK, json.dumps({"id": request, "source": source, "from": self.instance})))
            deadline = time.monotonic() + timeout
            while (left := deadline - time.monotonic()) > 0:
                for note in list(conn.notifies(timeout=left, stop_after=1)):
                    if json.loads(note.payload).get("id") == request:
                        return True
        return False

    def run(self) -> None:
        delay = 0.5
        while not self.stopping.is_set():
            try:
                with connect(self.url, f"mcc {self.instance} gb commands") as conn:
                    conn.execute(f"LISTEN {ASK}")
                    delay = 0.5
                    while not self.stopping.is_set():
                        self.beat()
                        # Taken off the connection first: it cannot answer while it waits.
                        for note in list(conn.notifies(timeout=0.5, stop_after=1)):
                            self._answer(conn, note.payload)
                        self.last_error = None
            except psycopg.Error as exc:
                self.report(exc)
                if self.stopping.wait(delay):
                    break
                delay = min(delay * 2, 5.0)

    def _answer(self, conn: psycopg.Connection[Any], payload: str) -> None:
        try:
            request = json.loads(payload)
            source, asker = str(request["source"]), request.get("from")
        except (ValueError, KeyError, TypeError):
            log.warning("a GB command request that is not one: %r", payload[:200])
            return
        if asker == self.instance or not self.send_duty_check(source):
            return  # not ours to send: the asker itself, or a link this instance does not hold
        self.relayed += 1
        log.info("GB/T 26875.3: duty check to %s sent here for instance %s", source, asker)
        conn.execute("SELECT pg_notify(%s, %s)", (DONE, json.dumps({"id": request.get("id"), "by": self.instance})))
