"""Publish->WebSocket latency: probes at ~20/s carrying data.t_pub over 500 events/s of paced background
traffic; a display user's WebSocket client times each probe's `event` message (same machine clock)."""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import random
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from bench.common import SITE, cpu_total, make_event, percentile, publisher_client, running_stack

WARMUP = 2.0  # seconds of background traffic before the first probe
TAIL = 5.0  # seconds to wait for late probes after the last one


def _background(port: int, rate: float, duration: float, go: Any, results: Any) -> None:
    """Paced publisher: every 10 ms a batch of rate/100 events, on an absolute schedule (no drift)."""
    rng = random.Random(7)
    client = publisher_client(port, "bench-background")
    batch = max(1, round(rate / 100))
    go.wait(60)
    start = time.time()
    sent = tick = 0
    while time.time() - start < duration:
        for _ in range(batch):
            client.publish(*make_event(rng, f"bg-{sent}"), qos=1)
            sent += 1
        tick += 1
        time.sleep(max(0.0, start + tick * 0.01 - time.time()))
    results.put({"role": "background", "sent": sent, "seconds": time.time() - start})
    client.disconnect()
    client.loop_stop()


def _probes(port: int, rate: float, duration: float, go: Any, results: Any) -> None:
    """Probe publisher: one access.granted event per 1/rate s with data.t_pub = time.time()."""
    client = publisher_client(port, "bench-probe")
    go.wait(60)
    time.sleep(WARMUP)
    start = time.time()
    sent: dict[str, float] = {}
    i = 0
    while time.time() - start < duration:
        source_id = f"probe-{i}"
        t_pub = time.time()
        body = {"id": source_id, "ts": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(t_pub)),
                "type": "access.granted", "data": {"card": "00000001", "t_pub": t_pub}}
        client.publish(f"mcc/v1/{SITE}/probe-1/event", json.dumps(body), qos=1)
        sent[source_id] = t_pub
        i += 1
        time.sleep(max(0.0, start + i / rate - time.time()))
    results.put({"role": "probes", "sent": sent, "seconds": time.time() - start})
    client.disconnect()
    client.loop_stop()


async def watch(url: str, token: str, go: Any, until: Any, resume: bool = False) -> dict[str, Any]:
    """Read the WebSocket until ``until()`` says stop; time probes, count background events. With
    ``resume``, a socket that closes is opened again with ``?since=<last seq>&stream=``, as the wall
    does (the time until the missed messages arrive counts in their latency); each reopening is
    listed under ``reconnects``."""
    seen: dict[str, Any] = {"received": {}, "to_console": {}, "background": [], "other": 0, "instances": [],
                            "reconnects": [], "seq": None, "stream": None}
    while True:
        try:
            await _read(url, token, go, until, seen)
            break
        except (WebSocketException, OSError, asyncio.TimeoutError) as exc:
            if not resume or seen["seq"] is None or until(seen["received"]):
                raise
            seen["reconnects"].append({"at": time.time(), "why": f"{type(exc).__name__}: {exc}"[:200]})
            await asyncio.sleep(0.2)
    return {**seen, "instance": seen["instances"][0] if seen["instances"] else None}


async def _read(url: str, token: str, go: Any, until: Any, seen: dict[str, Any]) -> None:
    received, to_console, background = seen["received"], seen["to_console"], seen["background"]
    query = f"?since={seen['seq']}&stream={seen['stream']}" if seen["seq"] is not None else ""
    async with connect(url + query, additional_headers={"Authorization": f"Bearer {token}"}, max_size=None,
                       open_timeout=10) as ws:
        seen["instances"].append(ws.response.headers.get("x-mcc-instance") if ws.response is not None else None)
        hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert hello["type"] == "hello", hello["type"]
        if seen["seq"] is None:
            snapshot = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert snapshot["type"] == "snapshot", snapshot["type"]
            seen["seq"], seen["stream"] = snapshot.get("seq"), snapshot.get("stream")
            go.set()
        while not until(received):
            try:
                text = await asyncio.wait_for(ws.recv(), 0.5)
            except asyncio.TimeoutError:
                continue
            now = time.time()
            message = json.loads(text)
            if message.get("seq") is not None:
                seen["seq"] = message["seq"]
            if message["type"] == "snapshot":  # resumed too late for a replay: what fell between is lost
                seen["stream"] = message.get("stream")
            if message["type"] != "event":
                seen["other"] += 1
            elif message["data"]["id"].startswith("probe-"):
                data = message["data"]
                if data["id"] in received:  # replayed after a reconnect: its first arrival counts
                    continue
                received[data["id"]] = now - data["data"]["t_pub"]
                to_console[data["id"]] = datetime.fromisoformat(data["received_at"]).timestamp() - data["data"]["t_pub"]
            else:
                background.append(now)


def run(db_kind: str, duration: float, rate: float = 500.0, probe_rate: float = 20.0) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="mcc-bench-latency-") as tmp, \
            running_stack(db_kind, Path(tmp), users=(("wall", "display"),)) as console:
        return measure(console, db_kind, duration, rate, probe_rate)


def measure(console: Any, db_kind: str, duration: float, rate: float, probe_rate: float) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    go, results = ctx.Event(), ctx.Queue()
    port = console.broker.port
    procs = [
        ctx.Process(target=_background, args=(port, rate, WARMUP + duration + 1.0, go, results), daemon=True),
        ctx.Process(target=_probes, args=(port, probe_rate, duration, go, results), daemon=True),
    ]
    token = console.login("wall")
    outcome: dict[str, Any] = {}
    try:
        for proc in procs:
            proc.start()
        cpu0, before = cpu_total(console.pids()), console.health()["ingest"]
        t0 = time.time()
        hard_stop = t0 + WARMUP + duration + 60

        def until(received: dict[str, float]) -> bool:
            # Stop when the probes are all in (or TAIL s after the probe publisher reported), or at hard_stop.
            while not results.empty():
                item = results.get()
                outcome[item["role"]] = item
                if item["role"] == "probes":
                    outcome["probes_done_at"] = time.time()
            if "probes" in outcome:
                if len(received) >= len(outcome["probes"]["sent"]) and "background" in outcome:
                    return True
                return time.time() > float(outcome["probes_done_at"]) + TAIL
            return time.time() > hard_stop

        watched = asyncio.run(watch(f"ws://127.0.0.1:{console.port}/ws", token, go, until))
        cpu = cpu_total(console.pids()) - cpu0
        wall = time.time() - t0
        after = console.health()["ingest"]
    finally:
        for proc in procs:
            proc.join(10)
            if proc.is_alive():
                proc.terminate()
    batches = after["batches"] - before["batches"]
    mean_batch = (after["stored"] - before["stored"]) / batches if batches else None
    return {**_report(db_kind, rate, probe_rate, duration, outcome, watched, cpu / wall),
            "batches": batches, "mean_batch": round(mean_batch, 1) if mean_batch else None}


def _report(db_kind: str, rate: float, probe_rate: float, duration: float, outcome: dict[str, Any],
            watched: dict[str, Any], cpu_share: float) -> dict[str, Any]:
    sent = outcome.get("probes", {}).get("sent", {})
    latencies = [v * 1000 for k, v in watched["received"].items() if k in sent]
    inside = [(v - watched["to_console"][k]) * 1000 for k, v in watched["received"].items() if k in sent]
    bg = outcome.get("background", {})
    times = watched["background"]
    return {
        "db": db_kind,
        "background_target": rate,
        "background_published_rate": round(bg["sent"] / bg["seconds"], 1) if bg else None,
        "background_received_rate": round(len(times) / (times[-1] - times[0]), 1) if len(times) > 1 else None,
        "background_received": len(times),
        "other_ws_messages": watched["other"],
        "ws_instance": watched["instance"],
        "probe_rate": probe_rate,
        "duration": duration,
        "probes_sent": len(sent),
        "probes_received": len(latencies),
        "lost": len(sent) - len(latencies),
        "p50_ms": round(percentile(latencies, 50), 2),
        "p90_ms": round(percentile(latencies, 90), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
        "max_ms": round(max(latencies), 2) if latencies else None,
        "min_ms": round(min(latencies), 2) if latencies else None,
        "console_p50_ms": round(percentile(inside, 50), 2),
        "console_p99_ms": round(percentile(inside, 99), 2),
        "console_cpu_share": round(cpu_share, 2),
    }
