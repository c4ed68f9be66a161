"""The relay benchmark's figures: one run's (from what the load and wall processes reported), the
summary over rounds (median, min-max, MCC / Node-RED), the table, and what makes the run fail."""

from __future__ import annotations

import statistics
from array import array
from typing import Any

from bench.common import percentile

PEER = "node-red"


def figures(mode: str, n: int, state: dict[str, Any], cores: dict[str, float], stored: dict[str, Any] | None,
            warm_sent: int) -> dict[str, Any]:
    """One run: ``n`` is the events every wall must see (burst: N; latency: the measured ones)."""
    walls = [w for i in sorted(state["result"]) for w in state["result"][i]["walls"]]
    pubs = list(state["published"].values())
    started, finished = min(p["started"] for p in pubs), max(p["finished"] for p in pubs)
    sent = sum(p["sent"] for p in pubs)
    complete = sum(1 for w in walls if w["seen"] >= n)
    seen = sorted(w["seen"] for w in walls)
    others: dict[str, int] = {}
    for w in walls:
        for k, v in w["others"].items():
            others[k] = others.get(k, 0) + v
    row: dict[str, Any] = {
        "n": n, "walls": len(walls), "published": sent, "warm_up_events": warm_sent,
        "publish_rate": round(sent / (finished - started), 1), "walls_complete": complete,
        "seen_per_wall": {"min": seen[0], "median": seen[len(seen) // 2], "max": seen[-1]},
        "deliveries_missing": sum(max(0, n - w["seen"]) for w in walls),
        "duplicates": sum(w["dups"] for w in walls), "closes": sum(len(w["closes"]) for w in walls),
        "close_codes": sorted({str(c) for w in walls for c in w["closes"]}), "gaps": sum(w["gaps"] for w in walls),
        "other_messages": others, "cores": cores, "stored": stored,
        # Bytes waiting in the walls' sockets, unread (sampled every 0.25 s, summed over a process's walls):
        # near 0 means the walls kept up, and the server (or the broker) set the pace.
        "walls_unread_kb_max": round(max(r["unread_max"] for r in state["result"].values()) / 1024, 1),
        "walls_unread_kb_mean": round(sum(r["unread_mean"] for r in state["result"].values()) / 1024, 1),
    }
    if mode == "burst":
        last = max(w["last_new"] for w in walls)
        row.update(rate=round(n / (last - started), 1) if complete == len(walls) else None,
                   seconds=round(last - started, 3),
                   first_wall_done_s=round(min(w["last_new"] for w in walls) - started, 3))
    else:
        lat = array("d")
        for i in sorted(state["result"]):
            lat.frombytes(state["result"][i]["lat_ms"])
        values = list(lat)
        last = max(w["last_new"] for w in walls)
        # What a wall got per second, from the first measured publish to its last new event: below the paced
        # rate when the system could not keep up (its latency then grows through the run).
        row.update(measured=n, rate=pubs[0]["rate"], max_behind_ms=pubs[0]["max_behind_ms"],
                   wall_rate=round(sum(w["seen"] for w in walls) / len(walls) / (last - pubs[0]["measuring"]), 1),
                   p50_ms=round(percentile(values, 50), 2), p90_ms=round(percentile(values, 90), 2),
                   p99_ms=round(percentile(values, 99), 2), max_ms=round(max(values), 2) if values else None)
    return row


def one_line(row: dict[str, Any]) -> str:
    stored = row["stored"]
    once = "" if stored is None else f"; stored {stored['stored']:,}/{stored['expected']:,}" + \
        (" exactly once" if stored["exactly_once"] else " NOT exactly once")
    cores = row["cores"]
    burst = f"{row['rate']:,.0f} events/s" if row.get("rate") else "not every event on every wall"
    head = (f"{burst}, last seen after {row['seconds']:.1f} s" if row["mode"] == "burst"
            else f"p50 {row['p50_ms']:.1f} ms, p99 {row['p99_ms']:.1f} ms at {row['rate']:,.0f}/s "
                 f"(a wall got {row['wall_rate']:,.0f}/s)")
    return (f"{head}; walls complete {row['walls_complete']}/{row['walls']}, missing {row['deliveries_missing']}, "
            f"closes {row['closes']}; cores: server {cores['server']:.2f}, broker {cores['broker']:.2f}, "
            f"walls {cores['walls']:.2f}, publishers {cores['publishers']:.2f}; walls' unread KB mean "
            f"{row['walls_unread_kb_mean']:,.0f}, max {row['walls_unread_kb_max']:,.0f}{once}")


def _spread(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def summary(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per figure: each system's median and min-max over the rounds, and MCC / Node-RED."""
    rows = []
    walls = sorted({r["clients"] for r in runs})
    wanted: list[tuple[str, str, int, str, Any]] = []
    for k in walls:
        wanted.append((f"burst, {k} wall{'s' if k > 1 else ''}", "burst", k, "events/s", lambda r: r["rate"]))
    for k in walls:
        label = f"latency, {k} wall{'s' if k > 1 else ''}"
        wanted.append((f"{label}, p50", "latency", k, "ms", lambda r: r["p50_ms"]))
        wanted.append((f"{label}, p99", "latency", k, "ms", lambda r: r["p99_ms"]))
    wanted.append((f"CPU at the paced rate, {walls[0]} wall", "latency", walls[0], "cores",
                   lambda r: r["cores"]["server"]))
    for label, mode, k, unit, get in wanted:
        row: dict[str, Any] = {"measure": label, "mode": mode, "clients": k, "unit": unit,
                               "better": "higher" if unit == "events/s" else "lower"}
        for system in ("mcc", PEER):
            mine = [r for r in runs if r["mode"] == mode and r["clients"] == k and r["system"] == system]
            row[system] = _spread([v for v in map(get, mine) if v is not None])
            row[f"{system}_failed"] = sum(1 for r in mine if r["walls_complete"] < r["walls"])
        a, b = row["mcc"], row[PEER]
        row["ratio"] = round(a["median"] / b["median"], 3) if a and b and b["median"] else None
        rows.append(row)
    return rows


def passed(results: list[dict[str, Any]]) -> bool:
    """Every MCC run stored each event exactly once. (A wall that misses events is a figure, shown in
    the table: MCC drops a wall it cannot keep up with, by design, and the wall resumes.)"""
    return all(r["stored"]["exactly_once"] for result in results for r in result["runs"] if r["system"] == "mcc")


def _cell(spread: dict[str, float] | None, unit: str) -> str:
    if spread is None:
        return "-"
    fmt = "{:,.0f}" if unit == "events/s" else "{:,.2f}" if unit == "cores" else "{:,.1f}"
    text = fmt.format(spread["median"])
    if spread["n"] > 1:
        text += f" ({fmt.format(spread['min'])}-{fmt.format(spread['max'])})"
    return text


def _incomplete(runs: list[dict[str, Any]], row: dict[str, Any], system: str) -> str:
    mode, clients = row["mode"], row["clients"]
    bad = [r for r in runs if r["system"] == system and r["mode"] == mode and r["clients"] == clients
           and r["walls_complete"] < r["walls"]]
    return "; ".join(f"round {r['round']}: a wall saw {r['seen_per_wall']['median']:,} of {r['n']:,} (median), "
                     f"{r['closes']} sockets closed by the server ({', '.join(r['close_codes']) or '-'}), "
                     f"{r['gaps']} resumed from a snapshot" for r in bad)


def print_table(result: dict[str, Any]) -> None:
    print(f"\nMCC ({result['db']}) beside a Node-RED {result['node_red']} (Node.js {result.get('node', '?')}) relay (mqtt in -> json -> websocket out, "
          f"stores nothing); {result['rounds']} interleaved round(s); burst {result['n']:,} events, "
          f"paced {result['rate']:,.0f}/s for {result['seconds']:g} s")
    print(f"{'measure':<32}{'unit':<10}{'MCC median (min-max)':>26}{'Node-RED median (min-max)':>28}"
          f"{'MCC/Node-RED':>14}")
    for row in result["summary"]:
        failed = row["mcc_failed"] + row[f"{PEER}_failed"]
        ratio = f"{row['ratio']:.2f}" if row["ratio"] is not None else "-"
        print(f"{row['measure']:<32}{row['unit']:<10}{_cell(row['mcc'], row['unit']):>26}"
              f"{_cell(row[PEER], row['unit']):>28}{ratio:>14}" + (f"  ({failed} incomplete)" if failed else ""))
    for row in result["summary"]:
        for system, name in (("mcc", "MCC"), (PEER, "Node-RED")):
            if row[f"{system}_failed"]:
                print(f"{row['measure']}: {name} did not bring every event to every wall in {row[f'{system}_failed']} "
                      f"run(s): {_incomplete(result['runs'], row, system)}")
    mcc_runs = [r for r in result["runs"] if r["system"] == "mcc"]
    once = all(r["stored"]["exactly_once"] for r in mcc_runs)
    missing = {s: sum(r["deliveries_missing"] for r in result["runs"] if r["system"] == s) for s in ("mcc", PEER)}
    closes = {s: sum(r["closes"] for r in result["runs"] if r["system"] == s) for s in ("mcc", PEER)}
    walls_cpu = max(r["cores"]["walls"] for r in result["runs"])
    print(f"MCC stored every event exactly once in all {len(mcc_runs)} runs: {'yes' if once else 'NO'}; "
          f"deliveries missing: MCC {missing['mcc']:,}, Node-RED {missing[PEER]:,}; sockets closed by the server: "
          f"MCC {closes['mcc']}, Node-RED {closes[PEER]}; wall processes' CPU at most {walls_cpu:.2f} cores")
    loads = [x for r in result["runs"] for x in r.get("load", [])]
    if loads:
        print(f"1-minute load average around the runs: {min(loads):.1f} to {max(loads):.1f} on the machine's cores")
    print("(rates: higher is better; latency and CPU: lower is better; cores = CPU seconds / wall seconds)")
