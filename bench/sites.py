"""Issue 16's simulation: N sites (500) watched by a center of K instances (2) on PostgreSQL behind
HAProxy, one managed Mosquitto. Native QoS 1 events spread over the sites at a steady rate with
bursts (bench/schedule.py, bench/sitemix.py); a group wall (a display user of every site) through
HAProxy times probes from publish to its WebSocket, per phase; then every event must be stored once."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import random
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench import sitemix
from bench.common import RowCounter, cpu_seconds, cpu_total, percentile, running_stack
from bench.latency import watch
from bench.schedule import Phase, kinds, phase_at, plan

DB = "postgresql"
PROBE_RATE = 20.0
WARMUP = 2.0  # seconds of load before the first probe
POLL = 1.0  # seconds between row counts (count(*) over a growing table: not too often)


def run(sites: int, instances: int, steady_seconds: float, steady_rate: float, burst_rate: float,
        burst_seconds: float, bursts: int = 1, publishers: int = 2) -> dict[str, Any]:
    phases = plan(steady_seconds, steady_rate, burst_seconds, burst_rate, bursts)

    def center(folder: Path, broker: Any, db_url: str) -> sitemix.SitesCenter:
        return sitemix.SitesCenter(folder, broker, db_url, instances=instances, sites=sites)

    with tempfile.TemporaryDirectory(prefix="mcc-bench-sites-") as tmp, \
            running_stack(DB, Path(tmp), users=(("wall", "display"),), make=center) as console:
        result = measure(console, sitemix.site_ids(sites), phases, publishers)
    return {"sites": sites, "instances": instances, "publishers": publishers, "cores": os.cpu_count(), **result}


class _Start:
    """Passed to the WebSocket watcher as its ``go``: once the wall has its snapshot, the schedule's
    clock starts half a second later, for every process at once."""

    def __init__(self, value: Any):
        self.value = value

    def set(self) -> None:
        self.value.value = time.time() + 0.5


class _Poller(threading.Thread):
    """Counts stored events every POLL s, and the machine's load average beside it."""

    def __init__(self, counter: RowCounter):
        super().__init__(daemon=True)
        self.counter = counter
        self.samples: list[tuple[float, int]] = []
        self.loads: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(POLL):
            self.samples.append((time.time(), self.counter.events()))
            self.loads.append(os.getloadavg()[0])


def measure(console: Any, sites: list[str], phases: list[Phase], publishers: int) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    ready, results, start_at = ctx.Semaphore(0), ctx.Queue(), ctx.Value("d", 0.0)
    prefix = f"st{random.randrange(10**6):06d}"
    port, end = console.broker.port, phases[-1].end
    procs = [ctx.Process(target=sitemix.publish, daemon=True,
                         args=(port, i, 1 / publishers, phases, sites, prefix, ready, start_at, results))
             for i in range(publishers)]
    procs.append(ctx.Process(target=sitemix.probe, daemon=True,
                             args=(port, PROBE_RATE, WARMUP, end, sites, start_at, results)))
    counter = RowCounter(console.db_url)
    poller = _Poller(counter)
    outcome: dict[str, Any] = {"publisher": []}
    try:
        for proc in procs:
            proc.start()
        for _ in range(publishers):
            if not ready.acquire(timeout=120):
                raise RuntimeError("a publisher did not get ready in 120 s")
        token = console.login("wall")
        cpu0 = {"instances": cpu_total(console.pids()), "broker": cpu_seconds(console.broker.process.pid)}
        load_before, down0, ready0 = os.getloadavg(), len(_marked_down(console)), len(_not_ready(console))
        poller.start()
        # The backlog after a burst may take minutes to store: wait for the probes as long as storing
        # every planned event at 500/s would take, after the last one was sent.
        patience = max(10.0, sum(p.planned for p in phases) / 500)

        def until(received: dict[str, float]) -> bool:
            while not results.empty():
                item = results.get()
                if item["role"] == "publisher":
                    outcome["publisher"].append(item)
                else:
                    outcome[item["role"]], outcome["probes_done_at"] = item, time.time()
            if "probes" in outcome:
                return len(received) >= len(outcome["probes"]["sent"]) \
                    or time.time() > outcome["probes_done_at"] + patience
            return bool(start_at.value > 0 and time.time() > start_at.value + end + 60)

        watched = asyncio.run(watch(f"ws://127.0.0.1:{console.port}/ws", token, _Start(start_at), until,
                                    resume=True))
        while len(outcome["publisher"]) < publishers:
            outcome["publisher"].append(results.get(timeout=330))
        expected = sum(sum(p["sent"]) for p in outcome["publisher"]) + len(outcome.get("probes", {}).get("sent", {}))
        all_in = _wait_stored(poller, expected, patience)
        cpu = {"instances": round(cpu_total(console.pids()) - cpu0["instances"], 1),
               "broker": round(cpu_seconds(console.broker.process.pid) - cpu0["broker"], 1)}
        wall_seconds = time.time() - start_at.value
        poller.stop.set()
        poller.join(5)
        stored = _stored(counter, console)
    finally:
        poller.stop.set()
        counter.close()
        for proc in procs:
            proc.join(10)
            if proc.is_alive():
                proc.terminate()
    start = start_at.value
    return {
        "phases": [{"kind": p.kind, "start": p.start, "end": p.end, "rate": p.rate} for p in phases],
        "by_phase": by_phase(phases, outcome, watched, poller.samples, start),
        "probes_sent": len(outcome.get("probes", {}).get("sent", {})),
        "lost": len(outcome.get("probes", {}).get("sent", {})) - len(watched["received"]),
        "ws_instances": watched["instances"],
        "ws_reconnects": [{**r, "at": round(r["at"] - start, 1)} for r in watched["reconnects"]],
        "balancer_down": _marked_down(console)[down0:],
        "not_ready": _not_ready(console)[ready0:],
        "expected": expected,
        **stored,
        "exactly_once": stored["stored"] == expected and stored["distinct_source_ids"] == expected,
        "all_stored_after_publishing_s": round(all_in - (start + end), 1) if all_in else None,
        "cpu_seconds": cpu,
        "cpu_share": {k: round(v / wall_seconds, 2) for k, v in cpu.items()},
        "load_before": [round(x, 2) for x in load_before],
        "load_during": _spread(poller.loads),
        "timeline": [(round(t - start, 1), c) for t, c in poller.samples],
    }


def _marked_down(console: Any) -> list[str]:
    """HAProxy's own account of each time it took an instance out (and closed its WebSockets)."""
    return _lines(console, "haproxy.log", "is DOWN")


def _not_ready(console: Any) -> list[str]:
    """What the instances said when they stopped answering /api/health/ready with 200."""
    return _lines(console, "console-*.log", "not ready")


def _lines(console: Any, pattern: str, needle: str) -> list[str]:
    found = []
    for log in sorted((console.folder / "center").glob(pattern)):
        found += [f"{log.stem}: {line[-200:]}" for line in log.read_text(errors="replace").splitlines()
                  if needle in line]
    return found


def _wait_stored(poller: _Poller, expected: int, patience: float) -> float | None:
    """When the poller first saw every expected event stored (None: not within ``patience`` s)."""
    deadline = time.time() + patience
    while time.time() < deadline:
        hit = next((t for t, c in poller.samples if c >= expected), None)
        if hit is not None:
            time.sleep(2 * POLL)  # let any redelivery land before the exactly-once check
            return hit
        time.sleep(POLL / 2)
    return None


def _stored(counter: RowCounter, console: Any) -> dict[str, Any]:
    health = console.health()
    return {
        "stored": counter.events(),
        "distinct_source_ids": int(counter.scalar("SELECT count(DISTINCT source_id) FROM events")),
        "sites_with_events": int(counter.scalar("SELECT count(DISTINCT site) FROM events")),
        "alarm_rows": int(counter.scalar("SELECT count(*) FROM alarms")),
        "quarantined": health["ingest"]["quarantined"],
        "duplicates_seen": health["ingest"]["duplicates"],
        "by_instance": {name: h["ingest"]["stored"] for name, h in health["instances"].items()},
    }


def by_phase(phases: list[Phase], outcome: dict[str, Any], watched: dict[str, Any],
             samples: list[tuple[float, int]], start: float) -> list[dict[str, Any]]:
    """Per phase kind: the rate planned and offered (PUBACKed by the broker), stored, and the probes'
    publish -> wall latency (each probe counted in the phase it was published in)."""
    sent = outcome.get("probes", {}).get("sent", {})
    pubs = outcome["publisher"]
    rows = []
    for kind in kinds(phases):
        idx = [i for i, p in enumerate(phases) if p.kind == kind]
        seconds = sum(phases[i].seconds for i in idx)
        acked = sum(p["acked_at_end"][i] - (p["acked_at_end"][i - 1] if i else 0) for p in pubs for i in idx)
        latencies = [v * 1000 for k, v in watched["received"].items()
                     if k in sent and (i := phase_at(phases, sent[k] - start)) is not None and i in idx]
        in_phase = [k for k, t in sent.items() if (i := phase_at(phases, t - start)) is not None and i in idx]
        rows.append({
            "kind": kind,
            "seconds": seconds,
            "planned_rate": phases[idx[0]].rate,
            "sent": sum(p["sent"][i] for p in pubs for i in idx),
            "offered_rate": round(acked / seconds, 1),
            "handed_rate": round(sum(p["sent"][i] for p in pubs for i in idx) / seconds, 1),
            "stored_rate": _stored_rate(samples, [(start + phases[i].start, start + phases[i].end) for i in idx]),
            "probes": len(in_phase),
            "probes_received": len(latencies),
            "p50_ms": round(percentile(latencies, 50), 1),
            "p99_ms": round(percentile(latencies, 99), 1),
            "max_ms": round(max(latencies), 1) if latencies else None,
        })
    return rows


def _stored_rate(samples: list[tuple[float, int]], windows: list[tuple[float, float]]) -> float | None:
    """Rows stored per second within the windows (from the polled counts nearest their ends)."""
    rows = seconds = 0.0
    for a, b in windows:
        inside = [s for s in samples if a <= s[0] <= b]
        if len(inside) >= 2:
            rows += inside[-1][1] - inside[0][1]
            seconds += inside[-1][0] - inside[0][0]
    return round(rows / seconds, 1) if seconds else None


def _spread(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"min": round(min(values), 2), "median": round(percentile(values, 50), 2), "max": round(max(values), 2)}


def passed(rows: list[dict[str, Any]]) -> bool:
    return all(r["exactly_once"] and r["lost"] == 0 for r in rows)


def print_table(r: dict[str, Any]) -> None:
    print(f"\n{r['sites']} sites, a center of {r['instances']} instances on PostgreSQL behind HAProxy, one Mosquitto; "
          f"{r['publishers']} publisher processes; a group wall (display user, every site) through HAProxy")
    print(f"{'phase':<8}{'s':>5}{'planned/s':>11}{'offered/s':>11}{'stored/s':>10}{'probes':>8}"
          f"{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for p in r["by_phase"]:
        print(f"{p['kind']:<8}{p['seconds']:>5g}{p['planned_rate']:>11,.0f}{p['offered_rate']:>11,.0f}"
              f"{p['stored_rate'] or 0:>10,.0f}{p['probes_received']:>5}/{p['probes']:<3}"
              f"{p['p50_ms']:>8,.0f}{p['p99_ms']:>9,.0f}{p['max_ms'] or 0:>9,.0f}")
    load = r["load_during"] or {}
    print(f"stored {r['stored']:,} of {r['expected']:,} ({'exactly once' if r['exactly_once'] else 'NOT exactly once'}: "
          f"{r['distinct_source_ids']:,} distinct ids; {r['sites_with_events']} sites; {r['alarm_rows']} alarms; "
          f"by instance {r['by_instance']}); all stored {r['all_stored_after_publishing_s']} s after the last publish; "
          f"probes lost {r['lost']}")
    print(f"the wall's WebSocket: {len(r['ws_reconnects'])} reconnects (instances {r['ws_instances']}); HAProxy "
          f"took an instance out {len(r['balancer_down'])} times (failed /api/health/ready checks); instances said "
          f"not ready {len(r['not_ready'])} times")
    print(f"instances' CPU {r['cpu_share']['instances']:.0%}, broker {r['cpu_share']['broker']:.0%} (100 % = one core); "
          f"load average during the run {load.get('min')}-{load.get('max')} (median {load.get('median')}) "
          f"on {r['cores']} cores")
    print("(offered: PUBACKed by the broker within the phase; stored: rows committed within it; after: the steady "
          "rate after a burst, while its backlog is stored)")
