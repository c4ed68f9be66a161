"""Guards: their shift, where they are, and their side of a dispatch (accept, go, arrive, report).

The guard's phone calls these; each call is idempotent (taking a step already taken changes
nothing and answers 200), so the phone may simply retry until it gets an answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from console.alarms.views import iso
from console.api.deps import AlarmActor, ReadSession, RowId, RuntimeDep, client_address, require
from console.api.tasks import read_photo, run_action
from console.people import auth
from console.runtime import Runtime
from console.store import audit
from console.store.tables import ACTIVE_DISPATCH, DispatchRow, GuardRow, TaskRow, UserRow
from console.tasks.outcome import Outcome
from console.tasks.tags import TagRefused
from console.tasks.views import dispatch_view, task_summary

router = APIRouter(prefix="/api", tags=["guards"])
Guard = Annotated[auth.User, require(frozenset({"guard"}))]


class ShiftBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    on: bool


class ScanBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=300, description="The text of the scanned QR code or NFC tag.")
    scanned_at: AwareDatetime | None = Field(
        None, description="When the phone scanned it (a scan queued offline arrives later); both times are kept.")
    via: Literal["qr", "nfc", "typed"] = "qr"
    checks: dict[Annotated[str, Field(pattern=r"^[a-z0-9_]{1,32}$")], Literal["ok", "failed"]] = Field(
        default_factory=dict, max_length=20, description="A checkpoint's checklist, item id → ok or failed.")
    checkpoint: int | None = Field(None, ge=1, le=2**31 - 1, description=(
        "The checkpoint whose checklist `checks` answers (the phone's next point); dropped if the scan is another."))
    note: str | None = Field(None, max_length=2000, description="What the guard found here.")
    photo: str | None = Field(None, pattern=r"^[0-9a-f]{64}$", description="SHA-256 of a photo sent to /api/guard/photos.")
    action_id: str | None = Field(None, min_length=1, max_length=80,
                                  description="The phone's id of this scan: the same scan sent again changes nothing.")


class DispatchActionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str | None = Field(None, max_length=300, description="arrive: the scanned location code.")
    text: str | None = Field(None, max_length=2000, description="report or decline: what the guard says.")


def guard_view(runtime: Runtime, session: Any, row: GuardRow | None, username: str,
               sites: tuple[str, ...] | None = None) -> dict[str, Any]:
    """A guard as a reader of ``sites`` sees them: only the dispatches to tasks of those sites (None: all)."""
    query = select(DispatchRow).where(DispatchRow.guard == username, DispatchRow.state.in_(ACTIVE_DISPATCH))
    if sites is not None:
        query = query.where(DispatchRow.task_id.in_(select(TaskRow.id).where(TaskRow.site.in_(sites))))
    active = session.scalars(query.order_by(DispatchRow.id)).all()
    dispatches = []
    for dispatch in active:
        task = session.get(TaskRow, dispatch.task_id)
        dispatches.append({**dispatch_view(dispatch), "task": task_summary(
            task, runtime.tasks.book.sops.get(task.sop_id), runtime.registry) if task else None})
    return {
        "username": username,
        "on_shift": bool(row and row.on_shift),
        "shift_started_at": iso(row.shift_started_at) if row else None,
        "place": {"building": row.building, "floor": row.floor, "zone": row.zone} if row else None,
        "place_at": iso(row.location_at) if row else None,
        "busy": bool(active),
        "dispatches": dispatches,
    }


def _me(runtime: Runtime, username: str) -> dict[str, Any]:
    with runtime.store.read() as session:
        return guard_view(runtime, session, session.get(GuardRow, username), username)


@router.get("/guard/me")
def guard_me(runtime: RuntimeDep, user: Guard) -> dict[str, Any]:
    return _me(runtime, user.username)


@router.post("/guard/shift")
def guard_shift(body: ShiftBody, request: Request, runtime: RuntimeDep, user: Guard) -> dict[str, Any]:
    run_action(runtime, lambda s: runtime.tasks.guards.shift(s, user.username, body.on, runtime.now(),
                                                      client_address(request)))
    return _me(runtime, user.username)


def run_scan(runtime: Runtime, request: Request, user: auth.User, code: str,
             action: Callable[[Session], Outcome]) -> Outcome:
    """Run a scan (or an arrival); a refused code is written in the audit chain, in a transaction
    of its own since the scan's own rolls back: a forged or retired label being tried is news."""
    try:
        return run_action(runtime, action)
    except TagRefused as refused:
        with runtime.store.write() as session, session.begin():
            audit.record(session, user.username, "tag.refused", target=f"guard:{user.username}",
                         detail={"reason": refused.code, "code": code[:120]}, client=client_address(request),
                         at=runtime.now())
        raise


@router.post("/guard/scan")
def guard_scan(body: ScanBody, request: Request, runtime: RuntimeDep, user: Guard) -> dict[str, Any]:
    """A scanned tag: the point of the guard's round it proves (with the checklist, a note and a
    photo), where the guard now is, and their arrival if they were sent here. A scan the server
    already has changes nothing, so a phone may send its queue again."""
    run_scan(runtime, request, user, body.code, lambda s: runtime.rounds.scan(
        s, user.username, body.code, runtime.now(), scanned_at=body.scanned_at, via=body.via, checks=dict(body.checks),
        checks_for=body.checkpoint,
        note=body.note, photo=body.photo, client=client_address(request), action_id=body.action_id))
    runtime.patrol_clock.flush()
    return _me(runtime, user.username)


@router.post("/guard/photos", responses={413: {"description": "The photo is too large."}})
async def guard_photo(request: Request, runtime: RuntimeDep, user: Guard) -> dict[str, Any]:
    """A photo taken on a round (the body is the image): kept by its SHA-256, which the scan then names."""
    content, content_type = await read_photo(request, runtime.settings.evidence.max_bytes)

    def keep(session: Session) -> Outcome:
        digest = runtime.tasks.keep_photo(content, content_type)
        audit.record(session, user.username, "guard.photo", target=f"guard:{user.username}",
                     detail={"sha256": digest, "size": len(content)}, client=client_address(request), at=runtime.now())
        kept.append(digest)
        return Outcome()

    kept: list[str] = []
    await run_in_threadpool(run_action, runtime, keep)
    return {"sha256": kept[0]}


@router.post("/dispatches/{dispatch_id}/{action}")
def dispatch_action(
    dispatch_id: RowId, action: Literal["accept", "decline", "en_route", "arrive", "report"],
    request: Request, runtime: RuntimeDep, user: Guard, body: DispatchActionBody | None = None,
) -> dict[str, Any]:
    body = body or DispatchActionBody()
    run_scan(runtime, request, user, body.code or "", lambda s: runtime.tasks.guards.guard_step(
        s, dispatch_id, user.username, action, runtime.now(), code=body.code, text=body.text,
        client=client_address(request)))
    return _me(runtime, user.username)


@router.get("/guards")
def list_guards(session: ReadSession, runtime: RuntimeDep, user: AlarmActor) -> list[dict[str, Any]]:
    """Every guard account with shift state, last place and current dispatch; for a user of some
    sites, the guards who work for one of them (or for every site), with those sites' dispatches."""
    accounts = session.execute(select(UserRow.username, UserRow.sites).where(
        UserRow.role == "guard", UserRow.disabled.is_(False)).order_by(UserRow.username)).all()
    names = [name for name, sites in accounts
             if user.sites is None or sites is None or set(sites) & set(user.sites)]
    rows = {row.username: row for row in session.scalars(select(GuardRow))}
    return [guard_view(runtime, session, rows.get(name), name, user.sites) for name in names]

