"""The device registry as CSV (for spreadsheets) and YAML (the site's devices file).

CSV is flat: one row per device, and one more row per point with the device's ``id`` and the
``point`` column filled (its floor, zone, label, kind, x, y). ``cameras`` is a list separated by
spaces. Importing checks every row and reports each problem with its line number; nothing is
written unless the whole file is good.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import yaml
from pydantic import ValidationError

from console.errors import ConfigError
from console.settings import DeviceEntry, DevicesSection, PointEntry

DEVICE_COLUMNS = ["id", "site", "name", "name_en", "role", "kind", "adapter", "address", "building", "floor",
                  "zone", "label", "x", "y", "cameras", "heartbeat_seconds"]
POINT_COLUMNS = ["floor", "zone", "label", "kind", "x", "y"]
COLUMNS = [*DEVICE_COLUMNS[:1], "point", *DEVICE_COLUMNS[1:]]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return " ".join(value)
    return str(value)


def to_csv(devices: list[DeviceEntry]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for device in devices:
        writer.writerow({column: _cell(getattr(device, column, "")) for column in DEVICE_COLUMNS} | {"point": ""})
        for point, entry in device.points.items():
            row = {column: "" for column in COLUMNS}
            row.update({"id": device.id, "point": point})
            row.update({column: _cell(getattr(entry, column)) for column in POINT_COLUMNS})
            writer.writerow(row)
    return out.getvalue()


def to_yaml(devices: list[DeviceEntry]) -> str:
    data = [device.model_dump(mode="json", exclude_defaults=True) for device in devices]
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=120)


def from_csv(text: str) -> list[DeviceEntry]:
    """Every device in the CSV, or ConfigError with each bad line and field."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))  # Excel writes a BOM
    missing = {"id"} - set(reader.fieldnames or [])
    if missing:
        raise ConfigError([("csv header", "needs at least the column: id")])
    unknown = set(reader.fieldnames or []) - set(COLUMNS)
    problems: list[tuple[str, str]] = [("csv header", f"unknown column {c!r}") for c in sorted(unknown)]
    devices: dict[str, dict[str, Any]] = {}
    points: list[tuple[int, str, str, dict[str, Any]]] = []
    for line, row in enumerate(reader, start=2):
        values = {k: (v or "").strip() for k, v in row.items() if k in COLUMNS}
        device_id = values.get("id", "")
        if not device_id:
            problems.append((f"line {line}", "id is empty"))
            continue
        if values.get("point"):
            points.append((line, device_id, values["point"], {c: values.get(c, "") for c in POINT_COLUMNS}))
            continue
        if device_id in devices:
            problems.append((f"line {line}", f"device {device_id!r} appears twice"))
            continue
        fields: dict[str, Any] = {c: values[c] for c in DEVICE_COLUMNS if values.get(c)}
        if "cameras" in fields:
            fields["cameras"] = fields["cameras"].split()
        fields["_line"] = line
        devices[device_id] = fields
    for line, device_id, point, fields in points:
        if device_id not in devices:
            problems.append((f"line {line}", f"point {point!r} of device {device_id!r}, which has no device row"))
            continue
        try:
            devices[device_id].setdefault("points", {})[point] = PointEntry.model_validate(
                {k: v for k, v in fields.items() if v})
        except ValidationError as exc:
            problems.extend((f"line {line}: {'.'.join(map(str, e['loc']))}", e["msg"]) for e in exc.errors())
    entries = []
    for fields in devices.values():
        line = fields.pop("_line")
        try:
            entries.append(DeviceEntry.model_validate(fields))
        except ValidationError as exc:
            problems.extend((f"line {line}: {'.'.join(map(str, e['loc']))}", e["msg"]) for e in exc.errors())
    if not problems:
        try:
            DevicesSection(entries=entries)  # registry-wide checks (shared addresses)
        except ValidationError as exc:
            problems.extend(("devices", e["msg"]) for e in exc.errors())
    if problems:
        raise ConfigError(problems)
    return entries
