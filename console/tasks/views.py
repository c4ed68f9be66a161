"""The JSON shapes of tasks: a summary for lists and the WebSocket, the full view for one task."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from console.alarms.views import iso
from console.devices.registry import DeviceRegistry
from console.store.tables import DispatchRow, EvidenceRow, TaskLogRow, TaskRow
from console.tasks.sop import Sop, Step


def _text(value: Any) -> dict[str, str]:
    return {"zh": value.zh, "en": value.en}


def current_step(row: TaskRow, sop: Sop | None) -> tuple[Step, dict[str, Any]] | None:
    """The first open step: what the task waits for now."""
    if sop is None:
        return None
    states = {item["id"]: item for item in row.steps}
    for step in sop.steps:
        state = states.get(step.id)
        if state is not None and state["status"] == "open":
            return step, state
    return None


def task_summary(row: TaskRow, sop: Sop | None, registry: DeviceRegistry) -> dict[str, Any]:
    now_step = current_step(row, sop) if row.state == "open" else None
    open_required = 0
    if sop is not None:
        states = {item["id"]: item["status"] for item in row.steps}
        open_required = sum(1 for s in sop.steps if s.required and states.get(s.id) in ("open", "pending"))
    return {
        "id": row.id,
        "sop_id": row.sop_id,
        "title": _text(sop.title) if sop else {"zh": row.sop_id, "en": row.sop_id},
        "alarm_id": row.alarm_id,
        "alarm_kind": row.alarm_kind,
        "site": row.site,
        "device_id": row.device_id,
        "point": row.point,
        "location": registry.location(row.site, row.device_id, row.point).as_dict(),
        "severity_rank": row.severity_rank,
        "state": row.state,
        "drill": row.drill,
        "opened_at": iso(row.opened_at),
        "closed_at": iso(row.closed_at),
        "closed_by": row.closed_by,
        "assignee": row.assignee,
        "dispatch_state": row.dispatch_state,
        "current_step": None if now_step is None else {
            "id": now_step[0].id, "role": now_step[0].role, "type": now_step[0].type,
            "text": _text(now_step[0].text), "due_at": now_step[1].get("due_at"),
        },
        "next_due_at": iso(row.next_due_at),
        "open_required": open_required,
        "repeats": row.repeats,
        "revision": row.revision,
    }


def task_detail(
    row: TaskRow, sop: Sop | None, registry: DeviceRegistry, log: list[TaskLogRow],
    dispatches: list[DispatchRow], evidence: list[EvidenceRow], location_code: str | None,
) -> dict[str, Any]:
    view = task_summary(row, sop, registry)
    states = {item["id"]: item for item in row.steps}
    steps = []
    for step in (sop.steps if sop else []):
        state = states.get(step.id, {})
        steps.append({
            "id": step.id, "role": step.role, "type": step.type, "text": _text(step.text),
            "required": step.required, "status": state.get("status", "pending"), "answer": state.get("answer"),
            "actor": state.get("actor"), "done_at": state.get("done_at"), "due_at": state.get("due_at"),
            "deadline_fired": state.get("deadline_fired", False),
            "when": step.when.model_dump() if step.when else None,
            "choices": [{"code": c.code, "text": _text(c.text)} for c in step.choices],
            "fields": step.fields, "completed_by": step.completed_by, "evidence": step.evidence,
            "recurring": step.recurring, "rounds": state.get("rounds", 0),
        })
    view.update({
        "close_reason": row.close_reason,
        "close_condition": _text(sop.close) if sop and sop.close else None,
        "steps": steps,
        "location_code": location_code,
        "dispatches": [dispatch_view(d) for d in dispatches],
        "evidence": [{"id": e.id, "step": e.step, "sha256": e.sha256, "content_type": e.content_type,
                      "size": e.size, "uploaded_by": e.uploaded_by, "uploaded_at": iso(e.uploaded_at),
                      "url": f"/api/evidence/{e.id}"} for e in evidence],
        "log": [{"id": entry.id, "at": iso(entry.at), "actor": entry.actor, "action": entry.action,
                 "step": entry.step, "data": entry.data} for entry in log],
        "score": drill_score(row, sop) if row.state == "closed" else None,
    })
    return view


def dispatch_view(d: DispatchRow) -> dict[str, Any]:
    return {
        "id": d.id, "task_id": d.task_id, "guard": d.guard, "state": d.state, "assigned_by": d.assigned_by,
        "assigned_at": iso(d.assigned_at), "accept_due_at": iso(d.accept_due_at),
        "accepted_at": iso(d.accepted_at), "en_route_at": iso(d.en_route_at), "on_scene_at": iso(d.on_scene_at),
        "arrival_proof": d.arrival_proof, "reported_at": iso(d.reported_at), "report": d.report,
        "ended_at": iso(d.ended_at),
    }


def drill_score(row: TaskRow, sop: Sop | None) -> dict[str, Any] | None:
    """How the steps with deadlines went: done in time, late (by hand after the deadline), or
    taken by the deadline. For drills this is the score; for real tasks the same figures feed KPIs."""
    if sop is None:
        return None
    on_time = late = missed = 0
    for item in row.steps:
        due, done = item.get("due_at"), item.get("done_at")
        if not due or item.get("status") == "skipped":
            continue
        if item.get("actor") == "deadline" or (item.get("status") != "done"):
            missed += 1
        elif done and datetime.fromisoformat(done) <= datetime.fromisoformat(due):
            on_time += 1
        else:
            late += 1
    total = on_time + late + missed
    return {"on_time": on_time, "late": late, "missed": missed,
            "percent": round(100 * on_time / total) if total else 100}
