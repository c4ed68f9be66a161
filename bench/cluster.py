"""A center of 1, 2, 3 ... instances on PostgreSQL (issue 16): the ingest and latency benchmarks run
against N real ``mcc run`` instances in cluster mode behind HAProxy, one managed Mosquitto, each
on a fresh stack. Events/s stored (a burst of QoS 1 events, every one stored exactly once) and
publish -> WebSocket latency (probes over a steady background, one client through HAProxy).

Everything (instances, broker, PostgreSQL, HAProxy, publishers, the client) shares one machine,
so more instances cannot add cores here: the figures say what sharing the work costs or gains."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from bench import ingest, latency
from bench.center import CenterConsole
from bench.common import Console, running_stack
from console.demo.broker import ManagedMosquitto

DB = "postgresql"


def run(instances: int, n: int, duration: float, rate: float = 1000.0, publishers: int = 2,
        probe_rate: float = 20.0) -> dict[str, Any]:
    """Both measurements for one center size, each on its own broker, database and center."""

    def center(folder: Path, broker: ManagedMosquitto, db_url: str) -> Console:
        return CenterConsole(folder, broker, db_url, instances=instances)

    with tempfile.TemporaryDirectory(prefix=f"mcc-bench-cluster{instances}-") as tmp:
        with running_stack(DB, Path(tmp) / "ingest", make=center) as console:
            stored = ingest.measure(console, DB, n, publishers, ingest.timeout_for(n))
            stored["by_instance"] = console.health()["instances"]
        with running_stack(DB, Path(tmp) / "latency", users=(("wall", "display"),), make=center) as console:
            wall = latency.measure(console, DB, duration, rate, probe_rate)
    return {"instances": instances, "cores": os.cpu_count(), "ws_via": "haproxy", "ingest": stored, "latency": wall}


def ratio(value: float | None, base: float | None) -> float | None:
    """``value`` as a multiple of ``base`` (None when either is missing or the base is 0)."""
    if value is None or base is None or base == 0:
        return None
    return round(value / base, 2)


def summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per center size, with the ratios to the 1-instance figures (when 1 was measured)."""
    base = next((r for r in rows if r["instances"] == 1), None)
    out = []
    for r in sorted(rows, key=lambda r: r["instances"]):
        i, w = r["ingest"], r["latency"]
        out.append({
            "instances": r["instances"],
            "stored_per_s": i["committed_rate"],
            "drain_per_s": i["committed_rate_after_publishing"],
            "all_stored_s": i["all_stored_seconds"],
            "exactly_once": i["exactly_once"],
            "stored_ratio": ratio(i["committed_rate"], base["ingest"]["committed_rate"]) if base else None,
            "p50_ms": w["p50_ms"],
            "p99_ms": w["p99_ms"],
            "p99_ratio": ratio(w["p99_ms"], base["latency"]["p99_ms"]) if base else None,
            "lost": w["lost"],
            "background_received_per_s": w["background_received_rate"],
            "ingest_cpu": i["cpu_share"]["console"],
            "ws_instance": w.get("ws_instance"),
        })
    return out


def passed(rows: list[dict[str, Any]]) -> bool:
    return all(r["ingest"]["exactly_once"] and r["latency"]["lost"] == 0 for r in rows)


def print_table(rows: list[dict[str, Any]], n: int, rate: float) -> None:
    cores = os.cpu_count()
    print(f"\nA center on PostgreSQL: N instances behind HAProxy, one Mosquitto ({n:,} events burst; "
          f"latency at {rate:g} events/s background, one WebSocket client through HAProxy)")
    print(f"{'inst':>5}{'stored/s':>10}{'drain/s':>9}{'all in s':>9}{'once':>6}{'x 1':>6}"
          f"{'p50 ms':>8}{'p99 ms':>8}{'x 1':>6}{'lost':>6}{'bg ws/s':>9}{'cpu':>7}  ws on")
    for s in summary(rows):
        print(f"{s['instances']:>5}{s['stored_per_s'] or 0:>10,.0f}{s['drain_per_s'] or 0:>9,.0f}"
              f"{s['all_stored_s'] or 0:>9.2f}{'yes' if s['exactly_once'] else 'NO':>6}{_x(s['stored_ratio']):>6}"
              f"{s['p50_ms']:>8.1f}{s['p99_ms']:>8.1f}{_x(s['p99_ratio']):>6}{s['lost']:>6}"
              f"{s['background_received_per_s'] or 0:>9,.0f}{s['ingest_cpu']:>7.0%}  {s['ws_instance'] or '?'}")
    print(f"(all instances, the broker, PostgreSQL, HAProxy and the load generators share these {cores} cores: "
          "more instances cannot add CPU here; x 1: the figure over the 1-instance one; cpu: all instances "
          "during the burst, 100 % = one core)")


def _x(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "-"
