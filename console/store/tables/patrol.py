"""Patrol: the site keys that sign printed tags, each tag's issue number (a reprint retires the old
label), and the rounds guards walk (checkpoints, routes, schedules, rounds and their points)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from console.store.tables.base import Base, BigId, UTCDateTime


class SiteKeyRow(Base):
    """The secret a site's tags are signed with (HMAC-SHA256). It never leaves the store."""

    __tablename__ = "site_keys"

    site: Mapped[str] = mapped_column(String(64), primary_key=True)
    secret: Mapped[str] = mapped_column(String(64))
    """64 hex digits (32 random bytes)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TagIssueRow(Base):
    """How many times a tag's label has been printed anew: only the newest issue is accepted.
    A tag without a row is at issue 1."""

    __tablename__ = "tag_issues"

    site: Mapped[str] = mapped_column(String(64), primary_key=True)
    tag: Mapped[str] = mapped_column(String(200), primary_key=True)
    """``loc:<building>/<floor>/<zone>`` or ``cp:<checkpoint id>``."""
    issue: Mapped[int] = mapped_column(Integer, default=1)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    issued_by: Mapped[str] = mapped_column(String(64))


class CheckpointRow(Base):
    """A place on a patrol route (巡更点): its label, an optional checklist, a photo or not."""

    __tablename__ = "patrol_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    building: Mapped[str] = mapped_column(String(64), default="")
    floor: Mapped[str] = mapped_column(String(16), default="")
    zone: Mapped[str] = mapped_column(String(64), default="")
    checklist: Mapped[list] = mapped_column(JSON, default=list)
    """[{"id": "door", "text": "防火门关闭", "role": "engineering"}]: what the guard checks here, and
    who fixes it when it fails."""
    photo_required: Mapped[bool] = mapped_column(Boolean, default=False)
    wand_tag: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """The serial of an RFID button a patrol wand reads here (uploads later through its adapter)."""
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RouteRow(Base):
    """An ordered list of checkpoints (or any order) with the expected minutes between them."""

    __tablename__ = "patrol_routes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    ordered: Mapped[bool] = mapped_column(Boolean, default=True)
    points: Mapped[list] = mapped_column(JSON, default=list)
    """[{"checkpoint": 3, "minutes": 5}]: minutes from the previous point (the first: from the start)."""
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ScheduleRow(Base):
    """When a route must be walked: at fixed times of day, or every N minutes between two times."""

    __tablename__ = "patrol_schedules"
    __table_args__ = (
        # One running compensating patrol per isolation, however many console instances start one.
        Index("uq_patrol_schedules_alarm_active", "alarm_id", unique=True,
              sqlite_where=text("active = 1 AND alarm_id IS NOT NULL"),
              postgresql_where=text("active AND alarm_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site: Mapped[str] = mapped_column(String(64))
    route_id: Mapped[int] = mapped_column(Integer, ForeignKey("patrol_routes.id"))
    name: Mapped[str] = mapped_column(String(100))
    times: Mapped[list] = mapped_column(JSON, default=list)
    """Fixed start times of day, site time: ["08:00", "20:00"]."""
    every_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    from_time: Mapped[str] = mapped_column(String(5), default="00:00")
    until_time: Mapped[str] = mapped_column(String(5), default="24:00")
    start_window_minutes: Mapped[int] = mapped_column(Integer, default=10)
    limit_minutes: Mapped[int] = mapped_column(Integer, default=60)
    guard: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """Always this guard; none: the guard on shift with the fewest rounds."""
    alarm_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("alarms.id"), nullable=True)
    """A compensating patrol: runs while this alarm (an isolated fire point) is active."""
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RoundRow(Base):
    """One walk of a route by one guard. due → started → done / late / incomplete; missed if it was
    never started in its window; cancelled if its schedule ended first."""

    __tablename__ = "patrol_rounds"
    __table_args__ = (
        UniqueConstraint("schedule_id", "due_at", name="uq_patrol_rounds_schedule_due"),
        Index("ix_patrol_rounds_state_due", "state", "due_at"),
        Index("ix_patrol_rounds_guard", "guard", "due_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    site: Mapped[str] = mapped_column(String(64))
    schedule_id: Mapped[int] = mapped_column(Integer, ForeignKey("patrol_schedules.id"))
    route_id: Mapped[int] = mapped_column(Integer, ForeignKey("patrol_routes.id"))
    name: Mapped[str] = mapped_column(String(200))
    ordered: Mapped[bool] = mapped_column(Boolean, default=True)
    guard: Mapped[str | None] = mapped_column(String(64), nullable=True)
    state: Mapped[str] = mapped_column(String(16), default="due")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    start_by: Mapped[datetime] = mapped_column(UTCDateTime())
    limit_minutes: Mapped[int] = mapped_column(Integer)
    limit_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    alarm_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RoundPointRow(Base):
    """One checkpoint of a round: pending → done / late / missed, with both clocks of its scan."""

    __tablename__ = "patrol_round_points"
    __table_args__ = (
        UniqueConstraint("round_id", "seq", name="uq_patrol_round_points_seq"),
        Index("ix_patrol_round_points_state_due", "state", "due_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    round_id: Mapped[int] = mapped_column(BigId, ForeignKey("patrol_rounds.id"))
    seq: Mapped[int] = mapped_column(Integer)
    checkpoint_id: Mapped[int] = mapped_column(Integer, ForeignKey("patrol_checkpoints.id"))
    name: Mapped[str] = mapped_column(String(100))
    offset_minutes: Mapped[int] = mapped_column(Integer, default=0)
    """Expected minutes after the round's start (ordered routes)."""
    state: Mapped[str] = mapped_column(String(16), default="pending")
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    """Set when the round starts: scanned after this, the point is late; not scanned by then, missed."""
    scanned_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    """The phone's (or wand's) clock at the scan, as believed (see console/patrol/timing.py)."""
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    """The server's clock when the scan arrived."""
    device_time: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    """The scan time the phone or wand claimed, kept as sent even when not believed."""
    scanned_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    via: Mapped[str | None] = mapped_column(String(16), nullable=True)
    """qr, nfc, typed (the phone) or wand (an upload)."""
    missed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    checks: Mapped[dict] = mapped_column(JSON, default=dict)
    """The checklist as answered: {"door": "ok" | "failed"}."""
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    photo: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """SHA-256 of the photo taken here (the file lives with the evidence)."""


class OutboxRow(Base):
    """An event the console concluded inside one of its own transactions (a missed patrol point, a
    guard's scan, a finding), waiting for the alarm path to store it. Written with the change that
    caused it, handed to the writer after the commit, and deleted once the event is in the store:
    a crash in between loses nothing (the event's source id makes a second hand-over a duplicate)."""

    __tablename__ = "event_outbox"
    __table_args__ = (UniqueConstraint("site", "device_id", "source_id", name="uq_event_outbox_source"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    site: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str] = mapped_column(String(128))
    source_id: Mapped[str] = mapped_column(String(128))
    draft: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
