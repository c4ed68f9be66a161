"""Engine creation (SQLite in WAL mode, or PostgreSQL) and Alembic migrations to head."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import sessionmaker

from console.errors import StoreError
from console.settings import sqlite_path

log = logging.getLogger("mcc.store")
MIGRATIONS = Path(__file__).with_name("migrations")


def _sqlite_pragmas(dbapi_connection: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (API, WebSocket snapshots) run beside the one ingest writer.
    # synchronous=FULL fsyncs the WAL on every commit, so an acked message survives power loss,
    # not only a process crash; group commits keep that affordable.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class WriteTurns:
    """SQLite has one write lock, and a transaction waiting for it polls (busy_timeout), sleeping
    up to 100 ms between tries. The ingest writer, committing batch after batch, takes the lock
    again a moment after it lets it go, so an operator's acknowledgement could wait out every try.
    Here the writers of this process say that they are waiting, and the ingest writer lets them
    go first (``let_others_write``), for a bounded time: nobody is ever stuck behind it."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._waiting = 0

    def waiting(self) -> int:
        return self._waiting

    def begin(self, begin: Any) -> None:
        with self._cond:
            self._waiting += 1
        try:
            begin()
        finally:
            with self._cond:
                self._waiting -= 1
                self._cond.notify_all()

    def let_others_write(self, timeout: float) -> None:
        """Wait (at most ``timeout`` s) until no other writer of this process waits for the lock."""
        with self._cond:
            self._cond.wait_for(lambda: self._waiting == 0, timeout)


def create_store_engine(url: str, *, writer: bool = False, turns: WriteTurns | None = None) -> Engine:
    """An engine for ``url``. On SQLite, a ``writer`` engine opens every transaction with
    BEGIN IMMEDIATE, so a read-then-write never fails on a lock upgrade; readers stay deferred
    and never wait for the writer (WAL). ``turns``: where its writers say they wait."""
    path = sqlite_path(url)
    if path is None:
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
    begin = "BEGIN IMMEDIATE" if writer else "BEGIN"

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: object) -> None:
        _sqlite_pragmas(dbapi_connection)
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself, below

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        if turns is None:
            conn.exec_driver_sql(begin)
        else:
            turns.begin(lambda: conn.exec_driver_sql(begin))

    return engine


class Store:
    """The two session factories the console uses: ``read`` for queries, ``write`` for changes.

    On PostgreSQL both share one engine; on SQLite the writer takes the lock up front.
    """

    def __init__(self, url: str):
        self.url = url
        self.turns = WriteTurns()
        self.read_engine = create_store_engine(url)
        self.write_engine = (create_store_engine(url, writer=True, turns=self.turns) if sqlite_path(url)
                             else self.read_engine)
        self.read = sessionmaker(self.read_engine, expire_on_commit=False)
        self.write = sessionmaker(self.write_engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.write_engine.dialect.name

    def migrate(self) -> None:
        migrate(self.write_engine)

    def ping(self) -> bool:
        return ping(self.read_engine)

    def dispose(self) -> None:
        self.read_engine.dispose()
        if self.write_engine is not self.read_engine:
            self.write_engine.dispose()


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


# A fixed advisory lock key ("mcc migrate"): instances of a center that start together migrate one
# after the other; the second finds the schema at head.
MIGRATE_LOCK = 0x6D63_6320_6D69_6772


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent; on PostgreSQL one instance at a time)."""
    try:
        if engine.dialect.name != "postgresql":
            command.upgrade(alembic_config(engine), "head")
            return
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATE_LOCK})
            conn.commit()
            try:
                command.upgrade(alembic_config(engine), "head")
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATE_LOCK})
                conn.commit()
    except OperationalError as exc:
        raise StoreError(f"cannot migrate the database: {exc.orig}") from exc


def ping(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except SQLAlchemyError:
        return False

