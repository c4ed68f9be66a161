"""Floor plans: one image per building floor, with the devices of that floor as markers.

The image (PNG or JPEG, at most 8 MB and 8192 px a side / 40 million pixels, checked by Pillow;
a phone's MPO JPEG is kept as JPEG) is kept in the store. A marker is a
registered device, or one point of a device, whose location (building and floor) is the plan's;
its position is the one placed from the admin page, else the site file's ``x``/``y``. Devices
of the floor without a position are listed as ``unplaced``.
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
import warnings
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PIL import Image, UnidentifiedImageError
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from console.devices import subsystems
from console.devices.registry import DeviceRegistry
from console.errors import Refusal
from console.store import audit
from console.store.tables import DevicePositionRow, DeviceStatusRow, FloorPlanRow

MAX_BYTES = 8 * 1024 * 1024
MAX_SIDE = 8192
MAX_PIXELS = 40_000_000
# MPO is the JPEG phones write (a JPEG with more pictures appended): kept and served as JPEG.
FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "MPO": "image/jpeg"}
LIMIT_TEXT = f"at most {MAX_SIDE} px a side and {MAX_PIXELS // 1_000_000} million pixels"


class PlanError(Refusal):
    """An upload or a marker the console refuses; ``status`` is the HTTP status to answer with."""

    status = 422


@dataclass(frozen=True)
class CheckedImage:
    content: bytes
    content_type: str
    width: int
    height: int
    sha256: str


def _too_large(size: str) -> PlanError:
    return PlanError("plan.too_large", f"the image is too large: {size}; floor plans are {LIMIT_TEXT}", size=size,
                     side=MAX_SIDE, megapixels=MAX_PIXELS // 1_000_000)


def _bomb_size(content: bytes, exc: Exception) -> str:
    """W×H from a PNG header, else the pixel count Pillow names, for the reason of a refusal."""
    if content[:8] == b"\x89PNG\r\n\x1a\n" and content[12:16] == b"IHDR" and len(content) >= 24:
        width, height = struct.unpack(">II", content[16:24])
        return f"{width}×{height} pixels"
    found = re.search(r"\((\d+) pixels\)", str(exc))
    return f"{int(found.group(1)):,} pixels" if found else "more pixels than Pillow will decode"


def check_image(content: bytes) -> CheckedImage:
    """A PNG or JPEG of at most 8 MB, 8192 px a side and 40 million pixels that Pillow can read,
    or PlanError with the reason. The size is checked from the header, before any decoding."""
    if not content:
        raise PlanError("plan.empty", "the file is empty; choose a PNG or JPEG image")
    if len(content) > MAX_BYTES:
        raise PlanError("plan.too_heavy", f"the image is {len(content) / 1024 / 1024:.1f} MB; floor plans are at most 8 MB",
                        mb=f"{len(content) / 1024 / 1024:.1f}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as image:  # reads the header only
                fmt, (width, height) = image.format, image.size
                if fmt not in FORMATS:
                    raise PlanError("plan.wrong_format", f"the file is a {fmt} image; floor plans must be PNG or JPEG",
                                    format=fmt)
                if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
                    raise _too_large(f"{width}×{height} pixels")
                image.verify()
            with Image.open(io.BytesIO(content)) as image:
                if image.format in ("JPEG", "MPO"):
                    # Decoding at 1/8 scale still reads every block (a truncated file fails) at
                    # a 64th of the memory.
                    image.draft(image.mode, (max(1, width // 8), max(1, height // 8)))
                image.load()  # verify() does not decode the pixels; a truncated file fails here
    except PlanError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_large(_bomb_size(content, exc)) from exc
    except UnidentifiedImageError as exc:
        raise PlanError("plan.unreadable", "the file is not a PNG or JPEG image Pillow can read") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise PlanError("plan.damaged", f"the image is damaged and cannot be read ({exc})") from exc
    return CheckedImage(content, FORMATS[fmt], width, height, hashlib.sha256(content).hexdigest())


def image_url(row: FloorPlanRow) -> str:
    return f"/api/floorplans/{row.id}/image?v={row.sha256[:16]}"  # the image, not the markers, names the URL


def _entries(registry: DeviceRegistry, plan: FloorPlanRow) -> list[dict[str, Any]]:
    """The devices and points of the registry on the plan's floor, with the site file's x/y."""
    out = []
    for (site, device_id), device in registry:
        if site != plan.site:
            continue
        for point in ["", *device.points]:
            location = registry.location(site, device_id, point)
            if location.building != plan.building or location.floor != plan.floor:
                continue
            entry = device.points[point] if point else None
            if entry is not None:
                name = entry.label or f"{device.name or device_id} {point}"
                x, y = entry.x, entry.y
            else:
                name, x, y = device.name or device_id, device.x, device.y
            kind = registry.kind_of(site, device_id, point)
            out.append({"device_id": device_id, "point": point, "name": name, "kind": kind,
                        "subsystem": subsystems.of_kind(kind, device.adapter),
                        "label": location.label, "zone": location.zone, "x": x, "y": y})
    return out


def plan_view(session: Session, registry: DeviceRegistry, row: FloorPlanRow) -> dict[str, Any]:
    placed = {(p.device_id, p.point): p for p in session.scalars(
        select(DevicePositionRow).where(DevicePositionRow.floorplan_id == row.id))}
    entries = _entries(registry, row)
    states = dict(session.execute(
        select(DeviceStatusRow.device_id, DeviceStatusRow.state).where(
            DeviceStatusRow.site == row.site,
            DeviceStatusRow.device_id.in_(sorted({e["device_id"] for e in entries})))).all()) if entries else {}
    markers, unplaced = [], []
    for entry in entries:
        position = placed.get((entry["device_id"], entry["point"]))
        x, y = (position.x, position.y) if position is not None else (entry["x"], entry["y"])
        if x is None or y is None:
            unplaced.append({k: entry[k] for k in ("device_id", "point", "name", "kind", "subsystem", "label")})
            continue
        state = states.get(entry["device_id"], "unknown")
        markers.append({**entry, "x": x, "y": y, "state": state if state in ("online", "offline") else "unknown",
                        "placed": position is not None})
    return {
        "id": row.id, "site": row.site, "building": row.building, "floor": row.floor,
        "name": row.name or f"{row.building} {row.floor}", "width": row.width, "height": row.height,
        "sha256": row.sha256, "revision": row.revision, "content_type": row.content_type,
        "uploaded_by": row.uploaded_by, "uploaded_at": row.uploaded_at.isoformat(),
        "image_url": image_url(row), "markers": markers, "unplaced": unplaced,
    }


def _floor_order(floor: str) -> tuple[int, Any]:
    """B2 < B1 < 1F < 2F < ... < RF; anything else after, by name."""
    text = floor.strip().upper()
    if text.startswith("B") and text[1:].isdigit():
        return (0, -int(text[1:]))
    number = text[:-1] if text.endswith("F") else text
    if number.isdigit():
        return (1, int(number))
    if text == "RF":
        return (2, 0)
    return (3, text)


def list_plans(session: Session, registry: DeviceRegistry,
               sites: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    """Every plan (of ``sites``; None: of every site)."""
    query = select(FloorPlanRow)
    if sites is not None:
        query = query.where(FloorPlanRow.site.in_(sites))
    rows = session.scalars(query).all()
    rows = sorted(rows, key=lambda r: (r.site, r.building, _floor_order(r.floor), r.id))
    return [plan_view(session, registry, row) for row in rows]


def get_plan(session: Session, plan_id: int, lock: bool = False) -> FloorPlanRow:
    row = session.get(FloorPlanRow, plan_id, with_for_update=lock)
    if row is None:
        raise PlanError("plan.not_found", f"no floor plan {plan_id}", status=404, plan=plan_id)
    return row


def save_plan(session: Session, image: CheckedImage, site: str, building: str, floor: str, name: str,
              user: str, now: datetime, client: str = "") -> FloorPlanRow:
    """Store a new plan, or replace the image of the plan of the same site, building and floor
    (its revision goes up; placed markers stay). Audited."""
    building, floor, name = building.strip(), floor.strip(), name.strip()
    if not building or not floor:
        raise PlanError("plan.where_required", "building and floor are required")
    same_floor = (FloorPlanRow.site == site, FloorPlanRow.building == building, FloorPlanRow.floor == floor)
    row = session.scalar(select(FloorPlanRow).where(*same_floor).with_for_update())
    fields = {"image": image.content, "content_type": image.content_type, "width": image.width,
              "height": image.height, "size": len(image.content), "sha256": image.sha256,
              "uploaded_by": user, "uploaded_at": now}
    action = "floorplan.replace"
    if row is None:
        # FOR UPDATE on a missing row locks nothing: two first uploads of a floor at once both
        # get here. The insert is tried in a savepoint; the one that loses the unique constraint
        # (it waited for the other to commit) replaces the image the other stored.
        try:
            with session.begin_nested():
                row = FloorPlanRow(site=site, building=building, floor=floor, name=name, revision=1, **fields)
                session.add(row)
            action = "floorplan.add"
        except IntegrityError:
            row = session.scalar(select(FloorPlanRow).where(*same_floor).with_for_update())
            if row is None:  # the other upload's plan was deleted meanwhile
                raise PlanError("plan.changed", "this floor's plan changed while uploading; upload again",
                                status=409) from None
    if action == "floorplan.replace":
        for key, value in fields.items():
            setattr(row, key, value)
        if name:
            row.name = name
        row.revision += 1
    session.flush()
    audit.record(session, user, action, target=f"floorplan:{row.id}",
                 detail={"site": site, "building": building, "floor": floor, "name": row.name,
                         "sha256": image.sha256, "size": len(image.content), "width": image.width,
                         "height": image.height, "revision": row.revision}, client=client, at=now)
    return row


def place(session: Session, registry: DeviceRegistry, row: FloorPlanRow, device_id: str, point: str,
          x: float, y: float, user: str, now: datetime, client: str = "") -> None:
    if not (0 <= x <= 1 and 0 <= y <= 1):
        raise PlanError("plan.xy_range", "x and y are fractions of the image, 0 to 1")
    device = registry.get(row.site, device_id)
    if device is None:
        raise PlanError("plan.device_unknown", f"{device_id} is not a registered device", status=404, device=device_id)
    if point and point not in device.points:
        raise PlanError("plan.no_point", f"{device_id} has no point {point!r}", status=404, device=device_id,
                        point=point)
    location = registry.location(row.site, device_id, point)
    if (location.building, location.floor) != (row.building, row.floor):
        where = f"{location.building} {location.floor}".strip() or "no floor"
        raise PlanError("plan.other_floor", f"{device_id}{' ' + point if point else ''} is on {where}, not on this "
                        f"plan ({row.building} {row.floor})", device=f"{device_id} {point}".strip(), where=where)
    position = session.get(DevicePositionRow, (row.id, device_id, point))
    if position is None:
        session.add(DevicePositionRow(floorplan_id=row.id, device_id=device_id, point=point, x=x, y=y,
                                      placed_by=user, placed_at=now))
    else:
        position.x, position.y, position.placed_by, position.placed_at = x, y, user, now
    row.revision += 1
    audit.record(session, user, "floorplan.marker", target=f"floorplan:{row.id}",
                 detail={"device_id": device_id, "point": point, "x": round(x, 5), "y": round(y, 5)},
                 client=client, at=now)


def unplace(session: Session, row: FloorPlanRow, device_id: str, point: str, user: str, now: datetime,
            client: str = "") -> None:
    position = session.get(DevicePositionRow, (row.id, device_id, point))
    if position is None:
        raise PlanError("plan.not_placed", f"{device_id}{' ' + point if point else ''} has no position placed on this "
                        "plan", status=404, device=f"{device_id} {point}".strip())
    session.delete(position)
    row.revision += 1
    audit.record(session, user, "floorplan.marker_remove", target=f"floorplan:{row.id}",
                 detail={"device_id": device_id, "point": point}, client=client, at=now)


def remove(session: Session, row: FloorPlanRow, user: str, now: datetime, client: str = "") -> None:
    session.execute(delete(DevicePositionRow).where(DevicePositionRow.floorplan_id == row.id))
    audit.record(session, user, "floorplan.remove", target=f"floorplan:{row.id}",
                 detail={"site": row.site, "building": row.building, "floor": row.floor, "sha256": row.sha256},
                 client=client, at=now)
    session.delete(row)


def positions_for(session: Session, site: str, device_id: str) -> dict[str, tuple[float, float]]:
    """Placed positions of a device's entries (point "" for the device itself) on any plan."""
    rows = session.execute(
        select(DevicePositionRow.point, DevicePositionRow.x, DevicePositionRow.y)
        .join(FloorPlanRow, FloorPlanRow.id == DevicePositionRow.floorplan_id)
        .where(FloorPlanRow.site == site, DevicePositionRow.device_id == device_id)).all()
    return {point: (x, y) for point, x, y in rows}
