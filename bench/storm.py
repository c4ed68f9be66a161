"""The alarm storm: N new alarms (10,000) published at once, each on a point of its own, and the time
until all of them are on a wall's WebSocket, each with its task. Two variants, each on a fresh
broker, store and console: N fire alarms (a shorted loop, a big panel going off), and N alarms of
lower kinds into which one fire alarm is published halfway through. In the middle of either, an
operator acknowledges one alarm over the HTTP API, and the time until the wall shows it acknowledged
is measured. Targets (issue): all on the wall within 20 s, the ack and the fire alarm within 1 s."""

from __future__ import annotations

import asyncio
import bisect
import multiprocessing as mp
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import RowCounter, cpu_seconds, memory_kb, running_stack
from bench.rawmqtt import RawPublisher
from bench.stormload import FIRE, LOWER, LOWER_KINDS, StormWall, acknowledge, fire_message, publish_storm

ALL_IN_TARGET = 20.0  # seconds until every alarm of the storm is on the wall
ACK_TARGET = 1.0  # seconds from the operator's ack to the wall showing it
FIRE_TARGET = 1.0  # seconds from publishing the fire alarm to the wall showing it
ACK_AT = 0.3  # the ack is sent once this share of the storm is on the wall (3,000 of 10,000)
FIRE_AT = 0.5  # the fire alarm is published once this share of the lower storm is on the wall
USERS = (("wall", "display"), ("op", "operator"))


def kinds_of(variant: str) -> frozenset[str]:
    return frozenset({"fire.alarm"}) if variant == FIRE else frozenset(k for k, _ in LOWER_KINDS)


def run(db_kind: str, n: int, variant: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="mcc-bench-storm-") as tmp, \
            running_stack(db_kind, Path(tmp), users=USERS) as console:
        return measure(console, db_kind, variant, n)


def measure(console: Any, db_kind: str, variant: str, n: int) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    ready, go, results, sent = ctx.Semaphore(0), ctx.Event(), ctx.Queue(), ctx.Value("i", 0)
    prefix = f"storm{random.randrange(10**6):06d}"
    port, pid, broker_pid = console.broker.port, console.process.pid, console.broker.process.pid
    proc = ctx.Process(target=publish_storm, args=(port, variant, n, prefix, ready, go, sent, results), daemon=True)
    wall_token, op_token = console.login("wall"), console.login("op")
    fire_pub = RawPublisher(port, "bench-storm-fire") if variant == LOWER else None
    counter = RowCounter(console.db_url)
    try:
        proc.start()
        if not ready.acquire(timeout=120):
            raise RuntimeError("the storm publisher did not get ready in 120 s")
        rss0, cpu0, broker0 = memory_kb(pid), cpu_seconds(pid), cpu_seconds(broker_pid)
        health0 = console.health()["ingest"]

        def on_fire() -> dict[str, Any]:
            assert fire_pub is not None
            t = time.time()
            fire_pub.publish(*fire_message(f"{prefix}-fire"))
            fire_pub.flush()
            return {"published_at": t, "storm_published_before": sent.value}

        async def on_ack(alarm_id: int) -> dict[str, Any]:
            return await asyncio.to_thread(acknowledge, console.base, op_token, alarm_id)

        wall = StormWall(kinds_of(variant), n, ack_after=max(1, int(n * ACK_AT)),
                         fire_after=max(1, int(n * FIRE_AT)) if variant == LOWER else None,
                         on_ack=on_ack, on_fire=on_fire)
        t0 = time.time()
        asyncio.run(wall.run(f"ws://127.0.0.1:{console.port}/ws", wall_token, go.set, t0 + max(300.0, n / 15)))
        wall_seconds = time.time() - t0
        cpu, broker_cpu = cpu_seconds(pid) - cpu0, cpu_seconds(broker_pid) - broker0
        published = results.get(timeout=120)
        memory = {"rss_before_mb": _mb(rss0), "rss_after_mb": _mb(memory_kb(pid)), "peak_rss_mb": _mb(memory_kb(pid, "VmHWM"))}
        health = console.health()["ingest"]
        stored = _store_counts(counter, kinds_of(variant), prefix)
    finally:
        counter.close()
        if fire_pub is not None:
            fire_pub.wait_acked(10)
            fire_pub.close()
        proc.join(10)
        if proc.is_alive():
            proc.terminate()
    batches = health["batches"] - health0["batches"]
    return {"db": db_kind, "variant": variant, "n": n, "kinds": sorted(kinds_of(variant)),
            **_figures(wall, published, n), "store": stored,
            "each_alarm_its_task": stored["alarms"] == n and stored["without_task"] == 0 and stored["tasks"] == n,
            "console_cpu_seconds": round(cpu, 1), "console_cpu_share": round(cpu / wall_seconds, 2),
            # What the storm cost the console, whatever else ran on the machine: its CPU per alarm.
            "console_cpu_ms_per_alarm": round(cpu * 1000 / n, 1),
            "broker_cpu_seconds": round(broker_cpu, 1), **memory, "load_after": round(os.getloadavg()[0], 2),
            "mean_batch": round((health["stored"] - health0["stored"]) / batches, 1) if batches else None,
            "ws_messages": dict(wall.types), "reconnects": wall.reconnects}


def _figures(wall: StormWall, published: dict[str, Any], n: int) -> dict[str, Any]:
    """The storm's timings, all from its first publish (the publisher's clock is the machine's)."""
    start = published["started"]
    arrivals = sorted(wall.raised.values())
    all_in = arrivals[-1] - start if len(arrivals) >= n else None
    ack, fire = dict(wall.ack), dict(wall.fire)
    if "seen_at" in ack:
        ack["wall_ms"] = round((ack["seen_at"] - ack["sent_at"]) * 1000, 1)
    if "answered_at" in ack:
        ack["http_ms"] = round((ack["answered_at"] - ack["sent_at"]) * 1000, 1)
    if "seen_at" in fire:
        fire["wall_ms"] = round((fire["seen_at"] - fire["published_at"]) * 1000, 1)
        fire["backlog_at_publish"] = fire["storm_published_before"] - fire["storm_seen_before_publish"]
        fire["storm_seen_after"] = len(arrivals) - fire["storm_seen_before"]
    return {
        "published_seconds": round(published["finished"] - start, 3),
        "publish_rate": round(n / max(published["finished"] - start, 1e-6)),
        "on_wall": len(arrivals),
        "first_on_wall_seconds": round(arrivals[0] - start, 3) if arrivals else None,
        "all_on_wall_seconds": round(all_in, 2) if all_in is not None else None,
        "alarms_per_second": round(n / all_in, 1) if all_in else None,
        "raised_without_task_on_wall": wall.without_task,
        "tasks_on_wall": len(wall.task_ids),
        "ack": ack,
        "fire": fire or None,
        # Alarms on the wall by each second of the storm (cumulative), for a plot.
        "timeline": [(s, bisect.bisect_left(arrivals, start + s))
                     for s in range(1, int((arrivals or [start])[-1] - start) + 2)],
    }


def _store_counts(counter: RowCounter, kinds: frozenset[str], prefix: str) -> dict[str, int]:
    """What the store holds of the storm: events, alarms, alarms without a task, and tasks."""
    names = ", ".join(f"'{k}'" for k in sorted(kinds))
    return {
        "events": int(counter.scalar(f"SELECT count(*) FROM events WHERE source_id LIKE '{prefix}-%'")),
        "alarms": int(counter.scalar(f"SELECT count(*) FROM alarms WHERE kind IN ({names})")),
        "without_task": int(counter.scalar(f"SELECT count(*) FROM alarms WHERE kind IN ({names}) "
                                           "AND task_id IS NULL")),
        "tasks": int(counter.scalar(f"SELECT count(DISTINCT task_id) FROM alarms WHERE kind IN ({names})")),
    }


def _mb(kb: int | None) -> float | None:
    return round(kb / 1024, 1) if kb is not None else None


def verdicts(r: dict[str, Any]) -> dict[str, bool]:
    """The issue's targets, met or not (reported, never asserted)."""
    out = {"all_in": r["all_on_wall_seconds"] is not None and r["all_on_wall_seconds"] <= ALL_IN_TARGET,
           "ack": r["ack"].get("wall_ms") is not None and r["ack"]["wall_ms"] <= ACK_TARGET * 1000}
    if r["variant"] == LOWER:
        out["fire"] = bool(r["fire"]) and r["fire"].get("wall_ms") is not None \
            and r["fire"]["wall_ms"] <= FIRE_TARGET * 1000
    return out


def passed(results: list[dict[str, Any]]) -> bool:
    """Only what must hold whatever the machine: every alarm on the wall with its task, the ack and
    the fire alarm seen. The speed targets are shown in the table, not enforced."""
    return all(r["on_wall"] == r["n"] and r["each_alarm_its_task"] and "wall_ms" in r["ack"]
               and (r["variant"] != LOWER or (r["fire"] and "wall_ms" in r["fire"])) for r in results)


def _mark(value: float | None, ok: bool | None, width: int, unit: str = "") -> str:
    text = "-" if value is None else f"{value:,.1f}{unit}"
    return f"{text + ('' if ok is None else ' ok' if ok else ' MISS'):>{width}}"


def print_table(results: list[dict[str, Any]]) -> None:
    print(f"\nAlarm storm (targets: all on the wall <= {ALL_IN_TARGET:.0f} s; the ack on the wall <= "
          f"{ACK_TARGET * 1000:.0f} ms; a fire alarm in a lower storm <= {FIRE_TARGET * 1000:.0f} ms)")
    print(f"{'db':<8}{'storm':<7}{'alarms':>7}{'on wall':>8}{'tasks':>7}{'publish s':>10}{'all in s':>14}"
          f"{'alarms/s':>9}{'ack ms':>15}{'tries':>6}{'fire ms':>16}{'backlog':>8}{'cpu':>6}{'ms/alarm':>9}{'peak MB':>8}")
    for r in results:
        v, fire = verdicts(r), r["fire"] or {}
        print(f"{r['db']:<8}{r['variant']:<7}{r['n']:>7,}{r['on_wall']:>8,}{r['store']['tasks']:>7,}"
              f"{r['published_seconds']:>10.2f}{_mark(r['all_on_wall_seconds'], v['all_in'], 14)}"
              f"{r['alarms_per_second'] or 0:>9,.0f}{_mark(r['ack'].get('wall_ms'), v['ack'], 15)}"
              f"{len(r['ack'].get('attempts', [])):>6}{_mark(fire.get('wall_ms'), v.get('fire'), 16)}"
              f"{fire.get('backlog_at_publish', '-'):>8}{r['console_cpu_share']:>6.0%}"
              f"{r['console_cpu_ms_per_alarm']:>9.1f}{r['peak_rss_mb'] or 0:>8.0f}")
    print("(all in: first publish to the last alarm.raised on the wall; tasks: distinct tasks of the storm's\n"
          " alarms in the store; ack: the first POST to the wall showing the alarm acknowledged; tries: POSTs\n"
          " until one was taken (a 503 is clicked again after 1 s); fire: its publish to its alarm.raised on the\n"
          " wall; backlog: storm alarms published but not yet on the wall then; cpu: console, 100 % = one core;\n"
          " ms/alarm: the console's CPU time over the run divided by the alarms)")
