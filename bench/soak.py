"""The soak: the bench site's mix at a steady 1,000 events/s for an hour (``--duration``), with 10
WebSocket clients connected and reading everything, on a fresh broker, store and console. The
console's resident memory (VmRSS) is sampled every 10 s; the growth between the 10th minute (1/6 of
a shorter run) and the end must stay under 10 % (issue): memory that keeps growing under a steady
load is a leak a console running for months would die of. Also: every event stored exactly once,
the console's CPU, and publish -> WebSocket latency over the whole run (20 probes/s)."""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import random
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import RowCounter, cpu_seconds, cpu_total, memory_kb, percentile, running_stack
from bench.soakload import publish, read

GROWTH_TARGET = 10.0  # % RSS growth from the mark (10th minute, or 1/6 of the run) to the end
SAMPLE = 10.0  # seconds between memory samples
CLIENTS_PER_READER = 5  # WebSocket clients per reader process
TAIL = 5.0  # seconds the clients read on once every event is stored


def run(db_kind: str, duration: float, rate: float = 1000.0, clients: int = 10) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="mcc-bench-soak-") as tmp, \
            running_stack(db_kind, Path(tmp), users=(("wall", "display"),)) as console:
        return {"db": db_kind, "duration": duration, "rate": rate, "clients": clients,
                **measure(console, duration, rate, clients)}


class _Sampler(threading.Thread):
    """Every SAMPLE s: the console's RSS and CPU (/proc), the last event id stored (max(id): instant,
    where count(*) reads the whole table), and what was published."""

    def __init__(self, pid: int, counter: RowCounter, sent_now: Any, t0: float):
        super().__init__(daemon=True)
        self.pid, self.counter, self.sent_now, self.t0 = pid, counter, sent_now, t0
        self.samples: list[dict[str, Any]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(max(0.0, self.t0 + SAMPLE * (len(self.samples) + 1) - time.time())):
            sample = {"t": round(time.time() - self.t0, 1), "rss_mb": _mb(memory_kb(self.pid)),
                      "cpu_s": round(cpu_seconds(self.pid), 1), "published": self.sent_now.value,
                      "load": round(os.getloadavg()[0], 2)}
            try:
                sample["stored_id"] = self.counter.scalar("SELECT max(id) FROM events")
            except Exception as exc:  # noqa: BLE001 - a busy store: the sample says so
                sample["stored_id"] = f"{type(exc).__name__}"
            self.samples.append(sample)


def measure(console: Any, duration: float, rate: float, clients: int) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    ready, results, stop = ctx.Semaphore(0), ctx.Queue(), ctx.Event()
    start_at, sent_now = ctx.Value("d", 0.0), ctx.Value("q", 0)
    prefix = f"soak{random.randrange(10**6):06d}"
    tokens = [console.login("wall") for _ in range(clients)]
    groups = math.ceil(clients / CLIENTS_PER_READER)
    url = f"ws://127.0.0.1:{console.port}/ws"
    readers = [ctx.Process(target=read, args=(url, tokens[i::groups], i, stop, results), daemon=True)
               for i in range(groups)]
    publisher = ctx.Process(target=publish, daemon=True,
                            args=(console.broker.port, rate, duration, prefix, ready, start_at, sent_now, results))
    pid, broker_pid = console.process.pid, console.broker.process.pid
    counter = RowCounter(console.db_url)
    sampler: _Sampler | None = None
    try:
        for proc in readers:
            proc.start()
        for _ in readers:
            _expect(results, "connected", 60)
        publisher.start()
        if not ready.acquire(timeout=120):
            raise RuntimeError("the publisher did not get ready in 120 s")
        stored0 = console.health()["ingest"]["stored"]
        cpu0 = _cpu(pid, broker_pid, readers, publisher)
        start_at.value = t0 = time.time() + 0.5
        sampler = _Sampler(pid, counter, sent_now, t0)
        sampler.start()
        pub = _expect(results, "publisher", duration + 660)
        load_seconds = time.time() - t0
        cpu = {k: v - cpu0[k] for k, v in _cpu(pid, broker_pid, readers, publisher).items()}
        all_stored = _wait_stored(console, stored0 + pub["sent"], patience=max(60.0, min(1800.0, pub["sent"] / 200)))
        time.sleep(TAIL)
        stop.set()
        got = [_expect(results, "client", 120) for _ in range(clients)]
        sampler.stop.set()
        stored = int(counter.scalar(f"SELECT count(*) FROM events WHERE source_id LIKE '{prefix}-%'"))
        distinct = int(counter.scalar(f"SELECT count(DISTINCT source_id) FROM events WHERE source_id LIKE '{prefix}-%'"))
        peak = _mb(memory_kb(pid, "VmHWM"))
    finally:
        stop.set()
        if sampler is not None:
            sampler.stop.set()
        counter.close()
        for proc in (*readers, publisher):
            proc.join(10)
            if proc.is_alive():
                proc.terminate()
    assert sampler is not None
    during = [s for s in sampler.samples if isinstance(s["stored_id"], int) and s["t"] <= duration + SAMPLE / 2]
    return {**_memory(sampler.samples, duration), "peak_rss_mb": peak,
            "stored_rate_during_load": round(during[-1]["stored_id"] / during[-1]["t"], 1) if during else None,
            **_delivery(pub, got, stored, distinct, all_stored),
            "console_cpu_share": round(cpu["console"] / load_seconds, 2),
            "cpu_share": {k: round(v / load_seconds, 2) for k, v in cpu.items()},
            "samples": sampler.samples}


def _cpu(pid: int, broker_pid: int, readers: list[Any], publisher: Any) -> dict[str, float]:
    """CPU seconds so far of the console, the broker, the WebSocket readers and the publisher."""
    return {"console": cpu_seconds(pid), "broker": cpu_seconds(broker_pid),
            "readers": cpu_total([p.pid for p in readers]), "publisher": cpu_seconds(publisher.pid)}


def _expect(results: Any, role: str, timeout: float) -> dict[str, Any]:
    """The next result of ``role`` from the child processes (there is one kind at a time here)."""
    item = results.get(timeout=timeout)
    if item["role"] != role:
        raise RuntimeError(f"expected a {role} result, got {item['role']}")
    return item  # type: ignore[no-any-return]


def _wait_stored(console: Any, expected: int, patience: float) -> float | None:
    """When the console had stored ``expected`` events, by /api/health (None: not within ``patience`` s)."""
    t = time.time()
    while time.time() - t < patience:
        try:
            if console.health()["ingest"]["stored"] >= expected:
                return time.time()
        except OSError:
            pass
        time.sleep(0.5)
    return None


def _memory(samples: list[dict[str, Any]], duration: float) -> dict[str, Any]:
    """RSS at the mark (the 10th minute of an hour, 1/6 of any run) and at the end of the load."""
    during = [s for s in samples if s["rss_mb"] is not None and s["t"] <= duration + SAMPLE / 2]
    if not during:
        return {"mark_seconds": None, "rss_mark_mb": None, "rss_end_mb": None, "growth_pct": None}
    mark = min(during, key=lambda s: abs(s["t"] - duration / 6))
    end = during[-1]
    return {"mark_seconds": mark["t"], "rss_mark_mb": mark["rss_mb"], "end_seconds": end["t"],
            "rss_end_mb": end["rss_mb"], "rss_first_mb": during[0]["rss_mb"],
            "growth_pct": round((end["rss_mb"] - mark["rss_mb"]) / mark["rss_mb"] * 100, 1)}


def _delivery(pub: dict[str, Any], got: list[dict[str, Any]], stored: int, distinct: int,
              all_stored: float | None) -> dict[str, Any]:
    latencies = [ms for g in got for ms in g["latencies_ms"]]
    seconds = pub["finished"] - pub["started"]
    return {
        "published": pub["sent"], "published_rate": round(pub["sent"] / seconds, 1), "acked": pub["acked"],
        "stored": stored, "distinct_source_ids": distinct, "exactly_once": stored == distinct == pub["sent"],
        # From the last publish until the console had stored every event (the broker's backlog drained).
        "drain_seconds": round(all_stored - pub["finished"], 1) if all_stored is not None else None,
        "probes_sent": pub["probes"], "lost": sum(pub["probes"] - g["probes"] for g in got),
        "p50_ms": round(percentile(latencies, 50), 1), "p99_ms": round(percentile(latencies, 99), 1),
        "max_ms": round(max(latencies), 1) if latencies else None,
        "worst_client_p99_ms": max((round(percentile(g["latencies_ms"], 99), 1) for g in got), default=None),
        "ws_messages_per_client_s": round(sum(g["messages"] for g in got) / len(got) / seconds, 1) if got else None,
        "ws_mb_per_client": round(sum(g["bytes"] for g in got) / len(got) / 2**20, 1) if got else None,
        "reconnects": sum(len(g["reconnects"]) for g in got),
        "reconnect_log": [r for g in got for r in g["reconnects"]][:50],
    }


def _mb(kb: int | None) -> float | None:
    return round(kb / 1024, 1) if kb is not None else None


def passed(results: list[dict[str, Any]]) -> bool:
    """Every event stored exactly once and every probe on every wall; the memory target is shown, not enforced."""
    return all(r["exactly_once"] and r["lost"] == 0 for r in results)


def print_table(r: dict[str, Any]) -> None:
    growth, mark = r["growth_pct"], r["mark_seconds"]
    verdict = "" if growth is None else " ok" if growth < GROWTH_TARGET else " MISS"
    print(f"\nSoak: {r['duration']:,.0f} s at {r['rate']:,.0f} events/s, {r['clients']} WebSocket clients "
          f"(target: RSS growth < {GROWTH_TARGET:.0f} % from the 10th minute to the end)")
    print(f"{'db':<8}{'pub/s':>7}{'stored/s':>9}{'stored':>11}{'once':>6}{'drain s':>8}{'RSS mark MB':>12}{'end MB':>8}"
          f"{'growth':>14}{'peak MB':>8}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}{'lost':>6}{'reconn':>7}"
          f"{'console cpu':>12}")
    drain = "-" if r["drain_seconds"] is None else f"{r['drain_seconds']:.1f}"
    print(f"{r['db']:<8}{r['published_rate']:>7,.0f}{r['stored_rate_during_load'] or 0:>9,.0f}{r['stored']:>11,}"
          f"{'yes' if r['exactly_once'] else 'NO':>6}{drain:>8}{r['rss_mark_mb'] or 0:>12.1f}{r['rss_end_mb'] or 0:>8.1f}"
          f"{('-' if growth is None else f'{growth:+.1f} %') + verdict:>14}{r['peak_rss_mb'] or 0:>8.1f}"
          f"{r['p50_ms']:>10,.1f}{r['p99_ms']:>10,.1f}{r['max_ms'] or 0:>10,.1f}{r['lost']:>6}{r['reconnects']:>7}"
          f"{r['console_cpu_share']:>11.0%} ")
    print(f"(RSS mark: at {mark or 0:,.0f} s, 1/6 of the run; end: the last sample of the load; RSS every {SAMPLE:.0f} s "
          f"in the JSON;\n stored/s: while publishing; drain: after the last publish until all were stored; "
          f"latency: publish -> each client,\n {r['probes_sent']:,} probes x {r['clients']} clients; console cpu: "
          "100 % = one core)")
