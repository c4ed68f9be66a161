"""`python -m bench [--db sqlite,postgresql] [--quick] [--only ingest|latency]`: runs the benchmarks,
prints a table with the targets, and writes the figures to bench/results/<timestamp>.json."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from bench import ingest, latency
from bench.common import machine_facts

RESULTS = Path(__file__).resolve().parent / "results"
INGEST_TARGET = 5000.0  # events/s committed into SQLite, manual ack
LATENCY_TARGET = 100.0  # p99 ms publish -> WebSocket at 500 events/s background


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--db", default="sqlite,postgresql", help="comma list of sqlite, postgresql")
    p.add_argument("--quick", action="store_true", help="10,000 events and 10 s of latency probes")
    p.add_argument("--only", choices=["ingest", "latency"], help="run one benchmark")
    p.add_argument("-n", "--events", type=int, help="ingest events (default 50,000; quick 10,000)")
    p.add_argument("--duration", type=float, help="latency probe seconds (default 30; quick 10)")
    p.add_argument("--publishers", type=int, default=2, help="ingest publisher processes (default 2)")
    p.add_argument("--rate", type=float, default=500.0, help="latency background events/s (default 500)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    dbs = [d.strip() for d in args.db.split(",") if d.strip()]
    if unknown := set(dbs) - {"sqlite", "postgresql"}:
        print(f"unknown database(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    n = args.events or (10_000 if args.quick else 50_000)
    duration = args.duration or (10.0 if args.quick else 30.0)
    report: dict[str, Any] = {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": machine_facts(),
                              "args": vars(args), "ingest": [], "latency": [], "errors": []}
    try:
        for db in dbs:
            if args.only in (None, "ingest"):
                print(f"ingest  {db}: {n:,} events ...", flush=True)
                attempt(report, "ingest", db, lambda db=db: ingest.run(db, n, publishers=args.publishers))
            if args.only in (None, "latency"):
                print(f"latency {db}: {duration:g} s at {args.rate:g} events/s ...", flush=True)
                attempt(report, "latency", db, lambda db=db: latency.run(db, duration, rate=args.rate))
    except KeyboardInterrupt:
        print("interrupted; writing what was measured", file=sys.stderr)
    path = write(report)
    print_table(report)
    print(f"\nJSON: {path}")
    return 0 if passed(report) else 1


def attempt(report: dict[str, Any], name: str, db: str, run: Any) -> None:
    """Run one benchmark; a failure is recorded and reported, and the next benchmark still runs."""
    try:
        report[name].append(run())
    except Exception as exc:  # noqa: BLE001 - reported in the table and the JSON
        report["errors"].append({"benchmark": name, "db": db, "error": f"{type(exc).__name__}: {exc}"})
        print(f"  FAILED: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)


def write(report: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=1, ensure_ascii=False))
    return path


def passed(report: dict[str, Any]) -> bool:
    ok = not report["errors"] and all(r["exactly_once"] for r in report["ingest"])
    ok &= all(r["lost"] == 0 for r in report["latency"])
    ok &= all((r["committed_rate"] or 0) >= INGEST_TARGET for r in report["ingest"] if r["db"] == "sqlite")
    return ok and all(r["p99_ms"] < LATENCY_TARGET for r in report["latency"])


def print_table(report: dict[str, Any]) -> None:
    m = report["machine"]
    print(f"\nmachine: {m['cores']} cores ({m['cpu']}), Python {m['python']}, SQLite {m['sqlite']}, "
          f"{m['mosquitto']}, load before {m['load_before']:.2f}")
    if report["ingest"]:
        print(f"\nSustained ingest (target >= {INGEST_TARGET:,.0f} events/s committed into SQLite, manual ack)")
        print(f"{'db':<11}{'N':>8}{'stored':>8}{'once':>6}{'publish/s':>11}{'commit/s':>10}{'drain/s':>9}{'all in s':>10}"
              f"{'batch':>7}{'console cpu':>13}")
        for r in report["ingest"]:
            print(f"{r['db']:<11}{r['n']:>8,}{r['stored']:>8,}{'yes' if r['exactly_once'] else 'NO':>6}"
                  f"{r['publish_rate']:>11,.0f}{r['committed_rate'] or 0:>10,.0f}"
                  f"{r['committed_rate_after_publishing'] or 0:>9,.0f}{r['all_stored_seconds'] or 0:>10.2f}"
                  f"{r['mean_batch'] or 0:>7.0f}{r['cpu_share']['console']:>12.0%} ")
        print("(commit/s: first to last stored; drain/s: after the publishers finished, the console alone)")
    if report["latency"]:
        print(f"\nPublish -> WebSocket latency (target p99 < {LATENCY_TARGET:.0f} ms at 500 events/s background)")
        print(f"{'db':<11}{'bg pub/s':>9}{'bg ws/s':>9}{'probes':>8}{'lost':>6}{'p50 ms':>8}{'p90 ms':>8}"
              f"{'p99 ms':>8}{'max ms':>8}{'console cpu':>13}")
        for r in report["latency"]:
            print(f"{r['db']:<11}{r['background_published_rate'] or 0:>9,.0f}{r['background_received_rate'] or 0:>9,.0f}"
                  f"{r['probes_sent']:>8}{r['lost']:>6}{r['p50_ms']:>8.1f}{r['p90_ms']:>8.1f}{r['p99_ms']:>8.1f}"
                  f"{r['max_ms'] or 0:>8.1f}{r['console_cpu_share']:>12.0%} ")
    for e in report["errors"]:
        print(f"\nFAILED {e['benchmark']} on {e['db']}: {e['error']}")


if __name__ == "__main__":
    sys.exit(main())
