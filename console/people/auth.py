"""Users, roles, password hashes (argon2id) and login tokens (random, stored only as SHA-256)."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from console.errors import AuthError
from console.store.tables import SessionRow, UserRow

Role = Literal["admin", "supervisor", "operator", "guard", "display"]
ROLES: tuple[str, ...] = ("admin", "supervisor", "operator", "guard", "display")

# What each permission needs. The wall (display) watches; operators and up act on alarms.
VIEW = frozenset(ROLES)
# The whole site's alarms, events and devices; a guard sees only their own tasks.
WATCH_SITE = frozenset({"admin", "supervisor", "operator", "display"})
ACT_ON_ALARMS = frozenset({"admin", "supervisor", "operator"})
# A task's comments, log and evidence photos: the people who work it, not the wall (which shows the
# queue and the steps from the live stream, never what staff wrote or photographed).
READ_TASKS = frozenset({"admin", "supervisor", "operator", "guard"})
ADMINISTER = frozenset({"admin"})

_hasher = PasswordHasher()
# Verifying against this keeps a login for an unknown user as slow as one for a known user.
_DUMMY_HASH = _hasher.hash("not a password")


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str
    display_name: str = ""
    sites: tuple[str, ...] | None = None
    """The sites this user works for; None: every site of the deployment."""

    def sees(self, site: str) -> bool:
        """Whether this user may see anything of ``site``."""
        return self.sites is None or site in self.sites


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def validate_password(password: str) -> None:
    if len(password) < 8:
        raise AuthError("auth.password_short", "the password must have at least 8 characters", status=422)
    if not password.strip():
        raise AuthError("auth.password_blank", "the password must not be only spaces", status=422)


# ASCII letters, digits and . _ @ - only: a name fits in a URL path segment (PATCH /api/users/{name})
# and cannot pass for another (no look-alike letters from other scripts).
USERNAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")


def validate_username(username: str) -> None:
    if not USERNAME.fullmatch(username) or username in (".", ".."):
        raise AuthError("auth.bad_username", "the user name must be 1-64 characters: letters a-z, digits and . _ @ - "
                        "(not '.' or '..')", status=422)


def user_exists(session: Session, username: str) -> bool:
    """Whether a user of this name exists, ignoring case (``Root`` is taken once ``root`` is)."""
    return session.scalar(select(UserRow.id).where(func.lower(UserRow.username) == username.lower())
                          .limit(1)) is not None


def add_user(session: Session, username: str, password: str, role: str, display_name: str = "",
             sites: list[str] | None = None) -> User:
    if role not in ROLES:
        raise AuthError("user.unknown_role", f"unknown role {role!r}; choose one of {', '.join(ROLES)}", status=422,
                        role=role, roles=", ".join(ROLES))
    validate_username(username)
    validate_password(password)
    if user_exists(session, username):
        raise AuthError("user.exists", f"user {username!r} already exists", user=username)
    row = UserRow(username=username, password_hash=hash_password(password), role=role,
                  display_name=display_name, disabled=False, created_at=datetime.now(timezone.utc),
                  sites=sorted(set(sites)) if sites is not None else None)
    session.add(row)
    session.flush()
    return user_of(row)


def user_of(row: UserRow) -> User:
    return User(row.id, row.username, row.role, row.display_name,
                tuple(row.sites) if row.sites is not None else None)


def check_password(session: Session, username: str, password: str) -> User:
    row = session.scalar(select(UserRow).where(UserRow.username == username))
    if row is None or row.disabled:
        try:
            _hasher.verify(_DUMMY_HASH, password)
        except VerificationError:
            pass
        raise AuthError("auth.bad_credentials", "wrong user name or password", status=401)
    try:
        _hasher.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError) as exc:
        raise AuthError("auth.bad_credentials", "wrong user name or password", status=401) from exc
    if _hasher.check_needs_rehash(row.password_hash):
        row.password_hash = hash_password(password)
    return user_of(row)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_digest(token: str) -> str:
    """How a token is stored: its SHA-256 (also how an open WebSocket remembers its session)."""
    return _digest(token)


def issue_token(session: Session, user: User, hours: float, client: str = "") -> str:
    token = secrets.token_urlsafe(32)
    now = datetime.now(timezone.utc)
    session.add(SessionRow(token_hash=_digest(token), user_id=user.id, created_at=now,
                           expires_at=now + timedelta(hours=hours), client=client[:64]))
    session.execute(delete(SessionRow).where(SessionRow.expires_at < now))
    return token


def resolve_token(session: Session, token: str) -> User | None:
    if not token or len(token) > 256:
        return None
    row = session.execute(
        select(UserRow, SessionRow.expires_at)
        .join(SessionRow, SessionRow.user_id == UserRow.id)
        .where(SessionRow.token_hash == _digest(token))
    ).first()
    if row is None:
        return None
    user, expires_at = row
    if user.disabled or expires_at < datetime.now(timezone.utc):
        return None
    return user_of(user)


def revoke_token(session: Session, token: str) -> None:
    session.execute(delete(SessionRow).where(SessionRow.token_hash == _digest(token)))
