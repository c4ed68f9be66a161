"""A plain libpq connection for the cluster's long-lived sessions (advisory locks, LISTEN), with the
keepalives that make a dead peer noticed in seconds on both sides: this instance stops believing it
holds a lock before the server lets another instance take it."""

from __future__ import annotations

import hashlib
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

# Client side: a send that gets no answer for 3 s fails; an idle link is probed after 2 s.
CLIENT_KEEPALIVES = ("keepalives=1 keepalives_idle=2 keepalives_interval=1 keepalives_count=2 "
                     "tcp_user_timeout=3000 connect_timeout=5")
# Server side: the session of an instance that vanished without closing its socket ends (and its
# locks go) after about 5 + 2 x 2 s, later than the instance gives its locks up itself.
SERVER_KEEPALIVES = ("SET tcp_keepalives_idle = 5", "SET tcp_keepalives_interval = 2",
                     "SET tcp_keepalives_count = 2", "SET client_connection_check_interval = 2000")


def libpq_url(sqlalchemy_url: str) -> str:
    """``postgresql+psycopg://…`` as libpq takes it."""
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)


def connect(sqlalchemy_url: str, application_name: str) -> psycopg.Connection[Any]:
    """An autocommit session that names the instance in ``pg_stat_activity``."""
    dsn = psycopg.conninfo.make_conninfo(libpq_url(sqlalchemy_url), application_name=application_name[:63])
    conn = psycopg.connect(f"{dsn} {CLIENT_KEEPALIVES}", autocommit=True)
    for statement in SERVER_KEEPALIVES:
        conn.execute(statement)
    return conn


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory lock key for ``name`` (``mcc:`` keeps other users' keys apart)."""
    return int.from_bytes(hashlib.sha256(f"mcc:{name}".encode()).digest()[:8], "big", signed=True)
