"""The relay benchmark's load generator and walls, the same for MCC and for Node-RED, each in a
process of its own (spawned; they talk to bench/relay.py through one queue):

- ``burst``: a publisher's share of N native `access.granted` events of 200 devices, built before the
  start signal and written as fast as the broker takes them (QoS 1, bench/rawmqtt.py);
- ``paced``: R events/s, R/100 every 10 ms on an absolute schedule, each carrying ``data.t_pub``;
- ``walls``: K WebSocket clients (bench/wsclient.py on uvloop) that note each event's first arrival,
  and its latency from ``t_pub`` on the same machine clock.

Event ids are ``<prefix>-...`` for measured events and ``<prefix>w...`` for warm-up ones, so a wall
finds an event in a message with one byte search, in MCC's `{"type":"event",...}` messages and in
Node-RED's relayed payloads alike."""

from __future__ import annotations

import asyncio
import fcntl
import json
import struct
import termios
import time
import zlib
from array import array
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bench.common import CST, SITE
from bench.rawmqtt import RawPublisher
from bench.wsclient import Socket, open_socket

GATES = [f"gate-{i:03d}" for i in range(1, 201)]
PROGRESS = 0.25  # seconds between a wall process's progress reports


def gate_event(source_id: str, device: str, t_pub: float | None = None) -> tuple[bytes, bytes]:
    """One native access.granted event (topic, payload); ``t_pub`` goes in its data when given."""
    data: dict[str, Any] = {"card": f"{zlib.crc32(source_id.encode()) % 10**8:08d}", "direction": "in"}
    if t_pub is not None:
        data["t_pub"] = t_pub
    body = {"id": source_id, "ts": datetime.now(CST).isoformat(timespec="milliseconds"), "type": "access.granted",
            "data": data}
    return f"mcc/v1/{SITE}/{device}/event".encode(), json.dumps(body).encode()


def burst(port: int, index: int, n: int, publishers: int, prefix: str, go: Any, events: Any) -> None:
    """Publisher ``index`` of ``publishers``: its events are every publishers-th of the N."""
    messages = [gate_event(f"{prefix}-{i}", GATES[i % len(GATES)]) for i in range(index, n, publishers)]
    pub = RawPublisher(port, f"relay-burst-{index}")
    events.put(("ready", index))
    go.wait(300)
    started = time.time()
    for topic, payload in messages:
        pub.publish(topic, payload)
        if pub.sent % 500 == 0:
            pub.flush()
            pub.read_acks()
    pub.wait_acked(120)
    events.put(("published", index, {"sent": pub.sent, "acked": pub.acked, "started": started,
                                     "finished": time.time()}))
    pub.close()


def paced(port: int, rate: float, warm: float, seconds: float, prefix: str, go: Any, events: Any) -> None:
    """``rate`` events/s for ``warm`` + ``seconds`` s; the first ``warm`` s are warm-up (not measured)."""
    pub = RawPublisher(port, "relay-paced")
    batch = max(1, round(rate / 100))
    events.put(("ready", 0))
    go.wait(300)
    start = time.time()
    tick = warmed = measured = 0
    behind = measuring = 0.0
    while (now := time.time()) - start < warm + seconds:
        behind = max(behind, now - (start + tick * 0.01))
        for _ in range(batch):
            if now - start < warm:
                source_id, warmed = f"{prefix}wp{warmed}", warmed + 1
            else:
                measuring = measuring or now
                source_id, measured = f"{prefix}-{measured}", measured + 1
            t_pub = time.time()
            pub.publish(*gate_event(source_id, GATES[(warmed + measured) % len(GATES)], t_pub))
        pub.flush()
        pub.read_acks()
        tick += 1
        time.sleep(max(0.0, start + tick * 0.01 - time.time()))
    finished = time.time()
    pub.wait_acked(60)
    events.put(("published", 0, {"sent": pub.sent, "measured": measured, "acked": pub.acked, "started": start,
                                 "measuring": measuring, "finished": finished, "rate": round(pub.sent / (finished - start), 1),
                                 "max_behind_ms": round(behind * 1000, 1)}))
    pub.close()


BATCH = b'{"type":"batch"'
_ITEM = b',{"type":"'


def batch_items(frame: bytes) -> list[bytes]:
    """The changes of a ``{"type":"batch","seq":N,"items":[...]}`` frame, each as its own text (every
    item starts with ``{"type":"``; inside a JSON string a quote is escaped, so the boundary is unique
    for the bench's events)."""
    body = frame[frame.find(b'"items":[') + 9:frame.rfind(b"]")]
    parts = body.split(_ITEM)
    return [parts[0], *(b'{"type":"' + part for part in parts[1:])]


@dataclass(frozen=True)
class WallSpec:
    """Where the walls connect and how they read: MCC's /ws (a display user's token, only `event`
    messages count, resume with ?since= after a close) or Node-RED's path (every message counts)."""

    port: int
    path: str
    token: str | None = None
    only: bytes = b""
    resume: bool = False


@dataclass
class Wall:
    spec: WallSpec
    marker: bytes
    latency: bool
    seen: set[bytes] = field(default_factory=set)
    lat_ms: array[float] = field(default_factory=lambda: array("d"))
    warm: int = 0  # warm-up events seen (not measured)
    dups: int = 0  # measured events seen again (Node-RED: a QoS 1 redelivery; MCC never sends one twice)
    messages: int = 0
    gaps: int = 0  # MCC: resumed too late for a replay (a snapshot came instead: events missed)
    first_new: float = 0.0
    last_new: float = 0.0  # when the last new measured event arrived
    seq: int | None = None
    stream: str | None = None
    closes: list[int | None] = field(default_factory=list)
    others: dict[str, int] = field(default_factory=dict)
    socket: Socket | None = None
    stopping: bool = False

    def on_message(self, msg: bytes, now: float) -> None:
        if msg.startswith(BATCH):  # MCC's frame of several changes: each item as if it came alone
            for item in batch_items(msg):
                self.on_message(item, now)
            return
        self.messages += 1
        i = msg.find(self.marker)
        if i < 0 or not msg.startswith(self.spec.only):
            self._other(msg)
            return
        if self.spec.resume:
            k = msg.find(b'"seq":')
            self.seq = int(msg[k + 6:msg.find(b",", k)])
        start = i + len(self.marker)
        key = msg[start:msg.find(b'"', start)]
        if key[:1] == b"w":
            self.warm += 1
        elif key in self.seen:
            self.dups += 1
        else:
            self.seen.add(key)
            self.first_new = self.first_new or now
            self.last_new = now
            if self.latency:
                k = msg.find(b'"t_pub":', start) + 8
                end = msg.find(b"}", k)
                comma = msg.find(b",", k, end)
                self.lat_ms.append((now - float(msg[k:comma if comma >= 0 else end])) * 1000)

    def _other(self, msg: bytes) -> None:
        kind = msg[9:msg.find(b'"', 9)].decode() if msg.startswith(b'{"type":"') else "?"
        self.others[kind] = self.others.get(kind, 0) + 1
        if kind == "snapshot":
            if self.seq is not None:
                self.gaps += 1  # resumed too late for a replay: what fell between is lost
            snapshot = json.loads(msg)
            self.seq, self.stream = snapshot.get("seq"), snapshot.get("stream")
        elif self.spec.resume and (k := msg.find(b'"seq":')) >= 0:
            self.seq = int(msg[k + 6:min(j for j in (msg.find(b",", k), msg.find(b"}", k)) if j >= 0)])

    async def run(self, connected: asyncio.Future[None]) -> None:
        headers = {"Authorization": f"Bearer {self.spec.token}"} if self.spec.token else {}
        while True:
            # MCC's walls read batch frames, as its pages do (Node-RED sends one frame a message).
            query = "?batch=1" if self.spec.resume else ""
            if self.spec.resume and self.seq is not None:
                query += f"&since={self.seq}&stream={self.stream}"
            self.socket = await open_socket(self.spec.port, self.spec.path + query, self.on_message, headers)
            if not connected.done():
                connected.set_result(None)
            code = await self.socket.closed
            if self.stopping:
                return
            self.closes.append(code)
            if not self.spec.resume:
                return
            await asyncio.sleep(0.05)

    def unread(self) -> int:
        """Bytes that arrived on this wall's socket and that it has not read yet (FIONREAD): if the
        walls keep up, this stays near 0 and what limits the figures is on the other side."""
        sock = self.socket.transport.get_extra_info("socket") if self.socket and self.socket.transport else None
        if sock is None or sock.fileno() < 0:
            return 0
        try:
            return int(struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0"))[0])
        except OSError:
            return 0

    def result(self) -> dict[str, Any]:
        return {"seen": len(self.seen), "warm": self.warm, "dups": self.dups, "messages": self.messages,
                "first_new": self.first_new, "last_new": self.last_new, "closes": self.closes, "gaps": self.gaps,
                "others": self.others}


def walls(spec: WallSpec, count: int, prefix: str, latency: bool, index: int, stop: Any, events: Any) -> None:
    import uvloop

    uvloop.run(_walls(spec, count, prefix, latency, index, stop, events))


async def _walls(spec: WallSpec, count: int, prefix: str, latency: bool, index: int, stop: Any,
                 events: Any) -> None:
    loop = asyncio.get_running_loop()
    marker = b'"id":"' + prefix.encode()
    group = [Wall(spec, marker, latency) for _ in range(count)]
    opened = [loop.create_future() for _ in group]
    tasks = [asyncio.create_task(w.run(f)) for w, f in zip(group, opened)]
    await asyncio.wait_for(asyncio.gather(*opened), 60)
    events.put(("connected", index))
    warm_told = False
    backlog: list[int] = []  # bytes read by the kernel and not yet by the walls, summed over the walls
    while not stop.is_set():
        await asyncio.sleep(PROGRESS)
        if not warm_told and all(w.warm for w in group):
            events.put(("warm", index))
            warm_told = True
        if warm_told:
            backlog.append(sum(w.unread() for w in group))
        events.put(("progress", index, min(len(w.seen) for w in group), max(w.last_new for w in group),
                    sum(1 for w in group if w.gaps)))
    for w in group:
        w.stopping = True
        if w.socket is not None:
            w.socket.close()
    for task in tasks:
        task.cancel()
    lat = array("d")
    for w in group:
        lat.extend(w.lat_ms)
    events.put(("result", index, {"walls": [w.result() for w in group], "lat_ms": lat.tobytes(),
                                  "unread_max": max(backlog, default=0),
                                  "unread_mean": sum(backlog) / len(backlog) if backlog else 0.0}))
