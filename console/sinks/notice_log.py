"""Each notice's outcome in its task's log: who was told, by which target, and whether it arrived;
the task is shown again so the console's log view follows (the notifier's ``record``)."""

from __future__ import annotations

from datetime import datetime, timezone

from console.devices.registry import DeviceRegistry
from console.messages import HubMessage
from console.sinks.outlet import Outlet
from console.store.database import Store
from console.store.tables import TaskLogRow, TaskRow
from console.tasks.outcome import Notice
from console.tasks.sop import SopBook
from console.tasks.views import task_summary


class NoticeLog:
    def __init__(self, store: Store, book: SopBook, registry: DeviceRegistry, outlet: Outlet) -> None:
        self.store = store
        self.book = book
        self.registry = registry
        self.outlet = outlet

    def record(self, notice: Notice, target: str, delivered: bool, error: str) -> None:
        with self.store.write() as session, session.begin():
            task = session.get(TaskRow, notice.task_id, with_for_update=True)
            if task is None:
                return
            session.add(TaskLogRow(task_id=notice.task_id, at=datetime.now(timezone.utc), actor="system",
                                   action="notified",
                                   data={"target": target, "kind": notice.kind, "delivered": delivered,
                                         "error": error, "roles": list(notice.roles), "users": list(notice.users)}))
            task.revision += 1  # screens showing the task's log fetch it again
            view = task_summary(task, self.book.sops.get(task.sop_id), self.registry)
        self.outlet.publish([HubMessage("task.updated", view)])
