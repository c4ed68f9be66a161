"""The duty log (值班记录): the entries of a day (JSON, CSV, printable HTML), the one due now, filling
one in, the two signatures, corrections of a signed entry, and the supervisor's review of findings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from console.api.deps import AlarmActor, ReadSession, RowId, RuntimeDep, Supervisor, client_address, reachable_day
from console.errors import AuthError, Refusal
from console.people import auth, duty_print
from console.runtime import Runtime
from console.store import audit
from console.store.tables import DutyLogRow
from console.tasks.outcome import Outcome

router = APIRouter(prefix="/api/duty-log", tags=["duty log"])
Count = Annotated[int, Field(ge=0, le=9999)]


class Observed(BaseModel):
    """What the people on duty read on the panel; a field left out keeps its value."""

    model_config = ConfigDict(extra="forbid")
    fire: Count | None = None
    fault: Count | None = None
    supervisory: Count | None = None
    isolated: Count | None = None
    linkage: Literal["auto", "manual", "unknown"] | None = None
    main_power: Literal["normal", "fault", "unknown"] | None = None
    backup_power: Literal["normal", "fault", "unknown"] | None = None
    pumps_fans_auto: Literal["yes", "no", "unknown"] | None = None


class EntryBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    observed: Observed = Observed()
    remarks: str = Field("", max_length=4000, description="Anything abnormal, and what was done about it.")


class CorrectionBody(EntryBody):
    reason: str = Field(min_length=2, max_length=1000, description="Why the signed entry is corrected.")


class SignBody(BaseModel):
    """Empty: sign as the logged-in user. With a user name and password: the other person on duty
    countersigns at the same screen."""

    model_config = ConfigDict(extra="forbid")
    username: str | None = Field(None, min_length=1, max_length=64)
    password: str | None = Field(None, min_length=1, max_length=256)
    content_sha256: str | None = Field(None, min_length=64, max_length=64, description=(
        "The entry's current_sha256 as the signer saw it: refused (duty_log.changed) if it has changed since."))


class ReviewBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: str = Field(min_length=2, max_length=4000, description="What happened, and what was done.")


def _observed(body: EntryBody) -> dict[str, Any]:
    return body.observed.model_dump(exclude_none=True)


def _act(runtime: Runtime, entry_id: int, action: Callable[[Session], Outcome]) -> dict[str, Any]:
    """Run ``action`` in a write transaction, hand its changes on, answer the entry as it is now."""
    with runtime.store.write() as session, session.begin():
        outcome = action(session)
    runtime.outlet.deliver(outcome)
    return _one(runtime, entry_id)


def _theirs(runtime: Runtime, user: auth.User, entry_id: int) -> None:
    """The log is the console's site's (DutyLog.get refuses any other entry): to a user who does
    not work for that site, an entry is no entry at all, as DutyLog.get says."""
    if not user.sees(runtime.duty_log.site):
        raise Refusal("duty_log.not_found", f"no duty-log entry {entry_id}", status=404, entry=entry_id)


def _one(runtime: Runtime, entry_id: int) -> dict[str, Any]:
    with runtime.store.read() as session:
        return runtime.duty_log.view(session, runtime.duty_log.get(session, entry_id, lock=False))


@router.get("", response_model=None,
            responses={200: {"content": {"application/json": {}, "text/csv": {}, "text/html": {}}}})
def day_log(session: ReadSession, runtime: RuntimeDep, user: AlarmActor,
            day: Annotated[date | None, Query(alias="date", description="YYYY-MM-DD, the site's day")] = None,
            format: Literal["json", "csv", "html"] = "json") -> list[dict[str, Any]] | Response:
    log = runtime.duty_log
    day = reachable_day(day, "date") if day else runtime.now().astimezone(log.zone).date()
    entries = [log.view(session, row) for row in log.day(session, day)] if user.sees(log.site) else []
    if format == "csv":
        return PlainTextResponse(duty_print.to_csv(entries, runtime.settings.site.timezone),
                                 media_type="text/csv; charset=utf-8",
                                 headers={"Content-Disposition": f'attachment; filename="mcc-duty-log-{day}.csv"'})
    if format == "html":
        return HTMLResponse(duty_print.to_html(entries, runtime.settings.site.name or runtime.settings.site.id,
                                               runtime.settings.site.timezone, day))
    return entries


@router.get("/current")
def current_entry(session: ReadSession, runtime: RuntimeDep, user: AlarmActor) -> dict[str, Any]:
    """The entry of the slot running now (null until the console opens it), and what is unsigned."""
    log = runtime.duty_log
    now = runtime.now()
    slot = log.slot_of(now)
    row, unsigned = None, []
    if user.sees(log.site):
        row = session.scalar(select(DutyLogRow).where(DutyLogRow.site == log.site, DutyLogRow.slot_at == slot,
                                                      DutyLogRow.sequence == 0))
        unsigned = list(session.scalars(select(DutyLogRow).where(
            DutyLogRow.site == log.site, DutyLogRow.second_at.is_(None))
            .order_by(DutyLogRow.slot_at.desc(), DutyLogRow.sequence).limit(50)))
    return {"slot_at": slot.isoformat(), "next_at": (slot + log.interval).isoformat(),
            "interval_minutes": log.section.interval_minutes, "grace_minutes": log.section.grace_minutes,
            "enabled": log.section.enabled, "entry": log.view(session, row) if row else None,
            "unsigned": [log.view(session, r) for r in unsigned]}


@router.get("/findings")
def findings(session: ReadSession, runtime: RuntimeDep, user: Supervisor,
             all: bool = Query(False, description="Also the reviewed ones")) -> list[dict[str, Any]]:
    if not user.sees(runtime.duty_log.site):
        return []
    return [runtime.duty_log.view(session, row) for row in runtime.duty_log.findings(session, open_only=not all)]


@router.get("/{entry_id}")
def get_entry(entry_id: RowId, runtime: RuntimeDep, user: AlarmActor) -> dict[str, Any]:
    _theirs(runtime, user, entry_id)
    return _one(runtime, entry_id)


@router.patch("/{entry_id}")
def edit_entry(entry_id: RowId, body: EntryBody, request: Request, runtime: RuntimeDep,
               user: AlarmActor) -> dict[str, Any]:
    """Check and correct the pre-filled values, write the remarks (before the first signature only)."""
    _theirs(runtime, user, entry_id)
    return _act(runtime, entry_id, lambda session: runtime.duty_log.edit(
        session, entry_id, _observed(body), body.remarks, user.username, runtime.now(), client_address(request)))


def _countersigner(runtime: Runtime, body: SignBody, entry_id: RowId, user: str, client: str) -> str:
    """The other person on duty, by their own password; a failure is audited and refused."""
    with runtime.store.write() as session, session.begin():
        try:
            other = auth.check_password(session, body.username or "", body.password or "")
        except AuthError:
            # 403, not 401: the signed-in user's own session is fine (a 401 would send the page to login).
            failed = Refusal("duty_log.bad_countersign", "wrong user name or password for the second signature",
                             status=403)
        else:
            if other.role in auth.ACT_ON_ALARMS:
                return other.username
            failed = Refusal("duty_log.not_on_duty", "only operators and supervisors sign the duty log", status=403)
    with runtime.store.write() as session, session.begin():
        audit.record(session, user, "duty_log.countersign_failed", target=f"duty_log:{entry_id}",
                     detail={"as": body.username, "code": failed.code}, client=client)
    raise failed


@router.post("/{entry_id}/sign")
def sign_entry(entry_id: RowId, request: Request, runtime: RuntimeDep, user: AlarmActor,
               body: SignBody | None = None) -> dict[str, Any]:
    """Sign as the logged-in user, or, with ``username`` and ``password``, as the other person on duty."""
    _theirs(runtime, user, entry_id)
    client = client_address(request)
    signer = user.username
    if body is not None and body.username:
        signer = _countersigner(runtime, body, entry_id, user.username, client)
    seen = body.content_sha256 if body is not None else None
    return _act(runtime, entry_id, lambda session: runtime.duty_log.sign(
        session, entry_id, signer, runtime.now(), client, screen_of=user.username, seen_sha256=seen))


@router.post("/{entry_id}/corrections")
def correct_entry(entry_id: RowId, body: CorrectionBody, request: Request, runtime: RuntimeDep,
                  user: AlarmActor) -> dict[str, Any]:
    """Correct a signed entry: a new entry, linked to it, that two people sign again."""
    _theirs(runtime, user, entry_id)
    with runtime.store.write() as session, session.begin():
        row, outcome = runtime.duty_log.correct(session, entry_id, _observed(body), body.remarks, body.reason,
                                                user.username, runtime.now(), client_address(request))
        new_id = row.id
    runtime.outlet.deliver(outcome)
    return _one(runtime, new_id)


@router.post("/{entry_id}/review")
def review_entry(entry_id: RowId, body: ReviewBody, request: Request, runtime: RuntimeDep,
                 user: Supervisor) -> dict[str, Any]:
    """A supervisor has looked at a late or missed entry."""
    _theirs(runtime, user, entry_id)
    return _act(runtime, entry_id, lambda session: runtime.duty_log.review(
        session, entry_id, body.comment, user.username, runtime.now(), client_address(request)))
