"""A registry import (the admin page's CSV or YAML, as ``mcc devices export`` writes them): every row
checked (its line named in each error), the whole file planned against the registry (added, updated,
unchanged; a site-file device is not changed this way), and applied in one transaction only when
nothing is wrong, audited."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from console.devices import admin as device_admin
from console.devices import registry_io
from console.devices.registry import DeviceRegistry
from console.errors import ConfigError, Refusal
from console.settings import DeviceEntry, DevicesSection
from console.store import audit
from console.store.database import Store
from console.store.tables import RegisteredDeviceRow

IMPORT_MAX_BYTES = 2 * 1024 * 1024
IMPORT_MAX_DEVICES = 5000
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when it is there
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
CSV_TYPES = ("text/csv", "application/csv", "text/plain")


class ImportProblems(Exception):
    def __init__(self, errors: list[dict[str, Any]]):
        self.errors = errors
        super().__init__(f"{len(errors)} problems")


def _line_of(where: str) -> int | None:
    found = re.match(r"line (\d+)", where)
    return int(found.group(1)) if found else None


def _csv_device_rows(text: str) -> int:
    """How many device rows (not point rows) the CSV has, counted before anything is validated."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    return sum(1 for row in reader if not (row.get("point") or "").strip())


def _parse_csv(text: str) -> list[tuple[int | None, DeviceEntry]]:
    count = _csv_device_rows(text)
    if count > IMPORT_MAX_DEVICES:
        raise _too_many(count)
    try:
        entries = registry_io.from_csv(text)
    except ConfigError as exc:
        errors = []
        for where, message in exc.problems:
            field = where.split(":", 1)[1].strip() if ":" in where else ""
            errors.append({"line": _line_of(where), "message": f"{field}: {message}" if field else
                           (message if where.startswith("line") else f"{where}: {message}")})
        raise ImportProblems(errors) from exc
    # The line of each device's row (the device rows come first for their id).
    lines: dict[str, int] = {}
    for number, raw in enumerate(text.lstrip("\ufeff").splitlines()[1:], start=2):
        first = raw.split(",", 1)[0].strip().strip('"')
        lines.setdefault(first, number)
    return [(lines.get(entry.id), entry) for entry in entries]


class ImportTooLarge(Refusal):
    """More devices than one import takes (the API answers 413)."""

    status = 413

    def __init__(self, count: int):
        super().__init__("import.too_many", f"the file has {count} devices; an import is at most {IMPORT_MAX_DEVICES} "
                         "devices — split it into several files", count=count, max=IMPORT_MAX_DEVICES)


def _too_many(count: int) -> ImportTooLarge:
    return ImportTooLarge(count)


def _parse_yaml(text: str) -> list[tuple[int | None, DeviceEntry]]:
    try:
        # Parsed once: the node tree keeps the line numbers for the errors, the data is built from it.
        node = yaml.compose(text, Loader=YAML_LOADER)
        loader = YAML_LOADER("")
        try:
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ImportProblems([{"line": mark.line + 1 if mark else None,
                               "message": f"not YAML: {getattr(exc, 'problem', None) or exc}"}]) from exc
    if isinstance(data, dict) and isinstance(data.get("entries"), list):  # a devices section
        data = data["entries"]
        node = next((v for k, v in node.value if k.value == "entries"), node)  # type: ignore[union-attr]  # a mapping node
    if not isinstance(data, list):
        raise ImportProblems([{"line": 1, "message": "a devices file is a list of devices (- id: …)"}])
    if len(data) > IMPORT_MAX_DEVICES:
        raise _too_many(len(data))
    errors: list[dict[str, Any]] = []
    out: list[tuple[int | None, DeviceEntry]] = []
    for index, item in enumerate(data):
        item_node = node.value[index] if node is not None else None
        line = item_node.start_mark.line + 1 if item_node is not None else None
        try:
            out.append((line, DeviceEntry.model_validate(item)))
        except ValidationError as exc:
            for err in exc.errors():
                where = line
                if err["loc"] and item_node is not None and isinstance(item_node, yaml.MappingNode):
                    key = next((k for k, _v in item_node.value if k.value == err["loc"][0]), None)
                    if key is not None:
                        where = key.start_mark.line + 1
                errors.append({"line": where, "message": f"{'.'.join(map(str, err['loc']))}: {err['msg']}"
                               if err["loc"] else err["msg"]})
    if errors:
        raise ImportProblems(errors)
    return out


def _plan_import(session: Session, registry: DeviceRegistry, default_site: str,
                 parsed: list[tuple[int | None, DeviceEntry]]
                 ) -> tuple[dict[str, list[str]], list[DeviceEntry], list[DeviceEntry]]:
    """What the import would do: added / updated / unchanged ids, and the entries to add and to
    update. The stored registrations are read in one query."""
    result: dict[str, list[str]] = {"added": [], "updated": [], "unchanged": []}
    errors: list[dict[str, Any]] = []
    adds: list[DeviceEntry] = []
    updates: list[DeviceEntry] = []
    seen: dict[tuple[str, str], int | None] = {}
    try:
        DevicesSection(entries=[entry for _line, entry in parsed])
    except ValidationError as exc:
        errors.extend({"line": None, "message": e["msg"]} for e in exc.errors())
    imported = frozenset((entry.site or default_site, entry.id) for _line, entry in parsed)
    sites = sorted({site for site, _id in imported})
    stored = set(session.execute(select(RegisteredDeviceRow.site, RegisteredDeviceRow.device_id)
                                 .where(RegisteredDeviceRow.site.in_(sites))).tuples()) if sites else set()
    for line, entry in parsed:
        site = entry.site or default_site
        key = (site, entry.id)
        if key in seen:
            errors.append({"line": line, "message": f"device {entry.id!r} appears twice (also line {seen[key]})"})
            continue
        seen[key] = line
        current = registry.get(site, entry.id)
        if key in registry.from_site_file:
            if current is not None and current.model_copy(update={"site": None}) == entry.model_copy(
                    update={"site": None}):
                result["unchanged"].append(entry.id)
            else:
                errors.append({"line": line, "message": f"{entry.id} comes from the site file; change it there",
                               "code": "registry.from_site_file", "params": {"device": entry.id}})
            continue
        problem = device_admin.registration_problem(registry, site, entry, imported)
        if problem:
            errors.append({"line": line, "message": problem.text, "code": problem.code, "params": problem.params})
            continue
        if key not in stored:
            result["added"].append(entry.id)
            adds.append(entry)
        elif current is not None and current.model_copy(update={"site": None}) == entry.model_copy(
                update={"site": None}):
            result["unchanged"].append(entry.id)
        else:
            result["updated"].append(entry.id)
            updates.append(entry)
    if errors:
        raise ImportProblems(errors)
    return result, adds, updates


def run_import(store: Store, registry: DeviceRegistry, default_site: str, text: str, fmt: str, dry_run: bool,
               user: str, client: str, now: datetime) -> dict[str, Any]:
    """Check the whole file (CSV or YAML, as ``mcc devices export`` writes them) against the registry;
    unless ``dry_run`` and only if nothing is wrong, store and audit it and update the registry.
    Returns {added, updated, unchanged, errors: [{line, message}], dry_run, format}."""
    body: dict[str, Any] = {"added": [], "updated": [], "unchanged": [], "errors": [], "dry_run": dry_run,
                            "format": fmt}
    try:
        parsed = _parse_yaml(text) if fmt == "yaml" else _parse_csv(text)
        with store.write() as session, session.begin():
            result, adds, updates = _plan_import(session, registry, default_site, parsed)
            body.update(result)
            if not dry_run:
                device_admin.store_registrations(session, registry.default_site, adds, updates, user, now)
                audit.record(session, user, "device.import", target="devices",
                             detail={"format": fmt, **result}, client=client, at=now)
    except ImportProblems as exc:
        body["errors"] = sorted(exc.errors, key=lambda e: (e["line"] is None, e["line"] or 0))
        return body
    if not dry_run:
        registry.add_many(adds + updates)
    return body
