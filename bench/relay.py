"""MCC beside the relay a site would otherwise wire up: Node-RED (bench/nodered.py, `mqtt in` -> `json`
-> `websocket out`, which stores nothing), in the same run, on the same kind of fresh Mosquitto, with
the same load generator and walls (bench/relayload.py). For each measure and each of two interleaved
rounds (MCC, Node-RED, MCC, Node-RED), each system gets a fresh broker (and MCC a fresh store):

- burst: N (30,000) QoS 1 access.granted events of 200 devices as fast as the broker takes them;
  events / (last one seen on every wall - first published), with 1 wall and with 50;
- latency: R (1,000) events/s paced, each with data.t_pub; publish -> wall p50/p99, 1 wall and 50;
- the server process's CPU at R events/s (one wall), in cores: CPU seconds / wall seconds.

Every MCC run checks that each event published (warm-ups too) is stored exactly once."""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import queue
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import nodered, relayload, relaystats
from bench.common import SITE, Console, RowCounter, cpu_total, running_stack
from bench.rawmqtt import RawPublisher
from bench.relayload import GATES, WallSpec
from console.demo.broker import ManagedMosquitto

WALLS_PER_PROCESS = 25  # 50 walls: two processes (each well under a core at the burst's peak)
WARM = 1.0  # seconds of the paced load before measuring
STALL = 30.0  # seconds without a new event on the slowest wall (after the last publish) before giving up
GAPPED = 5.0  # the same, once every wall has resumed from a snapshot
SYSTEMS = ("mcc", "node-red")


class RelayConsole(Console):
    """The bench site with the 200 gates the relay load comes from registered as doors."""

    def site_config(self) -> dict[str, Any]:
        config = super().site_config()
        config["devices"]["entries"] += [{"id": g, "name": f"通道 {g}", "role": "door", "label": f"通道 {g}"}
                                         for g in GATES]
        return config


@dataclass
class Target:
    """A system under test as the load and the walls see it."""

    system: str
    broker: ManagedMosquitto
    walls: WallSpec
    pids: Callable[[], list[int]]
    verify: Callable[[int], dict[str, Any]] | None = None  # MCC: stored exactly once?


@contextmanager
def mcc(db: str, folder: Path) -> Iterator[Target]:
    with running_stack(db, folder, users=(("wall", "display"),), make=RelayConsole) as console:
        counter = RowCounter(console.db_url)
        try:
            spec = WallSpec(console.port, "/ws", console.login("wall"), only=b'{"type":"event"', resume=True)
            yield Target("mcc", console.broker, spec, console.pids, lambda n: stored_once(counter, n))
        finally:
            counter.close()


@contextmanager
def node_red(folder: Path) -> Iterator[Target]:
    broker = ManagedMosquitto(folder / "broker")
    broker.start()
    relay = nodered.NodeRed(folder / "node-red", broker.port, SITE)
    try:
        relay.start()
        yield Target("node-red", broker, WallSpec(relay.port, nodered.WS_PATH), relay.pids)
    finally:
        relay.stop()
        broker.stop()


def stored_once(counter: RowCounter, expected: int, wait: float = 30.0) -> dict[str, Any]:
    """Wait until ``expected`` rows are stored (or ``wait`` s), then count them and their source ids."""
    deadline = time.time() + wait
    while counter.events() < expected and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # let any redelivery land before the exactly-once check
    stored = counter.events()
    distinct = int(counter.scalar("SELECT count(DISTINCT source_id) FROM events"))
    return {"expected": expected, "stored": stored, "distinct_source_ids": distinct,
            "exactly_once": stored == expected == distinct}


def run(db: str, n: int, rate: float, seconds: float, clients: list[int], rounds: int = 2,
        publishers: int = 2) -> dict[str, Any]:
    """Every measure, ``rounds`` times, MCC then Node-RED each time; returns the runs and their summary."""
    version = nodered.ensure_installed()
    measures = [("burst", k) for k in clients] + [("latency", k) for k in clients]
    runs: list[dict[str, Any]] = []
    for r in range(1, rounds + 1):
        for mode, k in measures:
            for system in SYSTEMS:
                what = f"{n:,} events" if mode == "burst" else f"{rate:g}/s for {seconds:g} s"
                print(f"  round {r}: {system:<8} {mode} {what}, {k} wall(s) ...", flush=True)
                row = once(system, db, mode, k, n, rate, seconds, publishers)
                runs.append({"round": r, **row})
                print(f"    {relaystats.one_line(row)}", flush=True)
    return {"db": db, "n": n, "rate": rate, "seconds": seconds, "clients": clients, "rounds": rounds,
            "publishers": publishers, "node_red": version, "node": nodered.node_version(), "runs": runs, "summary": relaystats.summary(runs)}


def once(system: str, db: str, mode: str, clients: int, n: int, rate: float, seconds: float,
         publishers: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"mcc-bench-relay-{system}-") as tmp:
        stack = mcc(db, Path(tmp)) if system == "mcc" else node_red(Path(tmp))
        with stack as target:
            load = os.getloadavg()[0]
            row = measure(target, mode, clients, n, rate, seconds, publishers)
    # The machine is shared: the 1-minute load average before and after says how much else was running.
    return {"system": system, "mode": mode, "clients": clients, **row, "load": [round(load, 2),
                                                                                round(os.getloadavg()[0], 2)]}


def measure(target: Target, mode: str, clients: int, n: int, rate: float, seconds: float,
            publishers: int) -> dict[str, Any]:
    """One measure on a running system: start the walls and the load processes, warm up until every
    wall has an event, start the load, wait for the walls, then take the figures (and MCC's count)."""
    ctx = mp.get_context("spawn")
    events, stop, go = ctx.Queue(), ctx.Event(), ctx.Event()
    prefix = f"r{random.randrange(16**6):06x}"
    port, latency = target.broker.port, mode == "latency"
    groups = [len(g) for g in split(clients, math.ceil(clients / WALLS_PER_PROCESS))]
    walls = [ctx.Process(target=relayload.walls, args=(target.walls, k, prefix, latency, i, stop, events), daemon=True)
             for i, k in enumerate(groups)]
    if latency:
        pubs = [ctx.Process(target=relayload.paced, args=(port, rate, WARM, seconds, prefix, go, events), daemon=True)]
    else:
        pubs = [ctx.Process(target=relayload.burst, args=(port, i, n, publishers, prefix, go, events), daemon=True)
                for i in range(publishers)]
    state: dict[str, Any] = {"connected": set(), "warm": set(), "ready": set(), "published": {}, "progress": {},
                             "result": {}}
    try:
        for proc in walls + pubs:
            proc.start()
        collect(events, state, lambda: len(state["connected"]) == len(walls) and len(state["ready"]) == len(pubs), 120)
        warm_sent = warm_up(port, prefix, events, state, len(walls))
        procs = {"server": target.pids, "broker": lambda: [target.broker.process.pid] if target.broker.process else [],
                 "walls": lambda: [p.pid for p in walls if p.pid], "publishers": lambda: [p.pid for p in pubs if p.pid]}
        cpu0, t0 = {k: cpu_total(f()) for k, f in procs.items()}, time.time()
        go.set()
        collect(events, state, lambda: len(state["published"]) == len(pubs), 600)
        cpu_pub, t_pub = {k: cpu_total(f()) for k, f in procs.items()}, time.time()
        sent = sum(p["sent"] for p in state["published"].values())
        measured = sent if not latency else state["published"][0]["measured"]
        cpu1, t1 = wait_for_walls(events, state, len(walls), clients, measured,
                                  lambda: ({k: cpu_total(f()) for k, f in procs.items()}, time.time()))
        stop.set()
        collect(events, state, lambda: len(state["result"]) == len(walls), 60)
    finally:
        stop.set()
        for proc in walls + pubs:
            proc.join(10)
            if proc.is_alive():
                proc.terminate()
    # CPU: over the paced stretch at R/s (latency), or from the start to the last new event seen (burst).
    cpu_end, t_end = (cpu_pub, t_pub) if latency else (cpu1, t1)
    cores = {k: round((cpu_end[k] - cpu0[k]) / (t_end - t0), 2) for k in procs}
    stored = target.verify(warm_sent + sent) if target.verify else None
    return relaystats.figures(mode, n if not latency else measured, state, cores, stored, warm_sent)


def split(total: int, parts: int) -> list[range]:
    """``total`` items in ``parts`` nearly equal consecutive ranges."""
    edges = [round(total * i / parts) for i in range(parts + 1)]
    return [range(a, b) for a, b in zip(edges, edges[1:])]


def pump(events: Any, state: dict[str, Any], seconds: float) -> None:
    """Take one report of a load or wall process into ``state`` (waiting up to ``seconds``)."""
    try:
        kind, index, *rest = events.get(timeout=seconds)
    except queue.Empty:
        return
    if kind in ("connected", "warm", "ready"):
        state[kind].add(index)
    else:  # published, progress (fewest events seen on a wall of that process, newest arrival), result
        state[kind][index] = rest[0] if kind != "progress" else tuple(rest)


def collect(events: Any, state: dict[str, Any], done: Callable[[], bool], timeout: float) -> None:
    """Take reports until ``done()``; raise after ``timeout`` s."""
    deadline = time.time() + timeout
    while not done():
        if time.time() > deadline:
            got = ", ".join(f"{k}: {len(v)}" for k, v in state.items())
            raise RuntimeError(f"timed out after {timeout:g} s waiting for the load or the walls ({got})")
        pump(events, state, 0.2)


def warm_up(port: int, prefix: str, events: Any, state: dict[str, Any], processes: int) -> int:
    """Publish a warm-up event every 0.1 s until every wall has seen one (the whole path is up)."""
    pub = RawPublisher(port, "relay-warm")
    sent, deadline = 0, time.time() + 60
    try:
        while len(state["warm"]) < processes:
            if time.time() > deadline:
                raise RuntimeError("the walls saw no warm-up event in 60 s")
            pub.publish(*relayload.gate_event(f"{prefix}w{sent}", GATES[sent % len(GATES)]))
            sent += 1
            pub.flush()
            pump(events, state, 0.1)
        pub.wait_acked(10)
    finally:
        pub.close()
    return sent


def wait_for_walls(events: Any, state: dict[str, Any], processes: int, walls: int, measured: int,
                   sample: Callable[[], tuple[dict[str, float], float]]) -> tuple[dict[str, float], float]:
    """Until every wall has seen every measured event, or the slowest has seen none more for STALL s
    (GAPPED s once every wall has resumed from a snapshot: MCC dropped it, what it missed never
    comes). Returns ``sample()`` as taken when the walls last saw a new event."""
    slowest, since, newest = -1, time.time(), 0.0
    last = sample()
    while True:
        progress = [state["progress"].get(i, (0, 0.0, 0)) for i in range(processes)]
        if max(p[1] for p in progress) > newest:
            newest, last = max(p[1] for p in progress), sample()
        if min(p[0] for p in progress) >= measured:
            return last
        if min(p[0] for p in progress) > slowest:
            slowest, since = min(p[0] for p in progress), time.time()
        patience = GAPPED if sum(p[2] for p in progress) == walls else STALL
        if time.time() - max(since, newest) > patience:
            return last
        pump(events, state, 0.2)
