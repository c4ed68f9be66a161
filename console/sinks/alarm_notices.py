"""Telling people of alarms (``notify.alarms``): at once when an alarm is raised, by severity and
site (the duty group's WeCom or DingTalk robot for the critical ones), and again, higher up (the
supervisor, then the project manager), while it stays unacknowledged.

What has been told survives restarts: each alarm keeps how many of the escalations it has passed
(``alarms.notified_level``), claimed with a compare-and-set so that two console instances never
tell the same escalation twice. A shelved alarm does not escalate; a drill's notices are marked
as such and the notifier holds them back unless the site says ``notify.drills``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import CursorResult, Select, case, or_, select, update
from sqlalchemy.orm import Session

from console.alarms.views import alarm_view
from console.devices.registry import DeviceRegistry
from console.messages import HubMessage
from console.settings import AlarmNoticeRule, Settings
from console.store.database import Store
from console.store.tables import AlarmRow
from console.tasks.outcome import Notice
from console.tasks.sop import SopBook
from console.workers import PeriodicWorker

SEVERITY_WORDS = {"critical": "紧急 / critical", "major": "重要 / major", "minor": "一般 / minor",
                  "warning": "提示 / warning"}
CHECK_SECONDS = 1.0


class AlarmNotices(PeriodicWorker):
    """The raise tap (``offer``, on the outlet) and the escalation check (every ``CHECK_SECONDS``)."""

    duty = "alarm-escalation"
    """One instance of a cluster does this at a time."""

    def __init__(self, settings: Settings, store: Store, registry: DeviceRegistry, book: SopBook,
                 notify: Callable[[list[Notice]], None], now: Callable[[], datetime],
                 interval: float = CHECK_SECONDS) -> None:
        super().__init__("alarm-notices", interval)
        self.settings, self.store, self.registry, self.book = settings, store, registry, book
        self.notify, self.now = notify, now
        self.zone = ZoneInfo(settings.site.timezone)
        rules = settings.notify.alarms
        self.at_raise = [r for r in rules if r.unacknowledged_seconds == 0]
        self.escalations = sorted((r for r in rules if r.unacknowledged_seconds > 0),
                                  key=lambda r: r.unacknowledged_seconds)
        self.told = 0

    def detail(self) -> dict[str, object]:
        return {"told": self.told}

    # -- at once ---------------------------------------------------------------------------------

    def offer(self, messages: list[HubMessage]) -> None:
        """A tap on the outlet: each newly raised alarm goes to the roles its severity and site name."""
        if not self.at_raise:
            return
        notices = []
        for message in messages:
            if message.type != "alarm.raised":
                continue
            alarm = message.data
            shelved = alarm.get("shelved_until")
            if shelved and datetime.fromisoformat(shelved) > self.now():
                continue  # a supervisor has shelved this device's alarms (never a life-safety kind)
            roles = _roles(r for r in self.at_raise if _matches(r, alarm["severity"], alarm["site"]))
            if roles:
                notices.append(self._notice(alarm, "raised", roles, "报警 / alarm raised"))
        if notices:
            self.told += len(notices)
            self.notify(notices)

    # -- while unacknowledged --------------------------------------------------------------------

    def tick(self) -> None:
        if not self.escalations:
            return
        now = self.now()
        with self.store.read() as session:  # most seconds nothing is due: no write lock for that
            if session.scalar(self._due(now).with_only_columns(AlarmRow.id).limit(1)) is None:
                return
        with self.store.write() as session, session.begin():
            notices = self.escalate(session, now)
        if notices:
            self.told += len(notices)
            self.notify(notices)

    def escalate(self, session: Session, now: datetime) -> list[Notice]:
        """The escalations that have come due for the alarms still unacknowledged at ``now``."""
        if not self.escalations:
            return []
        rows = session.scalars(self._due(now).order_by(AlarmRow.raised_at).limit(500)).all()
        notices = []
        for alarm in rows:
            level = alarm.notified_level
            due: list[AlarmNoticeRule] = []
            while level < len(self.escalations) and \
                    alarm.raised_at + timedelta(seconds=self.escalations[level].unacknowledged_seconds) <= now:
                due.append(self.escalations[level])
                level += 1
            if not due:
                continue
            claimed = cast(CursorResult[Any], session.execute(
                update(AlarmRow).where(AlarmRow.id == alarm.id, AlarmRow.notified_level == alarm.notified_level)
                .values(notified_level=level).execution_options(synchronize_session=False)))
            if not claimed.rowcount:  # another console instance has told these
                continue
            for rule in due:
                roles = _roles([rule]) if _matches(rule, alarm.severity, alarm.site) else ()
                if roles:
                    minutes = rule.unacknowledged_seconds / 60
                    notices.append(self._notice(alarm_view(alarm, self.registry), "unacknowledged", roles,
                                                f"{minutes:g} 分钟未确认 / unacknowledged for {minutes:g} min"))
        return notices

    def _due(self, now: datetime) -> Select[AlarmRow]:
        """The alarms with an escalation to tell at ``now``: unacknowledged, open, not shelved, and
        raised before the due time of their next escalation (by their level), so that an alarm
        waiting between two levels costs nothing."""
        severities = {s for r in self.escalations for s in r.severities}
        next_due = case({level: now - timedelta(seconds=rule.unacknowledged_seconds)
                         for level, rule in enumerate(self.escalations)}, value=AlarmRow.notified_level)
        return select(AlarmRow).where(
            AlarmRow.closed.is_(False), AlarmRow.acknowledged.is_(False), AlarmRow.severity.in_(severities),
            AlarmRow.notified_level < len(self.escalations), AlarmRow.raised_at <= next_due,
            or_(AlarmRow.shelved_until.is_(None), AlarmRow.shelved_until <= now))

    # -- the words -------------------------------------------------------------------------------

    def _notice(self, alarm: dict[str, Any], kind: str, roles: tuple[str, ...], what: str) -> Notice:
        sop = self.book.by_alarm.get(alarm["kind"])
        name = sop.title.zh if sop else alarm["kind"]
        place = self.registry.location(alarm["site"], alarm["device_id"], alarm["point"]).label or alarm["device_id"]
        raised = datetime.fromisoformat(alarm["raised_at"]).astimezone(self.zone).strftime("%m-%d %H:%M:%S")
        drill = "【演练】" if alarm.get("test") else ""
        title = f"{drill}[{self.settings.site.name or alarm['site']}] {what}：{name}（{SEVERITY_WORDS[alarm['severity']]}）"
        body = (f"位置 / place: {place}\n报警时间 / raised: {raised}\n"
                f"类型 / kind: {alarm['kind']} · 报警 / alarm #{alarm['id']}")
        return Notice(alarm.get("task_id") or 0, kind, title, body, roles, (), bool(alarm.get("test")))


def _matches(rule: AlarmNoticeRule, severity: str, site: str) -> bool:
    return severity in rule.severities and (not rule.sites or site in rule.sites)


def _roles(rules: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(role for rule in rules for role in rule.roles))
