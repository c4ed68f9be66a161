"""Two writers raising the same alarm at once (two console instances on one PostgreSQL, or the
silence watch beside the ingest): one open alarm, counted twice, never two."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from console.contract import InboundMessage
from console.devices.registry import DeviceRegistry
from console.settings import Settings
from console.store.database import Store
from console.store.tables import AlarmRow
from console.wire.ingest import Ingest
from tests.conftest import DEVICES

T0 = datetime(2026, 11, 26, 2, 0, tzinfo=timezone.utc)


def test_two_writers_raising_one_alarm_make_one_open_alarm(db_url: str, tmp_path: Path) -> None:
    settings = Settings(site={"id": "demo"}, database={"url": db_url}, devices={"entries": DEVICES})
    stores = [Store(db_url) for _ in range(2)]
    stores[0].migrate()
    registry = DeviceRegistry.from_settings(settings)
    ingests = [Ingest(settings, store, registry) for store in stores]
    retries = []

    def raise_it(n: int, point: str, barrier: threading.Barrier) -> None:
        body = {"id": f"{point}-w{n}", "ts": T0.isoformat(), "type": "access.door_forced", "point": point}
        message = InboundMessage("mcc/v1/demo/door-1/event", json.dumps(body).encode(), False, T0)
        barrier.wait()
        for _attempt in range(5):  # what the ingest worker does when a commit fails: try again
            try:
                ingests[n].process([message])
                return
            except SQLAlchemyError:
                retries.append(n)

    # The race is narrow (without the unique index it made two alarms in about 3 rounds of 10).
    for round_ in range(10):
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=raise_it, args=(n, f"r{round_}", barrier)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    try:
        with stores[0].read() as session:
            alarms = session.scalars(select(AlarmRow).where(AlarmRow.kind == "access.door_forced")).all()
        by_point = sorted((a.point, a.count) for a in alarms)
        assert by_point == sorted((f"r{n}", 2) for n in range(10)), retries
    finally:
        for store in stores:
            store.dispose()
