"""The demo's patrol: four checkpoints (with wand buttons), a round every 30 minutes for guard1,
and guard1's patrol wand, which walks each round and uploads its reads when docked (through the
patrol-wand adapter, like a real cradle). Now and then a point is skipped, so SOP 13 shows too."""

from __future__ import annotations

import json
import logging
import random
import threading
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from console.demo.simulator import _Publisher
from console.patrol import plans
from console.settings import Settings
from console.store.database import Store
from console.store.tables import CheckpointRow

log = logging.getLogger("mcc.demo")
EVERY_MINUTES = 30
GAP_MINUTES = 3
WAND = "W-DEMO-1"
CHECKPOINTS: tuple[tuple[str, str, str, str, str, list[dict[str, str]]], ...] = (
    # name, building, floor, zone, wand button, checklist
    ("1号楼大堂", "1号楼", "1F", "大堂", "D0000001", []),
    ("1号楼3层东侧消防门", "1号楼", "3F", "东侧走廊", "D0000002",
     [{"id": "door", "text": "防火门关闭"}, {"id": "extinguisher", "text": "灭火器在位"}]),
    ("地下车库入口", "地下车库", "B1", "入口", "D0000003", []),
    ("2号楼大堂", "2号楼", "1F", "大堂", "D0000004", []),
)


def seed_demo_rounds(settings: Settings, store: Store) -> None:
    """The demo's checkpoints, route and schedule, once."""
    now = datetime.now(timezone.utc)
    with store.write() as session, session.begin():
        if session.scalar(select(CheckpointRow.id).limit(1)) is not None:
            return
        site = settings.site.id
        ids = [plans.add_checkpoint(session, site, {"name": name, "building": b, "floor": f, "zone": z,
                                                    "wand_tag": tag, "checklist": checklist}, now).id
               for name, b, f, z, tag, checklist in CHECKPOINTS]
        route = plans.add_route(session, site, "夜间巡更路线", True,
                                [{"checkpoint": i, "minutes": 0 if n == 0 else GAP_MINUTES} for n, i in enumerate(ids)],
                                now)
        plans.add_schedule(session, site, {"route_id": route.id, "name": "常规巡更（每30分钟）",
                                           "every_minutes": EVERY_MINUTES, "start_window_minutes": 10,
                                           "limit_minutes": 25, "guard": "guard1"}, "mcc-demo", now)


def next_walk(local: datetime, rng: random.Random) -> tuple[datetime, dict[str, Any]]:
    """The next round the wand walks (the one due now if its window is still open, else the next):
    when it is docked, and the upload it then sends. One point in ten (never the first) is skipped."""
    due = local.replace(minute=local.minute - local.minute % EVERY_MINUTES, second=0, microsecond=0)
    if local - due > timedelta(minutes=8):
        due += timedelta(minutes=EVERY_MINUTES)  # too late for this one: walk the next
    start = due + timedelta(minutes=rng.randint(0, 3))
    reads = [(start + timedelta(minutes=GAP_MINUTES * n, seconds=rng.randint(0, 50)), tag)
             for n, (_name, _b, _f, _z, tag, _c) in enumerate(CHECKPOINTS) if n == 0 or rng.random() > 0.1]
    docked = reads[-1][0] + timedelta(minutes=1)
    upload: dict[str, Any] = {"wand": WAND, "guard": "guard1", "uploaded_at": docked.isoformat(),
              "records": [{"seq": int(at.timestamp()), "tag": tag, "time": at.isoformat()} for at, tag in reads]}
    return docked, upload


def walk_rounds(broker_url: str, settings: Settings, stop: threading.Event, rng: random.Random | None = None) -> None:
    """Walk every round from now on and upload its reads when docked, until ``stop``."""
    rng = rng or random.Random()
    zone = ZoneInfo(settings.site.timezone)
    publisher = _Publisher(broker_url, settings.site.id)
    try:
        while not stop.is_set():
            docked, upload = next_walk(datetime.now(zone), rng)
            if stop.wait(max(0.0, (docked - datetime.now(zone)).total_seconds())):
                break
            publisher.client.publish(f"patrolwand/{WAND}/upload", json.dumps(upload), qos=1)
            log.info("demo wand uploaded %d reads", len(upload["records"]))
    finally:
        publisher.client.loop_stop()
        publisher.client.disconnect()
