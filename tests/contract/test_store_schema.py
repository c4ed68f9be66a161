"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from console.store.database import Store
from console.store.tables import Base


def test_migrations_match_the_models(db_url: str) -> None:
    store = Store(db_url)
    try:
        store.migrate()
        store.migrate()  # idempotent
        with store.write_engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
    finally:
        store.dispose()
