"""The WebSocket hub: numbered change messages, a replay buffer for ``?since=``, per-client queues.

All methods run on the event loop thread; the ingest thread hands messages over with
``loop.call_soon_threadsafe(hub.publish, ...)``. Each message is serialised once, not per client.
A client that asked for batches gets what waits in its queue as one ``batch`` frame
(``batch_text``): one frame, one compression and one send per client per turn of the loop,
instead of one per change.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from console.messages import HubMessage

log = logging.getLogger("mcc.hub")


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


MAX_BATCH = 500
"""Changes in one ``batch`` frame at most (a replay of thousands goes in several)."""


def batch_text(items: list[tuple[int, str]]) -> str:
    """``{"type":"batch","seq":<the last>,"items":[...]}`` from changes already serialised."""
    return f'{{"type":"batch","seq":{items[-1][0]},"items":[{",".join(text for _, text in items)}]}}'


def numbered_text(seq: int, body: str) -> str:
    """A change stored as ``dumps({"type", "data"})`` as clients get it, its ``seq`` put in front
    (the object's keys in any order: clients read them by name), without serialising it again."""
    return f'{{"seq":{seq},{body[1:]}'


class Subscriber:
    """One connected client: a bounded queue of serialised messages with their seq (None: the
    client fell too far behind and is to be closed)."""

    def __init__(self, limit: int, accept: Callable[[HubMessage], bool] | None = None):
        self.accept = accept
        """None: every message; else only those it accepts (a guard's phone sees its own tasks)."""
        self.queue: asyncio.Queue[tuple[int, str] | None] = asyncio.Queue(maxsize=limit)
        self.overflowed = False

    def offer(self, seq: int, text: str) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait((seq, text))
        except asyncio.QueueFull:
            # A client that cannot keep up is dropped; it resumes with ?since= or a snapshot.
            self.overflowed = True
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(None)


class Hub:
    def __init__(self, buffer_size: int = 20000, client_queue: int = 20000):
        self.stream = uuid.uuid4().hex[:12]
        self.seq = 0
        self._buffer: deque[tuple[int, str]] = deque(maxlen=buffer_size)
        self._subscribers: set[Subscriber] = set()
        self._client_queue = client_queue

    @property
    def client_count(self) -> int:
        return len(self._subscribers)

    def publish(self, messages: list[HubMessage]) -> None:
        for message in messages:
            self.seq += 1
            text = dumps({"type": message.type, "seq": self.seq, "data": message.data})
            self._buffer.append((self.seq, text))
            for subscriber in self._subscribers:
                if subscriber.accept is None or subscriber.accept(message):
                    subscriber.offer(self.seq, text)

    def publish_numbered(self, messages: list[tuple[int, HubMessage, str]]) -> None:
        """Changes numbered by the cluster (console/cluster/relay.py): the same seq on every instance,
        each with its text as clients get it (``numbered_text``: serialised once, where it was written)."""
        for seq, message, text in messages:
            if seq <= self.seq:
                continue  # already here (a re-read after a reconnect)
            self.seq = seq
            self._buffer.append((seq, text))
            for subscriber in self._subscribers:
                if subscriber.accept is None or subscriber.accept(message):
                    subscriber.offer(seq, text)

    def subscribe(self, accept: Callable[[HubMessage], bool] | None = None) -> Subscriber:
        subscriber = Subscriber(self._client_queue, accept)
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    def replay(self, since: int, stream: str | None) -> list[tuple[int, str]] | None:
        """The messages after ``since`` with their seq, or None when they are no longer (or never were) here."""
        if stream is not None and stream != self.stream:
            return None
        if since > self.seq:
            return None
        if since == self.seq:
            return []
        oldest = self._buffer[0][0] if self._buffer else self.seq + 1
        if since + 1 < oldest:
            return None
        return [(seq, text) for seq, text in self._buffer if seq > since]
