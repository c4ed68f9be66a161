"""People: users, their login sessions, the audit chain of what they did, and the duty log they sign."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from console.store.tables.base import Base, BigId, UTCDateTime


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    display_name: Mapped[str] = mapped_column(String(64), default="")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sites: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    """The sites this user works for (every page, list and stream shows only theirs); None: every
    site of the deployment (a group supervisor, the admin, a single site's staff)."""


class SessionRow(Base):
    __tablename__ = "sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    client: Mapped[str] = mapped_column(String(64), default="")


class DisplayPairingRow(Base):
    """A wall asking to be signed in (kiosk pairing): it shows ``code``; an admin approves the code
    for a display login; the wall, holding the secret in an HttpOnly cookie, then gets its session
    cookie. No token ever appears in a URL."""

    __tablename__ = "display_pairings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    code: Mapped[str] = mapped_column(String(16), index=True)
    client: Mapped[str] = mapped_column(String(64), default="")
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    user_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=True)
    name: Mapped[str] = mapped_column(String(64), default="")
    approved_by: Mapped[str] = mapped_column(String(64), default="")
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


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


class DutyLogRow(Base):
    """One entry of the fire-control room's duty log (值班记录, GB 25201): due every interval, pre-filled
    by the console, checked and signed by the two people on duty, never changed after the first
    signature; a correction is a new row (``sequence`` > 0) that names the one it corrects."""

    __tablename__ = "duty_log"
    __table_args__ = (
        UniqueConstraint("site", "slot_at", "sequence", name="uq_duty_log_slot"),
        Index("ix_duty_log_finding", "finding", "reviewed_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    site: Mapped[str] = mapped_column(String(64))
    slot_at: Mapped[datetime] = mapped_column(UTCDateTime())
    """When the entry fell due (00:00, 02:00, … site time for the default two hours)."""
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    """0: the entry of its slot; 1, 2, …: corrections of it, in order."""
    corrects_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("duty_log.id"), nullable=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    prefill: Mapped[dict] = mapped_column(JSON, default=dict)
    """What the console knew when the entry opened: the suggested checks and their details."""
    observed: Mapped[dict] = mapped_column(JSON, default=dict)
    """What the people on duty saw on the panel (the suggestion until they change it)."""
    remarks: Mapped[str] = mapped_column(Text, default="")
    edited_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    first_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    first_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    second_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    second_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    content_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    """SHA-256 of what was signed, set by the first signature and in the audit chain."""
    finding: Mapped[str | None] = mapped_column(String(16), nullable=True)
    """``late`` (not signed within the grace time) or ``missed`` (not signed before the next slot)."""
    reviewed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    review_comment: Mapped[str] = mapped_column(Text, default="")
