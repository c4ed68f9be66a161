"""The wall displays: their heartbeats (live, stale or disconnected), and kiosk pairing.

Pairing (console/people/pairing.py): ``POST /api/displays/pairing`` from the wall's ``/pair`` page
(anonymous) shows a code and keeps the secret in an HttpOnly cookie; an admin approves the code
(``POST /api/displays/pairings/approve``); the wall's next ``GET /api/displays/pairing`` gets its
session as an HttpOnly cookie. No token is ever in a URL.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from console.api.deps import COOKIE, Admin, RuntimeDep, client_address, require, secure_request
from console.errors import Refusal
from console.people import auth, pairing
from console.store import audit
from console.store.tables import UserRow

router = APIRouter(tags=["displays"])
Watchers = Annotated[auth.User, require(auth.ACT_ON_ALARMS)]
PAIRING_COOKIE = "mcc_pairing"
PAIRING_PATH = "/api/displays/pairing"


@router.get("/api/displays")
def list_displays(runtime: RuntimeDep, user: Watchers) -> list[dict[str, Any]]:
    """Every display that sent a heartbeat since the console started: ``[{display, name, user,
    address, state, sound, build, last_at, lag_ms, alarms, last_seq, page}]``. A user of some sites
    gets the walls that show only those sites (signed in as a login limited to them)."""
    views = runtime.displays.views(runtime.now())
    if user.sites is None:
        return views
    with runtime.store.read() as session:
        limits = dict(session.execute(select(UserRow.username, UserRow.sites).where(
            UserRow.username.in_({view["user"] for view in views}))).tuples().all())
    return [view for view in views
            if (shown := limits.get(view["user"])) is not None and set(shown) <= set(user.sites)]


@router.post(PAIRING_PATH, status_code=201, responses={429: {"description": "Too many walls waiting."}})
def request_pairing(request: Request, response: Response, runtime: RuntimeDep) -> dict[str, Any]:
    """A wall asks to be paired: the code to show on its screen (the secret goes into a cookie)."""
    now = runtime.now()
    with runtime.store.write() as session, session.begin():
        asked = pairing.request(session, client_address(request), now)
    response.set_cookie(PAIRING_COOKIE, asked.secret, httponly=True, samesite="strict", path=PAIRING_PATH,
                        secure=runtime.settings.http.secure_cookie or secure_request(request),
                        max_age=int(pairing.LIFETIME.total_seconds()))
    return {"state": "pending", "code": asked.code, "expires_at": asked.expires_at.isoformat()}


@router.get(PAIRING_PATH, responses={404: {"description": "No pairing request from this wall, or it expired."}})
def pairing_state(request: Request, response: Response, runtime: RuntimeDep) -> dict[str, Any]:
    """Pending (the code again), or paired: then the display session is set as an HttpOnly cookie."""
    now, client = runtime.now(), client_address(request)
    http = runtime.settings.http
    with runtime.store.write() as session, session.begin():
        row = pairing.find(session, request.cookies.get(PAIRING_COOKIE, ""), now)
        if row is None:
            raise Refusal("pairing.unknown", "this screen has no pairing request (or it expired): ask again",
                          status=404)
        if row.user_id is None:
            return {"state": "pending", "code": row.code, "expires_at": row.expires_at.isoformat()}
        name = row.name
        paired = pairing.collect(session, row, http.wall_session_days * 24, client)
        if paired is None:
            raise Refusal("pairing.unknown", "the display login was disabled: ask again", status=404)
        token, user = paired
        audit.record(session, user.username, "login", client=client, detail={"role": user.role, "via": "pairing",
                                                                               "wall": name})
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/",
                        secure=http.secure_cookie or secure_request(request),
                        max_age=int(http.wall_session_days * 86400))
    response.delete_cookie(PAIRING_COOKIE, path=PAIRING_PATH)
    return {"state": "paired", "name": name, "user": user.username}


class ApproveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=4, max_length=16, description="What the wall shows, e.g. K7QM-3XPA.")
    user: str = Field(min_length=1, max_length=64, description="The display login the wall signs in as.")
    name: str = Field("", max_length=64, description="The wall's name in the displays list (大堂大屏).")


@router.get("/api/displays/pairings")
def list_pairings(runtime: RuntimeDep, _user: Admin) -> list[dict[str, Any]]:
    """Walls waiting for an admin: their codes, addresses and when they expire."""
    with runtime.store.read() as session:
        return [{"code": row.code, "client": row.client, "requested_at": row.requested_at.isoformat(),
                 "expires_at": row.expires_at.isoformat()} for row in pairing.pending(session, runtime.now())]


@router.post("/api/displays/pairings/approve", responses={404: {"description": "No wall shows this code."}})
async def approve_pairing(body: ApproveBody, request: Request, runtime: RuntimeDep, user: Admin) -> dict[str, Any]:
    def approve() -> dict[str, Any]:
        with runtime.store.write() as session, session.begin():
            row = pairing.approve(session, body.code, body.user, body.name, user.username, runtime.now())
            audit.record(session, user.username, "display.pairing_approved", target=f"user:{body.user}",
                         client=client_address(request), detail={"code": row.code, "wall": body.name,
                                                                 "wall_address": row.client})
            return {"code": row.code, "user": body.user, "name": body.name}

    return await run_in_threadpool(approve)
