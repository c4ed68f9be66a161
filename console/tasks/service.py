"""The task engine over the store: open a task per alarm, answer steps, dispatch guards, fire
deadlines, close. Every method works inside the caller's write transaction and takes ``now``
explicitly, so the same code runs live, after a restart and in tests on a controlled clock.

Locks are always taken in one order, so that two console instances on PostgreSQL never deadlock:
the alarm row, then the task row, then its dispatches, then guard rows, then the audit chain's
advisory lock. Retried actions (same ``action_id``) are recognised after the task lock is held,
so a retry that arrives while the first attempt is still running waits and then replays.

Each method returns what the caller must do after the commit (``Outcome``): messages for the
WebSocket hub and notices for the notifier. Every action lands in the task's log and in the
audit chain with its actor and time, in the same transaction as the change itself.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from console import audit
from console.alarms.engine import AlarmChange, acknowledge
from console.messages import HubMessage
from console.registry import DeviceRegistry
from console.settings import Settings
from console.store.tables import ACTIVE_DISPATCH, AlarmRow, DispatchRow, EvidenceRow, GuardRow, TaskLogRow, TaskRow, UserRow
from console.tasks import places
from console.tasks.machine import Effect, TaskError, TaskMachine
from console.tasks.sop import Sop, SopBook
from console.tasks.views import task_summary
from console.views import alarm_view

log = logging.getLogger("mcc.tasks")

TRIED_WINDOW = timedelta(minutes=10)
GUARD_FLOW = ("assigned", "accepted", "en_route", "on_scene", "reported")
SYSTEM = "system"
APPROVERS = frozenset({"supervisor", "admin"})
OPERATORS = frozenset({"operator", "supervisor", "admin"})
PHOTO_TYPES = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


class NotFound(TaskError):
    """No such task, dispatch or guard (the API answers 404)."""


class Forbidden(TaskError):
    """The user's role may not take this action on this task (the API answers 403)."""


@dataclass(frozen=True)
class Notice:
    """A message to people outside the console (group bots, e-mail), sent after the commit."""

    task_id: int
    kind: str  # dispatch, deadline, escalation, no_guard, advanced
    title: str
    body: str
    roles: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    drill: bool = False


@dataclass
class Outcome:
    hub: list[HubMessage] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    touched: dict[int, TaskRow] = field(default_factory=dict)
    replayed: bool = False
    """True when the request repeated an action already applied (same action key)."""


@dataclass
class _Loaded:
    row: TaskRow
    sop: Sop
    machine: TaskMachine


class TaskService:
    def __init__(self, settings: Settings, book: SopBook, registry: DeviceRegistry, evidence_dir: Path):
        self.settings = settings
        self.book = book
        self.registry = registry
        self.evidence_dir = evidence_dir
        self.accept_window = timedelta(seconds=settings.dispatch.accept_seconds)
        self.sites = {settings.site.id} | {device.site for device in settings.devices.entries if device.site}
        """The sites whose location codes this console accepts (a console may serve several)."""

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
                task = self._load(session, alarm.task_id, lock=True)
                if task.row.state == "open":
                    self._log(session, task.row, SYSTEM, "alarm_cleared", now,
                              data={"alarm_id": alarm.id, "cleared_at": alarm.cleared_at})
                    out.touched[task.row.id] = task.row
        self.finish(session, out)
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
        self.finish(session, out)
        return out

    def on_alarm_acked(self, session: Session, alarm: AlarmRow, user: str, now: datetime) -> Outcome:
        """An operator acknowledged the alarm: the SOP's acknowledgement step is done."""
        out = Outcome()
        if alarm.task_id is not None:
            task = self._load(session, alarm.task_id, lock=True)
            for step_id in task.machine.complete_by("alarm_ack", user, now):
                self._log(session, task.row, user, "answer", now, step=step_id, data={"by": "alarm_ack"})
            self._save(task, out)
        self.finish(session, out)
        return out

    def _open_for_alarm(self, session: Session, alarm: AlarmRow, now: datetime, out: Outcome) -> None:
        sop = self.book.by_alarm.get(alarm.kind)
        if sop is None or (alarm.shelved_until is not None and alarm.shelved_until > now):
            return  # a shelved source opens no task until its shelf expires
        if sop.correlate is not None and self._correlate(session, sop, alarm, now, out):
            return
        # ``now`` is the time of the event that raised (or brought back) the alarm: deadlines run from it.
        machine = TaskMachine(sop, self.book, now)
        row = TaskRow(
            site=alarm.site, sop_id=sop.id, alarm_id=alarm.id, alarm_kind=alarm.kind,
            device_id=alarm.device_id, point=alarm.point, severity_rank=alarm.severity_rank,
            state="open", drill=alarm.test, opened_at=now, steps=machine.dump_steps(),
            repeats=0, revision=0,
        )
        session.add(row)
        session.flush()
        alarm.task_id = row.id
        task = _Loaded(row, sop, machine)
        self._log(session, row, SYSTEM, "opened", now, data={
            "alarm_id": alarm.id, "sop": sop.id, "drill": alarm.test,
        })
        if alarm.acknowledged and alarm.acked_by:  # the alarm came back after it was acknowledged
            for step_id in machine.complete_by("alarm_ack", alarm.acked_by, alarm.acked_at or now):
                self._log(session, row, alarm.acked_by, "answer", now, step=step_id, data={"by": "alarm_ack"})
        self._save(task, out)
        dispatch_step = next((s for s in sop.steps if s.type == "dispatch"), None)
        if dispatch_step is not None and dispatch_step.auto_assign:
            self._dispatch(session, task, None, SYSTEM, now, out, reason="auto")

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
            if self.scene_of(row) != scene or (row.device_id, row.point) == (alarm.device_id, alarm.point):
                continue
            task = self._load(session, row.id, lock=True)
            alarm.task_id = row.id
            task.machine.repeat(now)
            why = {"alarm_id": alarm.id, "device_id": alarm.device_id, "point": alarm.point,
                   "reason": "same_zone", "zone": scene.label(), "window_s": sop.correlate.window_seconds}
            self._log(session, row, SYSTEM, "correlated", now, data=why)
            answer = sop.correlate.answer
            if answer is not None and task.machine.steps[answer.step].status == "open":
                task.machine.answer(answer.step, answer.answer, "correlation", now)
                self._log(session, row, SYSTEM, "answer", now, step=answer.step,
                          data={"value": answer.answer, "by": "correlation", **why})
                audit.record(session, SYSTEM, "task.answer", target=f"task:{row.id}",
                             detail={"step": answer.step, "value": answer.answer, "by": "correlation",
                                     "second_device": f"{alarm.device_id} {alarm.point}".strip()}, at=now)
                out.notices.append(self._notice(
                    task, "advanced", ("supervisor", "project_manager"), now,
                    f"同一区域第二个探测器报警，按确认火警处置 / a second device in the zone: handled as confirmed "
                    f"({location.label or alarm.device_id})"))
            self._save(task, out)
            return True
        return False

    def open_checklist(self, session: Session, sop_id: str, user: str, now: datetime, client: str = "") -> Outcome:
        """A task with no alarm behind it, such as the shift handover checklist."""
        sop = self.book.sops.get(sop_id)
        if sop is None or sop.kind != "checklist":
            raise TaskError(f"no checklist SOP {sop_id!r}")
        out = Outcome()
        machine = TaskMachine(sop, self.book, now)
        row = TaskRow(site=self.settings.site.id, sop_id=sop.id, alarm_id=None, alarm_kind="", device_id="",
                      point="", severity_rank=9, state="open", drill=False, opened_at=now,
                      steps=machine.dump_steps(), repeats=0, revision=0)
        session.add(row)
        session.flush()
        self._log(session, row, user, "opened", now, data={"sop": sop.id})
        audit.record(session, user, "task.open", target=f"task:{row.id}", detail={"sop": sop.id},
                     client=client, at=now)
        self._save(_Loaded(row, sop, machine), out)
        self.finish(session, out)
        return out

    def _repeat(self, session: Session, alarm: AlarmRow, now: datetime, out: Outcome) -> None:
        if alarm.task_id is None:
            # The alarm has no task (its SOP came later, or opening it failed): open one now.
            self._open_for_alarm(session, alarm, now, out)
            return
        task = self._load(session, alarm.task_id, lock=True)  # the state is read under the lock
        if task.row.state != "open" or task.sop.repeat == "new":
            # A closed task is history: the alarm coming back opens a new one.
            self._open_for_alarm(session, alarm, now, out)
            return
        task.machine.repeat(now)
        self._log(session, task.row, SYSTEM, "repeat", now, data={"count": alarm.count, "rule": task.sop.repeat})
        self._save(task, out)

    # -- people act ----------------------------------------------------------------------------

    def answer(self, session: Session, task_id: int, step_id: str, value: Any, user: str, role: str,
               now: datetime, key: str | None = None, client: str = "") -> Outcome:
        out = Outcome()
        alarm_id = session.scalar(select(TaskRow.alarm_id).where(TaskRow.id == task_id))
        if alarm_id is not None:  # the lock order: the alarm row before the task row
            session.get(AlarmRow, alarm_id, with_for_update=True)
        task = self._load(session, task_id, lock=True)
        if self._seen(session, key, out):
            return out
        step = task.machine.step(step_id)
        if step.completed_by == "arrival":
            raise TaskError(f"到场须由被派遣的保安扫描现场二维码 / step {step_id} is done when the dispatched "
                            "guard scans the location's QR code")
        if step.type == "dispatch":
            raise TaskError(f"此步骤通过派遣保安完成 / step {step_id} is done by dispatching a guard (POST /api/tasks/{task_id}/dispatch)")
        if step.type == "photo" and value is None:
            raise TaskError(f"此步骤通过上传照片完成 / step {step_id} is done by uploading a photo")
        if step.type == "approval":
            self._check_signature(task, step_id, step.role, user, role)
        if role == "guard":
            self._require_guard_on_task(session, task.row, user, step.role)
        if step.type in ("check", "approval") and value is None:
            value = True
        task.machine.answer(step_id, value, user, now)
        self._log(session, task.row, user, "answer", now, step=step_id, data={"value": value}, key=key)
        audit.record(session, user, "task.answer", target=f"task:{task_id}",
                     detail={"step": step_id, "value": value}, client=client, at=now)
        if step.completed_by == "alarm_ack" and task.row.alarm_id is not None:
            alarm = session.get(AlarmRow, task.row.alarm_id)
            if alarm is not None and acknowledge(alarm, user, f"SOP {task.sop.id}: {step_id}", now):
                audit.record(session, user, "alarm.ack", target=f"alarm:{alarm.id}",
                             detail={"via": f"task:{task_id}", "kind": alarm.kind}, client=client, at=now)
                out.hub.append(HubMessage("alarm.acked", alarm_view(alarm, self.registry)))
        self._save(task, out)
        self.finish(session, out)
        return out

    @staticmethod
    def _check_signature(task: _Loaded, step_id: str, step_role: str, user: str, role: str) -> None:
        """An approval is a signature: a supervisor's step needs a supervisor, an operator's step an
        operator (or above), and nobody signs two approvals of one task (four eyes)."""
        allowed = APPROVERS if step_role in ("supervisor", "project_manager") else OPERATORS
        if role not in allowed:
            who = "a supervisor's" if allowed is APPROVERS else "an operator's"
            raise Forbidden(f"无权签署此步骤 / step {step_id} needs {who} signature")
        for other in task.sop.steps:
            state = task.machine.steps[other.id]
            if other.type == "approval" and other.id != step_id and state.status == "done" and state.actor == user:
                raise TaskError(f"同一人不能签署两次，须由另一人签字 / {user} already signed {other.id}; the second signature must be someone else's")

    def comment(self, session: Session, task_id: int, text: str, user: str, role: str, now: datetime,
                key: str | None = None, client: str = "") -> Outcome:
        out = Outcome()
        task = self._load(session, task_id, lock=True)
        if self._seen(session, key, out):
            return out
        if role == "guard":
            self._require_guard_on_task(session, task.row, user, None)
        self._log(session, task.row, user, "comment", now, data={"text": text}, key=key)
        audit.record(session, user, "task.comment", target=f"task:{task_id}", detail={"text": text},
                     client=client, at=now)
        out.touched[task.row.id] = task.row
        self.finish(session, out)
        return out

    def add_photo(self, session: Session, task_id: int, step_id: str | None, content: bytes, content_type: str,
                  user: str, role: str, now: datetime, key: str | None = None, client: str = "") -> Outcome:
        """Keep a photo by its SHA-256 (the same photo twice is kept once), put the hash in the audit
        chain, and complete the step when it is a photo step."""
        out = Outcome()
        task = self._load(session, task_id, lock=True)
        if self._seen(session, key, out):
            return out
        if task.row.state != "open":
            raise TaskError("任务已关闭 / the task is closed")
        if content_type not in PHOTO_TYPES:
            raise TaskError(f"照片须为 JPEG、PNG 或 WebP / photos are JPEG, PNG or WebP, not {content_type!r}")
        if len(content) > self.settings.evidence.max_bytes:
            raise TaskError(f"照片太大 / the photo is larger than {self.settings.evidence.max_bytes} bytes")
        if not _looks_like(content, content_type):
            raise TaskError(f"文件不是有效的图片 / the body is not a {content_type} image")
        step = task.machine.step(step_id) if step_id else None
        if role == "guard":
            self._require_guard_on_task(session, task.row, user, step.role if step else None)
        digest = hashlib.sha256(content).hexdigest()
        existing = session.scalar(select(EvidenceRow).where(EvidenceRow.task_id == task_id,
                                                            EvidenceRow.sha256 == digest))
        if existing is None:
            path = self.evidence_path(digest)
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                tmp = path.with_suffix(".part")
                tmp.write_bytes(content)
                tmp.replace(path)
            existing = EvidenceRow(task_id=task_id, step=step_id, sha256=digest, content_type=content_type,
                                   size=len(content), uploaded_by=user, uploaded_at=now)
            session.add(existing)
            session.flush()
            audit.record(session, user, "task.photo", target=f"task:{task_id}",
                         detail={"step": step_id, "sha256": digest, "size": len(content)}, client=client, at=now)
        self._log(session, task.row, user, "photo", now, step=step_id,
                  data={"evidence_id": existing.id, "sha256": digest}, key=key)
        if step is not None and step.type == "photo" and task.machine.steps[step.id].status == "open":
            task.machine.answer(step.id, {"evidence": [existing.id], "sha256": digest}, user, now)
            audit.record(session, user, "task.answer", target=f"task:{task_id}",
                         detail={"step": step.id, "value": {"sha256": digest}}, client=client, at=now)
        self._save(task, out)
        self.finish(session, out)
        return out

    def evidence_path(self, digest: str) -> Path:
        return self.evidence_dir / digest[:2] / digest

    def close(self, session: Session, task_id: int, user: str, role: str, now: datetime,
              reason: str | None = None, key: str | None = None, client: str = "") -> Outcome:
        out = Outcome()
        task = self._load(session, task_id, lock=True)
        if self._seen(session, key, out):
            return out
        missing = task.machine.open_required()
        task.machine.close(user, role, now, reason)
        task.row.state, task.row.closed_at, task.row.closed_by = "closed", now, user
        task.row.close_reason = reason
        for dispatch in self._active_dispatches(session, task_id):
            dispatch.state, dispatch.ended_at = "cancelled", now
            out.hub.append(HubMessage("guard.updated", {"guard": dispatch.guard}))
        task.row.dispatch_state = None
        detail = {"reason": reason, "overridden": missing}
        self._log(session, task.row, user, "close", now, data=detail, key=key)
        audit.record(session, user, "task.close", target=f"task:{task_id}", detail=detail, client=client, at=now)
        self._save(task, out)
        self.finish(session, out)
        return out

    # -- dispatch ----------------------------------------------------------------------------

    def dispatch(self, session: Session, task_id: int, guard: str | None, user: str, now: datetime,
                 key: str | None = None, client: str = "") -> Outcome:
        """Send ``guard`` (or the nearest free guard) to the task's scene; replaces a current dispatch."""
        out = Outcome()
        task = self._load(session, task_id, lock=True)
        if self._seen(session, key, out):
            return out
        if task.row.state != "open":
            raise TaskError("任务已关闭 / the task is closed")
        chosen = self._dispatch(session, task, guard, user, now, out, reason="manual", key=key)
        if chosen is None:
            raise TaskError("没有空闲的在岗保安；请指定保安或联系主管 / no free guard is on shift; dispatch one by name or call the supervisor")
        audit.record(session, user, "task.dispatch", target=f"task:{task_id}", detail={"guard": chosen},
                     client=client, at=now)
        self.finish(session, out)
        return out

    def proposals(self, session: Session, task_id: int) -> list[dict[str, Any]]:
        """Free guards on shift, nearest first, with why."""
        task = self._load(session, task_id)
        scene = self.scene_of(task.row)
        tried = self._tried(session, task_id, datetime.now(timezone.utc))
        ranked = []
        for guard, dist in self._free_guards(session, scene):
            ranked.append({
                "guard": guard.username, "distance": dist, "place": _place(guard).label(),
                "place_at": guard.location_at.isoformat() if guard.location_at else None,
                "tried": guard.username in tried,
            })
        ranked.sort(key=lambda g: (g["tried"], g["distance"]))
        return ranked

    def _dispatch(self, session: Session, task: _Loaded, guard: str | None, user: str, now: datetime,
                  out: Outcome, reason: str, key: str | None = None, keep_accepted: bool = False) -> str | None:
        """Send a guard. ``keep_accepted``: guards who accepted and are on their way stay on the
        task (the new guard is a backup); otherwise every current dispatch is replaced."""
        scene = self.scene_of(task.row)
        # Lock the guards on shift (in name order) before reading who is free: two dispatches
        # at once, from two tasks or two console instances, cannot pick the same guard.
        session.execute(select(GuardRow.username).where(GuardRow.on_shift.is_(True))
                        .order_by(GuardRow.username).with_for_update())
        if guard is None:
            tried = self._tried(session, task.row.id, now)
            free = [(g, d) for g, d in self._free_guards(session, scene) if g.username not in tried]
            if not free:
                self._log(session, task.row, SYSTEM, "no_free_guard", now, data={"reason": reason})
                out.notices.append(self._notice(task, "no_guard", ("supervisor",), now,
                                                "没有空闲的在岗保安 / no free guard on shift"))
                out.touched[task.row.id] = task.row
                return None
            guard = free[0][0].username
        else:
            row = session.get(GuardRow, guard)
            account = session.scalar(select(UserRow.disabled).where(UserRow.username == guard,
                                                                    UserRow.role == "guard"))
            if row is None or not row.on_shift or account is None or account:
                raise TaskError(f"保安 {guard} 不在岗 / guard {guard!r} is not on shift")
            busy = session.scalar(select(DispatchRow.task_id).where(
                DispatchRow.guard == guard, DispatchRow.state.in_(ACTIVE_DISPATCH),
                DispatchRow.task_id != task.row.id))
            if busy is not None:
                raise TaskError(f"保安 {guard} 正在处理任务 {busy} / guard {guard!r} is busy with task {busy}")
        for current in self._active_dispatches(session, task.row.id):
            if current.guard == guard:
                return guard  # already on it: dispatching again changes nothing
            if keep_accepted and current.state != "assigned":
                continue
            current.state, current.ended_at = "replaced", now
            out.hub.append(HubMessage("guard.updated", {"guard": current.guard}))
        dispatch = DispatchRow(task_id=task.row.id, guard=guard, state="assigned", assigned_by=user,
                               assigned_at=now, accept_due_at=now + self.accept_window)
        session.add(dispatch)
        session.flush()
        task.row.assignee, task.row.dispatch_state = guard, "assigned"
        first = task.machine.complete_by("dispatch", user, now, {"guard": guard})
        if not first:  # a re-dispatch: the guard's running deadline starts again for the new guard
            for step in task.sop.steps:
                state = task.machine.steps[step.id]
                if step.role == "guard" and state.deadline_fired and state.status == "open":
                    task.machine.rearm(step.id, now)
        self._log(session, task.row, user, "dispatch", now, data={
            "guard": guard, "dispatch_id": dispatch.id, "reason": reason,
        }, key=key)
        out.notices.append(self._notice(task, "dispatch", (), now, "请立即前往现场 / go to the scene now",
                                        users=(guard,)))
        out.hub.append(HubMessage("guard.updated", {"guard": guard}))
        self._save(task, out)
        return guard

    def guard_step(self, session: Session, dispatch_id: int, user: str, action: str, now: datetime,
                   code: str | None = None, text: str | None = None, client: str = "") -> Outcome:
        """The guard moves their dispatch on: accept, decline, en_route, arrive (with the scanned
        location code), report. Repeating a step already taken is a no-op, so a phone may retry."""
        out = Outcome()
        task_id = session.scalar(select(DispatchRow.task_id).where(DispatchRow.id == dispatch_id,
                                                                   DispatchRow.guard == user))
        if task_id is None:
            raise NotFound(f"no dispatch {dispatch_id} for {user}")
        task = self._load(session, task_id, lock=True)  # the lock order: the task, then its dispatch
        dispatch = session.get(DispatchRow, dispatch_id, with_for_update=True, populate_existing=True)
        assert dispatch is not None
        target = {"accept": "accepted", "en_route": "en_route", "arrive": "on_scene",
                  "report": "reported", "decline": "declined"}.get(action)
        if target is None:
            raise TaskError(f"unknown dispatch action {action!r}")
        if dispatch.state == target or (target in GUARD_FLOW and dispatch.state in GUARD_FLOW
                                        and GUARD_FLOW.index(dispatch.state) > GUARD_FLOW.index(target)):
            out.replayed = True
            return out
        if dispatch.state not in ACTIVE_DISPATCH:
            raise TaskError(f"该派遣已结束 / this dispatch has ended ({dispatch.state})")
        detail: dict[str, Any] = {"dispatch_id": dispatch_id}
        if action == "decline":
            if dispatch.state != "assigned":
                raise TaskError("已接单的派遣不能拒绝 / only a dispatch not yet accepted can be declined")
            dispatch.state, dispatch.ended_at = "declined", now
            detail["reason"] = text
            self._log(session, task.row, user, "declined", now, data=detail)
            audit.record(session, user, "dispatch.declined", target=f"task:{task.row.id}", detail=detail,
                         client=client, at=now)
            out.notices.append(self._notice(task, "escalation", ("supervisor",), now,
                                            f"保安 {user} 拒绝出警 / guard {user} declined"))
            self._dispatch(session, task, None, SYSTEM, now, out, reason="declined")
            self._save(task, out)
            self.finish(session, out)
            return out
        if action == "arrive":
            if not code:
                raise TaskError("到场须扫描现场位置二维码 / arrival is proven by scanning the location's QR code")
            site, place = places.parse_code(self.sites, code)
            scene = self.scene_of(task.row)
            if (site, place) != (task.row.site, scene):
                raise TaskError(f"位置不符：此码在 {place.label()}，报警在 {scene.label()} / this code is for {place.label()}; the alarm is at {scene.label()}")
            dispatch.arrival_proof = code[:200]
            self._move_guard(session, user, place, now)
            detail["code"] = code
            for step_id in task.machine.complete_by("arrival", user, now, {"code": code}):
                self._log(session, task.row, user, "answer", now, step=step_id, data={"by": "arrival"})
        if action == "report":
            if dispatch.state != "on_scene":
                raise TaskError("请先扫码到场再汇报 / report from the scene: scan the location's QR code first")
            dispatch.report = text
            detail["text"] = text
        if action == "en_route" and dispatch.state == "assigned":
            dispatch.accepted_at = now
        setattr(dispatch, {"accepted": "accepted_at", "en_route": "en_route_at", "on_scene": "on_scene_at",
                           "reported": "reported_at"}[target], now)
        if action == "arrive" and dispatch.accepted_at is None:
            dispatch.accepted_at = now
        dispatch.state = target
        dispatch.accept_due_at = None
        if target == "reported":
            dispatch.ended_at = now
        task.row.assignee, task.row.dispatch_state = user, target  # the guard who acted last leads
        self._log(session, task.row, user, target, now, data=detail)
        audit.record(session, user, f"dispatch.{target}", target=f"task:{task.row.id}", detail=detail,
                     client=client, at=now)
        out.hub.append(HubMessage("guard.updated", {"guard": user}))
        self._save(task, out)
        self.finish(session, out)
        return out

    # -- guards --------------------------------------------------------------------------------

    def shift(self, session: Session, user: str, on: bool, now: datetime, client: str = "") -> Outcome:
        out = Outcome()
        guard = session.get(GuardRow, user, with_for_update=True)
        if guard is None:
            guard = GuardRow(username=user, on_shift=False)
            session.add(guard)
        if guard.on_shift == on:
            out.replayed = True
            return out
        if not on:
            busy = session.scalar(select(DispatchRow.task_id).where(
                DispatchRow.guard == user, DispatchRow.state.in_(ACTIVE_DISPATCH)))
            if busy is not None:
                raise TaskError(f"请先完成或移交任务 {busy} 再下班 / finish or hand over task {busy} before signing off")
        guard.on_shift = on
        if on:
            guard.shift_started_at = now
        else:
            guard.shift_ended_at = now
        audit.record(session, user, "guard.shift_on" if on else "guard.shift_off", target=f"guard:{user}",
                     client=client, at=now)
        out.hub.append(HubMessage("guard.updated", {"guard": user}))
        return out

    def scan(self, session: Session, user: str, code: str, now: datetime, client: str = "") -> Outcome:
        """A checkpoint scan: the console now knows where the guard is. If the guard is dispatched
        to exactly this place, the scan is their arrival."""
        site, place = places.parse_code(self.sites, code)
        active = session.scalars(select(DispatchRow).where(
            DispatchRow.guard == user, DispatchRow.state.in_(("assigned", "accepted", "en_route")))).all()
        for dispatch in active:
            task = session.get(TaskRow, dispatch.task_id)
            scene = self.scene_of(task) if task is not None else None
            if task is not None and scene is not None and (task.site, scene) == (site, place):
                return self.guard_step(session, dispatch.id, user, "arrive", now, code=code, client=client)
        out = Outcome()
        self._move_guard(session, user, place, now)
        audit.record(session, user, "guard.scan", target=f"guard:{user}", detail={"code": code},
                     client=client, at=now)
        out.hub.append(HubMessage("guard.updated", {"guard": user}))
        return out

    def _move_guard(self, session: Session, user: str, place: places.Place, now: datetime) -> None:
        guard = session.get(GuardRow, user)
        if guard is None:
            guard = GuardRow(username=user, on_shift=False)
            session.add(guard)
        guard.building, guard.floor, guard.zone, guard.location_at = place.building, place.floor, place.zone, now

    def _free_guards(self, session: Session, scene: places.Place) -> list[tuple[GuardRow, int]]:
        busy = set(session.scalars(select(DispatchRow.guard).where(DispatchRow.state.in_(ACTIVE_DISPATCH))))
        guards = session.scalars(
            select(GuardRow).join(UserRow, UserRow.username == GuardRow.username)
            .where(GuardRow.on_shift.is_(True), UserRow.role == "guard", UserRow.disabled.is_(False))).all()
        ranked = [(g, places.distance(_place(g), scene)) for g in guards if g.username not in busy]
        # Nearest first; among equals, the freshest position is the one to trust.
        ranked.sort(key=lambda item: (item[1], -(item[0].location_at.timestamp() if item[0].location_at else 0),
                                      item[0].username))
        return ranked

    def _tried(self, session: Session, task_id: int, now: datetime) -> set[str]:
        """Guards who declined, let the dispatch expire, or were replaced on this task lately: not
        asked again for ``TRIED_WINDOW`` (after that, anyone free is better than no one)."""
        return set(session.scalars(select(DispatchRow.guard).where(
            DispatchRow.task_id == task_id, DispatchRow.state.in_(("declined", "expired", "replaced")),
            DispatchRow.ended_at > now - TRIED_WINDOW)))

    def _active_dispatches(self, session: Session, task_id: int) -> list[DispatchRow]:
        return list(session.scalars(select(DispatchRow).where(
            DispatchRow.task_id == task_id, DispatchRow.state.in_(ACTIVE_DISPATCH))))

    def _require_guard_on_task(self, session: Session, task: TaskRow, user: str, step_role: str | None) -> None:
        if step_role is not None and step_role != "guard":
            raise Forbidden("保安只能处理保安的步骤 / a guard answers only the guard's steps")
        on_it = session.scalar(select(DispatchRow.id).where(
            DispatchRow.task_id == task.id, DispatchRow.guard == user,
            DispatchRow.state.in_(("accepted", "en_route", "on_scene", "reported"))))
        if on_it is None:
            raise Forbidden("只有被派遣并已接单的保安可以操作 / only the guard dispatched to this task (and who accepted it) may act on it")

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
        self.finish(session, out)
        return out

    def _fire_task(self, session: Session, task_id: int, now: datetime, out: Outcome) -> None:
        task = self._load(session, task_id, lock=True)
        for dispatch in self._active_dispatches(session, task_id):
            if dispatch.state == "assigned" and dispatch.accept_due_at and dispatch.accept_due_at <= now:
                dispatch.state, dispatch.ended_at = "expired", now
                self._log(session, task.row, SYSTEM, "dispatch_expired", now, data={
                    "guard": dispatch.guard, "due_at": dispatch.accept_due_at})
                audit.record(session, SYSTEM, "dispatch.expired", target=f"task:{task_id}",
                             detail={"guard": dispatch.guard}, at=now)
                out.notices.append(self._notice(
                    task, "escalation", ("supervisor",), now,
                    f"保安 {dispatch.guard} 未在时限内接单，已改派 / guard {dispatch.guard} did not accept; re-dispatched"))
                out.hub.append(HubMessage("guard.updated", {"guard": dispatch.guard}))
                task.row.assignee, task.row.dispatch_state = None, None
                self._dispatch(session, task, None, SYSTEM, now, out, reason="not accepted")
        for effect in task.machine.fire_due(now):
            self._apply_effect(session, task, effect, now, out)
        self._save(task, out)

    def _apply_effect(self, session: Session, task: _Loaded, effect: Effect, now: datetime, out: Outcome) -> None:
        state = task.machine.steps[effect.step]
        detail = {"effect": effect.kind, "due_at": state.due_at, "notify": list(effect.roles)}
        if effect.answer is not None:
            detail["answer"] = effect.answer
        self._log(session, task.row, SYSTEM, "deadline", now, step=effect.step, data=detail)
        audit.record(session, SYSTEM, "task.deadline", target=f"task:{task.row.id}",
                     detail={"step": effect.step, **detail}, at=now)
        step = task.machine.step(effect.step)
        if effect.kind == "advanced":
            text = f"{step.text.zh}：超时未答，按“{effect.answer}”处置 / no answer in time, handled as '{effect.answer}'"
            out.notices.append(self._notice(task, "advanced", effect.roles, now, text))
        elif effect.kind == "redispatch":
            out.notices.append(self._notice(task, "escalation", effect.roles, now,
                                            f"{step.text.zh}：超时，增派 / overdue, sending another guard"))
            sent = self._dispatch(session, task, None, SYSTEM, now, out, reason=f"deadline {effect.step}",
                                  keep_accepted=True)
            if sent is None:  # nobody free: the escalation repeats after the same time again
                task.machine.rearm(effect.step, now)
        else:
            out.notices.append(self._notice(task, "deadline", effect.roles, now,
                                            f"{step.text.zh}：已超时 / overdue"))

    # -- loading, saving, logging ------------------------------------------------------------------

    def _load(self, session: Session, task_id: int, lock: bool = False) -> _Loaded:
        row = session.get(TaskRow, task_id, with_for_update=lock or None)
        if row is None:
            raise NotFound(f"no task {task_id}")
        sop = self.book.sops.get(row.sop_id)
        if sop is None:
            raise TaskError(f"task {task_id} follows SOP {row.sop_id}, which this console no longer has")
        machine = TaskMachine.load(sop, self.book, row.opened_at, row.steps, row.repeats, row.closed_at,
                                   row.close_reason)
        return _Loaded(row, sop, machine)

    def _save(self, task: _Loaded, out: Outcome) -> None:
        row, machine = task.row, task.machine
        row.steps = machine.dump_steps()
        row.repeats = machine.repeats
        dues = [machine.next_due()] if row.state == "open" else []
        out.touched[row.id] = row
        row.next_due_at = min((d for d in dues if d is not None), default=None)

    def finish(self, session: Session, out: Outcome) -> None:
        """Fold in dispatch acceptance deadlines, bump revisions, and queue one task.updated per task."""
        for row in out.touched.values():
            if row.state == "open":
                accept = session.scalar(select(func.min(DispatchRow.accept_due_at)).where(
                    DispatchRow.task_id == row.id, DispatchRow.state == "assigned"))
                if accept is not None and (row.next_due_at is None or accept < row.next_due_at):
                    row.next_due_at = accept
            else:
                row.next_due_at = None
            row.revision = (row.revision or 0) + 1
            sop = self.book.sops.get(row.sop_id)
            view = task_summary(row, sop, self.registry)
            # Every guard on the task (a backup guard too) gets its updates on their phone.
            view["guards"] = sorted(set(session.scalars(select(DispatchRow.guard).where(
                DispatchRow.task_id == row.id, DispatchRow.state.in_(ACTIVE_DISPATCH)))) | (
                {row.assignee} if row.assignee else set()))
            out.hub.append(HubMessage("task.updated", view))
        out.touched.clear()

    def _seen(self, session: Session, key: str | None, out: Outcome) -> bool:
        if key and session.scalar(select(TaskLogRow.id).where(TaskLogRow.action_key == key)) is not None:
            out.replayed = True
            return True
        return False

    def _log(self, session: Session, row: TaskRow, actor: str, action: str, at: datetime,
             step: str | None = None, data: dict[str, Any] | None = None, key: str | None = None) -> None:
        clean = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in (data or {}).items()}
        session.add(TaskLogRow(task_id=row.id, at=at, actor=actor[:64], action=action, step=step,
                               data=clean, action_key=key))

    def scene_of(self, row: TaskRow) -> places.Place:
        location = self.registry.location(row.site, row.device_id, row.point)
        return places.Place(location.building, location.floor, location.zone)

    def _notice(self, task: _Loaded, kind: str, roles: tuple[str, ...], now: datetime, what: str,
                users: tuple[str, ...] = ()) -> Notice:
        row = task.row
        location = self.registry.location(row.site, row.device_id, row.point)
        drill = "【演练】" if row.drill else ""
        title = f"{drill}[{self.settings.site.name or row.site}] {task.sop.title.zh} #{row.id}"
        body = f"{what}\n位置 / place: {location.label or row.device_id}\n时间 / time: {now.isoformat(timespec='seconds')}"
        return Notice(row.id, kind, title, body, tuple(roles), users, row.drill)


def _place(guard: GuardRow) -> places.Place:
    return places.Place(guard.building, guard.floor, guard.zone)


def _looks_like(content: bytes, content_type: str) -> bool:
    if content_type == "image/jpeg":
        return content.startswith(b"\xff\xd8\xff")
    if content_type == "image/png":
        return content.startswith(b"\x89PNG\r\n\x1a\n")
    return content[:4] == b"RIFF" and content[8:12] == b"WEBP"
