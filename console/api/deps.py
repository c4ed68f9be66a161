"""Dependencies shared by the routers: the runtime, the store sessions and the current user."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Annotated, Any, cast

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import ColumnElement, true
from sqlalchemy.orm import InstrumentedAttribute, Session
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


def token_from(conn: HTTPConnection) -> str | None:
    """The bearer token of the Authorization header, else the session cookie. Never a URL's query:
    URLs end up in logs and browser histories (a wall signs in by pairing, /pair)."""
    header = conn.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return conn.cookies.get(COOKIE)


def origin_allowed(conn: HTTPConnection, allowed: list[str]) -> bool:
    """Whether a browser page of this Origin may use the user's cookie here: the console's own host
    (the Host it was asked by, any scheme: a TLS proxy in front changes it), or one listed in
    ``http.allowed_origins``. No Origin: not a browser (a browser always sends one on a WebSocket);
    ``null`` (a sandboxed frame, a file) is refused."""
    origin = conn.headers.get("origin")
    if origin is None:
        return True
    if origin in allowed:
        return True
    scheme, _, rest = origin.partition("://")
    return scheme in ("http", "https") and bool(rest) and rest.lower() == conn.headers.get("host", "").lower()


def secure_request(conn: HTTPConnection) -> bool:
    """Came over HTTPS, directly or through a trusted proxy (uvicorn applies X-Forwarded-Proto)."""
    return conn.url.scheme in ("https", "wss")


def client_address(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client else ""


def signed_in(conn: HTTPConnection, runtime: Runtime) -> auth.User | None:
    """Who sent this request, or None (anonymous or an unknown token): for the few routes that
    answer everyone but tell staff more."""
    token = token_from(conn)
    if not token:
        return None
    with runtime.store.read() as session:
        return auth.resolve_token(session, token)


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


def needs_login(route: Any) -> bool:
    """Whether a route (an APIRoute) depends on ``current_user`` anywhere in its dependencies."""
    pending = list(getattr(getattr(route, "dependant", None), "dependencies", []))
    while pending:
        dependant = pending.pop()
        if dependant.call is current_user:
            return True
        pending.extend(dependant.dependencies)
    return False


def require(roles: frozenset[str]) -> Any:  # a FastAPI Depends marker
    def check(user: CurrentUser) -> auth.User:
        if user.role not in roles:
            raise Refusal("auth.role", f"role {user.role!r} may not do this", status=403, role=user.role)
        return user

    return Depends(check)


Viewer = Annotated[auth.User, require(auth.VIEW)]
TaskReader = Annotated[auth.User, require(auth.READ_TASKS)]
SiteWatcher = Annotated[auth.User, require(auth.WATCH_SITE)]
AlarmActor = Annotated[auth.User, require(auth.ACT_ON_ALARMS)]
Admin = Annotated[auth.User, require(auth.ADMINISTER)]
Supervisor = Annotated[auth.User, require(frozenset({"supervisor", "admin"}))]


# -- sites: a user limited to some sites sees nothing of the others ------------------------------

def of_sites(user: auth.User, column: InstrumentedAttribute[str]) -> ColumnElement[bool]:
    """A query's condition: rows of the user's sites (every row for a user of every site)."""
    return true() if user.sites is None else column.in_(user.sites)


def seen_or_missing(user: auth.User, site: str | None, refusal: Refusal) -> None:
    """Refuse a row of another site exactly as a row that does not exist (its id tells nothing)."""
    if site is not None and not user.sees(site):
        raise refusal


def their_site(user: auth.User, site: str) -> str:
    """The site a new record goes to, if the user works for it; else 403 (the site was named by the
    caller or is the deployment's own, so refusing it tells nothing)."""
    if not user.sees(site):
        raise Refusal("site.not_theirs", f"you do not work for site {site!r}", status=403, site=site)
    return site


def site_for_new(user: auth.User, asked: str | None, default: str) -> str:
    """The site a new record goes to: the one asked for, else the user's only site, else ``default``
    (the console's own); 403 for a site the user does not work for."""
    site = asked or (user.sites[0] if user.sites is not None and len(user.sites) == 1 else default)
    return their_site(user, site)
