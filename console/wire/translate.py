"""The pure stage of the ingest: a message's bytes to validated canonical events, or to the
reason it goes to quarantine. Each subscribed topic finds its adapter (bound to the site file's
settings), the adapter makes drafts, the registry maps vendor addresses to registered ids, and each
draft is validated into a typed event. Nothing here touches the store."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from adapters import BY_NAME
from adapters.base import AdapterContext, AdapterDef, Inventory, Limits, matches
from console.contract import Draft, InboundMessage
from console.devices.registry import DeviceRegistry
from console.errors import PayloadError
from console.events import Event, validate_event
from console.settings import Settings

log = logging.getLogger("mcc.ingest")


@dataclass(frozen=True)
class BoundAdapter:
    """An adapter from the registry with the site file's settings applied."""

    adapter: AdapterDef
    ctx: AdapterContext

    @property
    def topic(self) -> str:
        return self.ctx.topic


def bind_adapters(settings: Settings, registry: DeviceRegistry | None = None) -> list[BoundAdapter]:
    limits = Limits(settings.ingest.max_payload_bytes, settings.ingest.max_json_depth)
    bound = []
    for entry in settings.adapters:
        adapter = BY_NAME[entry.type]
        # The native format carries its site in the topic: with its own topic it listens for every
        # site of the deployment, one filter each. A vendor format serves the site its entry names.
        every_site = entry.type == "native" and entry.site is None and "{site}" in (entry.topic or adapter.topic)
        for site_id in settings.site_ids if every_site else [entry.site or settings.site.id]:
            site = settings.site_entry(site_id)
            topic = (entry.topic or adapter.topic).replace("{site}", site.id)
            ctx = AdapterContext(site=site.id, topic=topic, limits=limits, registry=registry,
                                 adapter=adapter.name, timezone=site.timezone)
            bound.append(BoundAdapter(adapter, ctx))
    return bound


@dataclass(frozen=True)
class Quarantine:
    message: InboundMessage
    adapter: str
    reason: str


@dataclass(frozen=True)
class Accepted:
    message: InboundMessage
    event: Event
    registered: bool
    data: dict[str, Any]
    """``event.data`` as stored and sent: dumped once, used by the row and the hub message."""


class Translator:
    def __init__(self, settings: Settings, registry: DeviceRegistry):
        self.settings = settings
        self.registry = registry
        self.adapters = bind_adapters(settings, registry)
        self._by_topic: dict[str, BoundAdapter | None] = {}
        self.max_future = timedelta(seconds=settings.ingest.max_future_seconds)

    @property
    def subscriptions(self) -> list[str]:
        return sorted({bound.topic for bound in self.adapters if bound.adapter.transport == "mqtt"})

    def _adapter_for(self, topic: str) -> BoundAdapter | None:
        try:
            return self._by_topic[topic]
        except KeyError:
            pass
        found = next((bound for bound in self.adapters if matches(bound.topic, topic)), None)
        if len(self._by_topic) < 100_000:  # topics are per device: bounded in practice, capped anyway
            self._by_topic[topic] = found
        return found

    def translate(self, message: InboundMessage) -> list[Accepted] | Quarantine:
        bound = self._adapter_for(message.topic)
        if bound is None:
            return Quarantine(message, "-", f"no adapter subscribes to topic {message.topic!r}")
        name = bound.adapter.name
        try:
            drafts = bound.adapter.handle(message, bound.ctx)
            return [self._accept(message, draft, name) for draft in drafts]
        except PayloadError as exc:
            return Quarantine(message, name, exc.reason)
        except Exception as exc:  # a bug in an adapter must not stop the flow
            log.exception("adapter %s failed on topic %s", name, message.topic)
            return Quarantine(message, name, f"internal error in adapter: {type(exc).__name__}: {exc}")

    def _accept(self, message: InboundMessage, draft: Draft, adapter: str) -> Accepted:
        registered_id = self.registry.resolve(draft.site, adapter, draft.device_id)
        if registered_id != draft.device_id:  # the vendor's address of a registered device
            draft = replace(draft, device_id=registered_id)
        event = validate_event(draft, adapter, message.received_at)
        if event.ts - message.received_at > self.max_future:
            raise PayloadError(
                f"timestamp {event.ts.isoformat()} is more than {self.max_future} ahead of the console clock"
            )
        registered = self.registry.is_registered(event.site, event.device_id)
        if not registered and self.settings.devices.unknown == "quarantine":
            raise PayloadError(f"unknown device {event.device_id!r} at site {event.site!r}")
        return Accepted(message, event, registered, event.data.model_dump(mode="json", exclude_defaults=True))

    def inventory(self, message: InboundMessage) -> list[Inventory]:
        bound = self._adapter_for(message.topic)
        if bound is None or bound.adapter.inventory is None:
            return []
        try:
            return bound.adapter.inventory(message, bound.ctx)
        except PayloadError:
            return []  # translate already said why (the message is quarantined)
