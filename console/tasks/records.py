"""A task's record in the store, as both halves of the task engine use it (console/tasks/service.py
for the alarm side and the steps, console/tasks/dispatch.py for the guards): load a task with its SOP
and state machine, save it back, write its log, recognise a retried action, word a notice, and queue
one ``task.updated`` per changed task once an action is done.

Everything runs inside the caller's write transaction; nothing here commits or reads the clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from console.devices.registry import DeviceRegistry
from console.messages import HubMessage
from console.settings import Settings
from console.store.tables import ACTIVE_DISPATCH, DispatchRow, TaskLogRow, TaskRow
from console.tasks import places
from console.tasks.machine import TaskError, TaskMachine
from console.tasks.outcome import Loaded, NotFound, Notice, Outcome
from console.tasks.sop import SopBook
from console.tasks.tags import TagBook
from console.tasks.views import task_summary


class TaskRecords:
    def __init__(self, settings: Settings, book: SopBook, registry: DeviceRegistry, evidence_dir: Path):
        self.settings = settings
        self.book = book
        self.registry = registry
        self.evidence_dir = evidence_dir
        self.accept_window = timedelta(seconds=settings.dispatch.accept_seconds)
        self.sites = {settings.site.id} | {device.site for device in settings.devices.entries if device.site}
        """The sites whose location codes this console accepts (a console may serve several)."""
        self.tags = TagBook(self.sites)

    def evidence_path(self, digest: str) -> Path:
        return self.evidence_dir / digest[:2] / digest

    def load(self, session: Session, task_id: int, lock: bool = False) -> Loaded:
        row = session.get(TaskRow, task_id, with_for_update=lock or None)
        if row is None:
            raise NotFound("task.not_found", f"no task {task_id}", task=task_id)
        sop = self.book.sops.get(row.sop_id)
        if sop is None:
            raise TaskError("task.sop_gone", f"task {task_id} follows SOP {row.sop_id}, which this console no longer has",
                            task=task_id, sop=row.sop_id)
        machine = TaskMachine.load(sop, self.book.for_site(row.site), row.opened_at, row.steps, row.repeats,
                                   row.closed_at, row.close_reason)
        return Loaded(row, sop, machine)

    def save(self, task: Loaded, out: Outcome) -> None:
        row, machine = task.row, task.machine
        row.steps = machine.dump_steps()
        row.repeats = machine.repeats
        dues = [machine.next_due()] if row.state == "open" else []
        out.touched[row.id] = row
        row.next_due_at = min((d for d in dues if d is not None), default=None)

    def finish(self, session: Session, out: Outcome) -> None:
        """Fold in dispatch acceptance deadlines, bump revisions, and queue one task.updated per task."""
        # The touched tasks' active dispatches in one query (a storm opens thousands of tasks).
        dispatches: dict[int, list[tuple[str, str, datetime | None]]] = {}
        if out.touched:
            for task_id, guard, state, accept_due_at in session.execute(select(
                    DispatchRow.task_id, DispatchRow.guard, DispatchRow.state, DispatchRow.accept_due_at).where(
                    DispatchRow.task_id.in_(list(out.touched)), DispatchRow.state.in_(ACTIVE_DISPATCH))):
                dispatches.setdefault(task_id, []).append((guard, state, accept_due_at))
        for row in out.touched.values():
            active = dispatches.get(row.id, [])
            if row.state == "open":
                accept = min((due for _, state, due in active if state == "assigned" and due is not None), default=None)
                if accept is not None and (row.next_due_at is None or accept < row.next_due_at):
                    row.next_due_at = accept
            else:
                row.next_due_at = None
            row.revision = (row.revision or 0) + 1
            sop = self.book.sops.get(row.sop_id)
            view = task_summary(row, sop, self.registry)
            # Every guard on the task (a backup guard too) gets its updates on their phone.
            view["guards"] = sorted({guard for guard, _, _ in active} | ({row.assignee} if row.assignee else set()))
            out.hub.append(HubMessage("task.updated", view))
        out.touched.clear()

    def for_action(self, session: Session, task_id: int, key: str | None, out: Outcome,
                   open_only: bool = False) -> Loaded | None:
        """The task, locked, for a human action with idempotency ``key``; None when that action was
        already done (``out`` says it was replayed). ``open_only``: refuse a closed task."""
        task = self.load(session, task_id, lock=True)
        if self.seen(session, key, out):
            return None
        if open_only and task.row.state != "open":
            raise TaskError("task.closed", "the task is closed")
        return task

    def seen(self, session: Session, key: str | None, out: Outcome) -> bool:
        if key and session.scalar(select(TaskLogRow.id).where(TaskLogRow.action_key == key)) is not None:
            out.replayed = True
            return True
        return False

    def log(self, session: Session, row: TaskRow, actor: str, action: str, at: datetime,
             step: str | None = None, data: dict[str, Any] | None = None, key: str | None = None) -> None:
        clean = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in (data or {}).items()}
        session.add(TaskLogRow(task_id=row.id, at=at, actor=actor[:64], action=action, step=step,
                               data=clean, action_key=key))

    def scene_of(self, row: TaskRow) -> places.Place:
        location = self.registry.location(row.site, row.device_id, row.point)
        return places.Place(location.building, location.floor, location.zone)

    def notice(self, task: Loaded, kind: str, roles: tuple[str, ...], now: datetime, what: str,
                users: tuple[str, ...] = ()) -> Notice:
        row = task.row
        location = self.registry.location(row.site, row.device_id, row.point)
        drill = "【演练】" if row.drill else ""
        title = f"{drill}[{self.settings.site.name or row.site}] {task.sop.title.zh} #{row.id}"
        body = f"{what}\n位置 / place: {location.label or row.device_id}\n时间 / time: {now.isoformat(timespec='seconds')}"
        return Notice(row.id, kind, title, body, tuple(roles), users, row.drill)
