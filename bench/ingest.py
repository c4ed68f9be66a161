"""Sustained ingest: N QoS 1 native events from publisher processes as fast as the broker takes them;
events/s committed to the store (polled row count), time until all N are stored, exactly-once check."""

from __future__ import annotations

import multiprocessing as mp
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import RowCounter, cpu_seconds, cpu_total, make_event, publisher_client, running_stack

POLL = 0.1  # seconds between row counts


def _publish(port: int, index: int, count: int, prefix: str, ready: Any, go: Any, results: Any) -> None:
    """Publisher process: build its events, wait for the start signal, publish, wait for every PUBACK."""
    rng = random.Random(index)
    messages = [make_event(rng, f"{prefix}-{index}-{i}") for i in range(count)]
    client = publisher_client(port, f"bench-ingest-{index}", threaded=False)
    acked = 0

    def on_publish(client: Any, userdata: Any, mid: int, reason: Any, properties: Any) -> None:
        nonlocal acked
        acked += 1

    client.on_publish = on_publish
    ready.release()
    go.wait(60)
    started = time.time()
    for i, (topic, payload) in enumerate(messages):
        client.publish(topic, payload, qos=1)
        if i % 100 == 0:
            client.loop(0)  # read PUBACKs; paho queues what exceeds the in-flight window
    deadline = time.monotonic() + 300
    while acked < count and time.monotonic() < deadline:
        client.loop(0.1)
    results.put({"index": index, "published": count, "acked": acked, "started": started, "finished": time.time()})
    client.disconnect()


def timeout_for(n: int) -> float:
    """How long to wait for N events to be stored before giving up."""
    return max(120.0, n / 400)


def run(db_kind: str, n: int, publishers: int = 2, timeout: float | None = None) -> dict[str, Any]:
    timeout = timeout or timeout_for(n)
    with tempfile.TemporaryDirectory(prefix="mcc-bench-ingest-") as tmp, running_stack(db_kind, Path(tmp)) as console:
        return measure(console, db_kind, n, publishers, timeout)


def measure(console: Any, db_kind: str, n: int, publishers: int, timeout: float) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    ready, go, results = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
    prefix = f"ing{random.randrange(10**6):06d}"
    shares = [n // publishers + (1 if i < n % publishers else 0) for i in range(publishers)]
    procs = [ctx.Process(target=_publish, args=(console.broker.port, i, share, prefix, ready, go, results), daemon=True)
             for i, share in enumerate(shares)]
    counter = RowCounter(console.db_url)
    try:
        for proc in procs:
            proc.start()
        for _ in procs:
            if not ready.acquire(timeout=60):
                raise RuntimeError("a publisher did not get ready in 60 s")
        cpu0 = {"console": cpu_total(console.pids()), "broker": cpu_seconds(console.broker.process.pid)}
        t0 = time.time()
        go.set()
        samples, first, last = _poll_until(counter, n, t0 + timeout)
        wall = time.time() - t0
        cpu = {"console": round(cpu_total(console.pids()) - cpu0["console"], 2),
               "broker": round(cpu_seconds(console.broker.process.pid) - cpu0["broker"], 2)}
        pubs = [results.get(timeout=30) for _ in procs]
        time.sleep(1.0)  # let any redelivery land before the exactly-once check
        return _report(console, counter, db_kind, n, t0, samples, first, last, pubs, cpu, wall)
    finally:
        counter.close()
        for proc in procs:
            proc.join(5)
            if proc.is_alive():
                proc.terminate()


def _poll_until(counter: RowCounter, n: int, deadline: float) -> tuple[list[tuple[float, int]], tuple[float, int] | None,
                                                                       tuple[float, int] | None]:
    samples: list[tuple[float, int]] = []
    first = last = None
    while time.time() < deadline:
        now, count = time.time(), counter.events()
        samples.append((now, count))
        if count and first is None:
            first = (now, count)
        if count >= n:
            last = (now, count)
            break
        time.sleep(POLL)
    return samples, first, last


def _report(console: Any, counter: RowCounter, db_kind: str, n: int, t0: float, samples: list[tuple[float, int]],
            first: tuple[float, int] | None, last: tuple[float, int] | None, pubs: list[dict[str, Any]],
            cpu: dict[str, float], wall: float) -> dict[str, Any]:
    stored = counter.events()
    distinct = int(counter.scalar("SELECT count(DISTINCT source_id) FROM events"))
    alarms = int(counter.scalar("SELECT count(*) FROM alarms"))
    health = console.health()["ingest"]
    pub_start = min(p["started"] for p in pubs)
    pub_end = max(p["finished"] for p in pubs)
    committed = _rate(first, last)
    after = next((s for s in samples if s[0] >= pub_end), None)
    return {
        "db": db_kind,
        "n": n,
        "publishers": len(pubs),
        "published_acked": sum(p["acked"] for p in pubs),
        "publish_rate": round(n / (pub_end - pub_start), 1),
        "publish_seconds": round(pub_end - pub_start, 3),
        "committed_rate": committed,
        "committed_rate_while_publishing": _rate(first, after) if after else committed,
        "committed_rate_after_publishing": _rate(after, last),
        "all_stored_seconds": round(last[0] - t0, 3) if last else None,
        "stored": stored,
        "distinct_source_ids": distinct,
        "exactly_once": stored == n and distinct == n,
        "duplicates_seen": health["duplicates"],
        "quarantined": health["quarantined"],
        "batches": health["batches"],
        "mean_batch": round(health["stored"] / health["batches"], 1) if health["batches"] else None,
        "alarm_rows": alarms,
        "cpu_seconds": cpu,
        "cpu_share": {k: round(v / wall, 2) for k, v in cpu.items()},
        "timeline": [(round(t - t0, 2), c) for t, c in samples],
        "poll_interval": POLL,
    }


def _rate(a: tuple[float, int] | None, b: tuple[float, int] | None) -> float | None:
    """Rows per second between two (time, count) samples."""
    if a is None or b is None or b[0] - a[0] < 0.5:
        return None
    return round((b[1] - a[1]) / (b[0] - a[0]), 1)
