"""Registering a device from the console: an admin turns an unknown device that has turned up
(listed at /api/devices with ``registered: false``) into a registered one, with its name and
place, without editing the site file. Kept in the store; the site file's devices cannot be
changed or removed from here. Audited."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from console.devices.registry import DeviceRegistry
from console.errors import Refusal
from console.settings import DeviceEntry
from console.settings.devices import command_namespace_problem
from console.store import audit
from console.store.database import Store
from console.store.tables import DeviceStatusRow, RegisteredDeviceRow

log = logging.getLogger("mcc.devices")


class RegistryError(Refusal):
    """The registration cannot be made (a site-file device, a taken address, not registered here)."""


def load_registered_devices(store: Store, registry: DeviceRegistry) -> bool:
    """Bring the registry's console-registered devices in line with the store (at start, and
    then periodically, so a registration made on another console instance arrives here too)."""
    with store.read() as session:
        rows = session.scalars(select(RegisteredDeviceRow)).all()
    entries = []
    for row in rows:
        try:
            entries.append(DeviceEntry.model_validate(row.entry))
        except ValidationError as exc:  # the schema moved on: keep the rest, say which one
            log.error("registered device %s/%s no longer validates, skipped: %s", row.site, row.device_id, exc)
    return registry.set_registered(entries)


def registration_problem(registry: DeviceRegistry, site: str, entry: DeviceEntry,
                         registering: frozenset[tuple[str, str]] = frozenset()) -> RegistryError | None:
    """Why ``entry`` may not be registered from the console, or None. ``registering``: the
    (site, id) of devices registered in the same go (an import), whose old addresses may move."""
    served = {registry.default_site} | {served for served, _ in registry.from_site_file}
    if site not in served:
        # Its events would never arrive, and its places would have no label key: the sites a
        # console serves (its own and those of the site file's devices) are fixed when it starts.
        return RegistryError("registry.other_site", f"site {site!r} is not one this console serves", status=422,
                             site=site)
    if entry.command_topic and (problem := command_namespace_problem(entry.command_topic, site, entry.id,
                                                                     registry.command_prefixes)):
        return RegistryError("registry.command_topic", problem, status=422, device=entry.id,
                             topic=entry.command_topic)
    if (site, entry.id) in registry.from_site_file:
        return RegistryError("registry.from_site_file", f"{entry.id} comes from the site file; change it there",
                             device=entry.id)
    owner = registry.address_owner(site, entry.id)
    if owner not in (None, entry.id) and (site, owner) not in registering:
        return RegistryError("registry.is_address_of", f"{entry.id} is the vendor address of device {owner}",
                             device=entry.id, owner=owner)
    if entry.address:
        # An address may not name another device: not its id (events under that id would become
        # this device's), and not its address under any adapter.
        if registry.get(site, entry.address) is not None and entry.address != entry.id:
            return RegistryError("registry.address_is_id", f"address {entry.address!r} is the id of device "
                                 f"{entry.address}", address=entry.address)
        owner = registry.address_owner(site, entry.address)
        if owner not in (None, entry.id) and (site, owner) not in registering:
            return RegistryError("registry.address_taken", f"address {entry.address!r} already belongs to {owner}",
                                 address=entry.address, owner=owner)
    return None


def store_registration(session: Session, site: str, entry: DeviceEntry, user: str, now: datetime) -> dict[str, Any]:
    """Write (or replace) the console registration and mark the device's status registered; the
    entry as stored."""
    data = entry.model_dump(mode="json", exclude_defaults=True)
    row = session.get(RegisteredDeviceRow, (site, entry.id))
    if row is None:
        session.add(RegisteredDeviceRow(site=site, device_id=entry.id, entry=data, registered_by=user,
                                        registered_at=now))
    else:
        row.entry, row.registered_by, row.registered_at = data, user, now
    session.execute(update(DeviceStatusRow).where(DeviceStatusRow.site == site, DeviceStatusRow.device_id.in_(
        [entry.id, entry.address] if entry.address else [entry.id])).values(registered=True))
    return data


CHUNK = 500  # ids per IN list


def store_registrations(session: Session, default_site: str, adds: list[DeviceEntry], updates: list[DeviceEntry],
                        user: str, now: datetime) -> None:
    """Many registrations at once (an import): new rows in one bulk insert, changed ones in one
    bulk update by key, and the status rows marked registered with one UPDATE per site and 500 ids."""
    def row(entry: DeviceEntry) -> dict[str, Any]:
        return {"site": entry.site or default_site, "device_id": entry.id,
                "entry": entry.model_dump(mode="json", exclude_defaults=True),
                "registered_by": user, "registered_at": now}

    if adds:
        session.execute(insert(RegisteredDeviceRow), [row(entry) for entry in adds])
    if updates:
        session.execute(update(RegisteredDeviceRow), [row(entry) for entry in updates])
    ids: dict[str, set[str]] = {}
    for entry in [*adds, *updates]:
        names = ids.setdefault(entry.site or default_site, set())
        names.add(entry.id)
        if entry.address:
            names.add(entry.address)
    for site, names in ids.items():
        ordered = sorted(names)
        for start in range(0, len(ordered), CHUNK):
            session.execute(update(DeviceStatusRow).where(
                DeviceStatusRow.site == site, DeviceStatusRow.device_id.in_(ordered[start:start + CHUNK]))
                .values(registered=True))


def register(session: Session, registry: DeviceRegistry, entry: DeviceEntry, user: str, now: datetime,
             client: str = "") -> None:
    """Store the registration in the caller's transaction; the caller adds it to the registry after
    the commit."""
    site = entry.site or registry.default_site
    problem = registration_problem(registry, site, entry)
    if problem:
        raise problem
    data = store_registration(session, site, entry, user, now)
    audit.record(session, user, "device.register", target=f"device:{entry.id}", detail=data, client=client, at=now)


def unregister(session: Session, registry: DeviceRegistry, site: str, device_id: str, user: str, now: datetime,
               client: str = "") -> None:
    if (site, device_id) in registry.from_site_file:
        raise RegistryError("registry.from_site_file", f"{device_id} comes from the site file; remove it there",
                            device=device_id)
    row = session.get(RegisteredDeviceRow, (site, device_id))
    if row is None:
        raise RegistryError("registry.not_registered_here", f"{device_id} was not registered from the console",
                            device=device_id)
    session.delete(row)
    session.execute(update(DeviceStatusRow).where(DeviceStatusRow.site == site, DeviceStatusRow.device_id == device_id)
                    .values(registered=False))
    audit.record(session, user, "device.unregister", target=f"device:{device_id}", client=client, at=now)


def announced_by(session: Session, site: str, device_id: str, announcer: str) -> bool:
    """True if the device's registration came from ``announcer`` (not from a person)."""
    row = session.get(RegisteredDeviceRow, (site, device_id))
    return row is not None and row.registered_by == announcer
