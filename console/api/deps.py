"""Dependencies shared by the routers: the runtime, the store sessions and the current user."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from typing import Annotated, Any, cast

from fastapi import Depends, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.requests import HTTPConnection

from console.api.sockets import OpenSockets
from console.errors import Refusal
from console.people import auth
from console.runtime import Runtime

COOKIE = "mcc_session"
_bearer = HTTPBearer(auto_error=False)


def get_runtime(conn: HTTPConnection) -> Runtime:
    return cast(Runtime, conn.app.state.runtime)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
RowId = Annotated[int, Path(ge=1, le=2**63 - 1, description="A stored row's id (a positive 64-bit integer).")]
"""Every id in a route's path: one beyond what the store can hold is a 422, never a 500."""
SmallRowId = Annotated[int, Path(ge=1, le=2**31 - 1, description="A stored row's id (a positive 32-bit integer).")]
"""The id of a row whose key is a 32-bit INTEGER on PostgreSQL (floor plans, checkpoints, patrol routes
and schedules): a larger one would be refused by the database with a 500, so it is a 422 here."""


def reachable_day(day: date, field: str) -> date:
    """A day asked for in a query (a report's, the duty log's). Its window, from the site's midnight
    to the next day's or month's, must exist once taken to UTC: at the ends of the calendar (years
    1 and 9999) it does not, and that is a 422, never a 500."""
    if not 2 <= day.year <= 9998:
        raise Refusal("time.out_of_range", f"{field} is out of range (years 2 to 9998)", status=422, field=field)
    return day


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


async def refuse_nul(conn: HTTPConnection) -> None:
    """No name, id or text of the console holds a NUL character, and PostgreSQL cannot store one in
    text (it answers such a value with an error, even in a query's WHERE). A request that carries one
    in its path, its query or its JSON body is a 422 (request.invalid) before its route runs. Every
    route depends on this (console/app.py); a JSON body is read before the dependencies run, so
    looking at it here reads nothing more, and a body a route streams itself is not touched."""
    if conn.scope["type"] != "http":
        return
    problems: list[dict[str, Any]] = []
    for name, value in conn.path_params.items():
        if _has_nul(str(value)):
            problems.append({"loc": ("path", name)})
    for name, value in conn.query_params.multi_items():
        if _has_nul(name) or _has_nul(value):
            problems.append({"loc": ("query", name.replace("\x00", ""))})
    route = conn.scope.get("route")
    if isinstance(conn, Request) and getattr(route, "body_field", None) is not None \
            and conn.headers.get("content-type", "").split(";")[0].strip().lower() == "application/json":
        raw = await conn.body()  # already read and kept by FastAPI for this route
        if b"\\u0000" in raw or b"\x00" in raw:
            try:
                if _has_nul(json.loads(raw)):
                    problems.append({"loc": ("body",)})
            except ValueError:
                pass  # not JSON: the route's own parsing refuses it
    if problems:
        raise RequestValidationError([{**problem, "type": "string_nul", "msg": "NUL characters are not allowed"}
                                      for problem in problems])


def get_sockets(conn: HTTPConnection) -> OpenSockets:
    return cast(OpenSockets, conn.app.state.sockets)


SocketsDep = Annotated[OpenSockets, Depends(get_sockets)]


def read_session(runtime: RuntimeDep) -> Iterator[Session]:
    with runtime.store.read() as session:
        yield session


def write_session(runtime: RuntimeDep) -> Iterator[Session]:
    with runtime.store.write() as session, session.begin():
        yield session


ReadSession = Annotated[Session, Depends(read_session)]
WriteSession = Annotated[Session, Depends(write_session)]


def token_from(conn: HTTPConnection, allow_query: bool = False) -> str | None:
    header = conn.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    if allow_query and conn.query_params.get("token"):
        return conn.query_params["token"]
    return conn.cookies.get(COOKIE)


def client_address(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client else ""


def current_user(
    request: Request,
    runtime: RuntimeDep,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> auth.User:
    token = token_from(request)
    if token:
        with runtime.store.read() as session:
            user = auth.resolve_token(session, token)
        if user is not None:
            return user
    raise Refusal("auth.required", "login required", status=401, headers={"WWW-Authenticate": "Bearer"})


CurrentUser = Annotated[auth.User, Depends(current_user)]


def require(roles: frozenset[str]) -> Any:  # a FastAPI Depends marker
    def check(user: CurrentUser) -> auth.User:
        if user.role not in roles:
            raise Refusal("auth.role", f"role {user.role!r} may not do this", status=403, role=user.role)
        return user

    return Depends(check)


Viewer = Annotated[auth.User, require(auth.VIEW)]
SiteWatcher = Annotated[auth.User, require(auth.WATCH_SITE)]
AlarmActor = Annotated[auth.User, require(auth.ACT_ON_ALARMS)]
Admin = Annotated[auth.User, require(auth.ADMINISTER)]
Supervisor = Annotated[auth.User, require(frozenset({"supervisor", "admin"}))]
