"""SQLAlchemy tables, one module per part of the console (base, signals, devices, people, tasks);
every table is named here, so ``from console.store.tables import AlarmRow`` works wherever it lives."""

from console.store.tables.base import NAMING, Base, BigId, UTCDateTime
from console.store.tables.cluster import ClusterMemberRow, GbHeardRow, HubChangeRow
from console.store.tables.devices import (
    CommandRow,
    DevicePositionRow,
    DeviceStatusRow,
    FloorPlanRow,
    RegisteredDeviceRow,
)
from console.store.tables.patrol import (
    CheckpointRow,
    OutboxRow,
    RoundPointRow,
    RoundRow,
    RouteRow,
    ScheduleRow,
    SiteKeyRow,
    TagIssueRow,
)
from console.store.tables.people import AuditRow, DisplayPairingRow, DutyLogRow, SessionRow, UserRow
from console.store.tables.signals import (
    AlarmRow,
    CameraReferenceRow,
    EventRow,
    PlateRow,
    QuarantineRow,
    ShelfRow,
    SnapshotRow,
)
from console.store.tables.tasks import (
    ACTIVE_DISPATCH,
    ACTIVE_DISPATCH_SQL,
    DispatchRow,
    DrillPlanRow,
    EvidenceRow,
    GuardRow,
    HandoverRow,
    TaskLogRow,
    TaskRow,
)

__all__ = [
    "NAMING", "Base", "BigId", "UTCDateTime", "CommandRow", "DevicePositionRow", "DeviceStatusRow", "FloorPlanRow",
    "RegisteredDeviceRow", "AuditRow", "DisplayPairingRow", "DutyLogRow", "SessionRow", "UserRow", "AlarmRow", "CameraReferenceRow", "EventRow",
    "PlateRow", "QuarantineRow", "ShelfRow", "SnapshotRow", "ACTIVE_DISPATCH", "ACTIVE_DISPATCH_SQL", "DispatchRow",
    "DrillPlanRow",
    "EvidenceRow", "GuardRow", "HandoverRow", "TaskLogRow", "TaskRow", "SiteKeyRow", "TagIssueRow",
    "CheckpointRow", "OutboxRow", "RouteRow", "ScheduleRow", "RoundRow", "RoundPointRow", "HubChangeRow", "ClusterMemberRow", "GbHeardRow",
]
