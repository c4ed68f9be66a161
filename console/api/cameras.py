"""The cameras: their health and reference frames.

- ``GET /api/cameras`` — every camera of the user's sites with its site, place, what it covers,
  its health (console/video/health.py: state, last figures, last error) and its reference frame;
  for the sites' watchers. The source URL is shown without its password.
- ``GET /api/cameras/{id}/reference`` — the reference frame's JPEG.
- ``POST /api/cameras/{id}/reference`` — take a new reference now, after a deliberate re-aim
  (supervisors and admins; audited). 409 when the camera gives no frame or an unfit one (dark,
  blurred), or when health probes are off; a camera reported moved is restored at once.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from fastapi import APIRouter, Request, Response

from console.api.deps import ReadSession, RuntimeDep, SiteWatcher, Supervisor, client_address
from console.errors import Refusal
from console.people import auth
from console.settings.cameras import CameraEntry
from console.store.tables import CameraReferenceRow

router = APIRouter(prefix="/api/cameras", tags=["cameras"])


def without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def camera_view(camera: CameraEntry, site: str, health: dict[str, Any] | None) -> dict[str, Any]:
    return {"id": camera.id, "site": site, "name": camera.name or camera.id, "source": without_password(camera.url),
            "location": camera.location.model_dump(), "devices": camera.devices, "zones": camera.zones,
            "health": health or {"state": "not probed", "reference": None}}


def site_of(runtime: RuntimeDep, camera: CameraEntry) -> str:
    return camera.site_or(runtime.settings.site.id)


def _camera(runtime: RuntimeDep, user: auth.User, camera_id: str) -> CameraEntry:
    """A camera of the site file of one of the user's sites (another site's answers as none)."""
    camera = next((c for c in runtime.settings.cameras.entries if c.id == camera_id), None)
    if camera is None or not user.sees(site_of(runtime, camera)):
        raise Refusal("camera.not_found", f"no camera {camera_id!r}", status=404, camera=camera_id)
    return camera


@router.get("")
def list_cameras(runtime: RuntimeDep, user: SiteWatcher) -> list[dict[str, Any]]:
    health = runtime.camera_health.cameras_view() if runtime.camera_health is not None else {}
    return [camera_view(camera, site, health.get(camera.id)) for camera in runtime.settings.cameras.entries
            if user.sees(site := site_of(runtime, camera))]


@router.get("/{camera_id}/reference", response_class=Response, responses={200: {"content": {"image/jpeg": {}}}})
def get_reference(camera_id: str, runtime: RuntimeDep, session: ReadSession, user: SiteWatcher) -> Response:
    camera = _camera(runtime, user, camera_id)
    row = session.get(CameraReferenceRow, (site_of(runtime, camera), camera.id))
    if row is None:
        raise Refusal("camera.no_reference", f"camera {camera_id!r} has no reference frame yet", status=404,
                      camera=camera_id)
    return Response(row.image, media_type="image/jpeg",
                    headers={"ETag": f'"{row.sha256}"', "X-Content-SHA256": row.sha256, "Cache-Control": "no-cache"})


@router.post("/{camera_id}/reference")
def retake_reference(camera_id: str, request: Request, runtime: RuntimeDep, user: Supervisor) -> dict[str, Any]:
    """Blocking (a grab within the camera's time limit): FastAPI runs it in its thread pool."""
    camera = _camera(runtime, user, camera_id)
    if runtime.camera_health is None:
        raise Refusal("camera.health_off", "camera health probes are off (cameras.health_seconds is 0)")
    return runtime.camera_health.retake(camera.id, user.username, client_address(request))
