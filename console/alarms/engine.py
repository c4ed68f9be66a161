"""Create-or-update alarms per (device, point, kind); clear on restore; acknowledge independently.

An alarm stays in the live queue until it is both acknowledged and cleared (then ``closed``);
a new occurrence after that opens a new alarm. Retained replays may clear but never raise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from console.alarms.rules import ALARM_KINDS, LIFE_SAFETY, MOMENTARY, RAISES, SEVERITY_RANK, clear_spec
from console.events import Event, RestoreData
from console.store.tables import AlarmRow, ShelfRow

FLOOD_WINDOW = timedelta(minutes=10)
FLOOD_COUNT = 10
"""An alarm repeating this often within the window is shown as a flood (grouped on its one row)."""

ChangeType = Literal["alarm.raised", "alarm.updated", "alarm.cleared", "alarm.acked"]


@dataclass(frozen=True)
class AlarmChange:
    type: ChangeType
    alarm: AlarmRow


def apply_event(session: Session, event: Event, event_id: int) -> list[AlarmChange]:
    """Apply one stored event to the alarms table; return what changed, in order."""
    if event.kind not in ALARM_KINDS:
        return []
    changes: list[AlarmChange] = []
    spec = clear_spec(event.kind, event.data.of if isinstance(event.data, RestoreData) else None)
    if spec is not None:
        changes.extend(_clear(session, event, spec.kinds, spec.all_points))
    severity = RAISES.get(event.kind)
    if severity is not None and not event.retained:
        changes.append(_raise(session, event, event_id, severity))
    return changes


def _raise(session: Session, event: Event, event_id: int, severity: str) -> AlarmChange:
    # A device that can only say "now" (a 433 MHz sensor's code, a button) never sends a clear:
    # its adapter marks the event momentary, and the alarm leaves the queue once acknowledged.
    momentary = event.kind in MOMENTARY or bool(event.data.model_extra and event.data.model_extra.get("momentary"))
    return raise_alarm(session, site=event.site, device_id=event.device_id, point=event.point, kind=event.kind,
                       severity=severity, at=event.received_at, event_id=event_id, test=bool(event.data.test),
                       momentary=momentary)


def raise_alarm(session: Session, *, site: str, device_id: str, point: str, kind: str, severity: str,
                at: datetime, event_id: int, test: bool, momentary: bool = False) -> AlarmChange:
    """Create the alarm, or count a repeat on the open one. ``momentary``: no event ever clears it
    (a run of denials, a blocked plate): it is raised already cleared and leaves the queue once
    acknowledged."""
    alarm = session.scalars(
        select(AlarmRow).where(
            AlarmRow.site == site,
            AlarmRow.device_id == device_id,
            AlarmRow.point == point,
            AlarmRow.kind == kind,
            AlarmRow.closed.is_(False),
        ).order_by(AlarmRow.id.desc()).limit(1)
    ).first()
    if alarm is not None:
        alarm.count += 1
        alarm.revision += 1
        alarm.last_at = at
        alarm.last_event_id = event_id
        if alarm.window_start is None or at - alarm.window_start > FLOOD_WINDOW:
            alarm.window_start, alarm.window_count = at, 1
        else:
            alarm.window_count += 1
        shelve(session, alarm, at)
        if alarm.cleared and not momentary:  # it came back before anyone closed it: back in the queue
            alarm.cleared = False
            alarm.cleared_at = None
        return AlarmChange("alarm.updated", alarm)
    alarm = AlarmRow(
        site=site,
        device_id=device_id,
        point=point,
        kind=kind,
        severity=severity,
        severity_rank=SEVERITY_RANK[severity],
        raised_at=at,
        last_at=at,
        count=1,
        first_event_id=event_id,
        last_event_id=event_id,
        acknowledged=False,
        cleared=momentary,
        cleared_at=at if momentary else None,
        closed=False,
        test=test,
        revision=1,
        window_start=at,
        window_count=1,
    )
    shelve(session, alarm, at)
    session.add(alarm)
    session.flush()
    return AlarmChange("alarm.raised", alarm)


def never_shelved(kind: str) -> bool:
    """Every fire signal and every life-safety kind (gas, people trapped in a lift, duress), and
    anything else raised as critical."""
    return kind.startswith("fire.") or kind in LIFE_SAFETY or RAISES.get(kind) == "critical"


def shelve(session: Session, alarm: AlarmRow, at: datetime) -> None:
    """Mark the alarm shelved while a supervisor's shelf covers it (never fire or life safety)."""
    if never_shelved(alarm.kind):
        return
    shelf = session.scalars(select(ShelfRow).where(
        ShelfRow.site == alarm.site, ShelfRow.device_id == alarm.device_id, ShelfRow.expires_at > at,
        ShelfRow.removed_at.is_(None),
        or_(ShelfRow.point.is_(None), ShelfRow.point == alarm.point),
        or_(ShelfRow.kind.is_(None), ShelfRow.kind == alarm.kind),
    ).order_by(ShelfRow.expires_at.desc()).limit(1)).first()
    alarm.shelved_until = shelf.expires_at if shelf is not None else None
    alarm.shelf_id = shelf.id if shelf is not None else None


def is_shelved(alarm: AlarmRow, at: datetime) -> bool:
    return alarm.shelved_until is not None and alarm.shelved_until > at


def flooding(alarm: AlarmRow) -> bool:
    return (alarm.window_count or 1) >= FLOOD_COUNT


def _clear(session: Session, event: Event, kinds: frozenset[str], all_points: bool) -> list[AlarmChange]:
    query = select(AlarmRow).where(
        AlarmRow.site == event.site,
        AlarmRow.device_id == event.device_id,
        AlarmRow.kind.in_(sorted(kinds)),
        AlarmRow.closed.is_(False),
        AlarmRow.cleared.is_(False),
    )
    if not all_points:
        query = query.where(AlarmRow.point == event.point)
    changes = []
    for alarm in session.scalars(query.order_by(AlarmRow.id)):
        if is_flapping(alarm, event.received_at):
            continue  # damped: it stays raised until the device has been back for a while (settle_flapping)
        alarm.cleared = True
        alarm.revision += 1
        alarm.cleared_at = event.received_at
        alarm.closed = alarm.acknowledged
        changes.append(AlarmChange("alarm.cleared", alarm))
    return changes


FLAP_KINDS = frozenset({"device.offline"})
"""Only devices: their state (device_status) tells when they have settled. A camera's status is
per point and is de-duplicated, so a damped camera alarm might never hear its all-clear."""
FLAP_COUNT = 3
"""A device that went offline this often within the flood window is flapping."""
SETTLE = timedelta(minutes=10)


def is_flapping(alarm: AlarmRow, at: datetime) -> bool:
    return (alarm.kind in FLAP_KINDS and not alarm.point and (alarm.window_count or 1) >= FLAP_COUNT
            and alarm.window_start is not None and at - alarm.window_start <= FLOOD_WINDOW)


def settle_flapping(session: Session, now: datetime) -> list[AlarmChange]:
    """Clear the offline alarms of flapping devices that have now been online for ``SETTLE``:
    damped, not silenced (the alarm stayed in the queue, counting, while the device flapped)."""
    from console.store.tables import DeviceStatusRow

    rows = session.execute(
        select(AlarmRow, DeviceStatusRow.state, DeviceStatusRow.state_at)
        .join(DeviceStatusRow, (DeviceStatusRow.site == AlarmRow.site)
              & (DeviceStatusRow.device_id == AlarmRow.device_id))
        .where(AlarmRow.kind == "device.offline", AlarmRow.closed.is_(False), AlarmRow.cleared.is_(False),
               DeviceStatusRow.state == "online")
    ).all()
    changes = []
    for alarm, _state, state_at in rows:
        # Only an alarm that was damped (the device flapped; the online did not clear it), and
        # only the device's own (a point's offline is not the device's state).
        if not is_flapping(alarm, alarm.last_at):
            continue
        if state_at is not None and now - state_at >= SETTLE and now - alarm.last_at >= SETTLE:
            alarm.cleared, alarm.cleared_at = True, now
            alarm.revision += 1
            alarm.closed = alarm.acknowledged
            changes.append(AlarmChange("alarm.cleared", alarm))
    return changes


def acknowledge(alarm: AlarmRow, user: str, comment: str | None, at: datetime) -> bool:
    """Mark ``alarm`` acknowledged; False if it already was (acknowledging is idempotent)."""
    if alarm.acknowledged:
        return False
    alarm.acknowledged = True
    alarm.revision += 1
    alarm.acked_by = user
    alarm.acked_at = at
    alarm.ack_comment = comment
    alarm.closed = alarm.cleared
    return True
