"""Devices as the console keeps them: their status, the ones registered from the console, floor
plans and the devices' places on them, and the commands sent to them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from console.store.tables.base import Base, BigId, UTCDateTime


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


class CommandRow(Base):
    """A remote command (a barrier lift, a GB/T 26875.3 duty check): sent, then confirmed when the
    device's own event says it was done, or not confirmed when that does not come in time."""

    __tablename__ = "commands"
    __table_args__ = (Index("ix_commands_state_due", "state", "due_at"),
                      Index("ix_commands_device_sent", "device_id", "sent_at"))

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    site: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text, default="")
    sent_by: Mapped[str] = mapped_column(String(64))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    """The confirmation must come by then."""
    state: Mapped[str] = mapped_column(String(16), default="sent")
    """sent, confirmed, not_confirmed."""
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    event_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    """The device's event that confirmed it."""
