"""Floor plans: the image of each building floor and the devices placed on it (markers).

Reading is for everyone who watches the site; uploading, placing and removing is the admin's.
Every change is audited and sends ``floorplan.updated`` {id} to the screens.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import FormData, UploadFile
from starlette.types import Message

from console.api.deps import (
    Admin,
    ReadSession,
    RuntimeDep,
    SiteWatcher,
    SmallRowId,
    client_address,
    current_user,
    seen_or_missing,
    site_for_new,
)
from console.contract import control_character
from console.devices import floorplans
from console.errors import Refusal
from console.messages import HubMessage
from console.people import auth
from console.runtime import Runtime
from console.store.tables import FloorPlanRow

router = APIRouter(prefix="/api/floorplans", tags=["floorplans"])


class MarkerBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    device_id: str = Field(min_length=1, max_length=128)
    point: str = Field("", max_length=64)
    x: float = Field(ge=0, le=1, description="Fraction of the image's width from the left.")
    y: float = Field(ge=0, le=1, description="Fraction of the image's height from the top.")


def _changed(runtime: Runtime, plan_id: int, user: str, action: Any) -> dict[str, Any]:
    """One audited write, then the plan as it is now and ``floorplan.updated`` to the screens.
    The plan's view is built inside the transaction: a delete that commits right after cannot
    turn the answer into an error."""
    with runtime.store.write() as session, session.begin():
        row = action(session)
        session.flush()
        view = floorplans.plan_view(session, runtime.registry, row)
        site = row.site

    runtime.outlet.publish([HubMessage("floorplan.updated", {"id": plan_id, "site": site})])
    return view


def _plan(session: Any, user: auth.User, plan_id: int, lock: bool = False) -> FloorPlanRow:
    """A plan of the user's sites; another site's is a 404, as one that does not exist."""
    row = floorplans.get_plan(session, plan_id, lock=lock)
    seen_or_missing(user, row.site, floorplans.PlanError("plan.not_found", f"no floor plan {plan_id}", status=404,
                                                         plan=plan_id))
    return row


@router.get("")
def list_plans(session: ReadSession, runtime: RuntimeDep, user: SiteWatcher) -> list[dict[str, Any]]:
    return floorplans.list_plans(session, runtime.registry, user.sites)


@router.get("/{plan_id}")
def get_plan(plan_id: SmallRowId, session: ReadSession, runtime: RuntimeDep, user: SiteWatcher) -> dict[str, Any]:
    return floorplans.plan_view(session, runtime.registry, _plan(session, user, plan_id))



@router.get("/{plan_id}/image", response_class=Response, responses={
    200: {"content": {"image/png": {}, "image/jpeg": {}}}, 304: {"description": "Not modified (If-None-Match)."}})
def get_image(plan_id: SmallRowId, request: Request, session: ReadSession, user: SiteWatcher) -> Response:
    row = _plan(session, user, plan_id)

    etag = f'"{row.sha256}"'
    headers = {"ETag": etag, "Cache-Control": "private, max-age=86400"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(row.image, media_type=row.content_type, headers=headers)


# The multipart body of an upload: the image and a few short fields around it.
FORM_OVERHEAD = 64 * 1024
MAX_BODY = floorplans.MAX_BYTES + FORM_OVERHEAD
TOO_LARGE = "the upload is larger than 8 MB; floor plans are at most 8 MB"


def _too_large() -> Refusal:
    return Refusal("plan.upload_too_large", TOO_LARGE, status=413, headers=CLOSE)
FIELDS = {"building": (True, 64), "floor": (True, 16), "name": (False, 128), "site": (False, 64)}
UPLOAD_FORM = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file", "building", "floor"],
    "properties": {
        "file": {"type": "string", "format": "binary", "description": "PNG or JPEG, at most 8 MB, "
                 f"{floorplans.LIMIT_TEXT}"},
        "building": {"type": "string", "minLength": 1, "maxLength": 64},
        "floor": {"type": "string", "minLength": 1, "maxLength": 16},
        "name": {"type": "string", "maxLength": 128},
        "site": {"type": "string", "maxLength": 64},
    }}}}}}


# A refused upload's body is not read: the connection is closed after the answer, so a client
# that keeps sending does not keep the console busy discarding it.
CLOSE = {"Connection": "close"}


def _refused(exc: Refusal) -> Refusal:
    exc.headers = {**(exc.headers or {}), **CLOSE}
    return exc


def upload_admin(request: Request, runtime: RuntimeDep,
                 credentials: Annotated[HTTPAuthorizationCredentials | None,
                                        Depends(HTTPBearer(auto_error=False))]) -> auth.User:
    """The Admin check of an upload, before any of its body is read; refusals close the connection."""
    try:
        user = current_user(request, runtime, credentials)
    except Refusal as exc:
        raise _refused(exc) from None
    if user.role not in auth.ADMINISTER:
        raise Refusal("auth.role", f"role {user.role!r} may not do this", status=403, headers=CLOSE, role=user.role)
    return user


async def _read_body(request: Request) -> bytes:
    """The request's body, refused with 413 as soon as it is known to be too large: from its
    Content-Length before reading anything, else (chunked) once MAX_BODY bytes have come in."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise Refusal("upload.bad_length", "bad Content-Length", status=400, headers=CLOSE)
        if int(declared) > MAX_BODY:
            raise _too_large()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise _too_large()
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_form(request: Request) -> FormData:
    """The multipart form of an upload, read only after the user was checked, at most MAX_BODY bytes."""
    body = await _read_body(request)
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else {"type": "http.disconnect"}

    # One file and a handful of short fields; the parser works on the bytes already read.
    return await Request(request.scope, replay).form(max_files=1, max_fields=10, max_part_size=FORM_OVERHEAD)


def _field(form: FormData, name: str) -> str:
    required, max_length = FIELDS[name]
    value = form.get(name)
    if value is not None and not isinstance(value, str):
        raise Refusal("form.not_text", f"{name} must be text, not a file", status=422, field=name)
    value = value or ""
    if found := control_character(value, name=True):
        raise Refusal("input.control_character", f"{name} holds a control character ({found})", status=422,
                      field=name, character=found)
    if required and not value.strip():
        raise Refusal("form.required", f"{name} is required", status=422, field=name)
    if len(value) > max_length:
        raise Refusal("form.too_long", f"{name} is at most {max_length} characters", status=422, field=name,
                      max=max_length)
    return value


@router.post("", status_code=status.HTTP_200_OK, openapi_extra=UPLOAD_FORM,
             responses={413: {"description": TOO_LARGE}})
async def upload_plan(request: Request, runtime: RuntimeDep,
                      user: Annotated[auth.User, Depends(upload_admin)]) -> dict[str, Any]:
    """Upload a floor's plan (multipart form: ``file``, ``building``, ``floor``, optional ``name``
    and ``site``); the same site, building and floor again replaces the image. The body is read
    only after the user is known to be an admin, and at most 8 MB (+ the form) of it."""
    form = await _read_form(request)
    try:
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise Refusal("plan.file_required", "file is required: a PNG or JPEG image", status=422)
        building, floor, name, site = (_field(form, key) for key in ("building", "floor", "name", "site"))
        content = await file.read(floorplans.MAX_BYTES + 1)
    finally:
        await form.close()
    try:
        site = site_for_new(user, site.strip() or None, runtime.settings.site.id)
    except Refusal as exc:
        raise _refused(exc) from None
    image = await run_in_threadpool(floorplans.check_image, content)

    client = client_address(request)

    def save() -> tuple[int, dict[str, Any]]:
        with runtime.store.write() as session, session.begin():
            row = floorplans.save_plan(session, image, site, building, floor,
                                       name, user.username, runtime.now(), client)
            return row.id, floorplans.plan_view(session, runtime.registry, row)

    plan_id, view = await run_in_threadpool(save)

    runtime.outlet.publish([HubMessage("floorplan.updated", {"id": plan_id, "site": site})])
    return view


@router.put("/{plan_id}/markers")
def place_marker(plan_id: SmallRowId, body: MarkerBody, request: Request, runtime: RuntimeDep,
                 user: Admin) -> dict[str, Any]:
    def action(session: Any) -> Any:
        row = _plan(session, user, plan_id, lock=True)
        floorplans.place(session, runtime.registry, row, body.device_id, body.point, body.x, body.y,
                         user.username, runtime.now(), client_address(request))
        return row

    return _changed(runtime, plan_id, user.username, action)


@router.delete("/{plan_id}/markers")
def remove_marker(plan_id: SmallRowId, request: Request, runtime: RuntimeDep, user: Admin,
                  device_id: Annotated[str, Query(min_length=1, max_length=128)],
                  point: Annotated[str, Query(max_length=64)] = "") -> dict[str, Any]:
    def action(session: Any) -> Any:
        row = _plan(session, user, plan_id, lock=True)
        floorplans.unplace(session, row, device_id, point, user.username, runtime.now(), client_address(request))
        return row

    return _changed(runtime, plan_id, user.username, action)


@router.delete("/{plan_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_plan(plan_id: SmallRowId, request: Request, runtime: RuntimeDep, user: Admin) -> None:
    with runtime.store.write() as session, session.begin():
        row = _plan(session, user, plan_id, lock=True)
        site = row.site
        floorplans.remove(session, row, user.username, runtime.now(), client_address(request))

    runtime.outlet.publish([HubMessage("floorplan.updated", {"id": plan_id, "deleted": True, "site": site})])
