"""Everything a running console holds: settings, store, registry, ingest, hub, MQTT connection."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from console import __version__
from console.alarms.views import alarm_view
from console.contract import Draft
from console.devices import parking
from console.devices.admin import load_registered_devices
from console.devices.registry import DeviceRegistry
from console.devices.silence import SilenceWatch
from console.messages import HubMessage
from console.people.displays import DisplayBook, DisplayWatch
from console.settings import Settings, evidence_folder
from console.sinks.hub import Hub
from console.sinks.notify import Notifier
from console.sinks.points import Point, task_kpis
from console.sinks.timeseries import TimeSeriesSink
from console.store.database import Store
from console.store.tables import TaskLogRow, TaskRow
from console.tasks.deadlines import DeadlineLoop
from console.tasks.outcome import Notice, Outcome
from console.tasks.service import TaskService
from console.tasks.sop import load_site_sops
from console.tasks.views import task_summary
from console.video.health import CameraHealthWatch
from console.video.linker import CameraLinker
from console.wire.gb26875_receiver import Gb26875Receiver
from console.wire.ingest import Ingest
from console.wire.mqtt import MqttConnection
from console.wire.writer import IngestWorker

log = logging.getLogger("mcc.runtime")
WEB = Path(__file__).resolve().parents[1] / "web"


def compute_build_id(web: Path = WEB) -> str:
    """A short hash of the package version and every file the pages load (web/): a wall that
    sees another build id in the WebSocket hello reloads itself."""
    digest = hashlib.sha256(__version__.encode())
    if web.is_dir():
        for path in sorted(p for p in web.rglob("*") if p.is_file()):
            digest.update(b"\0" + path.relative_to(web).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


class OpenSockets:
    """The open WebSockets per user name, so that disabling a user, changing their role or password
    (or their logout) closes them: the handshake alone checks the token. Thread-safe: sockets come
    and go on the event loop, the users API runs in the thread pool."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_user: dict[str, dict[int, tuple[str, Callable[[], None]]]] = {}

    def add(self, username: str, connection: int, token_digest: str, close: Callable[[], None]) -> None:
        """``close`` must be safe to call from any thread (it closes the socket with 1008)."""
        with self._lock:
            self._by_user.setdefault(username, {})[connection] = (token_digest, close)

    def remove(self, username: str, connection: int) -> None:
        with self._lock:
            sockets = self._by_user.get(username)
            if sockets is not None:
                sockets.pop(connection, None)
                if not sockets:
                    del self._by_user[username]

    def close_user(self, username: str, keep_token_digest: str | None = None) -> int:
        """Close every open socket of ``username`` (but the one signed in with ``keep_token_digest``)."""
        with self._lock:
            closers = [close for digest, close in self._by_user.get(username, {}).values()
                       if keep_token_digest is None or digest != keep_token_digest]
        for close in closers:
            close()
        return len(closers)

    def close_token(self, token_digest: str) -> int:
        """Close the sockets signed in with one session (its logout)."""
        with self._lock:
            closers = [close for sockets in self._by_user.values()
                       for digest, close in sockets.values() if digest == token_digest]
        for close in closers:
            close()
        return len(closers)

    def count(self, username: str) -> int:
        with self._lock:
            return len(self._by_user.get(username, {}))


@dataclass
class Runtime:
    settings: Settings
    store: Store
    registry: DeviceRegistry
    ingest: Ingest
    hub: Hub
    tasks: TaskService
    notifier: Notifier
    started_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    worker: IngestWorker | None = None
    mqtt: MqttConnection | None = None
    deadlines: DeadlineLoop | None = None
    silence: SilenceWatch | None = None
    receivers: list[Gb26875Receiver] = field(default_factory=list)
    loop: asyncio.AbstractEventLoop | None = None
    displays: DisplayBook = field(default_factory=DisplayBook)
    display_watch: DisplayWatch | None = None
    build_id: str = field(default_factory=compute_build_id)
    sockets: OpenSockets = field(default_factory=OpenSockets)
    timeseries: TimeSeriesSink | None = None
    cameras: CameraLinker | None = None
    camera_health: CameraHealthWatch | None = None

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        store = Store(settings.database.url)
        store.migrate()
        registry = DeviceRegistry.from_settings(settings)
        load_registered_devices(store, registry)
        tasks = TaskService(settings, load_site_sops(settings), registry, evidence_folder(settings))
        notifier = Notifier(settings.notify)
        ingest = Ingest(settings, store, registry, tasks=tasks, on_notices=notifier.submit)
        runtime = cls(settings, store, registry, ingest, Hub(), tasks, notifier)
        notifier.record = runtime.record_notice
        return runtime

    @staticmethod
    def now() -> datetime:
        return datetime.now(timezone.utc)

    def publish(self, messages: list[HubMessage]) -> None:
        """Thread-safe: hand messages to the hub on the event loop."""
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.hub.publish, messages)
        if self.timeseries is not None:
            self.timeseries.offer(messages)  # appends to its buffer only: never waits on the database
        if self.cameras is not None:
            self.cameras.offer(messages)  # schedules snapshots of raised alarms: never waits on a camera
        if self.deadlines is not None and any(m.type == "task.updated" for m in messages):
            self.deadlines.poke()  # a task changed: its next due time may be sooner

    def after_commit(self, outcome: Outcome) -> None:
        """What a committed task change owes the outside: WebSocket messages and notices."""
        if outcome.hub:
            self.publish(outcome.hub)
        if outcome.notices:
            self.notifier.submit(outcome.notices)

    def record_notice(self, notice: Notice, target: str, delivered: bool, error: str) -> None:
        """The notifier's report, kept in the task's log (who was told, and whether it arrived)."""
        with self.store.write() as session, session.begin():
            task = session.get(TaskRow, notice.task_id, with_for_update=True)
            if task is None:
                return
            session.add(TaskLogRow(task_id=notice.task_id, at=self.now(), actor="system", action="notified",
                                   data={"target": target, "kind": notice.kind, "delivered": delivered,
                                         "error": error, "roles": list(notice.roles),
                                         "users": list(notice.users)}))
            task.revision += 1  # screens showing the task's log fetch it again
            view = task_summary(task, self.tasks.book.sops.get(task.sop_id), self.registry)
        self.publish([HubMessage("task.updated", view)])

    def start_pipeline(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        status_topic = f"mcc/console/{self.settings.site.id}/{self.settings.client_id}/state"
        self.mqtt = MqttConnection(
            url=self.settings.mqtt.url,
            client_id=self.settings.client_id,
            subscriptions=self.ingest.subscriptions,
            on_message=lambda message, generation: self.worker.submit(message, generation),  # type: ignore[union-attr]
            status_topic=status_topic,
            keepalive=self.settings.mqtt.keepalive,
            reconnect_min=self.settings.mqtt.reconnect_min,
            reconnect_max=self.settings.mqtt.reconnect_max,
        )
        self.worker = IngestWorker(self.ingest, self.mqtt.ack, self.publish, self.settings.ingest.batch_max)
        self.worker.start()
        if self.settings.influx.url:
            self.timeseries = TimeSeriesSink(self.settings.influx, occupancy=self._occupancy, kpis=self._task_kpis,
                                             site=self.settings.site.id)
            self.timeseries.start()
        if self.settings.cameras.entries:
            self.cameras = CameraLinker(
                self.settings.cameras, self.registry, self.store, self.publish,
                alarm_view=lambda alarm: alarm_view(alarm, self.registry),
                task_view=lambda task: task_summary(task, self.tasks.book.sops.get(task.sop_id), self.registry),
                evidence_path=self.tasks.evidence_path, now=self.now)
            self.cameras.start()
            if self.settings.cameras.health_seconds > 0:
                self.camera_health = CameraHealthWatch(self.settings.cameras, self.settings.site.id, self.ingest,
                                                       self.publish, self.now)
                self.camera_health.start()
        self._start_receivers()
        self.notifier.start()
        self.deadlines = DeadlineLoop(self.store, self.tasks, self.after_commit, self.now)
        self.deadlines.start()
        self.silence = SilenceWatch(self.settings, self.ingest, self.publish, self.now,
                                    backlog=lambda: self.worker.backlog if self.worker else 0)
        self.silence.start()
        self.display_watch = DisplayWatch(self.displays, self.publish, self.now)
        self.display_watch.start()
        self.mqtt.start()

    def _occupancy(self) -> list[dict[str, object]]:
        if not self.settings.parking.car_parks:
            return []
        with self.store.read() as session:
            return parking.occupancy(session, self.settings, self.registry, self.now())

    def _task_kpis(self, task_id: int) -> Point | None:
        with self.store.read() as session:
            return task_kpis(session, task_id)

    def _start_receivers(self) -> None:
        """One GB/T 26875.3 TCP receiver per gb26875 entry; its frames go to the same ingest
        worker as MQTT messages, and each is confirmed only once stored."""
        for entry in self.settings.adapters:
            if entry.type != "gb26875" or entry.listen is None:
                continue
            host, _, port = entry.listen.rpartition(":")
            receiver = Gb26875Receiver(
                host, int(port), submit=lambda message: self.worker.submit(message, 0),  # type: ignore[union-attr]
                checksum=lambda source, e=entry: e.checksum_by_address.get(source, e.checksum),
                supervise_seconds=entry.supervise_seconds, now=self.now, timezone=self.settings.site.timezone,
                on_silence=lambda source: self._gb_link(source, "device.offline"),
                on_back=lambda source: self._gb_link(source, "device.online"),
                peers=lambda source, e=entry: e.peers.get(source, []))
            receiver.start()
            for device in self.registry.entries():  # registered GB devices are expected to connect
                if device.adapter == "gb26875" and device.address:
                    receiver.expect(device.address)
            self.receivers.append(receiver)
            log.info("GB/T 26875.3 receiver listening on %s:%s", host, receiver.port)

    def _gb_link(self, source: str, kind: str) -> None:
        """A GB link went silent past its supervision time, or spoke again."""
        site = self.settings.site.id
        device = self.registry.resolve(site, "gb26875", source)
        if not self.registry.is_registered(site, device):
            log.warning("GB/T 26875.3 link %s (not registered) %s", source, kind)
            return  # an unknown source's link says nothing about the site's equipment
        now = self.now()
        draft = Draft(kind=kind, site=site, device_id=device, source_id=f"link:{kind}:{now.timestamp():.3f}",
                      ts=now, data={"via": "silence"})
        self.publish(self.ingest.process_console_drafts([draft], now, silenced=kind == "device.offline"))
        if kind == "device.online":
            self.ingest.silenced.discard((site, device))

    def stop_pipeline(self) -> None:
        for receiver in self.receivers:
            receiver.stop()
        if self.mqtt is not None:
            self.mqtt.stop()
        if self.worker is not None:
            self.worker.stop()
        if self.deadlines is not None:
            self.deadlines.stop()
        if self.silence is not None:
            self.silence.stop()
        if self.display_watch is not None:
            self.display_watch.stop()
        if self.camera_health is not None:
            self.camera_health.stop()
        if self.cameras is not None:
            self.cameras.stop()  # grabs still running are left to their time limits
        if self.timeseries is not None:
            self.timeseries.stop()  # writes what is buffered, for a few seconds at most
        self.notifier.stop()
        self.store.dispose()
        log.info("pipeline stopped: MQTT disconnected, pending batches committed")
