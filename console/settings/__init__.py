"""Pydantic models of the site file, one module per group of sections; ``MCC_<SECTION>__<KEY>``
environment variables win over the file. Everything a caller needs is named here."""

from console.settings.base import ID_PATTERN, Section
from console.settings.cameras import CameraEntry, CameraLocation, CamerasSection
from console.settings.connections import (
    BrokerAddress,
    ClusterSection,
    DatabaseSection,
    HttpSection,
    InfluxSection,
    MqttSection,
    SiteEntry,
    SiteSection,
)
from console.settings.devices import (
    AdapterEntry,
    AdapterType,
    CarPark,
    ChecksumVariant,
    CommandsSection,
    DeviceEntry,
    DevicesSection,
    HealthSection,
    IngestSection,
    ParkingSection,
    PointEntry,
)
from console.settings.handling import (
    AlarmNoticeRule,
    DeniedBurstRule,
    DispatchSection,
    EvidenceSection,
    NotifyRole,
    NotifySection,
    NotifyTarget,
    PlateEntry,
    PlatesRule,
    RulesSection,
    SopsSection,
)
from console.settings.site import Settings, evidence_folder, load_settings, sqlite_path

__all__ = [
    "ID_PATTERN", "Section", "CameraEntry", "CameraLocation", "CamerasSection", "BrokerAddress", "ClusterSection",
    "DatabaseSection", "HttpSection", "InfluxSection", "MqttSection", "SiteEntry", "SiteSection", "AdapterEntry", "AdapterType",
    "CarPark", "ChecksumVariant", "DeviceEntry", "DevicesSection", "HealthSection", "IngestSection",
    "CommandsSection", "ParkingSection", "PointEntry", "DeniedBurstRule", "DispatchSection", "EvidenceSection", "NotifyRole",
    "AlarmNoticeRule", "NotifySection", "NotifyTarget", "PlateEntry", "PlatesRule", "RulesSection", "SopsSection", "Settings",
    "evidence_folder", "load_settings", "sqlite_path",
]
