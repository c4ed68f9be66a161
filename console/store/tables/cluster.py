"""What several console instances share through the store besides the records themselves: the
numbered changes every instance sends to its WebSocket clients (console/cluster/relay.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from console.store.tables.base import Base, BigId, UTCDateTime


class HubChangeRow(Base):
    """One change for the WebSocket clients of every instance: its ``id`` is the ``seq`` the clients
    see, in commit order (writers take one advisory lock), so ``?since=`` resumes on any instance.
    Kept for ``cluster.relay_keep_seconds``."""

    __tablename__ = "hub_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    origin: Mapped[str] = mapped_column(String(64), default="")
    """The instance that committed the change."""
    body: Mapped[str] = mapped_column(Text)
    """The message as JSON, ``{"type": ..., "data": ...}`` (the seq is the id)."""


class ClusterMemberRow(Base):
    """An instance of the cluster and its MQTT session's client id: while the instance is down
    (its lock on its name is free) another takes up that session (console/cluster/adoption.py)."""

    __tablename__ = "cluster_members"

    instance: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())


class GbHeardRow(Base):
    """When a GB/T 26875.3 source was last heard, by whichever instance holds its link: one
    instance of a cluster supervises every link from these (console/wire/gb_supervision.py)."""

    __tablename__ = "gb_links_heard"

    site: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    heard_at: Mapped[datetime] = mapped_column(UTCDateTime())
    instance: Mapped[str] = mapped_column(String(64), default="")
