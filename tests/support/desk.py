"""A console without the network for task tests: ingest, the task engine and a real store
(SQLite or PostgreSQL), on a clock the test moves."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import select

from console.contract import InboundMessage
from console.devices.registry import DeviceRegistry
from console.patrol import plans
from console.patrol.evidence import link_photos
from console.patrol.outbox import flush_outbox
from console.patrol.rounds import Rounds
from console.people import auth
from console.people.duty_log import DutyLog
from console.settings import Settings
from console.store.database import Store
from console.store.tables import AuditRow, DispatchRow, TaskLogRow, TaskRow
from console.tasks.outcome import Notice, Outcome
from console.tasks.places import Place
from console.tasks.service import TaskService
from console.tasks.sop import load_site_sops
from console.wire.ingest import Ingest
from tests.conftest import DEVICES

GUARD_SIDE = frozenset({"dispatch", "proposals", "guard_step", "shift", "scan"})
T0 = datetime(2026, 11, 26, 2, 0, tzinfo=timezone.utc)
SCENE_PLACE = Place("1号楼", "3F", "东侧走廊")  # fp-1 point 1-003
JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + bytes(200)


class Desk:
    """A console without the network: ingest, the task engine and the store, on a clock we move."""

    def __init__(self, db_url: str, tmp_path: Path, **sections: Any):
        devices = sections.pop("devices", {"entries": DEVICES})
        self.settings = Settings(site={"id": "demo", "name": "测试小区"}, database={"url": db_url},
                                 devices=devices, **sections)
        self.store = Store(db_url)
        self.store.migrate()
        registry = DeviceRegistry.from_settings(self.settings)
        self.tasks = TaskService(self.settings, load_site_sops(self.settings), registry, tmp_path / "evidence")
        self.notices: list[Notice] = []
        self.ingest = Ingest(self.settings, self.store, registry, tasks=self.tasks, on_notices=self.notices.extend)
        self.duty_log = DutyLog(self.settings, registry)
        self.tags = self.tasks.records.tags
        self.tags.ensure_keys(self.store, T0)
        self.rounds = Rounds(self.settings, self.tasks, registry)
        self.now = T0
        self.n = 0

    def code(self, place: Place = SCENE_PLACE) -> str:
        """The signed code printed on ``place``'s label (by default the scene of fp-1 point 1-003)."""
        with self.store.read() as session:
            return self.tags.code(session, "demo", place=place)

    def at(self, seconds: float) -> datetime:
        self.now = T0 + timedelta(seconds=seconds)
        return self.now

    def send(self, device: str, kind: str, point: str = "", **data: Any) -> None:
        self.n += 1
        body = {"id": f"e{self.n}", "ts": self.now.isoformat(), "type": kind, "point": point, "data": data}
        self.ingest.process([InboundMessage(f"mcc/v1/demo/{device}/event", json.dumps(body).encode(), False,
                                            self.now)])

    def do(self, method: str, *args: Any, **kwargs: Any) -> Outcome:
        """Call the task engine's ``method`` (the guard side's for dispatch, guard steps, shifts and
        scans) in a transaction of its own."""
        engine = self.tasks.guards if method in GUARD_SIDE else self.tasks
        with self.store.write() as session, session.begin():
            outcome: Outcome = getattr(engine, method)(session, *args, **kwargs)
        self.notices.extend(outcome.notices)
        return outcome

    def guard_on(self, name: str, place: Place | None = None) -> None:
        with self.store.write() as session, session.begin():
            auth.add_user(session, name, "correct-horse-1", "guard")
        self.do("shift", name, True, self.now)
        if place is not None:
            self.do("scan", name, self.code(place), self.now)

    def task(self, task_id: int | None = None) -> TaskRow:
        with self.store.read() as session:
            query = select(TaskRow).order_by(TaskRow.id.desc())
            row = session.get(TaskRow, task_id) if task_id else session.scalars(query).first()
            assert row is not None
            return row

    def step(self, step_id: str, task_id: int | None = None) -> dict[str, Any]:
        return next(s for s in self.task(task_id).steps if s["id"] == step_id)

    def dispatches(self, task_id: int) -> list[DispatchRow]:
        with self.store.read() as session:
            return list(session.scalars(select(DispatchRow).where(DispatchRow.task_id == task_id)
                                        .order_by(DispatchRow.id)))

    def log(self, task_id: int) -> list[TaskLogRow]:
        with self.store.read() as session:
            return list(session.scalars(select(TaskLogRow).where(TaskLogRow.task_id == task_id)
                                        .order_by(TaskLogRow.id)))

    def audit_rows(self) -> list[AuditRow]:
        with self.store.read() as session:
            return list(session.scalars(select(AuditRow).order_by(AuditRow.id)))

    def duty(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call the duty log's ``method`` in a transaction of its own; notices are kept as the task engine's are."""
        with self.store.write() as session, session.begin():
            result = getattr(self.duty_log, method)(session, *args, **kwargs)
            outcome = result[-1] if isinstance(result, tuple) else result
            if isinstance(outcome, Outcome):
                self.notices.extend(outcome.notices)
            if method in ("day", "findings"):
                return [self.duty_log.view(session, row) for row in result]
            if isinstance(result, tuple):
                return self.duty_log.view(session, result[0])
            return result

    def patrol(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call the rounds' ``method`` in a transaction of its own, then hand the event outbox to the
        alarm path as the patrol clock does (missed points open SOP 13 there)."""
        with self.store.write() as session, session.begin():
            self.rounds.refresh_places(session)
            if method == "link_photos":  # the clock's other pass (console/patrol/evidence.py)
                result = link_photos(session, self.tasks, *args, **kwargs)
            else:
                result = getattr(self.rounds, method)(session, *args, **kwargs)
        self.rounds.committed()
        if isinstance(result, Outcome):
            self.notices.extend(result.notices)
        self.flush_outbox()
        return result

    def flush_outbox(self) -> int:
        return flush_outbox(self.store.write, lambda drafts, at: self.ingest.process_console_drafts(drafts, at),
                            self.now)

    def plan(self, function: str, *args: Any, **kwargs: Any) -> Any:
        """A patrol plan change (console/patrol/plans.py) in a transaction of its own; the row's id."""
        with self.store.write() as session, session.begin():
            row = getattr(plans, function)(session, *args, **kwargs)
            session.flush()
            return row.id

    def fire_due(self, seconds: float) -> Outcome:
        return self.do("fire_due", self.at(seconds))

    def close(self) -> None:
        self.store.dispose()
