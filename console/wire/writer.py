"""The ingest worker: drains the MQTT hand-over queue in groups, commits, then acks and publishes.

Group commit: the worker blocks for one message, then takes whatever else is already waiting (up
to ``batch_max``). Under light load every message is committed on its own at once; under heavy
load one fsync covers hundreds of messages. Nothing is acked before its commit.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from console.contract import InboundMessage
from console.messages import HubMessage
from console.wire.ingest import Ingest

log = logging.getLogger("mcc.pipeline")

Ack = Callable[[int, int, int], None]
Publish = Callable[[list[HubMessage]], None]


class IngestWorker:
    def __init__(self, ingest: Ingest, ack: Ack, publish: Publish, batch_max: int = 500):
        self.ingest = ingest
        self._ack = ack
        self._publish = publish
        self.batch_max = batch_max
        self._queue: queue.Queue[tuple[InboundMessage, int] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="mcc-ingest", daemon=True)
        self.store_ok = True
        self.last_error: str | None = None

    def submit(self, message: InboundMessage, generation: int) -> None:
        """Called from the MQTT network thread."""
        self._queue.put((message, generation))

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stopping = False
            while len(batch) < self.batch_max:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            self._commit_with_retry(batch)
            if stopping:
                return

    def _commit_with_retry(self, batch: list[tuple[InboundMessage, int]]) -> None:
        delay = 0.2
        while True:
            try:
                hub = self.ingest.process([message for message, _ in batch])
                break
            except SQLAlchemyError as exc:
                # The store is away: keep the batch (unacked, so the broker keeps it too) and retry.
                self.store_ok = False
                self.last_error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
                log.error("store write failed, retrying in %.1f s: %s", delay, self.last_error)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
            except Exception as exc:  # a bug must not stop the flow: keep the bytes, say why
                log.exception("ingest failed on a batch of %d; quarantining it", len(batch))
                self._quarantine_with_retry(batch, f"internal error: {type(exc).__name__}: {exc}")
                hub = []
                break
        self.store_ok = True
        for message, generation in batch:
            if message.reply is not None:
                try:
                    message.reply()
                except Exception:  # a closed TCP link must not stop the acks of the others
                    log.exception("reply to %s failed", message.topic)
            else:
                self._ack(message.mid, message.qos, generation)
        if hub:
            self._publish(hub)

    def _quarantine_with_retry(self, batch: list[tuple[InboundMessage, int]], reason: str) -> None:
        while True:
            try:
                self.ingest.quarantine([message for message, _ in batch], reason)
                return
            except SQLAlchemyError as exc:
                self.store_ok = False
                self.last_error = str(exc).splitlines()[0][:200]
                time.sleep(1.0)
