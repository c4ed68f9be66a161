"""The alarm storm's load and its wall: the storm's events (each a new alarm on a point of its own),
the publisher process that sends them as fast as the broker takes them, and the wall's WebSocket
reader, which times every ``alarm.raised`` and acts in the middle of the storm (an operator's ack
over HTTP; one fire alarm published into a storm of lower kinds)."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from bench.common import CST, DOORS, PANELS, SENSORS, SITE
from bench.rawmqtt import RawPublisher

FIRE = "fire"  # the storm variants: 10,000 fire alarms ...
LOWER = "lower"  # ... or 10,000 alarms of lower kinds, with one fire alarm in the middle
LOOP_SIZE = 250  # addresses on one loop of a fire panel
LOWER_KINDS = [("access.door_forced", DOORS), ("access.door_held_open", DOORS), ("device.battery_low", SENSORS)]
FLUSH = 200  # messages per socket write of the storm publisher
SETTLE = 3.0  # seconds to read on once everything is in, while messages still come (the last tasks)


def storm_messages(variant: str, n: int, prefix: str) -> list[tuple[bytes, bytes]]:
    """N native events, each raising a new alarm: a (device, point, kind) no other event has.
    FIRE: smoke on the points of the bench's two fire panels, loop by loop (L01-001 ... L20-250 on
    each): a shorted loop, or a big site's panels all going off. LOWER: door forced, door held open
    and battery low in turn, on a point of their own of the site's doors and sensors."""
    stamp = datetime.now(CST).isoformat(timespec="milliseconds")
    out = []
    for i in range(n):
        body: dict[str, Any] = {"id": f"{prefix}-{i}", "ts": stamp}
        if variant == FIRE:
            device, k = PANELS[i % len(PANELS)], i // len(PANELS)
            body.update(type="fire.alarm", point=f"L{k // LOOP_SIZE + 1:02d}-{k % LOOP_SIZE + 1:03d}",
                        data={"cause": "smoke"})
        else:
            kind, devices = LOWER_KINDS[i % len(LOWER_KINDS)]
            device = devices[(i // len(LOWER_KINDS)) % len(devices)]
            body.update(type=kind, point=f"P{i:05d}")
        out.append((f"mcc/v1/{SITE}/{device}/event".encode(), json.dumps(body, ensure_ascii=False).encode()))
    return out


def fire_message(source_id: str) -> tuple[bytes, bytes]:
    """The one fire alarm published into a storm of lower kinds: smoke on panel fp-1's point 1-001."""
    body = {"id": source_id, "ts": datetime.now(CST).isoformat(timespec="milliseconds"), "type": "fire.alarm",
            "point": "1-001", "data": {"cause": "smoke"}}
    return f"mcc/v1/{SITE}/fp-1/event".encode(), json.dumps(body).encode()


def publish_storm(port: int, variant: str, n: int, prefix: str, ready: Any, go: Any, sent: Any,
                  results: Any) -> None:
    """Publisher process: builds the storm, waits for the start, sends it as fast as the broker takes
    it (QoS 1, raw packets), keeps ``sent`` up to date for the wall, then waits for every PUBACK."""
    messages = storm_messages(variant, n, prefix)
    client = RawPublisher(port, "bench-storm")
    ready.release()
    go.wait(120)
    started = time.time()
    for i, (topic, payload) in enumerate(messages, 1):
        client.publish(topic, payload)
        if i % FLUSH == 0:
            client.flush()
            client.read_acks()
            sent.value = i
    client.flush()
    sent.value = n
    finished = time.time()
    client.wait_acked(600)
    results.put({"started": started, "finished": finished, "acked": client.acked, "all_acked": time.time()})
    client.close()


def acknowledge(base: str, token: str, alarm_id: int, patience: float = 120.0) -> dict[str, Any]:
    """An operator's ack over the HTTP API, timed from the first click to the answer that took it. A
    refusal (a 503 when the store stayed locked past its busy timeout) is clicked again a second
    later, as an operator would; each attempt is listed."""
    request = urllib.request.Request(f"{base}/api/alarms/{alarm_id}/ack", method="POST", data=b"{}",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    t0 = time.time()
    attempts: list[dict[str, Any]] = []
    while True:
        t = time.time()
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status: Any = response.status
        except OSError as exc:
            status = getattr(exc, "code", None) or f"{type(exc).__name__}: {exc}"[:200]
        attempts.append({"status": status, "ms": round((time.time() - t) * 1000, 1)})
        if status == 200 or time.time() - t0 > patience:
            return {"alarm_id": alarm_id, "sent_at": t0, "answered_at": time.time(), "status": status,
                    "attempts": attempts}
        time.sleep(1.0)


@dataclass
class StormWall:
    """What a display user's wall saw of the storm, with the two actions it triggers."""

    storm_kinds: frozenset[str]
    n: int
    ack_after: int  # storm alarms on the wall before the operator acknowledges one
    fire_after: int | None  # storm alarms on the wall before the single fire alarm is published (LOWER)
    on_ack: Callable[[int], Any]  # called with the alarm id; returns an awaitable giving the ack's timing
    on_fire: Callable[[], dict[str, Any]]  # publishes the fire alarm; returns its publish time and the backlog
    raised: dict[int, float] = field(default_factory=dict)  # storm alarm id -> arrival on the wall
    without_task: int = 0  # storm alarms raised with no task id
    task_ids: set[int] = field(default_factory=set)  # tasks seen in task.updated
    types: Counter[str] = field(default_factory=Counter)
    ack: dict[str, Any] = field(default_factory=dict)
    fire: dict[str, Any] = field(default_factory=dict)
    reconnects: list[dict[str, Any]] = field(default_factory=list)
    seq: int | None = None
    stream: str | None = None
    done_at: float | None = None
    _ack_task: Any = None

    def done(self) -> bool:
        fire_ok = self.fire_after is None or "seen_at" in self.fire
        return len(self.raised) >= self.n and "seen_at" in self.ack and fire_ok

    async def run(self, url: str, token: str, started: Callable[[], None], deadline: float) -> None:
        """Read the wall's socket until ``done`` or ``deadline``; a socket the console closes (a client
        too slow) is opened again with ``?since=`` as the wall page does."""
        while not self.done() and time.time() < deadline:
            try:
                await self._read(url, token, started, deadline)
            except (WebSocketException, OSError, asyncio.TimeoutError) as exc:
                if self.seq is None:
                    raise
                self.reconnects.append({"at": time.time(), "why": f"{type(exc).__name__}: {exc}"[:200]})
                await asyncio.sleep(0.2)
        if self._ack_task is not None:
            self.ack.update(await self._ack_task)

    async def _read(self, url: str, token: str, started: Callable[[], None], deadline: float) -> None:
        # As the pages do: changes that wait together come as one batch frame.
        query = f"?batch=1&since={self.seq}&stream={self.stream}" if self.seq is not None else "?batch=1"
        async with connect(url + query, additional_headers={"Authorization": f"Bearer {token}"}, max_size=None,
                           open_timeout=10, ping_interval=None) as ws:
            first = self.seq is None
            while time.time() < deadline:
                try:
                    text = await asyncio.wait_for(ws.recv(), 0.5)
                except asyncio.TimeoutError:
                    if self.done():
                        return  # and quiet: the last alarms' task.updated are in too
                    continue
                now = time.time()
                parsed = json.loads(text)
                for message in parsed["items"] if parsed["type"] == "batch" else [parsed]:
                    self._message(message, now)
                if first and self.seq is not None:
                    first = False
                    started()
                if self.done():
                    self.done_at = self.done_at or now
                    if now - self.done_at > SETTLE:
                        return

    def _message(self, message: dict[str, Any], now: float) -> None:
        kind = message["type"]
        self.types[kind] += 1
        if message.get("seq") is not None:
            self.seq = message["seq"]
        if kind == "snapshot":  # the first one, or a resume too late for a replay: its open alarms count
            self.stream = message.get("stream")
            for alarm in message.get("alarms", []):
                self._raised(alarm, now)
        elif kind == "alarm.raised":
            self._raised(message["data"], now)
        elif kind in ("alarm.acked", "alarm.updated") and message["data"]["id"] == self.ack.get("alarm_id") \
                and message["data"]["acknowledged"] and "seen_at" not in self.ack:
            self.ack["seen_at"] = now
        elif kind == "task.updated":
            self.task_ids.add(message["data"]["id"])

    def _raised(self, alarm: dict[str, Any], now: float) -> None:
        if alarm["kind"] == "fire.alarm" and self.fire_after is not None:
            self.fire.setdefault("seen_at", now)
            self.fire.setdefault("storm_seen_before", len(self.raised))
            return
        if alarm["kind"] not in self.storm_kinds or alarm["id"] in self.raised:
            return
        self.raised[alarm["id"]] = now
        self.without_task += alarm.get("task_id") is None
        count = len(self.raised)
        if count == self.ack_after:
            self.ack.update(alarm_id=alarm["id"], storm_seen_before=count)
            self._ack_task = asyncio.ensure_future(self.on_ack(alarm["id"]))
        if count == self.fire_after:
            self.fire.update(self.on_fire(), storm_seen_before_publish=count)
