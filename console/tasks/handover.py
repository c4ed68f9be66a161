"""Shift handover (交接班): a snapshot of what the outgoing shift leaves open, and the handover
checklist (SOP ``shift.handover``) whose two signatures, by two different people, complete it."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from console.alarms.views import alarm_view, iso
from console.devices.registry import DeviceRegistry
from console.store import audit
from console.store.tables import AlarmRow, DutyLogRow, HandoverRow, TaskRow
from console.tasks.outcome import Outcome
from console.tasks.service import TaskService
from console.tasks.views import task_summary

HANDOVER_SOP = "shift.handover"
UNSIGNED_LOOKBACK = timedelta(days=1)
# Alarms that are equipment faults rather than incidents: handed over with their repair status.
FAULT_KINDS = frozenset({"fire.fault", "device.offline", "camera.offline", "parking.barrier_fault"})


def _of(column: InstrumentedAttribute[str], sites: tuple[str, ...] | None) -> ColumnElement[bool]:
    return true() if sites is None else column.in_(sites)


def snapshot(session: Session, service: TaskService, registry: DeviceRegistry, now: datetime,
             sites: tuple[str, ...] | None = None) -> dict[str, Any]:
    """What is open now, at ``sites`` (the outgoing operator's; None: every site)."""
    open_tasks = session.scalars(select(TaskRow).where(TaskRow.state == "open", TaskRow.sop_id != HANDOVER_SOP,
                                                       _of(TaskRow.site, sites))
                                 .order_by(TaskRow.severity_rank, TaskRow.opened_at)).all()
    isolated = []
    for task in open_tasks:
        states = {s["id"]: s for s in task.steps}
        if task.sop_id == "fire.fault" and states.get("isolate", {}).get("answer") == "yes":
            isolated.append({"task_id": task.id, "site": task.site, "device_id": task.device_id, "point": task.point,
                             "label": registry.location(task.site, task.device_id, task.point).label,
                             "since": states["isolate"].get("done_at")})
    alarms = session.scalars(select(AlarmRow).where(AlarmRow.closed.is_(False), _of(AlarmRow.site, sites))).all()
    # This site's entries of the last day still without both signatures (older ones are findings
    # the supervisor reviews), newest first.
    unsigned = session.scalars(select(DutyLogRow).where(
        DutyLogRow.site == service.settings.site.id, DutyLogRow.second_at.is_(None),
        DutyLogRow.slot_at >= now - UNSIGNED_LOOKBACK)
        .order_by(DutyLogRow.slot_at.desc(), DutyLogRow.sequence).limit(50)).all()
    return {
        "open_tasks": [task_summary(t, service.book.sops.get(t.sop_id), registry) for t in open_tasks],
        "isolated_devices": isolated,
        "faults": [alarm_view(a, registry) for a in alarms if a.kind in FAULT_KINDS],
        "open_alarms": len(alarms),
        "open_alarms_by_site": dict(Counter(a.site for a in alarms)),
        # Duty-log entries the outgoing shift leaves without both signatures (GB 25201: signed every 2 h).
        "duty_log_unsigned": [{"id": d.id, "slot_at": iso(d.slot_at), "corrects": d.corrects_id,
                               "signatures": (d.first_by is not None) + (d.second_by is not None),
                               "finding": d.finding} for d in unsigned],
    }


def start(session: Session, service: TaskService, registry: DeviceRegistry, user: str, notes: str,
          now: datetime, client: str = "", sites: tuple[str, ...] | None = None) -> tuple[HandoverRow, Outcome]:
    outcome = service.open_checklist(session, HANDOVER_SOP, user, now, client)
    task_id = next(iter(m.data["id"] for m in outcome.hub if m.type == "task.updated"))
    row = HandoverRow(site=service.settings.site.id, created_at=now, created_by=user, task_id=task_id,
                      notes=notes, snapshot=snapshot(session, service, registry, now, sites))
    session.add(row)
    session.flush()
    audit.record(session, user, "handover.start", target=f"handover:{row.id}",
                 detail={"task_id": task_id, "open_tasks": len(row.snapshot["open_tasks"]),
                         "open_alarms": row.snapshot["open_alarms"], "notes": notes}, client=client, at=now)
    return row, outcome


def seen_snapshot(snapshot: dict[str, Any], sites: tuple[str, ...] | None) -> dict[str, Any]:
    """The part of a handover's snapshot a reader of ``sites`` may see (None: all of it)."""
    by_site = snapshot.get("open_alarms_by_site")
    shown = {key: value for key, value in snapshot.items() if key != "open_alarms_by_site"}
    if sites is None:
        return shown
    for key in ("open_tasks", "isolated_devices", "faults"):
        if key in shown:
            shown[key] = [item for item in shown[key] if item.get("site") in sites]
    # A snapshot made before it counted by site: its total is of every site, and is not shown.
    shown["open_alarms"] = sum(by_site.get(site, 0) for site in sites) if by_site is not None else None
    return shown


def view(row: HandoverRow, task: TaskRow | None, sites: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The handover as a reader of ``sites`` sees it (None: every site)."""
    states = {s["id"]: s for s in (task.steps if task else [])}

    def signature(step_id: str) -> dict[str, Any] | None:
        state = states.get(step_id, {})
        return {"by": state["actor"], "at": state["done_at"]} if state.get("status") == "done" else None

    return {
        "id": row.id, "site": row.site, "created_at": iso(row.created_at), "created_by": row.created_by,
        "task_id": row.task_id, "task_state": task.state if task else None, "notes": row.notes,
        "outgoing": signature("sign_out"), "incoming": signature("sign_in"),
        "complete": bool(task and task.state == "closed"), "snapshot": seen_snapshot(row.snapshot, sites),
    }
