"""What a console's store holds of the event log, read behind its back (the tests of no loss and
no duplicate count and compare source ids)."""

from __future__ import annotations

from sqlalchemy import func, select

from console.store.database import Store
from console.store.tables import EventRow


def stored_ids(db_url: str) -> list[str]:
    """Every stored event's source id (a duplicate would show twice)."""
    store = Store(db_url)
    try:
        with store.read() as session:
            return list(session.scalars(select(EventRow.source_id)))
    finally:
        store.dispose()


def stored_count(db_url: str) -> int:
    store = Store(db_url)
    try:
        with store.read() as session:
            return int(session.scalar(select(func.count()).select_from(EventRow)) or 0)
    finally:
        store.dispose()
