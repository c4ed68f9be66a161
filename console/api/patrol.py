"""Patrol rounds over HTTP: the control room sets up checkpoints, routes and schedules, prints the
checkpoints' labels and watches the rounds; the guard's phone lists its rounds, starts and ends
them, and scans (console/api/guards.py takes the scan itself).

Every change is in the audit chain. A guard sees their own rounds with each point's name and state,
never a code: the printed label on the spot is the proof.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from console.api.deps import (
    AlarmActor,
    ReadSession,
    RowId,
    RuntimeDep,
    SmallRowId,
    Supervisor,
    client_address,
    of_sites,
    require,
    seen_or_missing,
    site_for_new,
)
from console.api.tags import label_sheet, reissue_label
from console.api.tasks import run_action
from console.patrol import plans
from console.patrol.reports import figures, round_view, rounds_with_points
from console.people import auth
from console.runtime import Runtime
from console.store import audit
from console.store.tables import CheckpointRow, RoundRow, RouteRow, ScheduleRow
from console.tasks.outcome import Outcome
from console.tasks.places import PlaceError

router = APIRouter(prefix="/api", tags=["patrol"])
Guard = Annotated[auth.User, require(frozenset({"guard"}))]
HHMM = r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$"


class CheckItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9_]{1,32}$")
    text: str = Field(min_length=1, max_length=100)
    role: Literal["engineering", "supervisor"] = "engineering"


class CheckpointBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    building: str = Field("", max_length=64)
    floor: str = Field("", max_length=16)
    zone: str = Field("", max_length=64)
    checklist: list[CheckItem] = Field(default_factory=list, max_length=20)
    photo_required: bool = False
    wand_tag: str | None = Field(None, max_length=64, description="A patrol wand's RFID button serial here.")
    site: str | None = Field(None, max_length=64, description="Default: the user's only site, else the console's.")


class CheckpointPatch(BaseModel):
    """Only the fields sent are changed. A checklist or wand tag of null removes it; a name, photo
    rule or active flag cannot be null (their columns are NOT NULL): that is a 422, not a 500."""
    model_config = ConfigDict(extra="forbid")
    # Left out is None (unchanged); sent, each must be a value. The plugin sees only the None.
    name: str = Field(None, min_length=1, max_length=100)  # type: ignore[assignment]
    checklist: list[CheckItem] | None = Field(None, max_length=20)
    photo_required: bool = None  # type: ignore[assignment]
    wand_tag: str | None = Field(None, max_length=64)
    active: bool = None  # type: ignore[assignment]


class RoutePoint(BaseModel):
    model_config = ConfigDict(extra="forbid")
    checkpoint: int = Field(ge=1, le=2**31 - 1)
    minutes: int = Field(0, ge=0, le=240, description="Expected minutes from the previous point (the first: from the start).")


class RouteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    ordered: bool = True
    points: list[RoutePoint] = Field(min_length=1, max_length=100)
    site: str | None = Field(None, max_length=64, description="Default: the user's only site, else the console's.")


class ScheduleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    route_id: int = Field(ge=1, le=2**31 - 1)
    name: str | None = Field(None, max_length=100)
    times: list[Annotated[str, Field(pattern=HHMM)]] = Field(default_factory=list, max_length=48)
    every_minutes: int | None = Field(None, ge=15, le=1440)
    from_time: str = Field("00:00", pattern=HHMM)
    until_time: str = Field("24:00", pattern=HHMM)
    start_window_minutes: int = Field(10, ge=1, le=120)
    limit_minutes: int = Field(60, ge=5, le=720)
    guard: str | None = Field(None, max_length=64)
    starts_at: AwareDatetime | None = None


def _new_site(runtime: Runtime, user: auth.User, asked: str | None) -> str:
    """The site a new checkpoint or route goes to: one of the console's, and the user's (else 403)."""
    site = site_for_new(user, asked, runtime.settings.site.id)
    if site not in runtime.tasks.records.tags.sites:
        raise PlaceError("place.other_site", f"site {site!r} is not one of this console's", site=site)
    return site


def _checkpoint(session: Session, user: auth.User, checkpoint_id: int) -> CheckpointRow:
    """A checkpoint of the user's sites; another site's is a 404, as one that does not exist."""
    row = plans.checkpoint(session, checkpoint_id)
    seen_or_missing(user, row.site, plans.PatrolError(
        "patrol.checkpoint_not_found", f"no checkpoint {checkpoint_id}", status=404, checkpoint=checkpoint_id))
    return row


def _route(session: Session, user: auth.User, route_id: int) -> RouteRow:
    row = plans.route(session, route_id)
    seen_or_missing(user, row.site, plans.PatrolError("patrol.route_not_found", f"no route {route_id}", status=404,
                                                      route=route_id))
    return row


def _schedule_of_theirs(session: Session, user: auth.User, schedule_id: int) -> int:
    site = session.scalar(select(ScheduleRow.site).where(ScheduleRow.id == schedule_id))
    seen_or_missing(user, site, plans.PatrolError("patrol.schedule_not_found", f"no schedule {schedule_id}",
                                                  status=404, schedule=schedule_id))
    return schedule_id


def _round_of_theirs(session: Session, user: auth.User, round_id: int) -> int:
    site = session.scalar(select(RoundRow.site).where(RoundRow.id == round_id))
    seen_or_missing(user, site, plans.PatrolError("patrol.round_not_found", f"no round {round_id}", status=404,
                                                  round=round_id))
    return round_id


def _audited(runtime: Runtime, request: Request, user: auth.User, action: str, target: str,
             change: Any) -> dict[str, Any]:
    """Run ``change(session)`` in a write transaction with its audit entry; its result."""
    results: list[Any] = []

    def run(session: Session) -> Outcome:
        result = change(session)
        results.append(result)
        audit.record(session, user.username, action, target=target.format(id=getattr(result, "id", "")),
                     detail={"view": _view(result)}, client=client_address(request), at=runtime.now())
        return Outcome()

    run_action(runtime, run)
    with runtime.store.read() as session:
        runtime.rounds.refresh_places(session)
    return _view(results[0])


def _view(row: Any) -> dict[str, Any]:
    if isinstance(row, CheckpointRow):
        return plans.checkpoint_view(row)
    if isinstance(row, RouteRow):
        return plans.route_view(row)
    return plans.schedule_view(row)


# -- checkpoints -----------------------------------------------------------------------------------


@router.get("/patrol/checkpoints")
def list_checkpoints(session: ReadSession, user: AlarmActor) -> list[dict[str, Any]]:
    return [plans.checkpoint_view(r) for r in session.scalars(select(CheckpointRow).where(
        of_sites(user, CheckpointRow.site)).order_by(CheckpointRow.id))]


@router.post("/patrol/checkpoints")
def add_checkpoint(body: CheckpointBody, request: Request, runtime: RuntimeDep, user: Supervisor) -> dict[str, Any]:
    fields = body.model_dump()
    fields["checklist"] = [item.model_dump() for item in body.checklist]
    site = _new_site(runtime, user, fields.pop("site"))
    return _audited(runtime, request, user, "patrol.checkpoint_add", "checkpoint:{id}", lambda s: plans.add_checkpoint(
        s, site, fields, runtime.now()))


@router.patch("/patrol/checkpoints/{checkpoint_id}")
def change_checkpoint(checkpoint_id: SmallRowId, body: CheckpointPatch,
                      request: Request, runtime: RuntimeDep, user: Supervisor) -> dict[str, Any]:
    fields = body.model_dump(exclude_unset=True)
    if body.checklist is not None:
        fields["checklist"] = [item.model_dump() for item in body.checklist]
    return _audited(runtime, request, user, "patrol.checkpoint_change", "checkpoint:{id}",
                    lambda s: plans.update_checkpoint(s, _checkpoint(s, user, checkpoint_id).id, fields))


@router.get("/patrol/checkpoints/labels", response_class=HTMLResponse)
def checkpoint_labels(session: ReadSession, runtime: RuntimeDep, user: AlarmActor,
                      checkpoint: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None) -> HTMLResponse:
    """A printable sheet of the checkpoints' QR labels (or one checkpoint's)."""
    rows = session.scalars(select(CheckpointRow).where(CheckpointRow.active.is_(True), of_sites(user, CheckpointRow.site))
                           .order_by(CheckpointRow.id))
    labels = [(f"{row.name} · {' '.join(p for p in (row.building, row.floor, row.zone) if p)}",
               runtime.tasks.records.tags.code(session, row.site, checkpoint=row.id))
              for row in rows if checkpoint is None or row.id == checkpoint]
    title = f"{runtime.settings.site.name or runtime.settings.site.id} · 巡更点二维码 / checkpoint QR labels"
    return label_sheet(title, labels)


@router.post("/patrol/checkpoints/{checkpoint_id}/reissue")
def reissue_checkpoint(checkpoint_id: SmallRowId, request: Request, runtime: RuntimeDep, user: Supervisor) -> dict[str, Any]:
    """Print a checkpoint's label anew: the old label is refused from now on."""
    code = reissue_label(runtime, request, user, lambda session: _checkpoint(session, user, checkpoint_id).site,
                         checkpoint=checkpoint_id)
    return {"checkpoint": checkpoint_id, "code": code}


# -- routes and schedules -------------------------------------------------------------------------


@router.get("/patrol/routes")
def list_routes(session: ReadSession, user: AlarmActor) -> list[dict[str, Any]]:
    return [plans.route_view(r) for r in session.scalars(select(RouteRow).where(of_sites(user, RouteRow.site))
                                                           .order_by(RouteRow.id))]


@router.post("/patrol/routes", responses={404: {"description": "No checkpoint by that id."}})
def add_route(body: RouteBody, request: Request, runtime: RuntimeDep, user: Supervisor) -> dict[str, Any]:
    points = [p.model_dump() for p in body.points]
    site = _new_site(runtime, user, body.site)
    return _audited(runtime, request, user, "patrol.route_add", "route:{id}", lambda s: plans.add_route(
        s, site, body.name, body.ordered, points, runtime.now()))


@router.get("/patrol/schedules")
def list_schedules(session: ReadSession, user: AlarmActor) -> list[dict[str, Any]]:
    return [plans.schedule_view(r) for r in session.scalars(select(ScheduleRow).where(
        of_sites(user, ScheduleRow.site)).order_by(ScheduleRow.id))]


@router.post("/patrol/schedules", responses={404: {"description": "No route by that id."}})
def add_schedule(body: ScheduleBody, request: Request, runtime: RuntimeDep, user: Supervisor) -> dict[str, Any]:
    fields = body.model_dump()
    # The schedule's site is its route's (of the user's sites: another site's route is no route).
    return _audited(runtime, request, user, "patrol.schedule_add", "schedule:{id}", lambda s: plans.add_schedule(
        s, _route(s, user, body.route_id).site, fields, user.username, runtime.now()))


@router.post("/patrol/schedules/{schedule_id}/end")
def end_schedule(schedule_id: SmallRowId, request: Request, runtime: RuntimeDep, user: Supervisor) -> dict[str, Any]:
    return _audited(runtime, request, user, "patrol.schedule_end", "schedule:{id}",
                    lambda s: plans.end_schedule(s, _schedule_of_theirs(s, user, schedule_id), runtime.now()))


# -- rounds ----------------------------------------------------------------------------------------


@router.get("/patrol/rounds")
def list_rounds(session: ReadSession, runtime: RuntimeDep, user: AlarmActor,
                since: AwareDatetime | None = None, until: AwareDatetime | None = None,
                guard: Annotated[str | None, Query(max_length=64)] = None) -> list[dict[str, Any]]:
    """Rounds due in [since, until) (default: the last 12 hours and the next 2), with their points."""
    now = runtime.now()
    query = select(RoundRow).where(RoundRow.due_at >= (since or now - timedelta(hours=12)),
                                   RoundRow.due_at < (until or now + timedelta(hours=2)),
                                   of_sites(user, RoundRow.site)).order_by(RoundRow.due_at)
    if guard is not None:
        query = query.where(RoundRow.guard == guard)
    return [round_view(row, points) for row, points in rounds_with_points(session, list(session.scalars(query)))]


@router.get("/patrol/report")
def patrol_report(session: ReadSession, runtime: RuntimeDep, user: AlarmActor,
                  since: AwareDatetime, until: AwareDatetime) -> dict[str, Any]:
    """Per round, per guard and in total for rounds due in [since, until): done, late, missed,
    findings, and the completion and on-time rates."""
    return {"since": since.isoformat(), "until": until.isoformat(), **figures(session, since, until, sites=user.sites)}


# -- the guard's phone -----------------------------------------------------------------------------


@router.get("/guard/rounds")
def my_rounds(session: ReadSession, runtime: RuntimeDep, user: Guard) -> list[dict[str, Any]]:
    """The guard's rounds: open ones and those that ended in the last 2 hours, and rounds nobody
    has yet whose start window is open (the first scan takes them)."""
    now = runtime.now()
    rows = session.scalars(select(RoundRow).where(
        (RoundRow.guard == user.username) | (RoundRow.guard.is_(None) & (RoundRow.state == "due")),
        RoundRow.due_at <= now + timedelta(hours=2), of_sites(user, RoundRow.site),
        (RoundRow.state.in_(("due", "started"))) | (RoundRow.ended_at >= now - timedelta(hours=2)),
    ).order_by(RoundRow.due_at)).all()
    views = [round_view(row, points, for_guard=True) for row, points in rounds_with_points(session, list(rows))]
    wanted = {p["checkpoint"] for view in views for p in view["points"]}
    spots = {row.id: row for row in session.scalars(select(CheckpointRow).where(CheckpointRow.id.in_(wanted)))}
    for view in views:
        for point in view["points"]:  # what to check and whether to take a photo at each point
            spot = spots.get(point["checkpoint"])
            point["checklist"] = [{"id": i["id"], "text": i["text"]} for i in spot.checklist] if spot else []
            point["photo_required"] = bool(spot and spot.photo_required)
    return views


@router.post("/guard/rounds/{round_id}/start")
def start_round(round_id: RowId, request: Request, runtime: RuntimeDep, user: Guard) -> dict[str, Any]:
    run_action(runtime, lambda s: _audit_round(s, runtime, request, user, "round.start", round_id, runtime.rounds.start(
        s, _round_of_theirs(s, user, round_id), user.username, runtime.now())))
    return _round(runtime, round_id)


@router.post("/guard/rounds/{round_id}/finish")
def finish_round(round_id: RowId, request: Request, runtime: RuntimeDep, user: Guard) -> dict[str, Any]:
    run_action(runtime, lambda s: _audit_round(s, runtime, request, user, "round.finish", round_id, runtime.rounds.finish(
        s, _round_of_theirs(s, user, round_id), user.username, runtime.now())))
    runtime.patrol_clock.flush()
    return _round(runtime, round_id)


def _audit_round(session: Session, runtime: Runtime, request: Request, user: auth.User, action: str,
                 round_id: int, out: Outcome) -> Outcome:
    if not out.replayed:
        audit.record(session, user.username, action, target=f"round:{round_id}", client=client_address(request),
                     at=runtime.now())
    return out


def _round(runtime: Runtime, round_id: int) -> dict[str, Any]:
    with runtime.store.read() as session:
        row = session.get(RoundRow, round_id)
        assert row is not None
        [(row, points)] = rounds_with_points(session, [row])
        return round_view(row, points, for_guard=True)

