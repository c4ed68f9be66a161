"""The sites benchmark's center and its load: a site file of N sites (``s-001`` ...) with a fire
panel and a door registered per site, and the processes that publish native QoS 1 events over
those sites on the load schedule (bench/schedule.py), and probes carrying ``data.t_pub``."""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bench.center import CenterConsole
from bench.common import CST, publisher_client
from bench.rawmqtt import RawPublisher
from bench.schedule import Phase, due, phase_at

CENTER = "center"  # the site file's own site: the monitoring center, which has no devices
POINTS = [f"1-{i:03d}" for i in range(1, 5)]  # fire panel points per site
# (weight, kind, device): mostly routine traffic, a few fire alarms.
MIX: list[tuple[float, str, str]] = [
    (0.58, "access.granted", "door"),
    (0.02, "access.denied", "door"),
    (0.25, "device.heartbeat", "door"),
    (0.149, "device.heartbeat", "fp"),
    (0.001, "fire.alarm", "fp"),
]
TEMPLATES = 4096  # distinct messages per publisher, reused with a new id and time stamp
TICK = 0.01  # seconds between a publisher's sends


def site_ids(sites: int) -> list[str]:
    return [f"s-{i:03d}" for i in range(1, sites + 1)]


def devices(site: str) -> list[dict[str, Any]]:
    """A site's registered equipment: a fire panel with a few points, and a door."""
    points = {p: {"floor": f"{int(p[2:])}F", "label": f"{site} 感烟探测器 {p}"} for p in POINTS}
    return [
        {"id": f"{site}-fp", "site": site, "role": "fire_panel", "name": f"{site} 火灾报警控制器", "label": site,
         "points": points},
        {"id": f"{site}-door", "site": site, "role": "door", "name": f"{site} 大门门禁", "label": f"{site} 大门"},
    ]


@dataclass
class SitesCenter(CenterConsole):
    """A center whose site file watches ``sites`` sites, every event's device registered."""
    sites: int = 500

    def site_config(self) -> dict[str, Any]:
        config = super().site_config()
        ids = site_ids(self.sites)
        config["site"] = {"id": CENTER, "name": "集团监控中心", "timezone": "Asia/Shanghai"}
        config["sites"] = [{"id": s, "name": f"小区 {s}"} for s in ids]
        config["devices"] = {"entries": [d for s in ids for d in devices(s)], "unknown": "quarantine"}
        return config


def templates(rng: random.Random, count: int = TEMPLATES) -> list[tuple[str, bytes]]:
    """(device, payload) drawn from the mix, the payload with ``@ID@`` and ``@TS@`` to fill in at send
    time; the site is drawn then too (so the few fire alarms fall on many sites)."""
    weights = [w for w, _, _ in MIX]
    out = []
    for _ in range(count):
        _, kind, device = rng.choices(MIX, weights)[0]
        body: dict[str, Any] = {"id": "@ID@", "ts": "@TS@", "type": kind}
        if kind.startswith("access."):
            body["data"] = {"card": f"{rng.randrange(10**8):08d}", "direction": rng.choice(["in", "out"])}
        elif kind == "fire.alarm":
            body["point"] = rng.choice(POINTS)
            body["data"] = {"cause": "smoke"}
        out.append((device, json.dumps(body, ensure_ascii=False).encode()))
    return out


def topic(site: str, device: str) -> bytes:
    return f"mcc/v1/{site}/{site}-{device}/event".encode()


def publish(port: int, index: int, share: float, phases: list[Phase], sites: list[str], prefix: str,
            ready: Any, start_at: Any, results: Any) -> None:
    """Publisher process: ``share`` of each phase's rate, paced every TICK on the schedule's clock
    (``start_at``, set by the main process once the wall is connected); then waits for every PUBACK."""
    rng = random.Random(index)
    pool = templates(rng)
    topics = {device: [topic(site, device) for site in sites] for device, _ in pool}
    client = RawPublisher(port, f"bench-sites-{index}")
    ready.release()
    while start_at.value == 0.0:
        time.sleep(0.01)
    start = start_at.value
    sent = [0] * len(phases)
    acked_at_end = [0] * len(phases)  # PUBACKs received by the end of each phase
    seq = current = 0
    while (t := time.time() - start) < phases[-1].end:
        i = phase_at(phases, t)
        if i is None:  # before the start
            time.sleep(min(0.05, -t))
            continue
        while current < i:
            acked_at_end[current] = client.acked
            current += 1
        stamp = datetime.now(CST).isoformat(timespec="milliseconds").encode()
        for _ in range(due(phases[i], t, share) - sent[i]):
            device, template = pool[seq % TEMPLATES]
            client.publish(topics[device][rng.randrange(len(sites))],
                           template.replace(b"@ID@", f"{prefix}-{index}-{seq}".encode()).replace(b"@TS@", stamp))
            sent[i] += 1
            seq += 1
        client.flush()
        client.read_acks()
        time.sleep(max(0.0, start + (int(t / TICK) + 1) * TICK - time.time()))
    acked_at_end[current:] = [client.acked] * (len(phases) - current)
    finished = time.time()
    client.wait_acked(300)
    results.put({"role": "publisher", "index": index, "sent": sent, "acked_at_end": acked_at_end,
                 "acked": client.acked, "finished": finished, "all_acked": time.time()})
    client.close()


def probe(port: int, rate: float, warmup: float, end: float, sites: list[str], start_at: Any, results: Any) -> None:
    """Probe process: one access.granted per 1/rate s on the next site's door, with data.t_pub, from
    ``warmup`` s after the schedule's start to its ``end``."""
    client = publisher_client(port, "bench-sites-probe")
    while start_at.value == 0.0:
        time.sleep(0.01)
    start = start_at.value + warmup
    time.sleep(max(0.0, start - time.time()))
    sent: dict[str, float] = {}
    i = 0
    while time.time() < start_at.value + end:
        site, t_pub = sites[i % len(sites)], time.time()
        body = {"id": f"probe-{i}", "ts": datetime.now(CST).isoformat(timespec="milliseconds"),
                "type": "access.granted", "data": {"card": "00000001", "t_pub": t_pub}}
        client.publish(f"mcc/v1/{site}/{site}-door/event", json.dumps(body), qos=1)
        sent[f"probe-{i}"] = t_pub
        i += 1
        time.sleep(max(0.0, start + i / rate - time.time()))
    results.put({"role": "probes", "sent": sent, "seconds": time.time() - start})
    client.disconnect()
    client.loop_stop()
