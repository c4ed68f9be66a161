"""What comes in and what it raises: events, alarms (and their shelves and plate lists), camera
snapshots and reference frames, the quarantine."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from console.store.tables.base import Base, BigId, UTCDateTime


class EventRow(Base):
    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("site", "device_id", "source_id", name="uq_events_source"),
        Index("ix_events_device_received", "device_id", "received_at"),
        Index("ix_events_kind_received", "kind", "received_at"),
        # The latest events of one kind at one device (camera status, a run of denials), newest first.
        Index("ix_events_device_kind_id", "device_id", "kind", "id"),
        # Event history searches by time (since / until).
        Index("ix_events_received", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    site: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str] = mapped_column(String(128))
    source_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(48))
    point: Mapped[str] = mapped_column(String(64), default="")
    ts: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    adapter: Mapped[str] = mapped_column(String(48))
    retained: Mapped[bool] = mapped_column(Boolean, default=False)
    test: Mapped[bool] = mapped_column(Boolean, default=False)
    registered: Mapped[bool] = mapped_column(Boolean, default=True)


class AlarmRow(Base):
    __tablename__ = "alarms"
    __table_args__ = (
        Index("ix_alarms_key_open", "site", "device_id", "point", "kind", "closed"),
        Index("ix_alarms_closed_raised", "closed", "raised_at"),
        # One open alarm per (device, point, kind): two writers raising it at once (console
        # instances, the silence watch, a GB link) cannot make two; the loser retries and updates.
        Index("uq_alarms_open_key", "site", "device_id", "point", "kind", unique=True,
              sqlite_where=text("closed = 0"), postgresql_where=text("NOT closed")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    site: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str] = mapped_column(String(128))
    point: Mapped[str] = mapped_column(String(64), default="")
    kind: Mapped[str] = mapped_column(String(48))
    severity: Mapped[str] = mapped_column(String(16))
    severity_rank: Mapped[int] = mapped_column(Integer)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_at: Mapped[datetime] = mapped_column(UTCDateTime())
    count: Mapped[int] = mapped_column(Integer, default=1)
    first_event_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("events.id"), nullable=True)
    last_event_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("events.id"), nullable=True)
    acknowledged: Mapped[bool] = mapped_column(Boolean, default=False)
    acked_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ack_comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    cleared: Mapped[bool] = mapped_column(Boolean, default=False)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed: Mapped[bool] = mapped_column(Boolean, default=False)
    """Acknowledged and cleared: out of the live queue; a new occurrence opens a new alarm."""
    test: Mapped[bool] = mapped_column(Boolean, default=False)
    task_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    """Bumped on every change, so screens can drop a late, older copy of the alarm."""
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    window_count: Mapped[int] = mapped_column(Integer, default=1)
    """Occurrences since window_start (a 10-minute window): a flood is shown as such."""
    shelved_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    shelf_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    notified_level: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    """How many of the site's unacknowledged-alarm escalations (notify.alarms, by time) have been
    passed for this alarm: each is told once, by whichever console instance gets there first."""
    snapshots: Mapped[list[dict[str, object]] | None] = mapped_column(JSON, nullable=True)
    """The camera snapshots attached so far, as alarm_view shows them (rows in ``snapshots``):
    kept on the alarm so that listing alarms costs no query per alarm."""


class SnapshotRow(Base):
    """A JPEG grabbed from a camera for an alarm (or a parking event); its SHA-256 is in the audit chain."""

    __tablename__ = "snapshots"
    __table_args__ = (
        Index("ix_snapshots_alarm", "alarm_id"),
        Index("ix_snapshots_event", "event_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alarm_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("alarms.id"), nullable=True)
    event_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("events.id"), nullable=True)
    camera_id: Mapped[str] = mapped_column(String(64))
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime())
    offset: Mapped[float] = mapped_column(Float)
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    image: Mapped[bytes] = mapped_column(LargeBinary)


class CameraReferenceRow(Base):
    """A camera's reference frame: what its scene should look like (console/video/health.py compares
    every probe with it to tell a moved camera). Taken from the first good probe, or again on request."""

    __tablename__ = "camera_references"

    site: Mapped[str] = mapped_column(String(64), primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime())
    taken_by: Mapped[str] = mapped_column(String(64))
    sha256: Mapped[str] = mapped_column(String(64))
    image: Mapped[bytes] = mapped_column(LargeBinary)
    """The probe's JPEG, as grabbed."""


class QuarantineRow(Base):
    __tablename__ = "quarantine"
    __table_args__ = (Index("ix_quarantine_received", "received_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    topic: Mapped[str] = mapped_column(Text)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    adapter: Mapped[str] = mapped_column(String(48))
    reason: Mapped[str] = mapped_column(Text)
    retained: Mapped[bool] = mapped_column(Boolean, default=False)


class ShelfRow(Base):
    """A supervisor's shelving (搁置) of a nuisance source: its alarms are kept and counted but
    leave the queue, open no task and notify nobody until ``expires_at``. Never fire alarms."""

    __tablename__ = "shelves"
    __table_args__ = (Index("ix_shelves_active", "site", "device_id", "expires_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    site: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str] = mapped_column(String(128))
    point: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """None: every point of the device."""
    kind: Mapped[str | None] = mapped_column(String(48), nullable=True)
    """None: every kind the device raises (fire kinds excepted)."""
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    removed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class PlateRow(Base):
    """A plate on the site's block or allow list, managed from the console (the site file's
    ``rules.plates`` lists are added to these)."""

    __tablename__ = "plates"
    __table_args__ = (Index("ix_plates_plate", "plate", "list_name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    plate: Mapped[str] = mapped_column(String(16))
    """Normalised: no spaces or dots, capitals (粤B12345)."""
    list_name: Mapped[str] = mapped_column(String(8))
    """block or allow."""
    reason: Mapped[str] = mapped_column(Text, default="")
    added_by: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())
    removed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
