"""The task engine over the store: open a task per alarm, answer steps, dispatch guards, fire
deadlines, close. Every method works inside the caller's write transaction and takes ``now``
explicitly, so the same code runs live, after a restart and in tests on a controlled clock.

Locks are always taken in one order, so that two console instances on PostgreSQL never deadlock:
the alarm row, then the task row, then its dispatches, then guard rows, then the audit chain's
advisory lock. Retried actions (same ``action_id``) are recognised after the task lock is held,
so a retry that arrives while the first attempt is still running waits and then replays.

The guard side (dispatch, guard steps, shifts, scans) is ``self.guards`` (console/tasks/dispatch.py),
the task's record in the store (load, save, log, notices) ``self.records`` (console/tasks/records.py),
the result types and errors console/tasks/outcome.py.

Each method returns what the caller must do after the commit (``Outcome``): messages for the
WebSocket hub and notices for the notifier. Every action lands in the task's log and in the
audit chain with its actor and time, in the same transaction as the change itself.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from console.alarms.engine import AlarmChange, acknowledge
from console.alarms.views import alarm_view
from console.devices.registry import DeviceRegistry
from console.messages import HubMessage
from console.settings import Settings
from console.store import audit
from console.store.tables import AlarmRow, EvidenceRow, TaskRow
from console.tasks import places
from console.tasks.dispatch import GuardDispatch
from console.tasks.machine import Effect, TaskError, TaskMachine
from console.tasks.outcome import SYSTEM, Forbidden, Loaded, Outcome
from console.tasks.records import TaskRecords
from console.tasks.sop import Sop, SopBook

log = logging.getLogger("mcc.tasks")

APPROVERS = frozenset({"supervisor", "admin"})
OPERATORS = frozenset({"operator", "supervisor", "admin"})
PHOTO_TYPES = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


class TaskService:
    def __init__(self, settings: Settings, book: SopBook, registry: DeviceRegistry, evidence_dir: Path):
        self.records = TaskRecords(settings, book, registry, evidence_dir)
        self.guards = GuardDispatch(self.records)
        """The guard side: dispatch, the guards' own steps, shifts and checkpoint scans."""
        self.settings = settings
        self.book = book
        self.registry = registry
        self.evidence_path = self.records.evidence_path

    # -- alarms in ---------------------------------------------------------------------------

    def on_alarm_changes(self, session: Session, changes: list[AlarmChange], now: datetime) -> Outcome:
        """Called in the ingest transaction: a raised alarm opens its SOP's task, a repeat joins,
        resets or opens a new one, a clear is written in the task's log."""
        out = Outcome()
        for change in changes:
            alarm = change.alarm
            if change.type == "alarm.raised":
                self._open_for_alarm(session, alarm, now, out)
            elif change.type == "alarm.updated":
                self._repeat(session, alarm, now, out)
            elif change.type == "alarm.cleared" and alarm.task_id is not None:
                task = self.records.load(session, alarm.task_id, lock=True)
                if task.row.state == "open":
                    self.records.log(session, task.row, SYSTEM, "alarm_cleared", now,
                              data={"alarm_id": alarm.id, "cleared_at": alarm.cleared_at})
                    out.touched[task.row.id] = task.row
                    if task.row.alarm_id == alarm.id:  # the task's own alarm, not one joined to it
                        self._complete_on_clear(session, task, alarm.cleared_at or now, out)
        self.records.finish(session, out)
        return out

    def open_unshelved(self, session: Session, now: datetime) -> Outcome:
        """Alarms whose shelf expired or was removed while they were still open: they get their
        SOP's task now (a shelved alarm opens none), and show as unshelved."""
        out = Outcome()
        alarms = session.scalars(select(AlarmRow).where(
            AlarmRow.closed.is_(False), AlarmRow.task_id.is_(None), AlarmRow.shelved_until.is_not(None),
            AlarmRow.shelved_until <= now).with_for_update()).all()
        for alarm in alarms:
            alarm.shelved_until, alarm.shelf_id = None, None
            alarm.revision += 1
            self._open_for_alarm(session, alarm, now, out)
            out.hub.append(HubMessage("alarm.updated", alarm_view(alarm, self.registry)))
        self.records.finish(session, out)
        return out

    def on_alarm_acked(self, session: Session, alarm: AlarmRow, user: str, now: datetime) -> Outcome:
        """An operator acknowledged the alarm: the SOP's acknowledgement step is done."""
        out = Outcome()
        if alarm.task_id is not None:
            task = self.records.load(session, alarm.task_id, lock=True)
            for step_id in task.machine.complete_by("alarm_ack", user, now):
                self.records.log(session, task.row, user, "answer", now, step=step_id, data={"by": "alarm_ack"})
            self.records.save(task, out)
        self.records.finish(session, out)
        return out

    def on_patrol_scan(self, session: Session, alarm: AlarmRow, guard: str, now: datetime) -> Outcome:
        """The missed checkpoint was scanned after all: the SOP's "scanned in the grace window?" is yes."""
        out = Outcome()
        if alarm.task_id is not None:
            task = self.records.load(session, alarm.task_id, lock=True)
            for step_id in task.machine.complete_by("patrol_scan", guard, now, "yes"):
                self.records.log(session, task.row, guard, "answer", now, step=step_id, data={"by": "patrol_scan"})
            self.records.save(task, out)
        self.records.finish(session, out)
        return out

    def _complete_on_clear(self, session: Session, task: Loaded, at: datetime, out: Outcome) -> None:
        """The device says the condition is over: the steps done by the clear are done, and the
        recurring ones (a compensating patrol) end."""
        for step_id in task.machine.complete_by("alarm_clear", SYSTEM, at):
            self.records.log(session, task.row, SYSTEM, "answer", at, step=step_id, data={"by": "alarm_clear"})
        self.records.save(task, out)

    def _open_for_alarm(self, session: Session, alarm: AlarmRow, now: datetime, out: Outcome) -> None:
        sop = self.book.by_alarm.get(alarm.kind)
        if sop is None or (alarm.shelved_until is not None and alarm.shelved_until > now):
            return  # a shelved source opens no task until its shelf expires
        if sop.correlate is not None and self._correlate(session, sop, alarm, now, out):
            return
        # ``now`` is the time of the event that raised (or brought back) the alarm: deadlines run from it.
        machine = TaskMachine(sop, self.book.for_site(alarm.site), now)
        row = TaskRow(
            site=alarm.site, sop_id=sop.id, alarm_id=alarm.id, alarm_kind=alarm.kind,
            device_id=alarm.device_id, point=alarm.point, severity_rank=alarm.severity_rank,
            state="open", drill=alarm.test, opened_at=now, steps=machine.dump_steps(),
            repeats=0, revision=0,
        )
        session.add(row)
        session.flush()
        alarm.task_id = row.id
        task = Loaded(row, sop, machine)
        self.records.log(session, row, SYSTEM, "opened", now, data={
            "alarm_id": alarm.id, "sop": sop.id, "drill": alarm.test,
        })
        if alarm.acknowledged and alarm.acked_by:  # the alarm came back after it was acknowledged
            for step_id in machine.complete_by("alarm_ack", alarm.acked_by, alarm.acked_at or now):
                self.records.log(session, row, alarm.acked_by, "answer", now, step=step_id, data={"by": "alarm_ack"})
        if alarm.cleared:  # a momentary alarm, or one that cleared while it was shelved
            self._complete_on_clear(session, task, alarm.cleared_at or now, out)
        self.records.save(task, out)
        dispatch_step = next((s for s in sop.steps if s.type == "dispatch"), None)
        if dispatch_step is not None and dispatch_step.auto_assign:
            self.guards.assign(session, task, None, SYSTEM, now, out, reason="auto")

    def _correlate(self, session: Session, sop: Sop, alarm: AlarmRow, now: datetime, out: Outcome) -> bool:
        """Join an open task of the same SOP for another device in the same zone, opened within
        the window: one incident, and the log says why. True if joined."""
        assert sop.correlate is not None
        location = self.registry.location(alarm.site, alarm.device_id, alarm.point)
        scene = places.Place(location.building, location.floor, location.zone)
        if not scene.zone:
            return False  # without a zone there is nothing to group by
        since = now - timedelta(seconds=sop.correlate.window_seconds)
        candidates = session.scalars(select(TaskRow).where(
            TaskRow.state == "open", TaskRow.sop_id == sop.id, TaskRow.site == alarm.site,
            TaskRow.opened_at >= since, TaskRow.drill.is_(alarm.test)).order_by(TaskRow.opened_at)).all()
        for row in candidates:
            if self.records.scene_of(row) != scene or (row.device_id, row.point) == (alarm.device_id, alarm.point):
                continue
            task = self.records.load(session, row.id, lock=True)
            alarm.task_id = row.id
            task.machine.repeat(now)
            why = {"alarm_id": alarm.id, "device_id": alarm.device_id, "point": alarm.point,
                   "reason": "same_zone", "zone": scene.label(), "window_s": sop.correlate.window_seconds}
            self.records.log(session, row, SYSTEM, "correlated", now, data=why)
            answer = sop.correlate.answer
            if answer is not None and task.machine.steps[answer.step].status == "open":
                task.machine.answer(answer.step, answer.answer, "correlation", now)
                self.records.log(session, row, SYSTEM, "answer", now, step=answer.step,
                          data={"value": answer.answer, "by": "correlation", **why})
                audit.record(session, SYSTEM, "task.answer", target=f"task:{row.id}",
                             detail={"step": answer.step, "value": answer.answer, "by": "correlation",
                                     "second_device": f"{alarm.device_id} {alarm.point}".strip()}, at=now)
                out.notices.append(self.records.notice(
                    task, "advanced", ("supervisor", "project_manager"), now,
                    f"同一区域第二个探测器报警，按确认火警处置 / a second device in the zone: handled as confirmed "
                    f"({location.label or alarm.device_id})"))
            self.records.save(task, out)
            return True
        return False

    def open_checklist(self, session: Session, sop_id: str, user: str, now: datetime, client: str = "") -> Outcome:
        """A task with no alarm behind it, such as the shift handover checklist."""
        sop = self.book.sops.get(sop_id)
        if sop is None or sop.kind != "checklist":
            raise TaskError("task.no_checklist", f"no checklist SOP {sop_id!r}", sop=sop_id)
        out = Outcome()
        machine = TaskMachine(sop, self.book, now)
        row = TaskRow(site=self.settings.site.id, sop_id=sop.id, alarm_id=None, alarm_kind="", device_id="",
                      point="", severity_rank=9, state="open", drill=False, opened_at=now,
                      steps=machine.dump_steps(), repeats=0, revision=0)
        session.add(row)
        session.flush()
        self.records.log(session, row, user, "opened", now, data={"sop": sop.id})
        audit.record(session, user, "task.open", target=f"task:{row.id}", detail={"sop": sop.id},
                     client=client, at=now)
        self.records.save(Loaded(row, sop, machine), out)
        self.records.finish(session, out)
        return out

    def _repeat(self, session: Session, alarm: AlarmRow, now: datetime, out: Outcome) -> None:
        if alarm.task_id is None:
            # The alarm has no task (its SOP came later, or opening it failed): open one now.
            self._open_for_alarm(session, alarm, now, out)
            return
        task = self.records.load(session, alarm.task_id, lock=True)  # the state is read under the lock
        if task.row.state != "open" or task.sop.repeat == "new":
            # A closed task is history: the alarm coming back opens a new one.
            self._open_for_alarm(session, alarm, now, out)
            return
        task.machine.repeat(now)
        self.records.log(session, task.row, SYSTEM, "repeat", now, data={"count": alarm.count, "rule": task.sop.repeat})
        self.records.save(task, out)

    # -- people act ----------------------------------------------------------------------------

    def answer(self, session: Session, task_id: int, step_id: str, value: Any, user: str, role: str,
               now: datetime, key: str | None = None, client: str = "") -> Outcome:
        out = Outcome()
        alarm_id = session.scalar(select(TaskRow.alarm_id).where(TaskRow.id == task_id))
        if alarm_id is not None:  # the lock order: the alarm row before the task row
            session.get(AlarmRow, alarm_id, with_for_update=True)
        task = self.records.for_action(session, task_id, key, out)
        if task is None:
            return out
        step = task.machine.step(step_id)
        if step.completed_by == "alarm_clear":
            raise TaskError("step.by_restore", f"step {step_id} is done when the device reports that the condition is "
                            "over (its restore)", step=step_id)
        if step.completed_by == "arrival":
            raise TaskError("step.by_arrival", f"step {step_id} is done when the dispatched guard scans the location's QR "
                            "code", step=step_id)
        if step.type == "dispatch":
            raise TaskError("step.by_dispatch", f"step {step_id} is done by dispatching a guard (POST /api/tasks/{task_id}/dispatch)",
                            step=step_id)
        if step.type == "photo" and value is None:
            raise TaskError("step.by_photo", f"step {step_id} is done by uploading a photo", step=step_id)
        if step.type == "approval":
            self._check_signature(task, step_id, step.role, user, role)
        if role == "guard":
            self.guards.require_on_task(session, task.row, user, step.role)
        if step.type in ("check", "approval") and value is None:
            value = True
        task.machine.answer(step_id, value, user, now)
        self.records.log(session, task.row, user, "answer", now, step=step_id, data={"value": value}, key=key)
        audit.record(session, user, "task.answer", target=f"task:{task_id}",
                     detail={"step": step_id, "value": value}, client=client, at=now)
        if step.completed_by == "alarm_ack" and task.row.alarm_id is not None:
            alarm = session.get(AlarmRow, task.row.alarm_id)
            if alarm is not None and acknowledge(alarm, user, f"SOP {task.sop.id}: {step_id}", now):
                audit.record(session, user, "alarm.ack", target=f"alarm:{alarm.id}",
                             detail={"via": f"task:{task_id}", "kind": alarm.kind}, client=client, at=now)
                out.hub.append(HubMessage("alarm.acked", alarm_view(alarm, self.registry)))
        self.records.save(task, out)
        self.records.finish(session, out)
        return out

    @staticmethod
    def _check_signature(task: Loaded, step_id: str, step_role: str, user: str, role: str) -> None:
        """An approval is a signature: a supervisor's step needs a supervisor, an operator's step an
        operator (or above), and nobody signs two approvals of one task (four eyes)."""
        allowed = APPROVERS if step_role in ("supervisor", "project_manager") else OPERATORS
        if role not in allowed:
            code, who = (("step.needs_supervisor", "a supervisor's") if allowed is APPROVERS
                         else ("step.needs_operator", "an operator's"))
            raise Forbidden(code, f"step {step_id} needs {who} signature", step=step_id)
        for other in task.sop.steps:
            state = task.machine.steps[other.id]
            if other.type == "approval" and other.id != step_id and state.status == "done" and state.actor == user:
                raise TaskError("step.signed_twice", f"{user} already signed {other.id}; the second signature must be "
                                "someone else's", user=user, step=other.id)

    def comment(self, session: Session, task_id: int, text: str, user: str, role: str, now: datetime,
                key: str | None = None, client: str = "") -> Outcome:
        out = Outcome()
        task = self.records.for_action(session, task_id, key, out)
        if task is None:
            return out
        if role == "guard":
            self.guards.require_on_task(session, task.row, user, None)
        self.records.log(session, task.row, user, "comment", now, data={"text": text}, key=key)
        audit.record(session, user, "task.comment", target=f"task:{task_id}", detail={"text": text},
                     client=client, at=now)
        out.touched[task.row.id] = task.row
        self.records.finish(session, out)
        return out

    def check_photo(self, content: bytes, content_type: str) -> None:
        if content_type not in PHOTO_TYPES:
            raise TaskError("photo.wrong_type", f"photos are JPEG, PNG or WebP, not {content_type!r}", type=content_type)
        if len(content) > self.settings.evidence.max_bytes:
            raise TaskError("photo.too_large", f"the photo is larger than {self.settings.evidence.max_bytes} bytes",
                            max=self.settings.evidence.max_bytes)
        if not _looks_like(content, content_type):
            raise TaskError("photo.not_image", f"the body is not a {content_type} image", type=content_type)

    def keep_photo(self, content: bytes, content_type: str) -> str:
        """Check a photo and keep its bytes in the evidence folder by SHA-256 (once); the hash."""
        self.check_photo(content, content_type)
        digest = hashlib.sha256(content).hexdigest()
        path = self.evidence_path(digest)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            tmp = path.with_suffix(".part")
            tmp.write_bytes(content)
            tmp.replace(path)
        return digest

    def add_photo(self, session: Session, task_id: int, step_id: str | None, content: bytes, content_type: str,
                  user: str, role: str, now: datetime, key: str | None = None, client: str = "") -> Outcome:
        """Keep a photo by its SHA-256 (the same photo twice is kept once), put the hash in the audit
        chain, and complete the step when it is a photo step."""
        out = Outcome()
        task = self.records.for_action(session, task_id, key, out, open_only=True)
        if task is None:
            return out
        self.check_photo(content, content_type)
        step = task.machine.step(step_id) if step_id else None
        if role == "guard":
            self.guards.require_on_task(session, task.row, user, step.role if step else None)
        digest = hashlib.sha256(content).hexdigest()
        existing = session.scalar(select(EvidenceRow).where(EvidenceRow.task_id == task_id,
                                                            EvidenceRow.sha256 == digest))
        if existing is None:
            self.keep_photo(content, content_type)
            existing = EvidenceRow(task_id=task_id, step=step_id, sha256=digest, content_type=content_type,
                                   size=len(content), uploaded_by=user, uploaded_at=now)
            session.add(existing)
            session.flush()
            audit.record(session, user, "task.photo", target=f"task:{task_id}",
                         detail={"step": step_id, "sha256": digest, "size": len(content)}, client=client, at=now)
        self.records.log(session, task.row, user, "photo", now, step=step_id,
                  data={"evidence_id": existing.id, "sha256": digest}, key=key)
        if step is not None and step.type == "photo" and task.machine.steps[step.id].status == "open":
            task.machine.answer(step.id, {"evidence": [existing.id], "sha256": digest}, user, now)
            audit.record(session, user, "task.answer", target=f"task:{task_id}",
                         detail={"step": step.id, "value": {"sha256": digest}}, client=client, at=now)
        self.records.save(task, out)
        self.records.finish(session, out)
        return out

    def close(self, session: Session, task_id: int, user: str, role: str, now: datetime,
              reason: str | None = None, key: str | None = None, client: str = "") -> Outcome:
        out = Outcome()
        task = self.records.for_action(session, task_id, key, out)
        if task is None:
            return out
        missing = task.machine.open_required()
        task.machine.close(user, role, now, reason)
        task.row.state, task.row.closed_at, task.row.closed_by = "closed", now, user
        task.row.close_reason = reason
        for dispatch in self.guards.active_dispatches(session, task_id):
            dispatch.state, dispatch.ended_at = "cancelled", now
            out.hub.append(HubMessage("guard.updated", {"guard": dispatch.guard}))
        task.row.dispatch_state = None
        detail = {"reason": reason, "overridden": missing}
        self.records.log(session, task.row, user, "close", now, data=detail, key=key)
        audit.record(session, user, "task.close", target=f"task:{task_id}", detail=detail, client=client, at=now)
        self.records.save(task, out)
        self.records.finish(session, out)
        return out

    # -- deadlines ------------------------------------------------------------------------------

    def fire_due(self, session: Session, now: datetime, limit: int = 100) -> Outcome:
        """Every step deadline and dispatch acceptance due at ``now``, also those that fell due
        while the console was down."""
        out = Outcome()
        query = (select(TaskRow.id).where(TaskRow.state == "open", TaskRow.next_due_at <= now)
                 .order_by(TaskRow.next_due_at).limit(limit))
        for task_id in list(session.scalars(query)):
            one = Outcome()
            try:
                with session.begin_nested():
                    self._fire_task(session, task_id, now, one)
            except OperationalError:
                raise  # the store cannot write (full disk, lost connection): the loop retries them all
            except Exception:
                # One broken task must not hold up every other deadline: park it for a minute.
                log.exception("firing the deadlines of task %s failed", task_id)
                row = session.get(TaskRow, task_id)
                if row is not None:
                    row.next_due_at = now + timedelta(minutes=1)
                continue
            out.hub.extend(one.hub)
            out.notices.extend(one.notices)
            out.touched.update(one.touched)
        self.records.finish(session, out)
        return out

    def _fire_task(self, session: Session, task_id: int, now: datetime, out: Outcome) -> None:
        task = self.records.load(session, task_id, lock=True)
        for dispatch in self.guards.active_dispatches(session, task_id):
            if dispatch.state == "assigned" and dispatch.accept_due_at and dispatch.accept_due_at <= now:
                dispatch.state, dispatch.ended_at = "expired", now
                self.records.log(session, task.row, SYSTEM, "dispatch_expired", now, data={
                    "guard": dispatch.guard, "due_at": dispatch.accept_due_at})
                audit.record(session, SYSTEM, "dispatch.expired", target=f"task:{task_id}",
                             detail={"guard": dispatch.guard}, at=now)
                out.notices.append(self.records.notice(
                    task, "escalation", ("supervisor",), now,
                    f"保安 {dispatch.guard} 未在时限内接单，已改派 / guard {dispatch.guard} did not accept; re-dispatched"))
                out.hub.append(HubMessage("guard.updated", {"guard": dispatch.guard}))
                task.row.assignee, task.row.dispatch_state = None, None
                self.guards.assign(session, task, None, SYSTEM, now, out, reason="not accepted")
        for effect in task.machine.fire_due(now):
            self._apply_effect(session, task, effect, now, out)
        self.records.save(task, out)

    def _apply_effect(self, session: Session, task: Loaded, effect: Effect, now: datetime, out: Outcome) -> None:
        state = task.machine.steps[effect.step]
        detail: dict[str, Any] = {"effect": effect.kind, "due_at": state.due_at, "notify": list(effect.roles)}
        if effect.answer is not None:
            detail["answer"] = effect.answer
        self.records.log(session, task.row, SYSTEM, "deadline", now, step=effect.step, data=detail)
        audit.record(session, SYSTEM, "task.deadline", target=f"task:{task.row.id}",
                     detail={"step": effect.step, **detail}, at=now)
        step = task.machine.step(effect.step)
        if effect.kind == "advanced":
            text = f"{step.text.zh}：超时未答，按“{effect.answer}”处置 / no answer in time, handled as '{effect.answer}'"
            out.notices.append(self.records.notice(task, "advanced", effect.roles, now, text))
        elif effect.kind == "redispatch":
            out.notices.append(self.records.notice(task, "escalation", effect.roles, now,
                                            f"{step.text.zh}：超时，增派 / overdue, sending another guard"))
            sent = self.guards.assign(session, task, None, SYSTEM, now, out, reason=f"deadline {effect.step}",
                                  keep_accepted=True)
            if sent is None:  # nobody free: the escalation repeats after the same time again
                task.machine.rearm(effect.step, now)
        else:
            out.notices.append(self.records.notice(task, "deadline", effect.roles, now,
                                            f"{step.text.zh}：已超时 / overdue"))


def _looks_like(content: bytes, content_type: str) -> bool:
    if content_type == "image/jpeg":
        return content.startswith(b"\xff\xd8\xff")
    if content_type == "image/png":
        return content.startswith(b"\x89PNG\r\n\x1a\n")
    return content[:4] == b"RIFF" and content[8:12] == b"WEBP"
