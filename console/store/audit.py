"""The append-only, hash-chained audit log of human actions, and its verification.

Each row's hash covers its id, time, actor, action, target, detail, client and the previous row's
hash, so an edited row, a deleted row and two swapped rows all break the chain. (Deleting the
newest rows leaves a shorter valid chain; export the head hash elsewhere to catch that.)
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from console.store.tables import AuditRow

GENESIS = "0" * 64


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
