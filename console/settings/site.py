"""The whole site file: its sections, the environment's overrides (``MCC_<SECTION>__<KEY>`` wins
over the file), the devices file merged in, and every problem reported with its path."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from console.errors import ConfigError
from console.settings.cameras import CamerasSection, check_camera_links
from console.settings.connections import (
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
    CommandsSection,
    DeviceEntry,
    DevicesSection,
    HealthSection,
    IngestSection,
    ParkingSection,
    command_namespace_problem,
)
from console.settings.handling import (
    DispatchSection,
    DutyLogSection,
    EvidenceSection,
    NotifySection,
    PatrolSection,
    RulesSection,
    SopsSection,
)


class Settings(BaseSettings):
    """The whole site file. Environment variables ``MCC_<SECTION>__<KEY>`` override it."""

    model_config = SettingsConfigDict(
        env_prefix="MCC_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    site: SiteSection
    sites: list[SiteEntry] = Field(default_factory=list, description=(
        "Other sites this deployment watches (a central monitoring center's communities); site is the first."))
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
    commands: CommandsSection = CommandsSection()
    influx: InfluxSection = InfluxSection()
    cameras: CamerasSection = CamerasSection()
    duty_log: DutyLogSection = DutyLogSection()
    patrol: PatrolSection = PatrolSection()
    cluster: ClusterSection = ClusterSection()

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
            if device.command_topic and (problem := command_namespace_problem(
                    device.command_topic, device.site or self.site.id, device.id, self.commands.topic_prefixes)):
                raise ValueError(f"devices.entries[{index}].command_topic: {problem}")
        return self

    @model_validator(mode="after")
    def _unique_sites(self) -> Settings:
        seen = {self.site.id}
        for index, entry in enumerate(self.sites):
            if entry.id in seen:
                raise ValueError(f"sites[{index}].id: site {entry.id!r} is listed twice (site is the first)")
            seen.add(entry.id)
        return self

    @property
    def site_ids(self) -> list[str]:
        """Every site this deployment watches: ``site``, the ``sites`` listed, then any a device names."""
        ids = [self.site.id, *(entry.id for entry in self.sites)]
        return list(dict.fromkeys([*ids, *(d.site for d in self.devices.entries if d.site)]))

    def site_entry(self, site_id: str) -> SiteEntry:
        """A site's name, zone and location (a site only a device names gets ``site``'s zone)."""
        if site_id == self.site.id:
            return SiteEntry(id=self.site.id, name=self.site.name, timezone=self.site.timezone)
        found = next((entry for entry in self.sites if entry.id == site_id), None)
        return found or SiteEntry(id=site_id, name=site_id, timezone=self.site.timezone)

    @model_validator(mode="after")
    def _cluster_on_postgresql(self) -> Settings:
        if self.cluster.enabled and not self.database.url.startswith("postgresql"):
            raise ValueError("cluster.enabled: several instances share one PostgreSQL database (database.url), "
                             "not a SQLite file")
        return self

    @property
    def client_id(self) -> str:
        """The MQTT session's id: one per console, and one per instance in a cluster (each instance's
        session keeps the messages it had not acknowledged when it died)."""
        base = self.mqtt.client_id or f"mcc-console-{self.site.id}"
        return f"{base}-{self.cluster.instance}" if self.cluster.enabled else base


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
    ca_file = settings.mqtt.ca_file
    if ca_file is not None and not ca_file.is_absolute():
        settings = settings.model_copy(update={"mqtt": settings.mqtt.model_copy(update={"ca_file": base / ca_file})})
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
