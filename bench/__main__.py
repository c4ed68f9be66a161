"""`python -m bench [--db sqlite,postgresql] [--quick] [--only ingest|latency|browser|cameras|cluster|sites|storm|soak|
relay|engine]`: runs the benchmarks, prints a table with the targets, and writes the figures to
bench/results/<timestamp>.json. The center's benchmarks (`--only cluster [--instances 1,2,3]`, `--only sites`: 500 sites
on 2 instances; PostgreSQL), the alarm storm (`--only storm`), the soak (`--only soak [--duration S]`, an hour by
default), MCC beside a Node-RED relay (`--only relay`) and the alarm path in process (`--only engine`) run only when
asked for; the storm, the soak and the relay on SQLite unless --db says otherwise."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from bench import browser, cameras, cluster, engine, ingest, latency, relay, relaystats, sites, soak, storm
from bench.common import machine_facts

RESULTS = Path(__file__).resolve().parent / "results"
INGEST_TARGET = 5000.0  # events/s committed into SQLite, manual ack
LATENCY_TARGET = 100.0  # p99 ms publish -> WebSocket at 500 events/s background
INPUT_DELAY_TARGET = 100.0  # p95 ms from a click to its first listener, on the wall with 500 alarms
FRAME_TARGET = 100.0  # p95 ms between frames on that wall (software rendering, headless)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--db", help="comma list of sqlite, postgresql (default both; relay: sqlite)")
    p.add_argument("--quick", action="store_true", help="10,000 events and 10 s of latency probes")
    p.add_argument("--only", choices=["ingest", "latency", "browser", "cameras", "cluster", "sites", "storm", "soak",
                                       "relay", "engine"], help="run one benchmark")
    p.add_argument("-n", "--events", type=int,
                   help="ingest events (default 50,000; quick 10,000); storm: alarms (default 10,000; quick 2,000); "
                        "relay: burst events (default 30,000; quick 5,000)")
    p.add_argument("--duration", type=float,
                   help="latency probe seconds (default 30; quick 10); soak: seconds (default 3,600; quick 120); "
                        "relay: paced seconds (default 20; quick 5)")
    p.add_argument("--publishers", type=int, default=2, help="ingest publisher processes (default 2)")
    p.add_argument("--rate", type=float, default=500.0, help="latency background events/s (default 500)")
    p.add_argument("--alarms", type=int, default=500, help="browser: active alarms on the wall (default 500)")
    p.add_argument("--browser-rate", type=float, default=20.0, help="browser: events/s while measuring (default 20)")
    p.add_argument("--instances", help="cluster: center sizes to measure (default 1,2,3); sites: instances (default 2)")
    p.add_argument("--cluster-rate", type=float, default=1000.0,
                   help="cluster: latency background events/s (default 1,000)")
    p.add_argument("--sites", type=int, help="sites: how many sites (default 500; quick 50)")
    p.add_argument("--steady-rate", type=float, help="sites: steady events/s (default 2,000; quick 500)")
    p.add_argument("--burst-rate", type=float, help="sites: events/s in a burst (default 20,000; quick 5,000)")
    p.add_argument("--burst-seconds", type=float, help="sites: seconds of each burst (default 5; quick 2)")
    p.add_argument("--bursts", type=int, default=1, help="sites: bursts, each followed by --duration s steady")
    p.add_argument("--soak-rate", type=float, default=1000.0, help="soak: events/s (default 1,000)")
    p.add_argument("--ws-clients", type=int, default=10, help="soak: WebSocket clients reading (default 10)")
    p.add_argument("--relay-rate", type=float, default=1000.0, help="relay: paced events/s (default 1,000)")
    p.add_argument("--walls", default="1,50", help="relay: WebSocket clients per measure (default 1,50)")
    p.add_argument("--rounds", type=int, default=2, help="relay: interleaved rounds (default 2)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.db = args.db or ("sqlite" if args.only == "relay" else "sqlite,postgresql")
    dbs = [d.strip() for d in args.db.split(",") if d.strip()]
    if unknown := set(dbs) - {"sqlite", "postgresql"}:
        print(f"unknown database(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    n = args.events or (10_000 if args.quick else 50_000)
    duration = args.duration or (10.0 if args.quick else 30.0)
    report: dict[str, Any] = {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": machine_facts(),
                              "args": vars(args), "ingest": [], "latency": [], "browser": [], "cameras": [], "cluster": [],
                              "sites": [], "storm": [], "soak": [], "relay": [], "engine": [], "errors": []}
    try:
        for db in dbs:
            if args.only in (None, "ingest"):
                print(f"ingest  {db}: {n:,} events ...", flush=True)
                attempt(report, "ingest", db, lambda db=db: ingest.run(db, n, publishers=args.publishers))
            if args.only in (None, "latency"):
                print(f"latency {db}: {duration:g} s at {args.rate:g} events/s ...", flush=True)
                attempt(report, "latency", db, lambda db=db: latency.run(db, duration, rate=args.rate))
        if args.only in (None, "browser"):
            # The browser's figures do not depend on the store: measured once, on the first database.
            print(f"browser {dbs[0]}: wall with {args.alarms} alarms, {args.browser_rate:g} events/s, "
                  f"{duration:g} s ...", flush=True)
            attempt(report, "browser", dbs[0], lambda: browser.run(dbs[0], duration, args.alarms, args.browser_rate))
        if args.only in (None, "cameras"):
            print("cameras: classifier per frame, grabs through the grab processes ...", flush=True)
            attempt(report, "cameras", "-", cameras.run)
        if args.only == "cluster":  # several minutes: not part of the default run
            run_cluster(report, args, duration)
        if args.only == "sites":  # minutes: not part of the default run
            run_sites(report, args)
        if args.only == "storm":  # two fresh stacks, several minutes: not part of the default run
            run_storm(report, args, dbs[0])
        if args.only == "soak":  # an hour by default: not part of the default run
            run_soak(report, args, dbs[0])
        if args.only == "engine":  # the alarm path in this process: a development tool
            for db in dbs:
                print(f"engine  {db}: routine events, a storm of new alarms, their repeats ...", flush=True)
                attempt(report, "engine", db, lambda db=db: engine.run(
                    db, 5_000 if args.quick else 20_000, 500 if args.quick else 2_000))
        if args.only == "relay":  # minutes, and it installs Node-RED: not part of the default run
            run_relay(report, args, dbs)
    except KeyboardInterrupt:
        print("interrupted; writing what was measured", file=sys.stderr)
    if report["cluster"]:
        report["cluster_summary"] = cluster.summary(report["cluster"])
    path = write(report)
    print_table(report)
    print(f"\nJSON: {path}")
    return 0 if passed(report) else 1


def run_cluster(report: dict[str, Any], args: argparse.Namespace, duration: float) -> None:
    n = args.events or (10_000 if args.quick else 30_000)
    report["cluster_n"], report["cluster_rate"] = n, args.cluster_rate
    for k in sorted({int(k) for k in (args.instances or "1,2,3").split(",") if k.strip()}):
        print(f"cluster {k} instance(s): {n:,} events; {duration:g} s at {args.cluster_rate:g} events/s ...", flush=True)
        attempt(report, "cluster", f"postgresql, {k} instances",
                lambda k=k: cluster.run(k, n, duration, rate=args.cluster_rate, publishers=args.publishers))


def run_sites(report: dict[str, Any], args: argparse.Namespace) -> None:
    q = args.quick
    count, instances = args.sites or (50 if q else 500), int(args.instances or 2)
    steady, burst = args.steady_rate or (500.0 if q else 2000.0), args.burst_rate or (5000.0 if q else 20000.0)
    burst_s, duration = args.burst_seconds or (2.0 if q else 5.0), args.duration or (10.0 if q else 60.0)
    print(f"sites {count} sites, {instances} instances: {duration:g} s at {steady:g} events/s, then {args.bursts} x "
          f"({burst_s:g} s at {burst:g} events/s, {duration:g} s at {steady:g}) ...", flush=True)
    attempt(report, "sites", f"postgresql, {instances} instances", lambda: sites.run(
        count, instances, duration, steady, burst, burst_s, args.bursts, publishers=args.publishers))


def run_storm(report: dict[str, Any], args: argparse.Namespace, db: str) -> None:
    n = args.events or (2_000 if args.quick else 10_000)
    for variant in (storm.FIRE, storm.LOWER):
        what = "fire alarms" if variant == storm.FIRE else "lower alarms, one fire alarm halfway"
        print(f"storm   {db}: {n:,} {what}, an ack at {storm.ACK_AT:.0%} ...", flush=True)
        attempt(report, "storm", db, lambda variant=variant: storm.run(db, n, variant))


def run_soak(report: dict[str, Any], args: argparse.Namespace, db: str) -> None:
    duration = args.duration or (120.0 if args.quick else 3600.0)
    print(f"soak    {db}: {duration:g} s at {args.soak_rate:g} events/s, {args.ws_clients} WebSocket clients ...",
          flush=True)
    attempt(report, "soak", db, lambda: soak.run(db, duration, args.soak_rate, args.ws_clients))


def run_relay(report: dict[str, Any], args: argparse.Namespace, dbs: list[str]) -> None:
    n = args.events or (5_000 if args.quick else 30_000)
    seconds = args.duration or (5.0 if args.quick else 20.0)
    walls = sorted({int(k) for k in args.walls.split(",") if k.strip()})
    for db in dbs:
        print(f"relay {db}: MCC and Node-RED, {args.rounds} rounds: burst {n:,} events, {args.relay_rate:g} events/s "
              f"for {seconds:g} s; walls {walls} ...", flush=True)
        attempt(report, "relay", db, lambda db=db: relay.run(db, n, args.relay_rate, seconds, walls, args.rounds,
                                                             publishers=args.publishers))


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
    ok &= all(r["lost"] == 0 for r in report["latency"]) and cluster.passed(report["cluster"])
    ok &= sites.passed(report["sites"]) and storm.passed(report["storm"]) and soak.passed(report["soak"])
    ok &= relaystats.passed(report["relay"])
    ok &= all((r["committed_rate"] or 0) >= INGEST_TARGET for r in report["ingest"] if r["db"] == "sqlite")
    ok &= all(r["input_delay_p95_ms"] is not None and r["input_delay_p95_ms"] < INPUT_DELAY_TARGET
              and r["frame_p95_ms"] is not None and r["frame_p95_ms"] < FRAME_TARGET for r in report["browser"])
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
    if report["browser"]:
        print(f"\nWall in Chromium under load (targets: input delay p95 < {INPUT_DELAY_TARGET:.0f} ms, "
              f"frame p95 < {FRAME_TARGET:.0f} ms)")
        print(f"{'alarms':>7}{'ev/s':>6}{'load s':>8}{'fps':>6}{'frame p50':>10}{'p95':>7}{'max':>7}{'>50ms':>7}"
              f"{'TBT ms':>8}{'delay p50':>10}{'p95':>7}{'max':>7}{'to frame p95':>13}{'heap MB':>9}{'nodes':>7}")
        for r in report["browser"]:
            print(f"{r['alarms']:>7}{r['rate']:>6.0f}{r['load_seconds']:>8.2f}{r['fps'] or 0:>6.1f}"
                  f"{r['frame_p50_ms'] or 0:>10.1f}{r['frame_p95_ms'] or 0:>7.1f}{r['frame_max_ms'] or 0:>7.0f}"
                  f"{r['frames_over_50ms']:>7}{r['total_blocking_ms']:>8.0f}{r['input_delay_p50_ms'] or 0:>10.1f}"
                  f"{r['input_delay_p95_ms'] or 0:>7.1f}{r['input_delay_max_ms'] or 0:>7.0f}"
                  f"{r['click_to_frame_p95_ms'] or 0:>13.1f}{r['js_heap_mb'] or 0:>9.1f}{r['dom_nodes']:>7}")
        print("(every 0.5 s a click, every 5 s the language switch; delay: click to its first listener)")
    for r in report["cameras"]:
        cameras.print_table(r)
    if report["cluster"]:
        cluster.print_table(report["cluster"], report["cluster_n"], report["cluster_rate"])
    for r in report["sites"]:
        sites.print_table(r)
    if report["storm"]:
        storm.print_table(report["storm"])
    for r in report["soak"]:
        soak.print_table(r)
    if report["engine"]:
        engine.print_table(report["engine"])
    for r in report["relay"]:
        relaystats.print_table(r)
    for e in report["errors"]:
        print(f"\nFAILED {e['benchmark']} on {e['db']}: {e['error']}")


if __name__ == "__main__":
    sys.exit(main())
