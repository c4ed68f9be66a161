"""The soak's load and its walls: a publisher process that sends the bench site's mix at a steady rate
for the whole run (about 20 probes/s among them carry ``data.t_pub``), and reader processes, each
holding several WebSocket clients that read everything the console pushes, as walls do, and time
the probes. A client the console drops (too slow) comes back with ``?since=`` as the wall page does.
The clients send no WebSocket pings (a browser sends none): a wall that reads late is not closed by
its own keep-alive, only by the console."""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from datetime import datetime
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from bench.common import CST, SITE, make_event
from bench.rawmqtt import RawPublisher

TICK = 0.01  # seconds between the publisher's sends
PROBE_RATE = 20.0  # probes/s, part of the rate
TEMPLATES = 4096  # distinct messages, reused with a new id and time stamp
PROBE_TOPIC = f"mcc/v1/{SITE}/probe-1/event".encode()
_SEQ = re.compile(r'"seq":(\d+)')


def templates(rng: random.Random) -> list[tuple[bytes, bytes]]:
    """The site mix of bench/common.py as (topic, payload) with ``@ID@`` and ``@TS@`` to fill in."""
    out = []
    for _ in range(TEMPLATES):
        topic, payload = make_event(rng, "@ID@")
        body = json.loads(payload)
        body["ts"] = "@TS@"
        out.append((topic.encode(), json.dumps(body, ensure_ascii=False).encode()))
    return out


def publish(port: int, rate: float, duration: float, prefix: str, ready: Any, start_at: Any, sent_now: Any,
            results: Any) -> None:
    """Publisher process: ``rate`` events/s for ``duration`` s from ``start_at``, paced every TICK on that
    clock (one that falls behind catches up); every rate/PROBE_RATE-th event is a probe. Then it waits
    for every PUBACK."""
    pool = templates(random.Random(11))
    every = max(1, round(rate / PROBE_RATE))
    client = RawPublisher(port, "bench-soak")
    ready.release()
    while start_at.value == 0.0:
        time.sleep(0.01)
    start = start_at.value
    time.sleep(max(0.0, start - time.time()))
    seq = probes = 0
    while (t := time.time() - start) < duration:
        stamp = datetime.now(CST).isoformat(timespec="milliseconds").encode()
        for _ in range(int(t * rate) - seq):
            source_id = f"{prefix}-{seq}"
            if seq % every == 0:
                body = {"id": source_id, "ts": stamp.decode(), "type": "access.granted",
                        "data": {"card": "00000001", "t_pub": time.time()}}
                client.publish(PROBE_TOPIC, json.dumps(body).encode())
                probes += 1
            else:
                topic, template = pool[seq % TEMPLATES]
                client.publish(topic, template.replace(b"@ID@", source_id.encode()).replace(b"@TS@", stamp))
            seq += 1
        client.flush()
        client.read_acks()
        sent_now.value = seq
        time.sleep(max(0.0, start + (int(t / TICK) + 1) * TICK - time.time()))
    finished = time.time()
    client.wait_acked(600)
    results.put({"role": "publisher", "sent": seq, "probes": probes, "acked": client.acked, "started": start,
                 "finished": finished, "all_acked": time.time()})
    client.close()


def read(url: str, tokens: list[str], index: int, stop: Any, results: Any) -> None:
    """Reader process: one WebSocket client per token, all read until ``stop``; then each reports."""
    asyncio.run(_read_all(url, tokens, index, stop, results))


async def _read_all(url: str, tokens: list[str], index: int, stop: Any, results: Any) -> None:
    clients = [_Client(f"{index}.{i}") for i in range(len(tokens))]
    tasks = [asyncio.create_task(c.run(url, token, stop)) for c, token in zip(clients, tokens)]
    while not all(c.seq is not None for c in clients):
        await asyncio.sleep(0.05)
        if any(t.done() for t in tasks):
            await asyncio.gather(*tasks)  # raises why a client could not connect
    results.put({"role": "connected", "index": index})
    await asyncio.gather(*tasks)
    for c in clients:
        results.put({"role": "client", "name": c.name, "messages": c.messages, "bytes": c.bytes,
                     "probes": len(c.probes), "latencies_ms": c.latencies, "reconnects": c.reconnects})


class _Client:
    """One wall: counts what it reads, and times each probe's first arrival."""

    def __init__(self, name: str):
        self.name = name
        self.messages = self.bytes = 0
        self.probes: set[str] = set()
        self.latencies: list[float] = []
        self.reconnects: list[dict[str, Any]] = []
        self.seq: int | None = None
        self.stream: str | None = None

    async def run(self, url: str, token: str, stop: Any) -> None:
        while not stop.is_set():
            try:
                await self._read(url, token, stop)
            except (WebSocketException, OSError, asyncio.TimeoutError) as exc:
                if self.seq is None:
                    raise
                self.reconnects.append({"at": time.time(), "why": f"{type(exc).__name__}: {exc}"[:200]})
                await asyncio.sleep(0.2)

    async def _read(self, url: str, token: str, stop: Any) -> None:
        # As the pages do: changes that wait together come as one batch frame.
        query = f"?batch=1&since={self.seq}&stream={self.stream}" if self.seq is not None else "?batch=1"
        async with connect(url + query, additional_headers={"Authorization": f"Bearer {token}"}, max_size=None,
                           open_timeout=30, ping_interval=None) as ws:
            while not stop.is_set():
                try:
                    frame = await asyncio.wait_for(ws.recv(), 0.5)
                except asyncio.TimeoutError:
                    continue
                now = time.time()
                text = frame if isinstance(frame, str) else frame.decode()
                self.messages += 1
                self.bytes += len(text)
                if text.startswith('{"type":"snapshot"') or text.startswith('{"type":"hello"'):
                    message = json.loads(text)
                    if message["type"] == "snapshot":
                        self.seq, self.stream = message.get("seq"), message.get("stream")
                    continue
                found = _SEQ.search(text, 0, 80)
                if found:
                    self.seq = int(found.group(1))
                if '"t_pub"' in text:  # a probe (only the probes carry it): parse it
                    parsed = json.loads(text)
                    for message in parsed["items"] if parsed["type"] == "batch" else [parsed]:
                        data = message["data"]
                        if message["type"] != "event" or "t_pub" not in (data.get("data") or {}):
                            continue
                        if data["id"] not in self.probes:  # a replay after a reconnect: its first arrival counts
                            self.probes.add(data["id"])
                            self.latencies.append(round((now - data["data"]["t_pub"]) * 1000, 2))
