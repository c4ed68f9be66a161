"""Rounds: made from the schedules ahead of time, assigned to the guards on shift, started by the
first scan (or the guard's "start"), scanned point by point, and finished. Everything that decides
late or missed is a due time stored with the round or the point, so a restart changes nothing:

- a round not started by ``start_by`` (its due time plus the start window) is **missed**
  (``patrol.round_missed``, SOP 13);
- a point of a started round gets its ``due_at`` at the start: an ordered route's point is due at
  the start plus the expected minutes up to it plus the tolerance; an any-order route's points are
  due at the round's limit. Scanned after it, the point is **late**; not scanned by then, it is
  **missed** (``patrol.checkpoint_missed``, SOP 13, with the guard's last known point). A missed
  point scanned afterwards is marked late and answers SOP 13's "scanned in the grace window?";
- the round ends when every point is scanned (done, or late if one was late) or at its limit
  (incomplete: the points left are missed).

Every scan is an event (``patrol.checkpoint``, time-stamped by the server, with the tag and the
scan time the phone or wand gave); a failed checklist item is a ``patrol.defect`` (a work order for
engineering or the supervisor); a note or photo alone is a ``patrol.finding``. These events go into
the event outbox in the same transaction and reach the alarm path after the commit.

An isolated fire point (an active ``fire.isolated`` alarm) gets a compensating patrol of its zone
every ``patrol.compensating_every_minutes`` until the isolation is restored.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from console.contract import Draft
from console.devices.registry import DeviceRegistry, Location
from console.messages import HubMessage
from console.patrol import plans
from console.patrol.outbox import emit
from console.patrol.plans import PatrolError
from console.patrol.timing import believed_scan_time, occurrences
from console.settings import Settings
from console.store.tables import (
    AlarmRow,
    CheckpointRow,
    EventRow,
    GuardRow,
    RoundPointRow,
    RoundRow,
    RouteRow,
    ScheduleRow,
    UserRow,
)
from console.tasks.outcome import Outcome
from console.tasks.service import TaskService
from console.tasks.tags import Tag

log = logging.getLogger("mcc.patrol")
SOURCE = "patrol"
"""The device id of every patrol event: its points are ``cp-<checkpoint>`` and ``route-<route>``."""
OPEN_ROUNDS = ("due", "started")
ENDED = ("done", "late", "incomplete")
SCANNED = ("done", "late")
ORDER = {"started": 0, "due": 1, "missed": 1, "done": 2, "late": 2, "incomplete": 2}


def _outcome(points: list[RoundPointRow]) -> str:
    """How an ended round came out: incomplete if a point was missed, late if one was late."""
    states = {p.state for p in points}
    return "incomplete" if "missed" in states or "pending" in states else "late" if "late" in states else "done"


def point_id(checkpoint: int) -> str:
    return f"cp-{checkpoint}"


class Rounds:
    def __init__(self, settings: Settings, tasks: TaskService, registry: DeviceRegistry):
        self.settings = settings
        self.cfg = settings.patrol
        self.tasks = tasks
        self.tags = tasks.records.tags
        self.registry = registry
        self._read_since: datetime | None = None
        """The receive time of the last wand read taken into the rounds (committed)."""
        self._pending_since: datetime | None = None

    # -- where patrol alarms are ------------------------------------------------------------------

    def refresh_places(self, session: Session) -> None:
        """Tell the registry where each checkpoint (and each route, at its first point) is, so a
        patrol alarm is shown, ranked and dispatched to its place like a device's."""
        places: dict[str, dict[str, Location]] = {}
        by_id: dict[int, Location] = {}
        for row in session.scalars(select(CheckpointRow)):
            at = Location(row.building, row.floor, row.zone, f"巡更点 {row.name}")
            places.setdefault(row.site, {})[point_id(row.id)] = by_id[row.id] = at
        for route in session.scalars(select(RouteRow)):
            first = by_id.get(route.points[0]["checkpoint"]) if route.points else None
            if first is not None:
                places.setdefault(route.site, {})[f"route-{route.id}"] = Location(
                    first.building, first.floor, first.zone, f"巡更路线 {route.name}")
        for site, known in places.items():
            self.registry.set_places(site, SOURCE, known)

    # -- the clock's work -------------------------------------------------------------------------

    def due(self, session: Session, now: datetime) -> Outcome:
        """Everything that falls due by ``now``: rounds made and assigned, compensating patrols
        started and ended, rounds missed, points missed, rounds ended at their limit."""
        out = Outcome()
        if not self.cfg.enabled:
            return out
        self._compensate(session, now, out)
        self._make(session, now, out)
        self._assign(session, now, out)
        self._card_reads(session, now, out)
        self._miss_rounds(session, now, out)
        self._miss_points(session, now, out)
        self._end_at_limit(session, now, out)
        return out

    def _make(self, session: Session, now: datetime, out: Outcome) -> None:
        lead = timedelta(minutes=self.cfg.lead_minutes)
        for schedule in session.scalars(select(ScheduleRow).where(ScheduleRow.active.is_(True),
                                                                   ScheduleRow.starts_at <= now + lead)).all():
            window = timedelta(minutes=schedule.start_window_minutes)
            # A round whose start window is still open is made, even for a schedule set up inside it.
            since = max(schedule.starts_at, now) - window
            until = now + lead if schedule.ends_at is None else min(now + lead, schedule.ends_at)
            if until <= since:
                continue
            route = session.get(RouteRow, schedule.route_id)
            if route is None or not route.active:
                continue
            made = set(session.scalars(select(RoundRow.due_at).where(RoundRow.schedule_id == schedule.id,
                                                                     RoundRow.due_at >= since)))
            for due_at in occurrences(schedule.times, schedule.every_minutes, schedule.from_time,
                                      schedule.until_time, self.settings.site.timezone, since, until):
                if due_at not in made:
                    self._make_round(session, schedule, route, due_at, now, out)

    def _make_round(self, session: Session, schedule: ScheduleRow, route: RouteRow, due_at: datetime,
                    now: datetime, out: Outcome) -> None:
        names = {row.id: row.name for row in session.scalars(select(CheckpointRow).where(
            CheckpointRow.id.in_([p["checkpoint"] for p in route.points]), CheckpointRow.active.is_(True)))}
        try:
            with session.begin_nested():  # another console instance may make the same round first
                row = RoundRow(site=schedule.site, schedule_id=schedule.id, route_id=route.id, name=schedule.name,
                               ordered=route.ordered, guard=schedule.guard, state="due", due_at=due_at,
                               start_by=due_at + timedelta(minutes=schedule.start_window_minutes),
                               limit_minutes=schedule.limit_minutes, alarm_id=schedule.alarm_id, created_at=now)
                session.add(row)
                session.flush()
                offset, seq = 0, 0
                for point in route.points:
                    offset += int(point.get("minutes", 0))
                    if point["checkpoint"] not in names:
                        continue  # a checkpoint taken out of service: its label is refused, so it is not walked
                    seq += 1
                    session.add(RoundPointRow(round_id=row.id, seq=seq - 1, checkpoint_id=point["checkpoint"],
                                              name=names[point["checkpoint"]], offset_minutes=offset,
                                              state="pending", checks={}))
                session.flush()
        except IntegrityError:
            return
        out.hub.append(HubMessage("round.updated", {"round": row.id, "guard": row.guard, "site": row.site}))

    def _compensate(self, session: Session, now: datetime, out: Outcome) -> None:
        """A compensating patrol for every active isolation; ended when the isolation is restored."""
        active = {alarm.id: alarm for alarm in session.scalars(select(AlarmRow).where(
            AlarmRow.kind == "fire.isolated", AlarmRow.cleared.is_(False), AlarmRow.test.is_(False)))}
        running = {row.alarm_id: row for row in session.scalars(select(ScheduleRow).where(
            ScheduleRow.alarm_id.is_not(None), ScheduleRow.active.is_(True)))}
        for alarm_id, schedule in running.items():
            if alarm_id not in active:
                plans.end_schedule(session, schedule.id, now)
                out.hub.append(HubMessage("round.updated", {"schedule": schedule.id, "site": schedule.site}))
        for alarm in active.values():
            if alarm.id not in running:  # an isolation again after a restore gets its patrol again
                self._start_compensating(session, alarm, now)

    def _start_compensating(self, session: Session, alarm: AlarmRow, now: datetime) -> None:
        """The zone's checkpoint (made if there is none), a one-point route, and its schedule; one
        active schedule per alarm (a unique index): a second console instance's attempt is undone."""
        try:
            with session.begin_nested():
                self._compensating_plan(session, alarm, now)
        except IntegrityError:
            return
        self.refresh_places(session)

    def _compensating_plan(self, session: Session, alarm: AlarmRow, now: datetime) -> None:
        where = self.registry.location(alarm.site, alarm.device_id, alarm.point)
        spot = session.scalar(select(CheckpointRow).where(
            CheckpointRow.site == alarm.site, CheckpointRow.active.is_(True), CheckpointRow.building == where.building,
            CheckpointRow.floor == where.floor, CheckpointRow.zone == where.zone).order_by(CheckpointRow.id).limit(1))
        label = where.label or f"{alarm.device_id} {alarm.point}".strip()
        if spot is None:
            spot = plans.add_checkpoint(session, alarm.site, {
                "name": f"屏蔽区 {label}"[:100], "building": where.building, "floor": where.floor,
                "zone": where.zone}, now)
        route = plans.add_route(session, alarm.site, f"补偿巡查 {label}"[:100], True,
                                [{"checkpoint": spot.id, "minutes": 0}], now)
        # Every N minutes from the isolation on (the schedule's day repeats from that time of day).
        since = alarm.raised_at.replace(second=0, microsecond=0)
        local = since.astimezone(ZoneInfo(self.settings.site.timezone))
        start = f"{local.hour:02d}:{local.minute:02d}"
        plans.add_schedule(session, alarm.site, {
            "route_id": route.id, "name": f"屏蔽补偿巡查 / compensating patrol: {label}"[:100],
            "every_minutes": self.cfg.compensating_every_minutes, "from_time": start, "until_time": start,
            "start_window_minutes": 10, "limit_minutes": self.cfg.compensating_limit_minutes,
            "alarm_id": alarm.id, "starts_at": since}, "system", now)

    def _assign(self, session: Session, now: datetime, out: Outcome) -> None:
        """Rounds coming due go to the guard on shift with the fewest open rounds."""
        waiting = session.scalars(select(RoundRow).where(
            RoundRow.state == "due", RoundRow.guard.is_(None),
            RoundRow.due_at <= now + timedelta(minutes=self.cfg.lead_minutes)).order_by(RoundRow.due_at)
            .with_for_update().execution_options(populate_existing=True)).all()
        if not waiting:
            return
        guards = list(session.scalars(select(GuardRow.username).join(UserRow, UserRow.username == GuardRow.username)
                                      .where(GuardRow.on_shift.is_(True), UserRow.role == "guard",
                                             UserRow.disabled.is_(False)).order_by(GuardRow.username)))
        if not guards:
            return
        load: dict[str, int] = dict.fromkeys(guards, 0)
        for guard, count in session.execute(select(RoundRow.guard, func.count()).where(
                RoundRow.state.in_(OPEN_ROUNDS), RoundRow.guard.in_(guards)).group_by(RoundRow.guard)):
            if guard is not None:
                load[guard] = count
        for row in waiting:
            if row.guard is not None or row.state != "due":
                continue  # taken meanwhile (a guard's first scan, another instance)
            chosen = min(guards, key=lambda g: (load.get(g, 0), g))
            row.guard = chosen
            load[chosen] += 1
            out.hub.append(HubMessage("round.updated", {"round": row.id, "guard": row.guard, "site": row.site}))

    def _miss_rounds(self, session: Session, now: datetime, out: Outcome) -> None:
        for row in session.scalars(select(RoundRow).where(RoundRow.state == "due", RoundRow.start_by < now)
                                   .with_for_update().execution_options(populate_existing=True)).all():
            if row.state != "due":
                continue
            row.state, row.ended_at = "missed", row.start_by
            for point in self._points(session, row.id):
                point.state, point.missed_at = "missed", row.start_by
            last = self._last_place(session, row.guard)
            emit(session, Draft(
                kind="patrol.round_missed", site=row.site, device_id=SOURCE, source_id=f"round-missed:{row.id}",
                ts=row.start_by, point=f"route-{row.route_id}",
                data={"guard": row.guard, "route": str(row.route_id), "round": str(row.id), "name": row.name,
                      "due_at": row.due_at.isoformat(), **last}), now)
            out.hub.append(HubMessage("round.updated", {"round": row.id, "guard": row.guard, "site": row.site}))

    def _miss_points(self, session: Session, now: datetime, out: Outcome) -> None:
        # The round first, then its points: the one lock order of every writer of rounds.
        overdue = select(RoundPointRow.round_id).where(
            RoundPointRow.state == "pending", RoundPointRow.due_at.is_not(None), RoundPointRow.due_at < now)
        for row in session.scalars(select(RoundRow).where(RoundRow.state == "started", RoundRow.id.in_(overdue))
                                   .with_for_update().execution_options(populate_existing=True)).all():
            if row.state != "started":
                continue
            for point in self._points(session, row.id):
                if point.state == "pending" and point.due_at is not None and point.due_at < now:
                    point.state, point.missed_at = "missed", point.due_at
                    self._emit_missed(session, row, point, now)
            out.hub.append(HubMessage("round.updated", {"round": row.id, "guard": row.guard, "site": row.site}))

    def _emit_missed(self, session: Session, row: RoundRow, point: RoundPointRow, now: datetime) -> None:
        assert point.missed_at is not None
        last = self._last_place(session, row.guard)
        emit(session, Draft(
            kind="patrol.checkpoint_missed", site=row.site, device_id=SOURCE, source_id=f"point-missed:{point.id}",
            ts=point.missed_at, point=point_id(point.checkpoint_id),
            data={"guard": row.guard, "checkpoint": str(point.checkpoint_id), "route": str(row.route_id),
                  "round": str(row.id), "name": point.name, "due_at": point.missed_at.isoformat(), **last}), now)

    def _end_at_limit(self, session: Session, now: datetime, out: Outcome) -> None:
        for row in session.scalars(select(RoundRow).where(RoundRow.state == "started", RoundRow.limit_at < now)
                                   .with_for_update().execution_options(populate_existing=True)).all():
            if row.state != "started" or row.limit_at is None:
                continue
            self._finish(session, row, row.limit_at, now, out)

    def _finish(self, session: Session, row: RoundRow, at: datetime, now: datetime, out: Outcome) -> None:
        """End a started round at ``at``: the points left are missed."""
        points = self._points(session, row.id)
        for point in points:
            if point.state == "pending":
                point.state, point.missed_at = "missed", at
                self._emit_missed(session, row, point, now)
        row.state = _outcome(points)
        row.ended_at = at
        out.hub.append(HubMessage("round.updated", {"round": row.id, "guard": row.guard, "site": row.site}))

    def _card_reads(self, session: Session, now: datetime, out: Outcome) -> None:
        """Patrol wands' reads stored since the last look (an upload, maybe hours after the walk):
        the checkpoint whose ``wand_tag`` is the button read, counted at the wand's time. The look
        reaches a minute back over what was seen (a read committed late by another writer is not
        skipped); after a restart, the last ``offline_hours``. A read already counted changes nothing."""
        since = (self._read_since - timedelta(seconds=60) if self._read_since is not None
                 else now - timedelta(hours=self.cfg.offline_hours))
        latest = self._read_since
        reads = session.scalars(select(EventRow).where(
            EventRow.kind == "patrol.checkpoint", EventRow.adapter != "console", EventRow.received_at >= since)
            .order_by(EventRow.received_at, EventRow.id).limit(5000)).all()
        for event in reads:
            latest = max(latest, event.received_at) if latest is not None else event.received_at
            card = str((event.data or {}).get("card") or "").upper()
            spot = session.scalar(select(CheckpointRow).where(
                CheckpointRow.site == event.site, CheckpointRow.active.is_(True),
                func.upper(CheckpointRow.wand_tag) == card)) if card else None
            if spot is None:
                continue  # a read at no checkpoint (or a credential at a door): nothing for the rounds
            guard = (event.data or {}).get("guard")
            tag = Tag("cp", spot.site, place=None, checkpoint=spot.id)
            believed = believed_scan_time(event.ts, event.received_at, self.cfg.scan_skew_seconds,
                                          self.cfg.offline_hours)
            found = self._point_for(session, guard, tag, believed, any_guard=guard is None)
            if found is None:
                continue
            row, point = self._locked(session, *found)
            who = str(guard or row.guard or f"wand:{event.device_id}")[:64]
            if row.state in ("due", "missed"):
                out.hub += self.start(session, row.id, who, now, at=believed, reopen=True).hub
            # A wand takes no photo: a checkpoint that asks for one is still proven by the button.
            self._record(session, row, point, who, tag, believed, event.ts, now, "wand", {}, None, None, out,
                         photo_rule=False, received=event.received_at)
        self._pending_since = latest if latest is not None else now - timedelta(hours=self.cfg.offline_hours)

    def committed(self) -> None:
        """The clock's transaction committed: the card reads it took are taken."""
        if self._pending_since is not None:
            self._read_since, self._pending_since = self._pending_since, None

    # -- the guard's side -------------------------------------------------------------------------

    def start(self, session: Session, round_id: int, user: str, now: datetime,
              at: datetime | None = None, reopen: bool = False) -> Outcome:
        """The guard starts a round (or their first scan does). Starting again changes nothing.
        ``reopen``: a scan taken inside the start window that arrives after the round was marked
        missed (a phone or wand that was offline) starts it after all, at the scan's time."""
        out = Outcome()
        row = session.get(RoundRow, round_id, with_for_update=True, populate_existing=True)
        if row is None:
            raise PatrolError("patrol.round_not_found", f"no round {round_id}", status=404, round=round_id)
        if row.guard not in (None, user) and not user.startswith("wand:"):
            raise PatrolError("patrol.not_your_round", f"round {round_id} is {row.guard}'s", status=403,
                              guard=row.guard)
        if row.state == "started":
            out.replayed = True
            return out
        start = at or now
        window = row.start_by - row.due_at
        if row.state not in (("due", "missed") if reopen else ("due",)) or start > row.start_by:
            raise PatrolError("patrol.round_closed", f"round {round_id} is {row.state}; its start window has passed",
                              state=row.state)
        if start < row.due_at - window:
            raise PatrolError("patrol.round_early", "this round's start window has not opened yet",
                              opens=(row.due_at - window).isoformat())
        was_missed = row.state == "missed"
        row.state, row.started_at, row.ended_at = "started", start, None
        row.guard = row.guard or user
        row.limit_at = start + timedelta(minutes=row.limit_minutes)
        tolerance = timedelta(minutes=self.cfg.point_tolerance_minutes)
        for point in self._points(session, row.id):
            point.due_at = (start + timedelta(minutes=point.offset_minutes) + tolerance if row.ordered
                            else row.limit_at)
            point.due_at = min(point.due_at, row.limit_at)
            if was_missed and point.scanned_by is None:
                point.state, point.missed_at = "pending", None
        if was_missed:
            self._answer_alarm(session, row.site, f"route-{row.route_id}", "patrol.round_missed", row.guard or user,
                               now, out)
        out.hub.append(HubMessage("round.updated", {"round": row.id, "guard": row.guard, "site": row.site}))
        return out

    def scan(self, session: Session, user: str, code: str, now: datetime, *, scanned_at: datetime | None = None,
             via: str = "qr", checks: dict[str, str] | None = None, checks_for: int | None = None,
             note: str | None = None, photo: str | None = None, client: str = "",
             action_id: str | None = None) -> Outcome:
        """A guard scanned a tag: first what the dispatch side does with any scan (where the guard
        is, or their arrival at a scene, which a round's rules never hold up), then the point of
        their round it proves (starting the round if it was due). A scan already recorded changes
        nothing (a phone's queue may replay), nor does the guard's last scan sent again with its
        action id. ``checks`` answer the checklist of checkpoint ``checks_for`` (when given): the
        phone's idea of the next point; they are dropped if the scan proves another one."""
        tag = self.tags.read(session, code)
        believed = believed_scan_time(scanned_at, now, self.cfg.scan_skew_seconds, self.cfg.offline_hours)
        out = Outcome()
        guard = session.get(GuardRow, user, with_for_update=True)
        if action_id is not None and guard is not None and guard.last_scan_action == action_id:
            out.replayed = True
            return out
        step = self.tasks.guards.scan(session, user, code, now, scanned_at=believed, client=client)
        out.hub += step.hub
        out.notices += step.notices
        out.touched.update(step.touched)
        found = self._point_for(session, user, tag, believed)
        if found is not None:
            row, point = self._locked(session, *found)
            if checks_for is not None and checks_for != point.checkpoint_id:
                checks = {}
            try:
                with session.begin_nested():
                    if row.state in ("due", "missed"):
                        out.hub += self.start(session, row.id, user, now, at=believed, reopen=True).hub
                    self._record(session, row, point, user, tag, believed, scanned_at, now, via, checks or {}, note,
                                 photo, out)
            except PatrolError:
                if not any(message.type == "task.updated" for message in step.hub):
                    raise
                # The scan proved the guard's arrival at an alarm: that stands; the round's point
                # waits for a scan that meets its own rules (a photo, the checklist).
        if action_id is not None:
            guard = session.get(GuardRow, user)
            if guard is not None:
                guard.last_scan_action = action_id
        return out

    def _locked(self, session: Session, row: RoundRow, point: RoundPointRow) -> tuple[RoundRow, RoundPointRow]:
        """The round locked (then its points, freshly read): the clock or another instance may have
        changed them since they were found."""
        locked = session.get(RoundRow, row.id, with_for_update=True, populate_existing=True)
        assert locked is not None
        return locked, next(p for p in self._points(session, locked.id) if p.id == point.id)

    def _point_for(self, session: Session, user: str | None, tag: Tag, at: datetime,
                   any_guard: bool = False) -> tuple[RoundRow, RoundPointRow] | None:
        """The point of one of the guard's rounds this tag proves at time ``at``: a round whose
        start window is open at ``at`` (due, or marked missed by a clock that did not know of an
        offline scan), or a round that was under way at ``at``. A point still to walk wins over one
        already walked (overlapping rounds); a point already walked is a replay.
        ``any_guard``: whoever's round it is (a wand's read that names no guard)."""
        skew = timedelta(seconds=self.cfg.scan_skew_seconds)
        query = select(RoundRow).where(
            RoundRow.site == tag.site, RoundRow.state.in_(("started", "due", "missed", *ENDED)),
            RoundRow.due_at <= at + timedelta(hours=2), RoundRow.due_at >= at - timedelta(hours=24))
        if not any_guard:
            query = query.where((RoundRow.guard == user) | RoundRow.guard.is_(None))
        fits: list[tuple[RoundRow, RoundPointRow]] = []
        for row in session.scalars(query.order_by(RoundRow.due_at)).all():
            if row.state in ("due", "missed"):
                if not row.due_at - (row.start_by - row.due_at) <= at <= row.start_by:
                    continue  # its start window is not open at the scan's time
            else:
                if row.started_at is None or at < row.started_at - skew:
                    continue  # a scan from before this round began
                end = row.limit_at if row.state == "started" else row.ended_at
                if end is not None and at > end:
                    continue  # a scan from after it ended
            fits += [(row, point) for point in self._points(session, row.id) if self._proves(session, tag, point)]
        open_first = sorted(fits, key=lambda f: (f[1].scanned_by is not None, ORDER[f[0].state], f[0].due_at))
        return open_first[0] if open_first else None

    @staticmethod
    def _proves(session: Session, tag: Tag, point: RoundPointRow) -> bool:
        if tag.checkpoint is not None:
            return tag.checkpoint == point.checkpoint_id
        spot = session.get(CheckpointRow, point.checkpoint_id)
        return spot is not None and tag.place is not None and \
            (spot.building, spot.floor, spot.zone) == (tag.place.building, tag.place.floor, tag.place.zone)

    def _record(self, session: Session, row: RoundRow, point: RoundPointRow, user: str, tag: Tag,
                believed: datetime, claimed: datetime | None, now: datetime, via: str, checks: dict[str, str],
                note: str | None, photo: str | None, out: Outcome, photo_rule: bool = True,
                received: datetime | None = None) -> None:
        if point.scanned_by is not None:
            out.replayed = True
            return  # the first scan of a point is the one that counts
        spot = session.get(CheckpointRow, point.checkpoint_id)
        if photo is not None and not self.tasks.evidence_path(photo).exists():
            raise PatrolError("patrol.photo_unknown", "send the photo first (/api/guard/photos), then the scan",
                              status=422)
        if photo_rule and spot is not None and spot.photo_required and not photo:
            raise PatrolError("patrol.photo_required", f"checkpoint {spot.name} needs a photo with the scan",
                              status=422, checkpoint=spot.name)
        items = {item["id"]: item for item in (spot.checklist if spot is not None else [])}
        unknown = sorted(set(checks) - set(items))
        if unknown or any(value not in ("ok", "failed") for value in checks.values()):
            raise PatrolError("patrol.bad_checks", "checklist answers are ok or failed, for this checkpoint's items",
                              status=422, items=", ".join(unknown))
        was_missed = point.state == "missed"
        # Late by the scan's own time: a point walked in time but heard of later is on time.
        late = point.due_at is not None and believed > point.due_at
        point.state = "late" if late else "done"
        point.missed_at = None
        point.scanned_at, point.received_at, point.device_time = believed, received or now, claimed
        point.scanned_by, point.via, point.checks, point.note, point.photo = user, via, dict(checks), note, photo
        base = {"guard": user, "checkpoint": str(point.checkpoint_id), "route": str(row.route_id),
                "round": str(row.id), "name": point.name}
        emit(session, Draft(
            kind="patrol.checkpoint", site=row.site, device_id=SOURCE, source_id=f"scan:{point.id}", ts=believed,
            point=point_id(point.checkpoint_id),
            data={**base, "state": point.state, "via": via, "tag_issue": tag.issue,
                  "scanned_at": claimed.isoformat() if claimed else None}), now)
        failed = [items[item_id] for item_id, value in checks.items() if value == "failed"]
        for item in failed:
            emit(session, Draft(
                kind="patrol.defect", site=row.site, device_id=SOURCE, source_id=f"defect:{point.id}:{item['id']}"[:128],
                ts=believed, point=point_id(point.checkpoint_id),
                data={**base, "item": item["id"], "text": item["text"], "role": item["role"], "note": note,
                      "photo": photo}), now)
        if not failed and (note or photo):
            emit(session, Draft(
                kind="patrol.finding", site=row.site, device_id=SOURCE, source_id=f"finding:{point.id}",
                ts=believed, point=point_id(point.checkpoint_id), data={**base, "note": note, "photo": photo}), now)
        if was_missed:  # SOP 13's first question answers itself
            self._answer_alarm(session, row.site, point_id(point.checkpoint_id), "patrol.checkpoint_missed", user,
                               now, out)
        points = self._points(session, row.id)
        if row.state == "started" and all(p.state in SCANNED for p in points):
            self._finish(session, row, max(p.scanned_at or believed for p in points), now, out)
        elif row.state in ENDED:
            row.state = _outcome(points)  # a point walked in time, heard of after the round ended
        out.hub.append(HubMessage("round.updated", {"round": row.id, "guard": row.guard, "site": row.site}))

    def _answer_alarm(self, session: Session, site: str, point: str, kind: str, guard: str, now: datetime,
                      out: Outcome) -> None:
        """The missed point (or round) is walked after all: its SOP 13 task's first question
        ("scanned in the grace window?") answers itself."""
        alarm = session.scalar(select(AlarmRow).where(
            AlarmRow.site == site, AlarmRow.device_id == SOURCE, AlarmRow.point == point,
            AlarmRow.kind == kind).order_by(AlarmRow.id.desc()).limit(1))
        if alarm is not None and alarm.task_id is not None:
            answered = self.tasks.on_patrol_scan(session, alarm, guard, now)
            out.hub += answered.hub
            out.notices += answered.notices
            out.touched.update(answered.touched)

    def finish(self, session: Session, round_id: int, user: str, now: datetime) -> Outcome:
        """The guard ends the round before its limit: the points not scanned are missed now."""
        out = Outcome()
        row = session.get(RoundRow, round_id, with_for_update=True, populate_existing=True)
        if row is None or row.guard != user:
            raise PatrolError("patrol.round_not_found", f"no round {round_id} of yours", status=404, round=round_id)
        if row.state != "started":
            out.replayed = row.state in ("done", "late", "incomplete")
            if out.replayed:
                return out
            raise PatrolError("patrol.round_closed", f"round {round_id} is {row.state}", state=row.state)
        self._finish(session, row, now, now, out)
        return out

    # -- helpers ----------------------------------------------------------------------------------

    @staticmethod
    def _points(session: Session, round_id: int) -> list[RoundPointRow]:
        return list(session.scalars(select(RoundPointRow).where(RoundPointRow.round_id == round_id)
                                    .order_by(RoundPointRow.seq).execution_options(populate_existing=True)))

    @staticmethod
    def _last_place(session: Session, guard: str | None) -> dict[str, Any]:
        """Where the guard was last seen (their last scan): where a search for them begins."""
        row = session.get(GuardRow, guard) if guard else None
        if row is None or row.location_at is None:
            return {"last_place": None, "last_seen_at": None}
        label = " ".join(part for part in (row.building, row.floor, row.zone) if part)
        return {"last_place": label, "last_seen_at": row.location_at.isoformat()}
