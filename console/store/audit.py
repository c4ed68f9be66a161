"""The append-only, hash-chained audit log of human actions, and its verification.

Each row's hash covers its id, time, actor, action, target, detail, client and the previous row's
hash, so an edited row, a deleted row and two swapped rows all break the chain. Deleting the newest
rows leaves a shorter chain that is still valid: only something kept outside the store can tell.
That is the anchor, the head's (id, hash, time), printed in every report, sent to the time series
and logged; ``mcc audit verify --anchor ID:HASH`` then fails when row ID is gone or differs.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from console.store.tables import AuditRow

GENESIS = "0" * 64
PREFIX_MIN = 12
"""Hex digits an anchor must give at least: 48 bits, what the time series keeps as a number."""


def _canonical(detail: dict[str, Any]) -> str:
    return json.dumps(detail, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def row_hash(row: AuditRow) -> str:
    material = json.dumps(
        [row.id, row.at.astimezone(timezone.utc).isoformat(), row.actor, row.action, row.target,
         row.detail, row.client, row.prev_hash],
        ensure_ascii=False, separators=(",", ":"),
    )
    return hashlib.sha256(material.encode()).hexdigest()


def record(
    session: Session, actor: str, action: str, target: str = "", detail: dict[str, Any] | None = None,
    client: str = "", at: datetime | None = None,
) -> AuditRow:
    """Append one action in the caller's transaction (so it commits or fails with the action)."""
    if session.get_bind().dialect.name == "postgresql":
        # Serialise appenders across console instances for the rest of this transaction.
        session.execute(text("SELECT pg_advisory_xact_lock(72736001)"))
    last = session.scalar(select(AuditRow.hash).order_by(AuditRow.id.desc()).limit(1))
    row = AuditRow(
        at=at or datetime.now(timezone.utc),
        actor=actor[:64], action=action[:64], target=target[:128], detail=_canonical(detail or {}),
        client=client[:64], prev_hash=last or GENESIS, hash=uuid.uuid4().hex,  # placeholder until the id exists
    )
    session.add(row)
    session.flush()
    session.refresh(row)  # read back the stored time exactly as the database keeps it
    row.hash = row_hash(row)
    session.flush()
    return row


@dataclass(frozen=True)
class Problem:
    row_id: int
    message: str


def verify(session: Session) -> tuple[int, list[Problem]]:
    """Walk the chain in id order; return (rows checked, problems found)."""
    problems: list[Problem] = []
    previous = GENESIS
    count = 0
    for row in session.scalars(select(AuditRow).order_by(AuditRow.id)).yield_per(1000):
        count += 1
        if row.prev_hash != previous:
            problems.append(Problem(row.id, "does not follow the row before it (a row was deleted or moved)"))
        if row_hash(row) != row.hash:
            problems.append(Problem(row.id, "content does not match its hash (the row was edited)"))
        previous = row.hash
    return count, problems


@dataclass(frozen=True)
class Anchor:
    """The chain's head at one moment: kept outside the store, it proves rows up to ``row_id``."""

    row_id: int
    hash: str
    at: datetime

    @property
    def token(self) -> str:
        """What ``mcc audit verify --anchor`` takes."""
        return f"{self.row_id}:{self.hash}"

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.row_id, "hash": self.hash, "at": self.at.isoformat(), "token": self.token}


def head(session: Session) -> Anchor | None:
    """The newest row as an anchor (None: the log is empty)."""
    row = session.scalars(select(AuditRow).order_by(AuditRow.id.desc()).limit(1)).first()
    return Anchor(row.id, row.hash, row.at) if row is not None else None


def parse_anchor(value: str) -> tuple[int, str]:
    """``ID:HASH`` (the whole hash, or its first PREFIX_MIN or more hex digits) → (id, lower-case hex)."""
    match = re.fullmatch(r"\s*(\d+):([0-9a-fA-F]{%d,64})\s*" % PREFIX_MIN, value)
    if match is None:
        raise ValueError(f"an anchor is ID:HASH (at least {PREFIX_MIN} hex digits of the hash), not {value!r}")
    return int(match.group(1)), match.group(2).lower()


def check_anchors(session: Session, anchors: list[tuple[int, str]]) -> list[Problem]:
    """Each anchored row must still be there with the hash it had: a missing one means the newest
    rows were deleted (the rest of the chain can still be valid), a different one that it was
    altered or the chain was rebuilt after it."""
    problems = []
    for row_id, digest in anchors:
        row = session.get(AuditRow, row_id)
        if row is None:
            problems.append(Problem(row_id, "anchored row is missing (rows were deleted from the end of the chain)"))
        elif not row.hash.startswith(digest):
            problems.append(Problem(row_id, f"anchored row's hash is {row.hash[:len(digest)]}, the anchor says "
                                            f"{digest} (the row was replaced or the chain rebuilt)"))
    return problems
