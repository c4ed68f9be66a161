"""(topic, payload, retain) -> adapter -> events -> one commit per batch -> hub messages; quarantine.

The caller acknowledges the MQTT messages only after ``process`` returns: by then every message
of the batch is either stored (event rows, alarm changes) or quarantined with its reason.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from adapters.base import Inventory
from console.alarms.derived import DerivedAlarms
from console.alarms.engine import AlarmChange, apply_event
from console.alarms.rules import RAISES, RESTORE_KINDS, clear_spec
from console.alarms.views import alarm_view, event_model_view
from console.contract import Draft, InboundMessage
from console.devices import admin as device_admin
from console.devices import status as device_status
from console.devices.registry import DeviceRegistry
from console.devices.status import MODES, linkage_mode
from console.events import Event, validate_event
from console.messages import HubMessage
from console.settings import DeviceEntry, Settings
from console.store.database import Store
from console.store.dialect import insert
from console.store.tables import AlarmRow, EventRow, QuarantineRow
from console.tasks.outcome import Notice, Outcome
from console.tasks.service import TaskService
from console.wire.translate import Accepted, BoundAdapter, Quarantine, Translator

log = logging.getLogger("mcc.ingest")
ANNOUNCER = "ha-discovery"
"""The actor of registrations a device announced itself (Home Assistant discovery)."""
STATE_OF = {"device.online": "online", "device.offline": "offline"}
CAMERA_STATES = ("camera.online", "camera.offline")
DEVICE_STATE_OF = {**STATE_OF, "camera.online": "online", "camera.offline": "offline"}
"""The device's own state (no point): a camera's online/offline is its state, as a device's is.
(STATE_OF alone names the kinds a state topic sends.)"""


@dataclass
class Counters:
    """Since-start counters for /api/health; thread-safe increments."""

    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    batches: int = 0
    last_batch_size: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, stored: int, duplicates: int, quarantined: int, batch: int) -> None:
        with self._lock:
            self.stored += stored
            self.duplicates += duplicates
            self.quarantined += quarantined
            self.batches += 1
            self.last_batch_size = batch


class Ingest:
    def __init__(self, settings: Settings, store: Store, registry: DeviceRegistry,
                 tasks: TaskService | None = None, on_notices: Callable[[list[Notice]], None] | None = None):
        self.settings = settings
        self.tasks = tasks
        self.derived = DerivedAlarms(settings.rules)
        self.silenced: set[tuple[str, str]] = set()
        """Devices taken offline for silence (console/devices/silence.py): their next message brings them back."""
        self.on_notices = on_notices
        """Called after each commit with the notices its new or changed tasks raised."""
        self.store = store
        self.registry = registry
        self.translator = Translator(settings, registry)
        self.counters = Counters()
        self.sightings = device_status.SightingThrottle()

    @property
    def adapters(self) -> list[BoundAdapter]:
        return self.translator.adapters

    @property
    def subscriptions(self) -> list[str]:
        return self.translator.subscriptions

    def load_silenced(self) -> None:
        """After a restart: which devices are still offline because of silence (the console's own
        offline events with ``via: silence`` not followed by its online)."""
        silenced: set[tuple[str, str]] = set()
        with self.store.read() as session:
            rows = session.execute(select(EventRow.site, EventRow.device_id, EventRow.kind, EventRow.data)
                                   .where(EventRow.adapter == "console").order_by(EventRow.id)).all()
        for site, device_id, kind, data in rows:
            if (data or {}).get("via") == "silence":
                (silenced.add if kind.endswith(".offline") else silenced.discard)((site, device_id))
        self.silenced |= silenced

    # -- one transaction per batch -------------------------------------------------------------

    def process(self, batch: list[InboundMessage]) -> list[HubMessage]:
        accepted: list[Accepted] = []
        rejected: list[Quarantine] = []
        announced: list[Inventory] = []
        for message in batch:
            outcome = self.translator.translate(message)
            if isinstance(outcome, Quarantine):
                log.warning("quarantined %s: %s", message.topic[:200], outcome.reason)
                rejected.append(outcome)
            else:
                accepted.extend(outcome)
                announced.extend(self.translator.inventory(message))
        back: set[tuple[str, str]] = set()
        if self.silenced and accepted:
            accepted, back = self._back_from_silence(accepted)
        notices: list[Notice] = []
        with self.store.write() as session, session.begin():
            registry_changes = self._register(session, announced) if announced else []
            out, written, stored = self._store(session, accepted, rejected, notices)
        for device_id, entry in registry_changes:  # only now, after the commit
            if entry is not None:
                self.registry.add(entry)
            else:
                self.registry.remove(self.settings.site.id, device_id)
        self.silenced -= back
        if notices and self.on_notices is not None:
            self.on_notices(notices)
        # Only now, after the commit: a batch that failed and is retried must not count twice.
        self.sightings.written(written)
        self.counters.add(stored, len(accepted) - stored, len(rejected), len(batch))
        return out

    def _register(self, session: Session, announced: list[Inventory]) -> list[tuple[str, DeviceEntry | None]]:
        """Devices announced (or withdrawn) by their adapter, registered in this transaction;
        what a person registered or the site file holds is never changed this way. Returns what
        was applied: (device id, its entry, or None when withdrawn)."""
        site, now = self.settings.site.id, datetime.now(timezone.utc)
        applied: list[tuple[str, DeviceEntry | None]] = []
        for item in announced:
            current = self.registry.get(site, item.device_id)
            try:
                if item.entry is not None:
                    # The announcement is checked like any registration (id, name and role rules).
                    entry = DeviceEntry.model_validate(asdict(item.entry))
                    if current == entry:
                        continue  # a retained config replayed on every reconnect: nothing new
                    if current is not None and not device_admin.announced_by(session, site, item.device_id,
                                                                             ANNOUNCER):
                        continue
                    device_admin.register(session, self.registry, entry, ANNOUNCER, now, client="mqtt")
                    applied.append((item.device_id, entry))
                elif current is not None and device_admin.announced_by(session, site, item.device_id, ANNOUNCER):
                    device_admin.unregister(session, self.registry, site, item.device_id, ANNOUNCER, now,
                                            client="mqtt")
                    applied.append((item.device_id, None))
            except (device_admin.RegistryError, ValidationError) as exc:
                log.warning("announced device %s not registered: %s", item.device_id, exc)
        return applied

    def _back_from_silence(self, accepted: list[Accepted]) -> tuple[list[Accepted], set[tuple[str, str]]]:
        """A device that was silent past its budget speaks again: it is online before its message."""
        out: list[Accepted] = []
        back: set[tuple[str, str]] = set()
        for item in accepted:
            key = (item.event.site, item.event.device_id)
            if (key in self.silenced and key not in back and not item.message.retain
                    and not item.event.kind.endswith(".offline")):
                back.add(key)
                device = self.registry.get(*key)
                kind = "camera.online" if device is not None and device.role == "camera" else "device.online"
                draft = Draft(kind=kind, site=key[0], device_id=key[1], ts=item.message.received_at,
                              source_id=f"heard:{item.message.received_at.timestamp():.3f}",
                              data={"via": "silence"})
                event = validate_event(draft, "console", item.message.received_at)
                out.append(Accepted(item.message, event, item.registered, {"via": "silence"}))
            out.append(item)
        return out, back

    def process_console_drafts(self, drafts: list[Draft], now: datetime, silenced: bool = False) -> list[HubMessage]:
        """Store events the console itself observed (a device silent past its budget), through the
        same transaction path as MQTT messages: alarms, tasks and hub messages follow."""
        accepted = []
        for draft in drafts:
            message = InboundMessage(f"console/health/{draft.device_id}", b"", False, now)
            event = validate_event(draft, "console", now)
            registered = self.registry.is_registered(draft.site, draft.device_id)
            accepted.append(Accepted(message, event, registered,
                                      event.data.model_dump(mode="json", exclude_defaults=True)))
        notices: list[Notice] = []
        with self.store.write() as session, session.begin():
            out, _written, _stored = self._store(session, accepted, [], notices)
        if silenced:
            self.silenced |= {(d.site, d.device_id) for d in drafts}
        # A link that speaks again (a GB/T 26875.3 device) is back from its silence.
        self.silenced -= {(d.site, d.device_id) for d in drafts if d.kind.endswith(".online")}
        if notices and self.on_notices is not None:
            self.on_notices(notices)
        return out

    def quarantine(self, messages: list[InboundMessage], reason: str) -> None:
        """Store ``messages`` in quarantine as they are (the fallback when processing failed)."""
        with self.store.write() as session, session.begin():
            self._store(session, [], [Quarantine(m, "-", reason) for m in messages])
        self.counters.add(0, 0, len(messages), len(messages))

    def _store(
        self, session: Session, accepted: list[Accepted], rejected: list[Quarantine],
        notices: list[Notice] | None = None,
    ) -> tuple[list[HubMessage], dict[tuple[str, str], device_status.Sighting], int]:
        """Write one batch in the caller's transaction: (hub messages, sightings written, events stored)."""
        if rejected:
            session.execute(
                insert(session, QuarantineRow),
                [
                    {
                        "received_at": q.message.received_at, "topic": q.message.topic[:4096],
                        "payload": q.message.payload, "size": len(q.message.payload),
                        "adapter": q.adapter, "reason": q.reason[:2000], "retained": q.message.retain,
                    }
                    for q in rejected
                ],
            )
        sightings: dict[tuple[str, str], device_status.Sighting] = {}
        for item in accepted:  # every message is a sign of life, also one that is not kept below
            # ...but not the console's own observations, and not a retained replay (the broker
            # speaking for a device that may be dead).
            if item.event.adapter != "console" and not item.message.retain:
                sightings[(item.event.site, item.event.device_id)] = device_status.Sighting(
                    item.message.received_at, item.event.adapter, item.message.topic, item.registered
                )
        accepted = self._drop_unchanged_states(session, accepted)
        inserted = self._insert_events(session, accepted)
        stored = len(inserted)
        hub: list[HubMessage] = []
        state_changed = False
        for item in accepted:
            heard = item.event.adapter != "console" and not item.message.retain  # see the sightings above
            row_id = inserted.pop((item.event.site, item.event.device_id, item.event.source_id), None)
            if row_id is None:
                continue
            event = item.event
            hub.append(HubMessage("event", event_model_view(event, row_id, item.registered, item.data, self.registry)))
            # A point going offline (one card reader of a controller) is that point's alarm, not
            # the whole device's state.
            state = DEVICE_STATE_OF.get(event.kind) if not event.point else None
            if state is not None:
                device_status.set_state(session, event.site, event.device_id, state, event.received_at,
                                        item.registered, seen=heard)
                state_changed = True
                hub.append(HubMessage("device.state", {
                    "site": event.site, "device_id": event.device_id, "state": state,
                    "at": event.received_at.isoformat(),
                }))
            changes = apply_event(session, event, row_id) + self.derived.apply(session, event, row_id)
            # Tasks first: a raised alarm's view carries the id of the task it opened.
            task_outcome = self._tasks_for(session, changes, event) if changes and self.tasks is not None else None
            for change in changes:
                hub.append(HubMessage(change.type, alarm_view(change.alarm, self.registry)))
            if task_outcome is not None:
                hub.extend(task_outcome.hub)
                if notices is not None:
                    notices.extend(task_outcome.notices)
        due = self.sightings.due(sightings)
        device_status.record_sightings(session, due)
        if state_changed:
            counts = device_status.device_counts(session, self.registry)
            for message in hub:
                if message.type == "device.state":
                    message.data["devices"] = counts
        return hub, due, stored

    def _tasks_for(self, session: Session, changes: list[AlarmChange], event: Event) -> Outcome | None:
        """The alarm's task, in a savepoint: a fault in the task engine must never cost the alarm
        itself (it is stored and shown without its task, and the fault is logged). A store that
        cannot write (a full disk, a lost connection) is no fault of the engine: the whole batch
        fails and is retried, so the alarm never ends up stored without its task."""
        assert self.tasks is not None
        try:
            with session.begin_nested():
                return self.tasks.on_alarm_changes(session, changes, event.received_at)
        except OperationalError:
            raise
        except Exception:
            log.exception("task engine failed on %s at %s/%s; the alarm is kept without its task",
                          event.kind, event.device_id, event.point)
            return None

    def _drop_unchanged_states(self, session: Session, accepted: list[Accepted]) -> list[Accepted]:
        """A state message that repeats the device's current state is not a new event
        (retained replays, QoS 1 redeliveries, a gateway re-announcing itself)."""
        kept = []
        known: dict[tuple[str, str], str] = {}
        cameras: dict[tuple[str, str, str], str | None] = {}
        raised: set[tuple[str, str, str, str]] = set()
        modes: dict[tuple[str, str], str | None] = {}
        for item in accepted:
            event = item.event
            if event.kind in RAISES:
                raised.add((event.site, event.device_id, event.point, event.kind))
            if (_is_level_restore(event) and not self._clears_something(session, event, raised)
                    and not _mode_changes(session, event, modes)):
                # A sensor that reports its whole state repeats "no smoke" every few minutes:
                # a restore that clears nothing is not an event (unless the panel's linkage
                # control went auto ↔ manual: the duty log reads that from the events).
                continue
            if event.kind in CAMERA_STATES and event.adapter != "console":
                # Camera status is republished on every reconnect and every heartbeat: only a
                # change is an event (per camera and point: detect, record and audio are apart).
                ckey = (event.site, event.device_id, event.point)
                if ckey not in cameras:
                    cameras[ckey] = session.scalar(
                        select(EventRow.kind).where(
                            EventRow.site == ckey[0], EventRow.device_id == ckey[1], EventRow.point == ckey[2],
                            EventRow.kind.in_(CAMERA_STATES),
                        ).order_by(EventRow.id.desc()).limit(1))
                if cameras[ckey] == event.kind:
                    continue
                cameras[ckey] = event.kind
            if _is_state(event):
                key = (event.site, event.device_id)
                if key not in known:
                    known[key] = device_status.current_state(session, *key)
                state = STATE_OF[event.kind]
                if known[key] == state:
                    continue
                known[key] = state
            kept.append(item)
        return kept

    @staticmethod
    def _clears_something(session: Session, event: Event, raised: set[tuple[str, str, str, str]]) -> bool:
        spec = clear_spec(event.kind, getattr(event.data, "of", None))
        if spec is None:
            return False
        if any(site == event.site and device == event.device_id and kind in spec.kinds
               and (spec.all_points or point == event.point) for site, device, point, kind in raised):
            return True  # raised earlier in this batch
        query = select(AlarmRow.id).where(
            AlarmRow.site == event.site, AlarmRow.device_id == event.device_id,
            AlarmRow.kind.in_(sorted(spec.kinds)), AlarmRow.closed.is_(False), AlarmRow.cleared.is_(False))
        if not spec.all_points:
            query = query.where(AlarmRow.point == event.point)
        return session.scalar(query.limit(1)) is not None

    def _insert_events(self, session: Session, accepted: list[Accepted]) -> dict[tuple[str, str, str], int]:
        rows = []
        seen: set[tuple[str, str, str]] = set()
        for item in accepted:
            event = item.event
            key = (event.site, event.device_id, event.source_id)
            if key in seen:
                continue
            seen.add(key)
            rows.append({
                "site": event.site, "device_id": event.device_id, "source_id": event.source_id,
                "kind": event.kind, "point": event.point, "ts": event.ts, "received_at": event.received_at,
                "data": item.data, "adapter": event.adapter,
                "retained": event.retained, "test": event.data.test, "registered": item.registered,
            })
        if not rows:
            return {}
        table = EventRow.__table__  # Core, not ORM bulk insert: a third of the cost per row
        stmt = (
            insert(session, table)
            .on_conflict_do_nothing(index_elements=["site", "device_id", "source_id"])
            .returning(table.c.id, table.c.site, table.c.device_id, table.c.source_id)
        )
        result = session.execute(stmt, rows)
        return {(r.site, r.device_id, r.source_id): r.id for r in result}


def _mode_changes(session: Session, event: Event, modes: dict[tuple[str, str], str | None]) -> bool:
    """The event says a fire panel's linkage mode, and it differs from the last one stored (or
    seen earlier in this batch: ``modes`` keeps them)."""
    mode = (event.data.model_extra or {}).get("mode")
    if not isinstance(mode, str) or mode not in MODES:
        return False
    key = (event.site, event.device_id)
    if key not in modes:
        modes[key] = linkage_mode(session, *key)
    changed = modes[key] != mode
    modes[key] = mode
    return changed


def _is_level_restore(event: Event) -> bool:
    """A restore an adapter derived from a sensor's reported level (``via: state``), not a
    restore message the device sent on purpose."""
    return event.kind in RESTORE_KINDS and bool(
        event.data.model_extra and event.data.model_extra.get("via") == "state"
    )


def _is_state(event: Event) -> bool:
    """A message from a device's state topic (not a gateway's event about a device)."""
    return event.kind in STATE_OF and bool(
        event.data.model_extra and event.data.model_extra.get("via") == "state"
    )

