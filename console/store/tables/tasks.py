"""Handling tasks: the tasks and their logs, guards and their dispatches, evidence, handovers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from console.store.tables.base import Base, BigId, UTCDateTime


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
    last_scan_action: Mapped[str | None] = mapped_column(String(80), nullable=True)
    """The action id of the guard's last scan: the phone sends its queue in order and drops what
    was answered, so a scan sent again is the last one, and it changes nothing."""


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


class DrillPlanRow(Base):
    """A planned drill (演练计划): what, where and when; started by a person in the control room,
    after which its task (found by the drill message's source id) is watched and scored."""

    __tablename__ = "drill_plans"
    __table_args__ = (Index("ix_drill_plans_planned", "planned_for"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    site: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    planned_for: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    device_id: Mapped[str] = mapped_column(String(128))
    point: Mapped[str] = mapped_column(String(64), default="")
    kind: Mapped[str] = mapped_column(String(48))
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(16), default="planned")
    """planned, started, cancelled."""
    started_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    message_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """The drill message's source id: how its alarm and task are found."""
