"""Wiring: builds every part of a running console from its settings and connects them. Nothing
else happens here: each part's work is in its own module, and every background worker is owned by
the supervisor, which starts them in the order they are added below and lists them on /api/health.

The path of one MQTT message (README, "The path of one message"):
wire/mqtt.py (the paho callback) → wire/writer.py (the single writer's queue, one transaction per
batch) → wire/ingest.py (adapters, events, alarms, tasks; commit) → sinks/outlet.py → sinks/hub.py
(numbered, on the event loop) → api/ws.py (each client's socket). The MQTT ack travels with the
message (``InboundMessage.settle``) and is called by the writer after the commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from console.cluster.adoption import SessionAdoption
from console.cluster.election import Election
from console.cluster.gb_commands import LinkCommands
from console.cluster.relay import RelayIn, RelayOut
from console.devices.admin import load_registered_devices
from console.devices.commands import CommandWatch
from console.devices.registry import DeviceRegistry
from console.devices.silence import SilenceWatch
from console.patrol.clock import PatrolClock
from console.patrol.rounds import Rounds
from console.people.displays import DisplayBook, DisplayWatch
from console.people.duty_log import DutyLog, DutyLogClock
from console.people.throttle import LoginThrottle
from console.settings import Settings, evidence_folder
from console.sinks.alarm_notices import AlarmNotices
from console.sinks.audit_anchor import AuditAnchorWatch
from console.sinks.hub import Hub
from console.sinks.notice_log import NoticeLog
from console.sinks.notify import Notifier
from console.sinks.outlet import Outlet
from console.sinks.timeseries import StoreFigures, TimeSeriesSink
from console.store.database import Store
from console.tasks.deadlines import DeadlineLoop
from console.tasks.service import TaskService
from console.tasks.sop import load_site_sops
from console.video.health import CameraHealthWatch
from console.video.linker import CameraLinker
from console.video.retention import SnapshotRetention
from console.wire.gb26875_receiver import Gb26875Receiver
from console.wire.gb_links import build_receivers
from console.wire.gb_supervision import HeardLinks, LinkSupervision, supervised_links
from console.wire.ingest import Ingest
from console.wire.mqtt import MqttConnection
from console.wire.readiness import ReadinessWatch, not_ready, store_answers
from console.wire.writer import Writer
from console.workers import Supervisor, Worker


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def subscriptions(settings: Settings, ingest: Ingest) -> list[str]:
    """The adapters' topic filters; in a cluster each is a shared subscription, so the broker hands
    each message to one instance of the group (which acks it after its commit, as a single console
    does). Retained messages are not replayed on a shared subscription (MQTT 5, 4.8.2): the states
    the instances have stored stand in for them."""
    if not settings.cluster.enabled:
        return ingest.subscriptions
    return [f"$share/{settings.cluster.share_group}/{topic}" for topic in ingest.subscriptions]


@dataclass
class Runtime:
    settings: Settings
    store: Store
    registry: DeviceRegistry
    tasks: TaskService
    hub: Hub
    outlet: Outlet
    notifier: Notifier
    ingest: Ingest
    writer: Writer
    supervisor: Supervisor
    mqtt: MqttConnection
    deadlines: DeadlineLoop
    silence: SilenceWatch
    displays: DisplayBook
    display_watch: DisplayWatch
    duty_log: DutyLog
    duty_clock: DutyLogClock
    alarm_notices: AlarmNotices
    command_watch: CommandWatch
    rounds: Rounds
    patrol_clock: PatrolClock
    receivers: list[Gb26875Receiver] = field(default_factory=list)
    timeseries: TimeSeriesSink | None = None
    cameras: CameraLinker | None = None
    camera_health: CameraHealthWatch | None = None
    retention: SnapshotRetention | None = None
    logins: LoginThrottle = field(default_factory=LoginThrottle)
    readiness: ReadinessWatch | None = None
    audit_anchor: AuditAnchorWatch | None = None
    relay_out: RelayOut | None = None
    """In a cluster: this instance's changes to the store's relay; None for a single console."""
    relay_in: RelayIn | None = None
    """In a cluster: every instance's changes, numbered, to this instance's clients."""
    election: Election | None = None
    """In a cluster: which duties (work done once) this instance holds."""
    gb_heard: HeardLinks | None = None
    """In a cluster with GB/T 26875.3 links: whom this instance's receivers heard, to the store."""
    gb_supervision: LinkSupervision | None = None
    """In a cluster: every GB link judged from the store (one instance's duty)."""
    gb_commands: LinkCommands | None = None
    """In a cluster with GB links: a duty check sent by whichever instance holds the device's link."""
    adoption: SessionAdoption | None = None
    """In a cluster: the MQTT sessions of instances that are down, taken up here (one instance's duty)."""
    started_at: datetime = field(default_factory=utc_now)

    @staticmethod
    def now() -> datetime:
        return utc_now()

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        store = Store(settings.database.url)
        store.migrate()
        registry = DeviceRegistry.from_settings(settings)
        load_registered_devices(store, registry)
        tasks = TaskService(settings, load_site_sops(settings), registry, evidence_folder(settings))
        tasks.records.tags.ensure_keys(store, utc_now())

        hub = Hub()
        outlet = Outlet(hub)
        notifier = Notifier(settings.notify, record=NoticeLog(store, tasks.book, registry, outlet).record)
        outlet.tap_notices(notifier.submit)
        alarm_notices = AlarmNotices(settings, store, registry, tasks.book, outlet.notify, utc_now)
        outlet.tap(alarm_notices.offer)
        ingest = Ingest(settings, store, registry, tasks=tasks, on_notices=outlet.notify)
        writer = Writer(ingest, outlet, settings.ingest.batch_max)
        election = (Election(settings.database.url, settings.cluster.instance, [], settings.cluster.election_seconds,
                             settings.client_id) if settings.cluster.enabled else None)

        def connect_mqtt(client_id: str, may_connect: Callable[[], bool] | None, name: str = "mqtt") -> MqttConnection:
            """An MQTT connection that hands messages to the writer: this instance's own, or in a
            cluster one taken up for an instance that is down (console/cluster/adoption.py)."""
            return MqttConnection(
                url=settings.mqtt.url, client_id=client_id, subscriptions=subscriptions(settings, ingest),
                deliver=writer.submit, status_topic=f"mcc/console/{settings.site.id}/{client_id}/state",
                keepalive=settings.mqtt.keepalive, reconnect_min=settings.mqtt.reconnect_min,
                reconnect_max=settings.mqtt.reconnect_max, ca_file=settings.mqtt.ca_file, may_connect=may_connect,
                name=name,
            )

        # In a cluster this instance connects once it holds its name (an instance that took up its
        # session while it was down lets go first).
        mqtt = connect_mqtt(settings.client_id, election.announced.is_set if election is not None else None)
        deadlines = DeadlineLoop(store, tasks, outlet.deliver, utc_now)
        outlet.tap(deadlines.poke)
        silence = SilenceWatch(settings, store, registry, writer, utc_now)
        displays = DisplayBook()
        duty_log = DutyLog(settings, registry)
        rounds = Rounds(settings, tasks, registry)
        with store.read() as session:
            rounds.refresh_places(session)
        runtime = cls(settings, store, registry, tasks, hub, outlet, notifier, ingest, writer, Supervisor(), mqtt,
                      deadlines, silence, displays, DisplayWatch(displays, outlet.publish, utc_now), duty_log,
                      DutyLogClock(duty_log, store, outlet.deliver, utc_now), alarm_notices,
                      CommandWatch(store, outlet.publish, utc_now), rounds,
                      PatrolClock(rounds, store, writer, outlet.deliver, utc_now, settings.patrol.check_seconds))
        http = settings.http
        runtime.logins = LoginThrottle(http.login_free_failures, http.login_lockout_seconds,
                                       http.login_lockout_max_seconds, http.password_checks_at_once)
        if settings.cluster.enabled and any(e.type == "gb26875" and e.listen for e in settings.adapters):
            runtime.gb_heard = HeardLinks(store, settings.cluster.instance, utc_now)
            runtime.gb_supervision = LinkSupervision(store, supervised_links(settings, registry, writer, utc_now),
                                                     utc_now)
        runtime.receivers = build_receivers(settings, registry, writer.submit, writer, utc_now,
                                            heard=runtime.gb_heard.heard if runtime.gb_heard is not None else None)
        if runtime.gb_heard is not None:
            runtime.gb_commands = LinkCommands(settings.database.url, settings.cluster.instance, runtime.receivers)
        if settings.influx.url:
            figures = StoreFigures(store, settings, registry)
            runtime.timeseries = TimeSeriesSink(settings.influx, occupancy=figures.occupancy, kpis=figures.task_kpis,
                                                site=settings.site.id)
            outlet.tap(runtime.timeseries.offer)
        if settings.cameras.entries:
            runtime.cameras = CameraLinker(settings.cameras, registry, store, outlet.publish, book=tasks.book,
                                           evidence_path=tasks.evidence_path, now=utc_now)
            outlet.tap(runtime.cameras.offer)
            runtime.retention = SnapshotRetention(store, settings.cameras.snapshot_keep_days, utc_now)
            if settings.cameras.health_seconds > 0:
                runtime.camera_health = CameraHealthWatch(settings.cameras, settings.site.id, store, registry, writer,
                                                          utc_now)
        runtime.audit_anchor = AuditAnchorWatch(store, settings.site.id, runtime.timeseries.add if runtime.timeseries
                                                else None, utc_now, settings.health.audit_anchor_seconds)
        runtime.readiness = ReadinessWatch(lambda: runtime.not_ready(store_answers(store)), outlet.publish, utc_now)
        if election is not None:
            cluster = settings.cluster
            runtime.relay_out = RelayOut(store, cluster.instance, cluster.relay_keep_seconds, utc_now)
            outlet.relay_to(runtime.relay_out.offer)
            runtime.relay_in = RelayIn(store, cluster.instance, hub, outlet.deliver_numbered)
            runtime.adoption = SessionAdoption(
                settings.database.url, cluster.instance,
                lambda client_id, still_away: connect_mqtt(client_id, still_away, name=f"mqtt-adopted:{client_id}"),
                cluster.election_seconds)
        runtime._supervise()
        if election is not None:
            runtime.election = election
            election.elect_for(runtime.supervisor.duties())
            election.can_let_go = runtime.supervisor.may_let_go
            runtime.supervisor.elect_by(election.holds)
            runtime.supervisor.workers.insert(0, election)  # first: it holds the instance's name
        return runtime

    def not_ready(self, store_problem: str | None) -> list[str]:
        """Why the console cannot take alarms now (empty: ready); ``store_problem``: why a read failed."""
        return not_ready(self.mqtt, self.writer, self.supervisor, self.settings.health.stall_seconds, store_problem)

    def _supervise(self) -> None:
        """Every worker, in the order it starts: the writer before anything that feeds it, the
        MQTT connection last (messages then find everything ready)."""
        optional: list[Worker | None] = [self.timeseries, self.cameras, self.retention, self.camera_health,
                                         self.audit_anchor, self.adoption, self.gb_heard, self.gb_supervision,
                                         self.gb_commands]
        # In a cluster the relay out stops after the writer (what the writer's last commits sent goes
        # out) and the relay in starts before anything a client could see.
        relays: list[Worker | None] = [self.relay_out, self.relay_in]
        workers: list[Worker] = [*(w for w in relays if w is not None), self.writer,
                                 *(w for w in optional if w is not None), *self.receivers,
                                 *self.notifier.workers, self.deadlines, self.silence, self.display_watch,
                                 self.duty_clock, self.alarm_notices, self.command_watch, self.patrol_clock,
                                 self.mqtt]
        if self.readiness is not None:
            workers.append(self.readiness)  # last: it asks the others
        for worker in workers:
            self.supervisor.add(worker)
        for pool in (self.cameras, self.camera_health):
            if pool is not None:
                self.supervisor.adopt(pool)

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start everything; changes reach the hub on ``loop`` (the web server's)."""
        self.outlet.attach(loop)
        self.supervisor.start()

    def stop(self) -> None:
        """Stop everything in reverse order within one deadline (MQTT first: nothing new comes in,
        then the writer commits what it holds), then close the store."""
        self.supervisor.stop()
        self.store.dispose()
