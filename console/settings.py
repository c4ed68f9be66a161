"""Pydantic models of the site file; ``MCC_<SECTION>__<KEY>`` environment variables win over the file."""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from paho.mqtt.client import topic_matches_sub
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from console.errors import ConfigError
from console.settings_base import ID_PATTERN, Section
from console.settings_cameras import CamerasSection, check_camera_links

class SiteSection(Section):
    id: str = Field(pattern=ID_PATTERN, description="Site id; the second level of native topics.")
    name: str = Field("", description="Display name (Chinese first).")
    timezone: str = Field("Asia/Shanghai", description="IANA zone for times shown to people.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class MqttSection(Section):
    url: str = Field("mqtt://127.0.0.1:1883", description="mqtt://user:pass@host:port or mqtts://")
    client_id: str | None = Field(None, description="Persistent-session id; default mcc-console-<site>.")
    keepalive: int = Field(30, ge=5, le=3600, description="Seconds between pings.")
    reconnect_min: float = Field(0.5, gt=0, description="First reconnect delay, seconds.")
    reconnect_max: float = Field(30.0, gt=0, description="Longest reconnect delay, seconds.")

    @field_validator("url")
    @classmethod
    def _mqtt_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise ValueError("scheme must be mqtt:// or mqtts://")
        if not parts.hostname:
            raise ValueError("a host is required")
        try:
            _ = parts.port  # raises on a non-numeric port
        except ValueError as exc:
            raise ValueError("port is not a number") from exc
        return value


class DatabaseSection(Section):
    url: str = Field("sqlite:///var/mcc.db", description="SQLAlchemy URL: sqlite:///… or postgresql+psycopg://…")

    @field_validator("url")
    @classmethod
    def _db_url(cls, value: str) -> str:
        if not (value.startswith("sqlite:///") or value.startswith("postgresql+psycopg://")):
            raise ValueError("use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB")
        return value


class HttpSection(Section):
    host: str = Field("127.0.0.1", description="Listen address.")
    port: int = Field(8000, ge=0, le=65535, description="Listen port (0 = any free port).")
    session_hours: float = Field(12.0, gt=0, le=24 * 30, description="Lifetime of a login token.")
    secure_cookie: bool = Field(False, description="Mark the session cookie Secure (behind TLS).")


class PointEntry(Section):
    floor: str = ""
    zone: str = ""
    label: str = ""
    kind: str = ""
    x: float | None = Field(None, ge=0, le=1, description="Position on the floor plan, 0..1 from the left.")
    y: float | None = Field(None, ge=0, le=1, description="Position on the floor plan, 0..1 from the top.")


class DeviceEntry(Section):
    id: str = Field(pattern=ID_PATTERN)
    site: str | None = Field(None, description="Defaults to site.id.")
    name: str = ""
    name_en: str = ""
    role: Literal["fire_panel", "door", "lane", "camera", "sensor", "gateway"] = "sensor"
    kind: str = Field("", description="What a sensor is, for adapters whose payload does not say: smoke_detector, "
                                      "heat_detector, gas, co, water_leak, contact, vibration, door_contact, "
                                      "manual_call_point, duress_button, reader, patrol_point...")
    adapter: str = Field("", description="The adapter this device speaks through (with address).")
    address: str = Field("", description="The device's own id in its adapter's format: a Zigbee IEEE address or "
                                         "friendly name, an esp-rfid hostname, a Frigate camera name...")
    held_open_seconds: int | None = Field(
        None, gt=0, le=86400,
        description="A door: opened (a granted card, or forced) and not reported closed within this time → the "
                    "console raises door_held_open. Only for doors that report door_closed.")
    command_topic: str = Field("", description="Where the console sends this device's commands (a barrier's "
                                               "open): default mcc/v1/<site>/<id>/command.")
    heartbeat_seconds: int | None = Field(
        None, ge=0, le=7 * 86400,
        description="Silent longer than this → offline alarm; 0 = not supervised; default: health.heartbeat_seconds "
                    "for the device's role.")
    building: str = ""
    floor: str = ""
    zone: str = ""
    label: str = Field("", description="Chinese location label shown on the wall.")
    x: float | None = Field(None, ge=0, le=1, description="Position on the floor plan, 0..1 from the left.")
    y: float | None = Field(None, ge=0, le=1, description="Position on the floor plan, 0..1 from the top.")
    cameras: list[str] = Field(default_factory=list)
    points: dict[str, PointEntry] = Field(default_factory=dict)


class DevicesSection(Section):
    file: Path | None = Field(None, description="YAML list of devices, relative to the site file.")
    entries: list[DeviceEntry] = Field(default_factory=list, description="Devices listed inline.")

    @model_validator(mode="after")
    def _unique_addresses(self) -> DevicesSection:
        seen: dict[tuple[str, str], str] = {}
        for device in self.entries:
            if device.address:
                key = (device.adapter, device.address)
                if key in seen:
                    raise ValueError(f"devices {seen[key]} and {device.id} share the address {device.address!r}"
                                     f" of adapter {device.adapter or '(any)'}")
                seen[key] = device.id
        return self
    unknown: Literal["accept", "quarantine"] = Field(
        "accept", description="Events from unregistered devices: store and flag, or quarantine."
    )


AdapterType = Literal[
    "native", "zigbee2mqtt", "esp-rfid", "tasmota-rfid", "esphome", "homie", "openmqttgateway", "dahua-vto2mqtt",
    "hikvision-isapi", "frigate", "openalpr", "sparkplug-b", "ha-discovery", "gb26875",
]
ChecksumVariant = Literal["sum", "sum-from-command", "xor", "xor-from-command"]


class AdapterEntry(Section):
    type: AdapterType
    topic: str | None = Field(None, description="Subscribe filter; default is the format's own.")
    # GB/T 26875.3 receiver (type gb26875) only:
    listen: str | None = Field(None, description="gb26875: HOST:PORT the TCP receiver listens on.")
    checksum: ChecksumVariant = Field("sum", description="gb26875: the standard's checksum, or a vendor's variant.")
    checksum_by_address: dict[str, ChecksumVariant] = Field(
        default_factory=dict, description="gb26875: a variant per device address (12 hex digits).")
    supervise_seconds: float = Field(
        300.0, gt=0, le=86400, description="gb26875: a link silent this long (no frame, no keep-alive) is offline.")
    peers: dict[str, list[str]] = Field(
        default_factory=dict, description="gb26875: the IP addresses each device address (12 hex digits) may speak "
                                          "from; frames claiming that address from anywhere else are denied.")

    @model_validator(mode="after")
    def _receiver_options(self) -> AdapterEntry:
        if self.type == "gb26875":
            if not self.listen:
                raise ValueError("gb26875 needs listen: HOST:PORT for its TCP receiver")
            host, _, port = self.listen.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"listen must be HOST:PORT, got {self.listen!r}")
        elif self.listen or self.checksum_by_address or self.peers or "checksum" in self.model_fields_set:
            raise ValueError(f"listen and checksum apply to gb26875, not {self.type}")
        return self

    @field_validator("topic")
    @classmethod
    def _filter(cls, value: str | None) -> str | None:
        if value is not None:
            check_topic_filter(value)
        return value


class SopsSection(Section):
    dir: Path | None = Field(None, description="Folder of SOP files (*.yaml); default: the sops/ shipped with MCC.")
    limits: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description="Per-site time limits in seconds, by SOP id and limit name, e.g. {fire.alarm: {confirm: 120}}.",
    )


class DispatchSection(Section):
    accept_seconds: int = Field(
        60, gt=0, le=3600,
        description="(P) A guard who has not accepted a dispatch by then is replaced by the next nearest "
                    "free guard, and the supervisor is told.",
    )


NotifyRole = Literal["operator_main", "operator_second", "guard", "supervisor", "project_manager", "engineering"]


class NotifyTarget(Section):
    url: str = Field(min_length=3, description="Any apprise URL: dingtalk://, wecombot://, feishu://, mailto://, json://...")
    roles: list[NotifyRole] = Field(default_factory=list, description="SOP roles whose notices go here.")
    users: list[str] = Field(default_factory=list, description="Guards (user names) whose dispatches go here.")
    name: str = Field("", description="Shown in the task log instead of the URL (which may hold a secret).")

    @field_validator("url")
    @classmethod
    def _apprise_url(cls, value: str) -> str:
        import apprise  # only sites with notification targets pay for the import

        if not apprise.Apprise().add(value):
            raise ValueError("not a notification URL apprise knows (see the apprise wiki for the schemes)")
        return value

    @model_validator(mode="after")
    def _someone(self) -> NotifyTarget:
        if not self.roles and not self.users:
            raise ValueError("a target names the roles or the users it is for")
        return self


class NotifySection(Section):
    targets: list[NotifyTarget] = Field(default_factory=list)
    max_per_minute: int = Field(
        10, ge=1, le=600,
        description="Per target. Beyond it, notices are held and sent together as one digest.",
    )
    drills: bool = Field(False, description="Also notify for drills (演练); off: drills are suppressed.")


class EvidenceSection(Section):
    max_bytes: int = Field(10 * 1024 * 1024, ge=1024, description="Largest photo a guard may upload.")
    dir: Path | None = Field(None, description="Where photos are kept; default: beside the SQLite file, or var/evidence.")


class DeniedBurstRule(Section):
    count: int = Field(5, ge=2, le=100, description="Denials in a row at one reader (GB 50396: 5).")
    window_seconds: int = Field(300, ge=10, le=86400, description="Within this time, first to last.")


class PlateEntry(Section):
    plate: str = Field(min_length=2, max_length=16)
    reason: str = Field("", max_length=200)


class PlatesRule(Section):
    block: list[PlateEntry] = Field(default_factory=list, description="A blocked plate at a lane raises its alarm.")
    allow: list[PlateEntry] = Field(default_factory=list, description="Known plates (shown with their reason).")


class HealthSection(Section):
    heartbeat_seconds: dict[Literal["fire_panel", "door", "lane", "camera", "sensor", "gateway"], int] = Field(
        default_factory=dict,
        description="Budget per device role: a registered device silent for longer is taken offline (camera.offline "
                    "for cameras, device.offline for the rest) until it speaks again. Not set: not supervised. "
                    "Give each role about three of its heartbeat intervals (esp-rfid beats every 180 s: 540).")
    check_seconds: float = Field(15.0, ge=1, le=600, description="How often the budgets are checked.")


class CarPark(Section):
    capacity: int = Field(ge=1, le=100000)
    lanes: list[str] = Field(default_factory=list, description="Lane device ids; default: lanes whose building is "
                                                                  "the car park's name.")
    baseline: int = Field(0, ge=0, description="Cars inside at counted_from (a count by hand).")
    counted_from: datetime | None = Field(None, description="When the baseline was counted (ISO-8601 with offset); "
                                                            "default: since the first event.")


class ParkingSection(Section):
    car_parks: dict[str, CarPark] = Field(default_factory=dict, description="Occupancy from entries and exits.")


class RulesSection(Section):
    """Alarms that no single event carries: the console derives them from several events or lists."""

    denied_burst: DeniedBurstRule = DeniedBurstRule()
    plates: PlatesRule = PlatesRule()


class IngestSection(Section):
    max_payload_bytes: int = Field(65536, ge=256, description="Larger payloads are quarantined.")
    max_json_depth: int = Field(16, ge=2, le=64, description="Deeper JSON is quarantined.")
    max_future_seconds: int = Field(86400, ge=0, description="Timestamps further ahead are quarantined.")
    batch_max: int = Field(500, ge=1, le=10000, description="Most messages committed in one transaction.")


class InfluxSection(Section):
    """The time-series sink (console/timeseries.py): telemetry, counts and KPIs written with the
    InfluxDB v2 write API, off the alarm path. An empty url turns it off."""

    url: str = Field("", description="InfluxDB 2/3 (or VictoriaMetrics) base URL, http(s)://host:port; "
                                     "empty = off.")
    org: str = Field("-", description="InfluxDB organisation (name or id).")
    bucket: str = Field("mcc", min_length=1, description="Bucket the points are written to.")
    token: SecretStr = Field(SecretStr(""), description="API token with write access; never logged or shown.")
    batch_size: int = Field(500, ge=1, le=50000, description="Most points in one write.")
    flush_seconds: float = Field(5.0, gt=0, le=3600, description="A smaller batch is written after this long.")
    buffer_max: int = Field(100000, ge=1, le=10_000_000,
                            description="Points kept in memory while the database is away; beyond it the "
                                        "oldest are dropped (and counted on /api/health).")
    timeout_seconds: float = Field(5.0, gt=0, le=120, description="Time limit of one write.")
    count_seconds: int = Field(60, ge=1, le=3600, description="Width of the event and alarm count buckets.")
    backoff_max_seconds: float = Field(60.0, gt=0, le=3600, description="Longest wait between retries.")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and (urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).hostname):
            raise ValueError("use http://HOST:PORT or https://HOST:PORT (empty = off)")
        return value


class Settings(BaseSettings):
    """The whole site file. Environment variables ``MCC_<SECTION>__<KEY>`` override it."""

    model_config = SettingsConfigDict(
        env_prefix="MCC_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    site: SiteSection
    mqtt: MqttSection = MqttSection()
    database: DatabaseSection = DatabaseSection()
    http: HttpSection = HttpSection()
    devices: DevicesSection = DevicesSection()
    adapters: list[AdapterEntry] = Field(default_factory=lambda: [AdapterEntry(type="native")])
    ingest: IngestSection = IngestSection()
    sops: SopsSection = SopsSection()
    dispatch: DispatchSection = DispatchSection()
    notify: NotifySection = NotifySection()
    evidence: EvidenceSection = EvidenceSection()
    rules: RulesSection = RulesSection()
    health: HealthSection = HealthSection()
    parking: ParkingSection = ParkingSection()
    influx: InfluxSection = InfluxSection()
    cameras: CamerasSection = CamerasSection()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The site file arrives as init kwargs; the environment must win over it.
        return (env_settings, init_settings)

    @model_validator(mode="after")
    def _unique_devices(self) -> Settings:
        seen: set[str] = set()
        for index, device in enumerate(self.devices.entries):
            if device.id in seen:
                raise ValueError(f"devices.entries[{index}].id: duplicate device id {device.id!r}")
            seen.add(device.id)
        return self

    @property
    def client_id(self) -> str:
        return self.mqtt.client_id or f"mcc-console-{self.site.id}"


def check_topic_filter(value: str) -> None:
    """Raise ValueError unless ``value`` is a valid MQTT subscribe filter."""
    if not value or len(value.encode()) > 65535 or "\x00" in value:
        raise ValueError("empty, too long or contains NUL")
    levels = value.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            raise ValueError("'#' must be a whole last level")
        if "+" in level and level != "+":
            raise ValueError("'+' must be a whole level")
    # paho raises on filters it cannot match; this also checks the level rules it enforces.
    topic_matches_sub(value, "x")


def _error_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top)"


def _read_yaml(path: Path, label: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([(label, f"cannot read {path}: {exc.strerror}")]) from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError([(label, f"YAML syntax error{where}: {getattr(exc, 'problem', exc)}")]) from exc


def load_settings(path: Path | str | None, env: dict[str, str] | None = None) -> Settings:
    """Load and validate a site file plus the environment; raise ConfigError with every problem."""
    data: dict[str, Any] = {}
    base = Path.cwd()
    if path is not None:
        path = Path(path)
        base = path.resolve().parent
        raw = _read_yaml(path, str(path))
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise ConfigError([("(top)", "the site file must be a mapping of sections")])
        data = raw
    saved = None
    if env is not None:
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(env)
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        problems = [(_error_path(err["loc"]), err["msg"]) for err in exc.errors()]
        raise ConfigError(problems) from exc
    finally:
        if saved is not None:
            os.environ.clear()
            os.environ.update(saved)
    settings = _with_device_file(settings, base)
    check_camera_links(settings)
    sops_dir = settings.sops.dir
    if sops_dir is not None and not sops_dir.is_absolute():
        settings = settings.model_copy(update={"sops": settings.sops.model_copy(update={"dir": base / sops_dir})})
    evidence_dir = settings.evidence.dir
    if evidence_dir is not None and not evidence_dir.is_absolute():
        evidence = settings.evidence.model_copy(update={"dir": base / evidence_dir})
        settings = settings.model_copy(update={"evidence": evidence})
    return settings


def evidence_folder(settings: Settings) -> Path:
    """Where task photos are kept: the configured folder, or ``evidence/`` beside the SQLite file."""
    if settings.evidence.dir is not None:
        return settings.evidence.dir
    db_file = sqlite_path(settings.database.url)
    return (db_file.parent if db_file is not None else Path("var")) / "evidence"


def _with_device_file(settings: Settings, base: Path) -> Settings:
    """Merge the devices file (if any) into ``devices.entries``, validating each entry with its path."""
    file = settings.devices.file
    if file is None:
        return settings
    path = file if file.is_absolute() else base / file
    label = f"devices.file ({path})"
    raw = _read_yaml(path, label)
    if not isinstance(raw, list):
        raise ConfigError([(label, "must be a YAML list of devices")])
    problems: list[tuple[str, str]] = []
    entries = list(settings.devices.entries)
    seen = {d.id for d in entries}
    for index, item in enumerate(raw):
        raw_id = item.get("id") if isinstance(item, dict) else None
        if isinstance(raw_id, str):
            if raw_id in seen:
                problems.append((f"{label}[{index}].id", f"duplicate device id {raw_id!r}"))
            seen.add(raw_id)
        try:
            entries.append(DeviceEntry.model_validate(item))
        except ValidationError as exc:
            for err in exc.errors():
                where = f"{label}[{index}]" + ("." + _error_path(err["loc"]) if err["loc"] else "")
                problems.append((where, err["msg"]))
    if problems:
        raise ConfigError(problems)
    devices = settings.devices.model_copy(update={"entries": entries, "file": path})
    return settings.model_copy(update={"devices": devices})


def sqlite_path(url: str) -> Path | None:
    """The file behind a sqlite:/// URL, or None for other databases."""
    match = re.match(r"^sqlite:///(.+)$", url)
    return Path(match.group(1)) if match else None
