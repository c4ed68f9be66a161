"""Floor plans: the image of each building floor and the devices placed on it (markers).

Reading is for everyone who watches the site; uploading, placing and removing is the admin's.
Every change is audited and sends ``floorplan.updated`` {id} to the screens.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request, Response, UploadFile, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from console import floorplans
from console.api.deps import Admin, ReadSession, RuntimeDep, SiteWatcher, client_address
from console.messages import HubMessage
from console.runtime import Runtime

router = APIRouter(prefix="/api/floorplans", tags=["floorplans"])


class MarkerBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    device_id: str = Field(min_length=1, max_length=128)
    point: str = Field("", max_length=64)
    x: float = Field(ge=0, le=1, description="Fraction of the image's width from the left.")
    y: float = Field(ge=0, le=1, description="Fraction of the image's height from the top.")


def _fail(exc: floorplans.PlanError) -> HTTPException:
    return HTTPException(exc.status, str(exc))


def _changed(runtime: Runtime, plan_id: int, user: str, action: Any) -> dict[str, Any]:
    """One audited write, then the plan as it is now and ``floorplan.updated`` to the screens."""
    try:
        with runtime.store.write() as session, session.begin():
            action(session)
    except floorplans.PlanError as exc:
        raise _fail(exc) from exc
    runtime.publish([HubMessage("floorplan.updated", {"id": plan_id})])
    with runtime.store.read() as session:
        return floorplans.plan_view(session, runtime.registry, floorplans.get_plan(session, plan_id))


@router.get("")
def list_plans(session: ReadSession, runtime: RuntimeDep, _user: SiteWatcher) -> list[dict[str, Any]]:
    return floorplans.list_plans(session, runtime.registry)


@router.get("/{plan_id}")
def get_plan(plan_id: int, session: ReadSession, runtime: RuntimeDep, _user: SiteWatcher) -> dict[str, Any]:
    try:
        return floorplans.plan_view(session, runtime.registry, floorplans.get_plan(session, plan_id))
    except floorplans.PlanError as exc:
        raise _fail(exc) from exc


@router.get("/{plan_id}/image")
def get_image(plan_id: int, request: Request, session: ReadSession, _user: SiteWatcher) -> Response:
    try:
        row = floorplans.get_plan(session, plan_id)
    except floorplans.PlanError as exc:
        raise _fail(exc) from exc
    etag = f'"{row.sha256}"'
    headers = {"ETag": etag, "Cache-Control": "private, max-age=86400"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(row.image, media_type=row.content_type, headers=headers)


@router.post("", status_code=status.HTTP_200_OK)
async def upload_plan(
    request: Request, runtime: RuntimeDep, user: Admin,
    file: Annotated[UploadFile, Form(description="PNG or JPEG, at most 8 MB")],
    building: Annotated[str, Form(min_length=1, max_length=64)],
    floor: Annotated[str, Form(min_length=1, max_length=16)],
    name: Annotated[str, Form(max_length=128)] = "",
    site: Annotated[str, Form(max_length=64)] = "",
) -> dict[str, Any]:
    """Upload a floor's plan; the same site, building and floor again replaces the image."""
    content = await file.read(floorplans.MAX_BYTES + 1)
    await file.close()
    try:
        image = await run_in_threadpool(floorplans.check_image, content)
    except floorplans.PlanError as exc:
        raise _fail(exc) from exc
    client = client_address(request)

    def save() -> int:
        with runtime.store.write() as session, session.begin():
            row = floorplans.save_plan(session, image, site.strip() or runtime.settings.site.id, building, floor,
                                       name, user.username, runtime.now(), client)
            return row.id

    try:
        plan_id = await run_in_threadpool(save)
    except floorplans.PlanError as exc:
        raise _fail(exc) from exc
    runtime.publish([HubMessage("floorplan.updated", {"id": plan_id})])

    def view() -> dict[str, Any]:
        with runtime.store.read() as session:
            return floorplans.plan_view(session, runtime.registry, floorplans.get_plan(session, plan_id))

    return await run_in_threadpool(view)


@router.put("/{plan_id}/markers")
def place_marker(plan_id: int, body: MarkerBody, request: Request, runtime: RuntimeDep,
                 user: Admin) -> dict[str, Any]:
    def action(session: Any) -> None:
        row = floorplans.get_plan(session, plan_id, lock=True)
        floorplans.place(session, runtime.registry, row, body.device_id, body.point, body.x, body.y,
                         user.username, runtime.now(), client_address(request))

    return _changed(runtime, plan_id, user.username, action)


@router.delete("/{plan_id}/markers")
def remove_marker(plan_id: int, request: Request, runtime: RuntimeDep, user: Admin,
                  device_id: Annotated[str, Query(min_length=1, max_length=128)],
                  point: Annotated[str, Query(max_length=64)] = "") -> dict[str, Any]:
    def action(session: Any) -> None:
        row = floorplans.get_plan(session, plan_id, lock=True)
        floorplans.unplace(session, row, device_id, point, user.username, runtime.now(), client_address(request))

    return _changed(runtime, plan_id, user.username, action)


@router.delete("/{plan_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_plan(plan_id: int, request: Request, runtime: RuntimeDep, user: Admin) -> None:
    try:
        with runtime.store.write() as session, session.begin():
            row = floorplans.get_plan(session, plan_id, lock=True)
            floorplans.remove(session, row, user.username, runtime.now(), client_address(request))
    except floorplans.PlanError as exc:
        raise _fail(exc) from exc
    runtime.publish([HubMessage("floorplan.updated", {"id": plan_id, "deleted": True})])
