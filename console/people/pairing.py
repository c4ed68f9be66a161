"""Kiosk pairing: a wall signs in without a token in its URL.

The wall PC opens ``/pair``. The page asks for a pairing: the console keeps a random secret (its
SHA-256 here, the secret itself only in the wall's HttpOnly cookie) and shows a short code on the
screen. An admin who can see the screen approves that code for a display login and gives the wall
a name (the admin page, or ``mcc display approve``). The wall's next poll, carrying the secret,
gets a display session as an HttpOnly cookie and opens ``/wall``. A code is useless without the
secret, and the secret never leaves the wall's cookie jar: someone who reads the code off the
screen cannot sign in with it.

Requests expire after ``LIFETIME``; at most ``MOST_PENDING`` wait at once (a flood of anonymous
requests gets 429 instead of filling the admin's list).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from console.errors import Refusal
from console.people import auth
from console.store.tables import DisplayPairingRow, UserRow

LIFETIME = timedelta(minutes=10)
MOST_PENDING = 20
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off a wall across a room


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def normal_code(code: str) -> str:
    """What an admin typed, as the wall shows it: upper case, with the dash."""
    raw = "".join(ch for ch in code.upper() if ch.isalnum())
    return f"{raw[:4]}-{raw[4:]}" if len(raw) == 8 else raw


@dataclass(frozen=True)
class Requested:
    secret: str
    code: str
    expires_at: datetime


def request(session: Session, client: str, now: datetime) -> Requested:
    session.execute(delete(DisplayPairingRow).where(DisplayPairingRow.expires_at < now - timedelta(days=1)))
    waiting = session.scalar(select(func.count()).select_from(DisplayPairingRow).where(
        DisplayPairingRow.expires_at > now, DisplayPairingRow.user_id.is_(None))) or 0
    if waiting >= MOST_PENDING:
        raise Refusal("pairing.too_many", "too many walls are waiting to be paired: try again in a few minutes",
                      status=429, headers={"Retry-After": "60"})
    secret = secrets.token_urlsafe(32)
    while True:
        code = _new_code()
        taken = session.scalar(select(DisplayPairingRow.id).where(DisplayPairingRow.code == code,
                                                                   DisplayPairingRow.expires_at > now))
        if taken is None:
            break
    session.add(DisplayPairingRow(secret_hash=_digest(secret), code=code, client=client[:64], requested_at=now,
                                  expires_at=now + LIFETIME, name="", approved_by=""))
    return Requested(secret, code, now + LIFETIME)


def find(session: Session, secret: str, now: datetime) -> DisplayPairingRow | None:
    """The wall's own request (by the secret in its cookie), while it has not expired."""
    if not secret or len(secret) > 128:
        return None
    row = session.scalar(select(DisplayPairingRow).where(DisplayPairingRow.secret_hash == _digest(secret)))
    return row if row is not None and row.expires_at > now else None


def pending(session: Session, now: datetime) -> list[DisplayPairingRow]:
    return list(session.scalars(select(DisplayPairingRow).where(
        DisplayPairingRow.expires_at > now, DisplayPairingRow.user_id.is_(None)).order_by(DisplayPairingRow.id)))


def approve(session: Session, code: str, username: str, name: str, approver: str, now: datetime) -> DisplayPairingRow:
    """Give the wall showing ``code`` the display login ``username``; the caller audits it."""
    row = session.scalar(select(DisplayPairingRow).where(
        DisplayPairingRow.code == normal_code(code), DisplayPairingRow.expires_at > now,
        DisplayPairingRow.user_id.is_(None)).with_for_update())
    if row is None:
        raise Refusal("pairing.unknown_code", f"no wall is waiting with code {code[:16]!r} (it lasts "
                      f"{int(LIFETIME.total_seconds() // 60)} minutes)", status=404, shown=code[:16])
    user = session.scalar(select(UserRow).where(UserRow.username == username))
    if user is None or user.disabled or user.role != "display":
        raise Refusal("pairing.not_display", f"{username!r} is not an enabled display login", status=422,
                      user=username[:64])
    row.user_id, row.name, row.approved_by, row.approved_at = user.id, name, approver, now
    return row


def collect(session: Session, row: DisplayPairingRow, hours: float, client: str) -> tuple[str, auth.User] | None:
    """The wall's session once its request was approved (the request is used up), else None."""
    if row.user_id is None:
        return None
    user_row = session.get(UserRow, row.user_id)
    session.delete(row)
    if user_row is None or user_row.disabled or user_row.role != "display":
        return None
    user = auth.User(user_row.id, user_row.username, user_row.role, user_row.display_name)
    return auth.issue_token(session, user, hours, client), user
