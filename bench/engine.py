"""The alarm path's cost per event, in this process, without the broker or the web server: what the
single writer spends (CPU seconds, ``time.process_time``) to take a batch of messages through the
ingest, the alarm engine and the task engine and commit it. CPU time, not wall time, so a busy
machine changes the figures little; the wall time (fsync included) is reported beside it.

Three workloads on the bench site (bench/common.py):
- ``routine``: ``access.granted`` from 40 doors, in batches of 50 (what the writer groups at about
  1,000 events/s);
- ``storm``: ``fire.alarm`` on new points of the two panels, each a new alarm with its own task,
  in batches of 200 (a shorted loop: the writer groups what waits);
- ``repeats``: the same alarms again (each counts a repeat on its alarm and its task).
"""

from __future__ import annotations

import json
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench.common import DOORS, PANELS, SITE, site_devices, throwaway_database
from console.contract import InboundMessage
from console.devices.registry import DeviceRegistry
from console.settings import Settings, evidence_folder
from console.store.database import Store
from console.tasks.service import TaskService
from console.tasks.sop import load_site_sops
from console.wire.ingest import Ingest


def _message(device: str, body: dict[str, Any], at: datetime) -> InboundMessage:
    return InboundMessage(f"mcc/v1/{SITE}/{device}/event", json.dumps(body).encode(), False, at)


def _routine(n: int, at: datetime) -> list[InboundMessage]:
    return [_message(DOORS[i % len(DOORS)], {"id": f"r{i}", "ts": at.isoformat(), "type": "access.granted",
                                             "data": {"card": f"{i:08d}", "direction": "in"}}, at) for i in range(n)]


def _alarms(n: int, at: datetime, tag: str) -> list[InboundMessage]:
    return [_message(PANELS[i % len(PANELS)], {"id": f"{tag}{i}", "ts": at.isoformat(), "type": "fire.alarm",
                                               "point": f"9-{i:05d}", "data": {"cause": "smoke"}}, at)
            for i in range(n)]


def _measure(ingest: Ingest, messages: list[InboundMessage], batch: int) -> dict[str, Any]:
    cpu, wall, changes = time.process_time(), time.perf_counter(), 0
    for start in range(0, len(messages), batch):
        changes += len(ingest.process(messages[start:start + batch]))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"events": len(messages), "batch": batch, "cpu_s": round(cpu, 3), "wall_s": round(wall, 3),
            "cpu_ms_per_event": round(cpu / len(messages) * 1000, 3),
            "events_per_cpu_s": round(len(messages) / cpu) if cpu else None, "hub_messages": changes}


def run(db_kind: str, routine: int = 20_000, alarms: int = 2_000) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="mcc-bench-engine-") as tmp, \
            throwaway_database(db_kind, Path(tmp)) as url:
        settings = Settings(site={"id": SITE, "timezone": "Asia/Shanghai"}, database={"url": url},
                            devices={"entries": site_devices()}, evidence={"dir": str(Path(tmp) / "evidence")})
        store = Store(url)
        try:
            store.migrate()
            registry = DeviceRegistry.from_settings(settings)
            tasks = TaskService(settings, load_site_sops(settings), registry, evidence_folder(settings))
            ingest = Ingest(settings, store, registry, tasks=tasks)
            at = datetime.now(timezone.utc)
            return {"db": db_kind,
                    "routine": _measure(ingest, _routine(routine, at), 50),
                    "storm": _measure(ingest, _alarms(alarms, at, "s"), 200),
                    "repeats": _measure(ingest, _alarms(alarms, at, "again"), 200)}
        finally:
            store.dispose()


def print_table(results: list[dict[str, Any]]) -> None:
    print("\nThe alarm path per event, in process (CPU of the writer's work; wall includes each commit's fsync)")
    print(f"{'db':<11}{'workload':<10}{'events':>8}{'batch':>7}{'cpu ms/ev':>11}{'ev per cpu s':>14}{'wall s':>8}")
    for r in results:
        for name in ("routine", "storm", "repeats"):
            w = r[name]
            print(f"{r['db']:<11}{name:<10}{w['events']:>8,}{w['batch']:>7}{w['cpu_ms_per_event']:>11.3f}"
                  f"{w['events_per_cpu_s'] or 0:>14,}{w['wall_s']:>8.2f}")
    print("(storm: each a new fire alarm with its own task; repeats: the same alarms again)")
