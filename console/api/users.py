"""Users (admin only): list, create, change role / name / password, disable. Disabling a user or
changing their password ends their sessions; disabling, a new password or a new role also closes
their open WebSockets (1008: the pages go to the login page). Every change is audited."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from console.api.deps import Admin, ReadSession, RuntimeDep, SocketsDep, client_address, token_from
from console.errors import AuthError, Refusal
from console.people import auth
from console.runtime import Runtime
from console.store import audit
from console.store.tables import SessionRow, UserRow

router = APIRouter(prefix="/api/users", tags=["users"])
RoleName = str


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    role: RoleName = Field(description="admin, supervisor, operator, guard or display")
    display_name: str = Field("", max_length=64)
    sites: list[str] | None = Field(None, max_length=1000, description="The sites they work for; null: every site.")


class UserChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: RoleName | None = None
    display_name: str | None = Field(None, max_length=64)
    disabled: bool | None = None
    password: str | None = Field(None, min_length=1, max_length=256)
    sites: list[str] | None = Field(None, max_length=1000, description="The sites they work for (an empty list "
                                                                       "is refused; every_site: true for all).")
    every_site: bool | None = Field(None, description="true: no site limit (a group supervisor).")


def user_view(row: UserRow) -> dict[str, Any]:
    return {"username": row.username, "role": row.role, "display_name": row.display_name,
            "disabled": row.disabled, "created_at": row.created_at.isoformat(), "sites": row.sites}


def known_sites(runtime: Runtime, sites: list[str] | None) -> list[str] | None:
    """``sites`` checked against the deployment's (422 for one it does not watch, or none at all)."""
    if sites is None:
        return None
    if not sites:
        raise Refusal("user.no_site", "a user limited to sites needs at least one", status=422)
    if unknown := sorted(set(sites) - set(runtime.settings.site_ids)):
        raise Refusal("user.unknown_site", f"unknown site(s): {', '.join(unknown)}", status=422,
                      sites=", ".join(unknown))
    return sorted(set(sites))


@router.get("")
def list_users(session: ReadSession, _user: Admin) -> list[dict[str, Any]]:
    return [user_view(row) for row in session.scalars(select(UserRow).order_by(UserRow.username))]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_user(body: NewUser, request: Request, runtime: RuntimeDep, user: Admin) -> dict[str, Any]:
    conflict = AuthError("user.exists", f"user {body.username!r} already exists", user=body.username)
    try:
        with runtime.store.write() as session, session.begin():
            if auth.user_exists(session, body.username):  # ignoring case: Root beside root is refused
                raise conflict
            sites = known_sites(runtime, body.sites)
            auth.add_user(session, body.username, body.password, body.role, body.display_name, sites)
            audit.record(session, user.username, "user.add", target=f"user:{body.username}",
                         detail={"role": body.role, "display_name": body.display_name, "sites": sites},
                         client=client_address(request), at=runtime.now())
            row = session.scalar(select(UserRow).where(UserRow.username == body.username))
            assert row is not None
            return user_view(row)
    except IntegrityError as exc:  # the same name created at the same moment (the unique index)
        raise conflict from exc


def _enabled_admins(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(UserRow).where(
        UserRow.role == "admin", UserRow.disabled.is_(False))) or 0


@router.patch("/{username}")
def change_user(username: str, body: UserChange, request: Request, runtime: RuntimeDep, sockets: SocketsDep,
                user: Admin) -> dict[str, Any]:
    token = token_from(request)
    view, close_sockets = _change_user(username, body, request, runtime, user, token)
    if close_sockets:  # after the commit: a socket opening now sees the change when it checks again
        # An admin changing their own password keeps this session (and its sockets); the others close.
        keep = auth.token_digest(token) if token and user.username == view["username"] else None
        sockets.close_user(view["username"], keep_token_digest=keep)
    return view


def _change_user(username: str, body: UserChange, request: Request, runtime: RuntimeDep, user: auth.User,
                 token: str | None) -> tuple[dict[str, Any], bool]:
    with runtime.store.write() as session, session.begin():
        row = session.scalar(select(UserRow).where(UserRow.username == username).with_for_update())
        if row is None:
            raise Refusal("user.not_found", f"no user {username!r}", status=404, user=username)
        if body.role is not None and body.role not in auth.ROLES:
            raise AuthError("user.unknown_role", f"unknown role {body.role!r}; choose one of {', '.join(auth.ROLES)}",
                            status=422, role=body.role, roles=", ".join(auth.ROLES))
        demoting = row.role == "admin" and body.role is not None and body.role != "admin"
        disabling = body.disabled is True and not row.disabled
        if (demoting or disabling) and row.username == user.username:
            raise Refusal("user.self", "you cannot disable or demote yourself; ask another admin")
        if (demoting or disabling) and row.role == "admin" and not row.disabled:
            # Lock the admins (PostgreSQL) so two admins demoting each other cannot leave none.
            session.scalars(select(UserRow.id).where(UserRow.role == "admin").with_for_update()).all()
            if _enabled_admins(session) <= 1:
                raise Refusal("user.last_admin", f"{row.username} is the last enabled admin; make another admin first",
                              user=row.username)
        changes: dict[str, Any] = {}
        if body.role is not None and body.role != row.role:
            changes["role"] = [row.role, body.role]
            row.role = body.role
        if body.display_name is not None and body.display_name != row.display_name:
            changes["display_name"] = [row.display_name, body.display_name]
            row.display_name = body.display_name
        if body.disabled is not None and body.disabled != row.disabled:
            changes["disabled"] = [row.disabled, body.disabled]
            row.disabled = body.disabled
        if body.every_site and row.sites is not None:
            changes["sites"] = [row.sites, None]
            row.sites = None
        elif body.sites is not None and (sites := known_sites(runtime, body.sites)) != row.sites:
            changes["sites"] = [row.sites, sites]
            row.sites = sites
        if body.password is not None:
            auth.validate_password(body.password)
            row.password_hash = auth.hash_password(body.password)
            changes["password"] = "changed"
        revoke = (row.disabled and "disabled" in changes) or "password" in changes
        revoked = 0
        if revoke:
            ending = delete(SessionRow).where(SessionRow.user_id == row.id)
            if row.id == user.id and token:  # an admin changing their own password stays signed in here
                ending = ending.where(SessionRow.token_hash != hashlib.sha256(token.encode()).hexdigest())
            revoked = session.execute(ending).rowcount or 0  # type: ignore[attr-defined]  # a DELETE gives a CursorResult
        if changes:
            audit.record(session, user.username, "user.change", target=f"user:{row.username}",
                         detail={**changes, "sessions_revoked": revoked}, client=client_address(request),
                         at=runtime.now())
        close_sockets = revoke or "role" in changes or "sites" in changes  # a socket's stream was for the old sites
        return user_view(row), close_sockets
