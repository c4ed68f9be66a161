"""SQLAlchemy tables: events, alarms, device status, quarantine, users, sessions, audit."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# BigInteger ids that are still INTEGER PRIMARY KEY (rowid aliases) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, returns timezone-aware UTC datetimes on every backend (SQLite drops offsets)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if getattr(dialect, "name", "") == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


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


class DeviceStatusRow(Base):
    __tablename__ = "device_status"

    site: Mapped[str] = mapped_column(String(64), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    registered: Mapped[bool] = mapped_column(Boolean, default=True)
    state: Mapped[str] = mapped_column(String(16), default="unknown")
    state_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    first_seen: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_adapter: Mapped[str | None] = mapped_column(String(48), nullable=True)
    last_topic: Mapped[str | None] = mapped_column(String(256), nullable=True)


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


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    display_name: Mapped[str] = mapped_column(String(64), default="")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SessionRow(Base):
    __tablename__ = "sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    client: Mapped[str] = mapped_column(String(64), default="")


class AuditRow(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(128), default="")
    detail: Mapped[str] = mapped_column(Text, default="{}")
    """Canonical JSON text, hashed exactly as stored."""
    client: Mapped[str] = mapped_column(String(64), default="")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class TaskRow(Base):
    """A handling task: one SOP run for an alarm (or a checklist such as the shift handover)."""

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_state_due", "state", "next_due_at"),
        Index("ix_tasks_alarm", "alarm_id"),
        Index("ix_tasks_opened", "opened_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    site: Mapped[str] = mapped_column(String(64))
    sop_id: Mapped[str] = mapped_column(String(64))
    alarm_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("alarms.id"), nullable=True)
    alarm_kind: Mapped[str] = mapped_column(String(48), default="")
    device_id: Mapped[str] = mapped_column(String(128), default="")
    point: Mapped[str] = mapped_column(String(64), default="")
    severity_rank: Mapped[int] = mapped_column(Integer, default=9)
    state: Mapped[str] = mapped_column(String(16), default="open")
    """open or closed."""
    drill: Mapped[bool] = mapped_column(Boolean, default=False)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    close_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    steps: Mapped[list] = mapped_column(JSON, default=list)
    """The step states (TaskMachine.dump_steps)."""
    repeats: Mapped[int] = mapped_column(Integer, default=0)
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    """The earliest step deadline or dispatch acceptance still to fire: what the deadline loop scans."""
    assignee: Mapped[str | None] = mapped_column(String(64), nullable=True)
    dispatch_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    revision: Mapped[int] = mapped_column(Integer, default=1)


class TaskLogRow(Base):
    """Everything that happened to a task, by whom and when: answers, comments, dispatch, deadlines."""

    __tablename__ = "task_log"
    __table_args__ = (Index("ix_task_log_task", "task_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    task_id: Mapped[int] = mapped_column(BigId, ForeignKey("tasks.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    step: Mapped[str | None] = mapped_column(String(48), nullable=True)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    action_key: Mapped[str | None] = mapped_column(String(80), nullable=True, unique=True)
    """The client's id for the action: a retried request is recognised and not applied twice."""


ACTIVE_DISPATCH = ("assigned", "accepted", "en_route", "on_scene")
ACTIVE_DISPATCH_SQL = "state IN (" + ", ".join(f"'{state}'" for state in ACTIVE_DISPATCH) + ")"


class DispatchRow(Base):
    """One guard sent to one task: assigned -> accepted -> en_route -> on_scene -> reported."""

    __tablename__ = "dispatches"
    __table_args__ = (
        Index("ix_dispatches_guard_state", "guard", "state"),
        Index("ix_dispatches_task", "task_id"),
        # A guard is on one task at a time: the store refuses a second active dispatch.
        Index("uq_dispatches_guard_active", "guard", unique=True,
              sqlite_where=text(ACTIVE_DISPATCH_SQL), postgresql_where=text(ACTIVE_DISPATCH_SQL)),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    task_id: Mapped[int] = mapped_column(BigId, ForeignKey("tasks.id"))
    guard: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    """assigned, accepted, en_route, on_scene, reported; or ended: declined, expired, replaced, cancelled."""
    assigned_by: Mapped[str] = mapped_column(String(64))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime())
    accept_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    en_route_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    on_scene_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    arrival_proof: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    report: Mapped[str | None] = mapped_column(Text, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class GuardRow(Base):
    """A guard's shift and last known place (last checkpoint or scene)."""

    __tablename__ = "guards"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    on_shift: Mapped[bool] = mapped_column(Boolean, default=False)
    shift_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    shift_ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    building: Mapped[str] = mapped_column(String(64), default="")
    floor: Mapped[str] = mapped_column(String(16), default="")
    zone: Mapped[str] = mapped_column(String(64), default="")
    location_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class EvidenceRow(Base):
    """A photo (or other file) attached to a task step; the bytes live in the data folder by hash."""

    __tablename__ = "evidence"
    __table_args__ = (UniqueConstraint("task_id", "sha256", name="uq_evidence_task_sha256"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    task_id: Mapped[int] = mapped_column(BigId, ForeignKey("tasks.id"))
    step: Mapped[str | None] = mapped_column(String(48), nullable=True)
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class HandoverRow(Base):
    """A shift handover: what was open when it started (a snapshot), and its checklist task, whose
    two signatures (outgoing, incoming) complete it."""

    __tablename__ = "handovers"
    __table_args__ = (Index("ix_handovers_created", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    site: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(64))
    task_id: Mapped[int] = mapped_column(BigId, ForeignKey("tasks.id"))
    notes: Mapped[str] = mapped_column(Text, default="")
    snapshot: Mapped[dict] = mapped_column(JSON, default=dict)


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


class RegisteredDeviceRow(Base):
    """A device an admin registered from the console (an unknown device that turned up), kept
    beside the site file's registry; the site file's own entries cannot be changed here."""

    __tablename__ = "registered_devices"

    site: Mapped[str] = mapped_column(String(64), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    entry: Mapped[dict] = mapped_column(JSON, default=dict)
    """The DeviceEntry as the site file would hold it."""
    registered_by: Mapped[str] = mapped_column(String(64))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FloorPlanRow(Base):
    """The plan of one floor of one building: an image (PNG or JPEG, kept in the store so every
    console instance serves it) on which devices are placed."""

    __tablename__ = "floor_plans"
    __table_args__ = (UniqueConstraint("site", "building", "floor", name="uq_floor_plans_place"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site: Mapped[str] = mapped_column(String(64))
    building: Mapped[str] = mapped_column(String(64))
    floor: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(128), default="")
    image: Mapped[bytes] = mapped_column(LargeBinary)
    content_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    """Bumped on every change of the image or of a marker: the image URL carries it."""
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DevicePositionRow(Base):
    """Where a device (or one point of it) is on a floor plan, placed from the admin page; x and y
    are fractions 0..1 of the image from the left and from the top."""

    __tablename__ = "device_positions"

    floorplan_id: Mapped[int] = mapped_column(Integer, ForeignKey("floor_plans.id", ondelete="CASCADE"),
                                              primary_key=True)
    device_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    point: Mapped[str] = mapped_column(String(64), primary_key=True, default="")
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
    placed_by: Mapped[str] = mapped_column(String(64))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime())
