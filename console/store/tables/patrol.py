"""Patrol: the site keys that sign printed tags, each tag's issue number (a reprint retires the old
label), and the rounds guards walk (checkpoints, routes, schedules, rounds and their points)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from console.store.tables.base import Base, UTCDateTime


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
