"""Everything a running console holds: settings, store, registry, ingest, hub, MQTT connection."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone

from console.hub import Hub
from console.ingest import HubMessage, Ingest
from console.mqtt import MqttConnection
from console.pipeline import IngestWorker
from console.registry import DeviceRegistry
from console.settings import Settings
from console.store.database import Store

log = logging.getLogger("mcc.runtime")


@dataclass
class Runtime:
    settings: Settings
    store: Store
    registry: DeviceRegistry
    ingest: Ingest
    hub: Hub
    started_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    worker: IngestWorker | None = None
    mqtt: MqttConnection | None = None
    loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        store = Store(settings.database.url)
        store.migrate()
        registry = DeviceRegistry.from_settings(settings)
        return cls(settings, store, registry, Ingest(settings, store, registry), Hub())

    def publish(self, messages: list[HubMessage]) -> None:
        """Thread-safe: hand messages to the hub on the event loop."""
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.hub.publish, messages)

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
        self.mqtt.start()

    def stop_pipeline(self) -> None:
        if self.mqtt is not None:
            self.mqtt.stop()
        if self.worker is not None:
            self.worker.stop()
        self.store.dispose()
        log.info("pipeline stopped: MQTT disconnected, pending batches committed")
