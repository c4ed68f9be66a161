"""How the site handles what comes in: its procedures' limits, dispatch, notifications, evidence,
the rules the console applies itself (denial bursts, plate lists), and the duty log's rhythm."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from console.settings.base import Section


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


AlarmSeverity = Literal["critical", "major", "minor", "warning"]


class AlarmNoticeRule(Section):
    """Who is told of an alarm: at once when it is raised, or (``unacknowledged_seconds``) when it
    is still not acknowledged that long after it was raised: an escalation."""

    severities: list[AlarmSeverity] = Field(
        default_factory=lambda: list[AlarmSeverity](["critical"]), min_length=1,
        description="The alarm severities this rule is for.")
    sites: list[str] = Field(default_factory=list, description="The device sites this rule is for; empty: all.")
    roles: list[NotifyRole] = Field(min_length=1, description="Told through the targets that serve these roles.")
    unacknowledged_seconds: int = Field(
        0, ge=0, le=86400, description="0: when the alarm is raised; N: when it is still unacknowledged after N s.")


class NotifySection(Section):
    targets: list[NotifyTarget] = Field(default_factory=list)
    alarms: list[AlarmNoticeRule] = Field(
        default_factory=list,
        description="Who is told of alarms as they are raised, and who next while one stays unacknowledged.",
    )
    max_per_minute: int = Field(
        10, ge=1, le=600,
        description="Per target. Beyond it, notices are held and sent together as one digest.",
    )
    drills: bool = Field(False, description="Also notify for drills (演练); off: drills are suppressed.")

    @model_validator(mode="after")
    def _served(self) -> NotifySection:
        served = {role for target in self.targets for role in target.roles}
        for index, rule in enumerate(self.alarms):
            missing = [role for role in rule.roles if role not in served]
            if missing:
                raise ValueError(f"alarms[{index}].roles: no notify target serves {', '.join(missing)} "
                                 "(add a target with that role, or take the role out)")
        return self


class DutyLogSection(Section):
    """The duty log (值班记录): GB 25201 asks for the equipment state every two hours."""

    enabled: bool = Field(True, description="Open an entry every interval; off: no entries fall due.")
    interval_minutes: int = Field(
        120, ge=30, le=480, description="Entries fall due at site midnight and every this many minutes after.",
    )
    grace_minutes: int = Field(
        30, ge=5, le=240, description="An entry not signed by both people within this time is late (a finding).",
    )

    @model_validator(mode="after")
    def _whole_day(self) -> DutyLogSection:
        if 1440 % self.interval_minutes:
            raise ValueError(f"interval_minutes: {self.interval_minutes} does not divide a day (1440 minutes)")
        if self.grace_minutes >= self.interval_minutes:
            raise ValueError("grace_minutes: must be shorter than interval_minutes (the next entry falls due then)")
        return self


class PatrolSection(Section):
    """Patrol rounds (巡更, rounds-and-more-sops.md (b)): when rounds are made and assigned, and when a
    point or a round counts as late or missed. Windows are proposed (P) where no source sets them."""

    enabled: bool = Field(True, description="Make rounds from the schedules and watch them; off: nothing falls due.")
    check_seconds: int = Field(15, ge=1, le=600, description="How often due times are checked.")
    lead_minutes: int = Field(60, ge=0, le=720, description="Rounds are made and assigned this long before they are due.")
    point_tolerance_minutes: int = Field(
        10, ge=1, le=240, description="A point of an ordered route scanned later than its expected time plus this is "
                                      "late; not scanned by then, it is missed (P).")
    compensating_every_minutes: int = Field(
        120, ge=30, le=480, description="A compensating patrol of an isolated fire point falls due this often (F13).")
    compensating_limit_minutes: int = Field(30, ge=5, le=240, description="Time allowed for a compensating round.")
    scan_skew_seconds: int = Field(
        120, ge=0, le=3600, description="A scan time this much ahead of the server's clock is not believed (the "
                                        "receive time counts instead).")
    offline_hours: int = Field(
        12, ge=1, le=72, description="A scan time older than this when it arrives is not believed (the receive "
                                     "time counts instead): a queue held longer than a shift is not proof.")

    @model_validator(mode="after")
    def _whole_day(self) -> PatrolSection:
        if 1440 % self.compensating_every_minutes:
            raise ValueError(f"compensating_every_minutes: {self.compensating_every_minutes} does not divide a day "
                             "(1440 minutes)")
        return self


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


class RulesSection(Section):
    """Alarms that no single event carries: the console derives them from several events or lists."""

    denied_burst: DeniedBurstRule = DeniedBurstRule()
    plates: PlatesRule = PlatesRule()
