"""Printed tags: the zones' location labels (a guard proves where they stand by scanning one) as a
list and a printable QR sheet, and reprinting one label, which retires the old print at once.

A code is signed with the site's key (console/tasks/tags.py); only control-room staff can read it
here. A guard's phone never can: scanning the label on the spot is the proof.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from typing import Any

import segno
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from console.api.deps import AlarmActor, ReadSession, RuntimeDep, Supervisor, client_address, site_for_new
from console.api.tasks import run_action
from console.people import auth
from console.runtime import Runtime
from console.store import audit
from console.tasks import places
from console.tasks.outcome import Outcome
from console.tasks.tags import checkpoint_key, tag_key

router = APIRouter(prefix="/api", tags=["tags"])


class PlaceBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site: str | None = Field(None, max_length=64, description="Default: the console's site.")
    building: str = Field("", max_length=64)
    floor: str = Field("", max_length=16)
    zone: str = Field("", max_length=64)


@router.get("/locations")
def list_locations(runtime: RuntimeDep, session: ReadSession, user: AlarmActor) -> list[dict[str, str]]:
    """Every zone the device registry names at the user's sites, with the signed code to print as its QR label."""
    return _locations(runtime, session, user)


@router.get("/locations/labels", response_class=HTMLResponse)
def location_labels(runtime: RuntimeDep, session: ReadSession, user: AlarmActor,
                    building: str | None = None, floor: str | None = None, zone: str | None = None) -> HTMLResponse:
    """A printable sheet of QR labels, one per zone (or only the zones matching the filters), to
    stick where guards prove they were."""
    chosen = [p for p in _locations(runtime, session, user)
              if (building is None or p["building"] == building) and (floor is None or p["floor"] == floor)
              and (zone is None or p["zone"] == zone)]
    title = f"{runtime.settings.site.name or runtime.settings.site.id} · 位置二维码 / location QR labels"
    return label_sheet(title, [(p["label"], p["code"]) for p in chosen])


@router.post("/locations/reissue")
def reissue_location(body: PlaceBody, request: Request, runtime: RuntimeDep, user: Supervisor) -> dict[str, Any]:
    """Print a zone's label anew (lost, damaged or copied): the old label is refused from now on."""
    site = site_for_new(user, body.site, runtime.settings.site.id)
    place = places.Place(body.building, body.floor, body.zone)
    if site not in runtime.tasks.records.tags.sites:
        raise places.PlaceError("place.other_site", f"site {site!r} is not one of this console's", site=site)
    code = reissue_label(runtime, request, user, lambda _session: site, place=place)
    return {"site": site, "building": place.building, "floor": place.floor, "zone": place.zone,
            "label": place.label(), "code": code}


def reissue_label(runtime: Runtime, request: Request, user: auth.User, site_of: Callable[[Session], str], *,
                  place: places.Place | None = None, checkpoint: int | None = None) -> str:
    """Print a label anew (a zone's or a checkpoint's) in one audited transaction; its new code.
    ``site_of`` reads the tag's site in that transaction (a checkpoint's is in the store)."""
    codes: list[str] = []

    def reissue(session: Session) -> Outcome:
        site = site_of(session)
        book = runtime.tasks.records.tags
        code = book.reissue(session, site, user.username, runtime.now(), place=place, checkpoint=checkpoint)
        key = tag_key(place) if place is not None else checkpoint_key(checkpoint or 0)
        audit.record(session, user.username, "tag.reissue", target=f"tag:{site}:{key}",
                     detail={"issue": book.issue_of(session, site, key)}, client=client_address(request),
                     at=runtime.now())
        codes.append(code)
        return Outcome()

    run_action(runtime, reissue)
    return codes[0]


def label_sheet(title: str, labels: list[tuple[str, str]]) -> HTMLResponse:
    """An A4 sheet of QR labels (caption, code), three across."""
    cards = []
    for caption, code in labels:
        qr = segno.make(code, error="m")
        cards.append(
            f'<figure class="label"><img alt="QR {escape(code)}" src="{qr.svg_data_uri(scale=4)}">'
            f'<figcaption><strong>{escape(caption)}</strong><code>{escape(code)}</code></figcaption></figure>')
    return HTMLResponse(
        f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        '<link rel="stylesheet" href="/static/report.css"></head><body class="report">'
        f'<h1>{escape(title)}</h1><div class="labels">{"".join(cards)}</div></body></html>')


def _locations(runtime: Runtime, session: Session, user: auth.User) -> list[dict[str, str]]:
    seen: dict[tuple[str, places.Place], dict[str, str]] = {}
    for (site, device_id), device in runtime.registry:
        if not user.sees(site):
            continue
        for point in ["", *device.points]:
            location = runtime.registry.location(site, device_id, point)
            place = places.Place(location.building, location.floor, location.zone)
            if (site, place) not in seen:
                code = runtime.tasks.records.tags.code(session, site, place=place)
                seen[(site, place)] = {"code": code, "site": site, "building": place.building,
                                       "floor": place.floor, "zone": place.zone, "label": place.label()}
    return sorted(seen.values(), key=lambda p: (p["site"], p["building"], p["floor"], p["zone"]))
