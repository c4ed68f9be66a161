"""The guard side of the task engine: dispatching guards to a task's scene, the guard's own steps
(accept, decline, go, arrive by location code, report), shifts and checkpoint scans.

It works on the task's record (console/tasks/records.py: loading, saving, logging, notices) like
the alarm side of the engine (console/tasks/service.py), which calls ``assign`` to send a guard by
itself, and follows the same rules (the caller's transaction, an explicit ``now``, one lock order:
task, dispatches, guards, audit).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from console.messages import HubMessage
from console.store import audit
from console.store.tables import ACTIVE_DISPATCH, DispatchRow, GuardRow, TaskRow, UserRow
from console.tasks import places
from console.tasks.machine import TaskError
from console.tasks.outcome import SYSTEM, Forbidden, Loaded, NotFound, Outcome
from console.tasks.records import TaskRecords

TRIED_WINDOW = timedelta(minutes=10)
GUARD_FLOW = ("assigned", "accepted", "en_route", "on_scene", "reported")
# A guard's action on a dispatch → the dispatch's state after it (also the task log's action).
GUARD_ACTIONS = {"accept": "accepted", "en_route": "en_route", "arrive": "on_scene", "report": "reported",
                 "decline": "declined"}


class GuardDispatch:
    def __init__(self, records: TaskRecords) -> None:
        self.records = records

    def dispatch(self, session: Session, task_id: int, guard: str | None, user: str, now: datetime,
                 key: str | None = None, client: str = "") -> Outcome:
        """Send ``guard`` (or the nearest free guard) to the task's scene; replaces a current dispatch."""
        out = Outcome()
        task = self.records.for_action(session, task_id, key, out, open_only=True)
        if task is None:
            return out
        chosen = self.assign(session, task, guard, user, now, out, reason="manual", key=key)
        if chosen is None:
            raise TaskError("dispatch.no_free_guard", "no free guard is on shift; dispatch one by name or call the supervisor")
        audit.record(session, user, "task.dispatch", target=f"task:{task_id}", detail={"guard": chosen},
                     client=client, at=now)
        self.records.finish(session, out)
        return out

    def proposals(self, session: Session, task_id: int) -> list[dict[str, Any]]:
        """Free guards on shift, nearest first, with why."""
        task = self.records.load(session, task_id)
        scene = self.records.scene_of(task.row)
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

    def assign(self, session: Session, task: Loaded, guard: str | None, user: str, now: datetime,
                  out: Outcome, reason: str, key: str | None = None, keep_accepted: bool = False) -> str | None:
        """Send a guard. ``keep_accepted``: guards who accepted and are on their way stay on the
        task (the new guard is a backup); otherwise every current dispatch is replaced."""
        scene = self.records.scene_of(task.row)
        # Lock the guards on shift (in name order) before reading who is free: two dispatches
        # at once, from two tasks or two console instances, cannot pick the same guard.
        on_shift = session.scalars(select(GuardRow.username).where(GuardRow.on_shift.is_(True))
                                   .order_by(GuardRow.username).with_for_update()).all()
        if guard is None:
            # Nobody on shift (a storm at night, or no guards set up): no need to ask who is free.
            tried = self._tried(session, task.row.id, now) if on_shift else set()
            free = [(g, d) for g, d in self._free_guards(session, scene)
                    if g.username not in tried] if on_shift else []
            if not free:
                self.records.log(session, task.row, SYSTEM, "no_free_guard", now, data={"reason": reason})
                out.notices.append(self.records.notice(task, "no_guard", ("supervisor",), now,
                                                "没有空闲的在岗保安 / no free guard on shift"))
                out.touched[task.row.id] = task.row
                return None
            guard = free[0][0].username
        else:
            row = session.get(GuardRow, guard)
            account = session.scalar(select(UserRow.disabled).where(UserRow.username == guard,
                                                                    UserRow.role == "guard"))
            if row is None or not row.on_shift or account is None or account:
                raise TaskError("dispatch.guard_off_shift", f"guard {guard!r} is not on shift", guard=guard)
            busy = session.scalar(select(DispatchRow.task_id).where(
                DispatchRow.guard == guard, DispatchRow.state.in_(ACTIVE_DISPATCH),
                DispatchRow.task_id != task.row.id))
            if busy is not None:
                raise TaskError("dispatch.guard_busy", f"guard {guard!r} is busy with task {busy}", guard=guard, task=busy)
        for current in self.active_dispatches(session, task.row.id):
            if current.guard == guard:
                return guard  # already on it: dispatching again changes nothing
            if keep_accepted and current.state != "assigned":
                continue
            current.state, current.ended_at = "replaced", now
            out.hub.append(HubMessage("guard.updated", {"guard": current.guard}))
        dispatch = DispatchRow(task_id=task.row.id, guard=guard, state="assigned", assigned_by=user,
                               assigned_at=now, accept_due_at=now + self.records.accept_window)
        session.add(dispatch)
        session.flush()
        task.row.assignee, task.row.dispatch_state = guard, "assigned"
        first = task.machine.complete_by("dispatch", user, now, {"guard": guard})
        if not first:  # a re-dispatch: the guard's running deadline starts again for the new guard
            for step in task.sop.steps:
                state = task.machine.steps[step.id]
                if step.role == "guard" and state.deadline_fired and state.status == "open":
                    task.machine.rearm(step.id, now)
        self.records.log(session, task.row, user, "dispatch", now, data={
            "guard": guard, "dispatch_id": dispatch.id, "reason": reason,
        }, key=key)
        out.notices.append(self.records.notice(task, "dispatch", (), now, "请立即前往现场 / go to the scene now",
                                        users=(guard,)))
        out.hub.append(HubMessage("guard.updated", {"guard": guard}))
        self.records.save(task, out)
        return guard

    def guard_step(self, session: Session, dispatch_id: int, user: str, action: str, now: datetime,
                   code: str | None = None, text: str | None = None, client: str = "") -> Outcome:
        """The guard moves their dispatch on: accept, decline, en_route, arrive (with the scanned
        location code), report. Repeating a step already taken is a no-op, so a phone may retry."""
        out = Outcome()
        task_id = session.scalar(select(DispatchRow.task_id).where(DispatchRow.id == dispatch_id,
                                                                   DispatchRow.guard == user))
        if task_id is None:
            raise NotFound("dispatch.not_found", f"no dispatch {dispatch_id} for {user}", dispatch=dispatch_id)
        task = self.records.load(session, task_id, lock=True)  # the lock order: the task, then its dispatch
        dispatch = session.get(DispatchRow, dispatch_id, with_for_update=True, populate_existing=True)
        assert dispatch is not None
        target = GUARD_ACTIONS.get(action)
        if target is None:
            raise TaskError("dispatch.unknown_action", f"unknown dispatch action {action!r}", action=action)
        if dispatch.state == target or (target in GUARD_FLOW and dispatch.state in GUARD_FLOW
                                        and GUARD_FLOW.index(dispatch.state) > GUARD_FLOW.index(target)):
            out.replayed = True
            return out
        if dispatch.state not in ACTIVE_DISPATCH:
            raise TaskError("dispatch.ended", f"this dispatch has ended ({dispatch.state})", state=dispatch.state)
        detail: dict[str, Any] = {"dispatch_id": dispatch_id}
        if action == "decline":
            if dispatch.state != "assigned":
                raise TaskError("dispatch.decline_accepted", "only a dispatch not yet accepted can be declined")
            dispatch.state, dispatch.ended_at = "declined", now
            detail["reason"] = text
            self.records.log(session, task.row, user, "declined", now, data=detail)
            audit.record(session, user, "dispatch.declined", target=f"task:{task.row.id}", detail=detail,
                         client=client, at=now)
            out.notices.append(self.records.notice(task, "escalation", ("supervisor",), now,
                                            f"保安 {user} 拒绝出警 / guard {user} declined"))
            self.assign(session, task, None, SYSTEM, now, out, reason="declined")
            self.records.save(task, out)
            self.records.finish(session, out)
            return out
        if action == "arrive":
            if not code:
                raise TaskError("dispatch.arrival_needs_code", "arrival is proven by scanning the location's QR code")
            tag = self.records.tags.read(session, code)
            site, place = tag.site, tag.place or places.Place()
            # What is kept of the code: the tag and its issue, never the signed code itself (the
            # task, its log and its steps are shown to the other guards on it).
            proof = f"{tag.site}:{tag.key}#{tag.issue}"
            scene = self.records.scene_of(task.row)
            if (site, place) != (task.row.site, scene):
                raise TaskError("dispatch.wrong_place", f"this code is for {place.label()}; the alarm is at {scene.label()}",
                                here=place.label(), scene=scene.label())
            dispatch.arrival_proof = proof[:200]
            self._move_guard(session, user, place, now)
            detail["code"] = proof
            for step_id in task.machine.complete_by("arrival", user, now, {"code": proof}):
                self.records.log(session, task.row, user, "answer", now, step=step_id, data={"by": "arrival"})
        if action == "report":
            if dispatch.state != "on_scene":
                raise TaskError("dispatch.report_needs_arrival", "report from the scene: scan the location's QR code first")
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
        self.records.log(session, task.row, user, target, now, data=detail)
        audit.record(session, user, f"dispatch.{target}", target=f"task:{task.row.id}", detail=detail,
                     client=client, at=now)
        out.hub.append(HubMessage("guard.updated", {"guard": user}))
        self.records.save(task, out)
        self.records.finish(session, out)
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
                raise TaskError("guard.busy_sign_off", f"finish or hand over task {busy} before signing off", task=busy)
        guard.on_shift = on
        if on:
            guard.shift_started_at = now
        else:
            guard.shift_ended_at = now
        audit.record(session, user, "guard.shift_on" if on else "guard.shift_off", target=f"guard:{user}",
                     client=client, at=now)
        out.hub.append(HubMessage("guard.updated", {"guard": user}))
        return out

    def scan(self, session: Session, user: str, code: str, now: datetime, client: str = "",
             scanned_at: datetime | None = None) -> Outcome:
        """A checkpoint scan: the console now knows where the guard is. If the guard is dispatched
        to exactly this place, the scan is their arrival, unless the phone took it before the
        dispatch (a scan queued offline and sent later proves nothing about this alarm)."""
        tag = self.records.tags.read(session, code)
        site, place = tag.site, tag.place or places.Place()
        active = session.scalars(select(DispatchRow).where(
            DispatchRow.guard == user, DispatchRow.state.in_(("assigned", "accepted", "en_route")))).all()
        for dispatch in active:
            if scanned_at is not None and scanned_at < dispatch.assigned_at:
                continue
            task = session.get(TaskRow, dispatch.task_id)
            scene = self.records.scene_of(task) if task is not None else None
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

    def active_dispatches(self, session: Session, task_id: int) -> list[DispatchRow]:
        return list(session.scalars(select(DispatchRow).where(
            DispatchRow.task_id == task_id, DispatchRow.state.in_(ACTIVE_DISPATCH))))

    def require_on_task(self, session: Session, task: TaskRow, user: str, step_role: str | None) -> None:
        if step_role is not None and step_role != "guard":
            raise Forbidden("task.guard_steps_only", "a guard answers only the guard's steps")
        on_it = session.scalar(select(DispatchRow.id).where(
            DispatchRow.task_id == task.id, DispatchRow.guard == user,
            DispatchRow.state.in_(("accepted", "en_route", "on_scene", "reported"))))
        if on_it is None:
            raise Forbidden("task.guard_not_dispatched",
                            "only the guard dispatched to this task (and who accepted it) may act on it")


def _place(guard: GuardRow) -> places.Place:
    return places.Place(guard.building, guard.floor, guard.zone)

